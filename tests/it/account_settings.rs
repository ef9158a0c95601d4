//! `sync` and `run` against an account with a setting off (issue 10 "The run knows the
//! account"): the writes Zendesk would refuse or drop are not sent, the output names the
//! setting, the count and where to change it, the criterion stays unticked, nothing
//! personal is public; once the setting is on, the next run finishes the work and exits 0.
//! Also: one protected user (403 on their email) does not stop the month.

use std::path::Path;

use serde_json::Value;
use standins::github::{self as github_standin, GithubStandin};
use standins::zendesk::{LoggedRequest, StandinOptions, ZendeskStandin};

use crate::support::{orgs_csv, ticked, users_csv, Case, Ran, BIN, ORGS, USERS};

const TAG: &str = "pages_org_manager";

fn case(options: StandinOptions) -> Case {
    let case = Case::with(options);
    std::fs::write(case.path("organizations.csv"), orgs_csv(ORGS)).unwrap();
    std::fs::write(case.path("users.csv"), users_csv(USERS)).unwrap();
    case
}

fn settings_reads(requests: &[LoggedRequest]) -> usize {
    requests
        .iter()
        .filter(|r| r.path == "/api/v2/account/settings")
        .count()
}

/// Membership items sent in `organization_memberships/create_many` bodies.
fn membership_items_sent(requests: &[LoggedRequest]) -> usize {
    requests
        .iter()
        .filter(|r| r.path.ends_with("organization_memberships/create_many"))
        .filter_map(|r| r.body.as_ref())
        .filter_map(|b| b.get("organization_memberships").and_then(Value::as_array))
        .map(Vec::len)
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn with_multiple_organizations_off_no_second_membership_is_sent_until_it_is_turned_on() {
    let case = case(StandinOptions {
        multiple_organizations: false,
        ..StandinOptions::default()
    });
    let ran = case.run(&["sync"]).await;
    ran.assert_code(1);
    let requests = case.zd.requests();
    assert_eq!(settings_reads(&requests), 1, "the settings are read once");
    assert_eq!(
        membership_items_sent(&requests),
        2,
        "one membership each for the two users, none refused"
    );
    assert!(
        ran.stdout.contains(
            "1 membership not added: blocked by the Zendesk setting \
             user.multiple_organizations (off); turn on \"Allow users to belong to multiple \
             organizations\" in Admin Center > People > Configuration > End users."
        ),
        "{}",
        ran.stdout
    );
    assert!(
        !ran.stdout.contains("failed ("),
        "no refused write: {}",
        ran.stdout
    );
    assert!(!ran.stdout.contains('@'), "{}", ran.stdout);
    let w = case.world();
    let jane = w.user_by_email("jane.doe@agency-a.example.gov").unwrap();
    assert_eq!(w.memberships_of(jane.id).len(), 1);

    case.zd
        .with_world(|w| w.rules.multiple_organizations = true);
    case.zd.clear_requests();
    let ran = case.run(&["sync"]).await;
    ran.assert_code(0);
    assert_eq!(membership_items_sent(&case.zd.requests()), 1);
    let w = case.world();
    let jane = w.user_by_email("jane.doe@agency-a.example.gov").unwrap();
    assert_eq!(w.memberships_of(jane.id).len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_tagging_off_the_manager_tag_is_not_sent_until_it_is_turned_on() {
    let case = case(StandinOptions {
        tagging: false,
        ..StandinOptions::default()
    });
    let ran = case.run(&["sync"]).await;
    ran.assert_code(1);
    let sent_tags = case
        .zd
        .requests()
        .iter()
        .filter_map(|r| r.body.as_ref())
        .any(|b| b.to_string().contains(TAG));
    assert!(
        !sent_tags,
        "the manager tag was sent to an account that drops it"
    );
    assert!(
        ran.stdout.contains(
            "1 manager tag not set: blocked by the Zendesk setting user.tagging (off); turn \
             on \"Tags on users and organizations\" in Admin Center > People > Configuration > \
             End users."
        ),
        "{}",
        ran.stdout
    );
    assert!(!ran.stdout.contains('@'), "{}", ran.stdout);

    case.zd.with_world(|w| w.rules.tagging = true);
    let ran = case.run(&["sync"]).await;
    ran.assert_code(0);
    let w = case.world();
    let jane = w.user_by_email("jane.doe@agency-a.example.gov").unwrap();
    assert_eq!(jane.tags, vec![TAG.to_string()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_reads_the_settings_once_and_says_what_would_be_held_back() {
    let case = case(StandinOptions {
        multiple_organizations: false,
        ..StandinOptions::default()
    });
    let ran = case.run(&["plan"]).await;
    ran.assert_code(0);
    assert_eq!(settings_reads(&case.zd.requests()), 1);
    assert!(
        ran.stdout
            .contains("1 membership would not be added: blocked by the Zendesk setting"),
        "{}",
        ran.stdout
    );
}

/// `run` for November 2026 against both stand-ins, with the workflow's environment.
async fn monthly_run(zd: &ZendeskStandin, gh: &GithubStandin, dir: &Path, id: &str) -> Ran {
    let template =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/ISSUE_TEMPLATE/pages-zendesk-sync.md");
    let creds = zd.credentials();
    let mut cmd = std::process::Command::new(BIN);
    cmd.env_clear()
        .args(["run", "--month", "2026-11", "--template"])
        .arg(template)
        .env("ZENDESK_URL", zd.base_url().as_str())
        .env("ZENDESK_EMAIL", &creds.email)
        .env("ZENDESK_API_TOKEN", &creds.token)
        .env("GITHUB_API_URL", gh.api_url())
        .env("GITHUB_TOKEN", gh.token())
        .env("GITHUB_REPOSITORY", "cloud-gov/pages-zendesk-sync")
        .env("GITHUB_RUN_ID", id)
        .env("GITHUB_STEP_SUMMARY", dir.join(format!("summary-{id}.md")))
        .env("PAGES_ORGANIZATIONS_REPORT", dir.join("organizations.csv"))
        .env("PAGES_USERS_REPORT", dir.join("users.csv"))
        .env("PAGES_ZENDESK_SYNC_CONFIG", dir.join("config.yml"));
    Ran::of(cmd).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_monthly_comment_names_the_setting_and_the_box_is_ticked_once_it_is_on() {
    let zd = ZendeskStandin::start(StandinOptions {
        multiple_organizations: false,
        ..StandinOptions::default()
    })
    .unwrap();
    let gh = GithubStandin::start(github_standin::StandinOptions::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("organizations.csv"), orgs_csv(ORGS)).unwrap();
    std::fs::write(dir.path().join("users.csv"), users_csv(USERS)).unwrap();
    std::fs::write(
        dir.path().join("config.yml"),
        "zendesk: {job_poll_interval_ms: 5}\n",
    )
    .unwrap();

    let ran = monthly_run(&zd, &gh, dir.path(), "1").await;
    ran.assert_code(1);
    let issue = gh.issues().into_iter().next().expect("the month's issue");
    let body = issue.body.clone().unwrap_or_default();
    let comments = gh.comments(issue.number);
    let comment = &comments.last().expect("a results comment").body;
    assert!(
        comment.contains(
            "1 membership not added: blocked by the Zendesk setting `user.multiple_organizations`"
        ),
        "{comment}"
    );
    assert!(comment.contains("Admin Center > People > Configuration > End users"));
    let summary = std::fs::read_to_string(dir.path().join("summary-1.md")).unwrap();
    assert!(summary.contains("blocked by the Zendesk setting `user.multiple_organizations`"));
    assert!(!ticked(&body, "Org assignments"), "{body}");
    for public in [comment.as_str(), body.as_str(), summary.as_str()] {
        assert!(
            !public.contains('@'),
            "an email in public output:\n{public}"
        );
        assert!(!public.contains("Jane Doe") && !public.contains("Sam Lee"));
    }

    zd.with_world(|w| w.rules.multiple_organizations = true);
    let ran = monthly_run(&zd, &gh, dir.path(), "2").await;
    ran.assert_code(0);
    let body = gh.issue(issue.number).unwrap().body.unwrap_or_default();
    assert!(ticked(&body, "Org assignments"), "{body}");
}

/// Issue 10 item 5: a 403 on one user's new email identity (a protected user) is recorded
/// against that user, explained in counts, and the memberships are still written.
#[tokio::test(flavor = "multi_thread")]
async fn a_protected_user_does_not_stop_the_month() {
    use standins::zendesk::{Fault, FaultRule, UserSeed};
    let case = case(StandinOptions::default());
    case.zd
        .seed_user(UserSeed {
            name: "Jane Doe".into(),
            email: Some("jane.old@agency-a.example.gov".into()),
            external_id: Some("pages-user-17".into()),
            ..UserSeed::default()
        })
        .unwrap();
    case.zd.inject(FaultRule {
        method: Some("POST".into()),
        path_contains: Some("/identities".into()),
        times: 1,
        fault: Fault::status(403),
    });
    let ran = case.run(&["sync"]).await;
    ran.assert_code(1);
    assert!(
        ran.stdout.contains("1 email change refused with 403"),
        "{}",
        ran.stdout
    );
    assert!(!ran.stdout.contains('@'), "{}", ran.stdout);
    let w = case.world();
    let jane = w.user_by_email("jane.old@agency-a.example.gov").unwrap();
    assert_eq!(w.memberships_of(jane.id).len(), 2, "the run went on");
}
