//! `doctor` end to end: the real binary against both stand-ins in each configuration of
//! issue 10 (all good; multiple organizations off with multi-org Pages users; tagging off;
//! a non-admin token; a bad token; an unreadable report; a GitHub token without issue
//! access; the account owner's token). Asserts the exit status, the lines printed, and
//! that no write request reached either stand-in.

use std::path::{Path, PathBuf};

use standins::github::{self as github_standin, GithubStandin};
use standins::zendesk::{StandinOptions, ZendeskStandin};

use crate::support::{orgs_csv, users_csv, Ran, BIN, ORGS, USERS};

const REPOSITORY: &str = "cloud-gov/pages-zendesk-sync";

struct Doc {
    zd: ZendeskStandin,
    gh: GithubStandin,
    dir: tempfile::TempDir,
}

/// Every request doctor sent to Zendesk must be one the API description allows.
impl Drop for Doc {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            crate::api_description::assert_requests_conform(
                "requests doctor sent",
                &self.zd.all_requests(),
            );
        }
    }
}

impl Doc {
    async fn new() -> Doc {
        Doc::with(
            StandinOptions::default(),
            github_standin::StandinOptions::default(),
        )
        .await
    }

    async fn with(zd: StandinOptions, gh: github_standin::StandinOptions) -> Doc {
        let zd = ZendeskStandin::start(zd).expect("the Zendesk stand-in starts");
        let gh = GithubStandin::start(gh)
            .await
            .expect("the GitHub stand-in starts");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("organizations.csv"), orgs_csv(ORGS)).unwrap();
        std::fs::write(dir.path().join("users.csv"), users_csv(USERS)).unwrap();
        Doc { zd, gh, dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `doctor --template <the repository's template>` plus `extra`, with the environment
    /// the workflow gives; `token` replaces the Zendesk token when given.
    async fn run(&self, extra: &[&str], token: Option<&str>) -> Ran {
        let template = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(".github/ISSUE_TEMPLATE/pages-zendesk-sync.md");
        let creds = self.zd.credentials();
        let mut cmd = std::process::Command::new(BIN);
        cmd.env_clear()
            .arg("doctor")
            .arg("--template")
            .arg(template)
            .args(extra)
            .env("ZENDESK_URL", self.zd.base_url().as_str())
            .env("ZENDESK_EMAIL", &creds.email)
            .env("ZENDESK_API_TOKEN", token.unwrap_or(&creds.token))
            .env("GITHUB_API_URL", self.gh.api_url())
            .env("GITHUB_TOKEN", self.gh.token())
            .env("GITHUB_REPOSITORY", REPOSITORY)
            .env("PAGES_ORGANIZATIONS_REPORT", self.path("organizations.csv"))
            .env("PAGES_USERS_REPORT", self.path("users.csv"));
        let ran = Ran::of(cmd).await;
        self.assert_nothing_written();
        ran
    }

    /// Doctor writes nothing anywhere: only GETs reached either stand-in.
    fn assert_nothing_written(&self) {
        let zd: Vec<String> = self
            .zd
            .requests()
            .iter()
            .filter(|r| r.is_write())
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        assert!(zd.is_empty(), "doctor wrote to Zendesk: {zd:?}");
        let gh: Vec<String> = self
            .gh
            .requests()
            .iter()
            .filter(|r| r.method != "GET")
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        assert!(gh.is_empty(), "doctor wrote to GitHub: {gh:?}");
    }
}

/// The line of one check, e.g. `line(&ran, "Zendesk", "admin")`.
fn line<'a>(ran: &'a Ran, area: &str, name: &str) -> &'a str {
    let needle = format!(" {area} ");
    ran.stdout
        .lines()
        .find(|l| l.contains(&needle) && l.contains(&format!(" {name}: ")))
        .unwrap_or_else(|| panic!("no {area} {name} line in\n{}", ran.stdout))
}

fn status_of<'a>(ran: &'a Ran, area: &str, name: &str) -> &'a str {
    line(ran, area, name).split_whitespace().next().unwrap()
}

/// The fix printed under a check.
fn fix_of<'a>(ran: &'a Ran, area: &str, name: &str) -> &'a str {
    let l = line(ran, area, name);
    let mut lines = ran.stdout.lines().skip_while(|x| *x != l);
    lines.next();
    lines
        .next()
        .and_then(|f| f.trim().strip_prefix("fix: "))
        .unwrap_or_else(|| panic!("no fix after {l}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_well_set_account_passes_every_check_and_nothing_is_written() {
    let doc = Doc::new().await;
    let ran = doc.run(&[], None).await;
    ran.assert_code(0);
    for (area, name) in [
        ("Pages reports", "readable"),
        ("Pages reports", "row issues"),
        ("Zendesk", "base URL"),
        ("Zendesk", "credentials"),
        ("Zendesk", "admin"),
        ("Zendesk", "account owner"),
        ("Zendesk", "user.multiple_organizations"),
        ("Zendesk", "user.tagging"),
        ("Zendesk", "user.agent_created_welcome_emails"),
        ("Zendesk", "roles field"),
        ("Zendesk", "identities sideload"),
        ("Zendesk", "jobs in flight"),
        ("Zendesk", "rate limit"),
        ("GitHub", "repository"),
        ("GitHub", "issues: read"),
        ("GitHub", "issues: write"),
        ("GitHub", "issue template"),
        ("GitHub", "label"),
    ] {
        assert_eq!(
            status_of(&ran, area, name),
            "pass",
            "{area} {name}\n{}",
            ran.stdout
        );
    }
    assert!(
        line(&ran, "Pages reports", "readable")
            .ends_with("2 partner users, 2 organizations, 3 memberships, 1 managers"),
        "{}",
        ran.stdout
    );
    assert!(line(&ran, "Zendesk", "rate limit").contains("announces 100000 requests per minute"));
    assert!(
        line(&ran, "Zendesk", "user.agent_created_welcome_emails").contains("skip_verify_email")
    );
    assert!(
        line(&ran, "GitHub", "issue template").contains("renders this month's title \"Run "),
        "{}",
        ran.stdout
    );
    assert!(ran
        .stdout
        .trim_end()
        .ends_with("0 warnings, 0 failed, 0 skipped: ready for a run"));
    assert!(!ran.stdout.contains('@'), "{}", ran.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn multiple_organizations_off_with_multi_org_pages_users_fails_and_says_where() {
    let doc = Doc::with(
        StandinOptions {
            multiple_organizations: false,
            ..StandinOptions::default()
        },
        github_standin::StandinOptions::default(),
    )
    .await;
    let ran = doc.run(&[], None).await;
    ran.assert_code(2);
    let l = line(&ran, "Zendesk", "user.multiple_organizations");
    assert!(l.starts_with("FAIL"), "{l}");
    assert!(
        l.contains("off, and 1 Pages users are in more than one organization"),
        "{l}"
    );
    assert_eq!(
        fix_of(&ran, "Zendesk", "user.multiple_organizations"),
        "turn on Admin Center > People > Configuration > End users > \"Allow users to belong \
         to multiple organizations\""
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tagging_off_with_managers_fails_and_says_where() {
    let doc = Doc::with(
        StandinOptions {
            tagging: false,
            ..StandinOptions::default()
        },
        github_standin::StandinOptions::default(),
    )
    .await;
    let ran = doc.run(&[], None).await;
    ran.assert_code(2);
    let l = line(&ran, "Zendesk", "user.tagging");
    assert!(l.starts_with("FAIL"), "{l}");
    assert!(
        l.contains("1 Pages managers need the tag `pages_org_manager`"),
        "{l}"
    );
    assert!(fix_of(&ran, "Zendesk", "user.tagging").contains("\"Tags on users and organizations\""));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_non_admin_token_fails_the_admin_check() {
    let doc = Doc::new().await;
    doc.zd
        .with_world(|w| w.rules.token_user_role = "agent".into());
    let ran = doc.run(&[], None).await;
    ran.assert_code(2);
    assert!(line(&ran, "Zendesk", "admin")
        .starts_with("FAIL  Zendesk        admin: the token's user is agent"));
    assert!(fix_of(&ran, "Zendesk", "admin").contains("Admin Center > People > Team"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_token_fails_the_credentials_check_and_stops_the_zendesk_checks() {
    let doc = Doc::new().await;
    let ran = doc.run(&[], Some("not-the-token")).await;
    ran.assert_code(2);
    assert_eq!(status_of(&ran, "Zendesk", "base URL"), "pass");
    assert!(line(&ran, "Zendesk", "credentials").contains("refused them (401)"));
    assert!(!ran.stdout.contains("user.tagging"), "{}", ran.stdout);
    assert!(!ran.stdout.contains("not-the-token") && !ran.stderr.contains("not-the-token"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_report_fails_and_zendesk_is_still_checked() {
    let doc = Doc::new().await;
    std::fs::remove_file(doc.path("users.csv")).unwrap();
    let ran = doc.run(&[], None).await;
    ran.assert_code(2);
    let l = line(&ran, "Pages reports", "readable");
    assert!(l.starts_with("FAIL") && l.contains("users.csv"), "{l}");
    assert_eq!(status_of(&ran, "Zendesk", "credentials"), "pass");
    // Without the reports the settings are judged on their own.
    assert_eq!(status_of(&ran, "Zendesk", "user.tagging"), "pass");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_github_token_without_issue_access_fails_and_says_what_was_provable() {
    let doc = Doc::with(
        StandinOptions::default(),
        github_standin::StandinOptions {
            issues_permission: "none",
            ..github_standin::StandinOptions::default()
        },
    )
    .await;
    let ran = doc.run(&[], None).await;
    ran.assert_code(2);
    assert_eq!(status_of(&ran, "GitHub", "repository"), "pass");
    let read = line(&ran, "GitHub", "issues: read");
    assert!(
        read.starts_with("FAIL")
            && read.contains("HTTP 403 Resource not accessible by integration (needs issues=read)"),
        "{read}"
    );
    let write = line(&ran, "GitHub", "issues: write");
    assert!(
        write.starts_with("FAIL") && write.contains("read access only"),
        "{write}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_account_owners_token_and_welcome_emails_are_warnings_and_json_carries_them() {
    let doc = Doc::new().await;
    doc.zd.with_world(|w| {
        w.rules.token_user_is_owner = true;
        w.rules.agent_created_welcome_emails = true;
    });
    let ran = doc.run(&["--json"], None).await;
    ran.assert_code(1);
    let v: serde_json::Value = serde_json::from_str(&ran.stdout).expect("JSON on stdout");
    assert_eq!(v["exit_code"], 1);
    assert_eq!(v["tally"]["warn"], 2, "{}", ran.stdout);
    let find = |name: &str| {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap()
    };
    let owner = find("account owner");
    assert_eq!(owner["status"], "warn");
    assert!(owner["fix"].as_str().unwrap().contains("dedicated admin"));
    let welcome = find("user.agent_created_welcome_emails");
    assert_eq!(welcome["status"], "warn");
    assert!(welcome["fix"]
        .as_str()
        .unwrap()
        .contains("\"Also send a welcome email when a new user is created by an agent or admin\""));
}
