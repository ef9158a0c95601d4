//! The monthly `run` end to end: the real binary against the Zendesk and GitHub
//! stand-ins, both started by the test on 127.0.0.1, with a cleared environment holding
//! only what the workflow sets. Asserts on both worlds (issues, comments, checkboxes,
//! Zendesk records and writes), the exit status and the Actions files, and snapshots the
//! comment, the ticked body and the job summary of a fresh month.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use pages_zendesk_sync::github::{IssueTemplate, Month};
use pages_zendesk_sync::report::comment::render_comment;
use pages_zendesk_sync::report::{JobStatus, RunMode, RunSummary, Totals};
use standins::github::{
    Endpoint, Fault as GithubFault, GithubStandin, IssueRecord, SeedIssue, StandinOptions,
};
use standins::zendesk::{self as zendesk_standin, UserSeed, ZendeskStandin};

use crate::support::{boxes, ticked, Ran, BIN};

const MONTH: &str = "2026-11";
const TITLE: &str = "Run November 2026 Pages/Zendesk user, role, and org sync";
const LABEL: &str = "pages-zendesk-sync";
const REPOSITORY: &str = "cloud-gov/pages-zendesk-sync";
const SERVER: &str = "https://github.example";

const ORGANIZATIONS: &str = "\"Organization\",\"Agency\",\"Self Authorized\"
\"agency-a-web\",\"Agency A\",false
\"Dept. of Examples, Office of Tests\",\"Dept. of Examples\",true
\"Research & Development (R&D)\",\"Agency B\",false
";

const USERS: &str = "\"ID\",\"Email\",\"Organizations\",\"Details\",\"Created\",\"Last Signed In\"
17,\"jane.doe@agency-a.example.gov\",\"agency-a-web|Dept. of Examples, Office of Tests\",\"agency-a-web: manager, Dept. of Examples, Office of Tests: user\",\"2024-03-05T14:07:09.123Z\",\"2026-10-30T09:12:44.001Z\"
18,\"sam.nobody@example.gov\",\"\",\"\",\"2025-01-02T10:00:00.000Z\",
19,\"Pat.Lee@Example.gov\",\"Research & Development (R&D)\",\"Research & Development (R&D): user\",\"2025-01-02T10:00:00.000Z\",
21,\"lee_o-neil+pages@example.gov\",\"agency-a-web\",\"agency-a-web: user\",\"2025-02-03T10:00:00.000Z\",\"2025-02-04T10:00:00.000Z\"
22,\"morgan.quill@agency-b.example.gov\",\"Research & Development (R&D)\",\"Research & Development (R&D): manager\",\"2025-02-03T10:00:00.000Z\",
";

/// Every email of the test data, in any case it may be written.
const EMAILS: [&str; 7] = [
    "jane.doe@agency-a.example.gov",
    "sam.nobody@example.gov",
    "pat.lee@example.gov",
    "lee_o-neil+pages@example.gov",
    "morgan.quill@agency-b.example.gov",
    "avery.agent@support.example.gov",
    "riley.former@agency-a.example.gov",
];

/// The names people gave existing Zendesk users (derived names are read from the world).
const SEEDED_NAMES: [&str; 3] = ["Morgan Q. Quill", "Avery Agent", "Riley Former"];

/// Both stand-ins, the reports and the config in a temporary directory.
struct Env {
    zd: ZendeskStandin,
    gh: GithubStandin,
    dir: tempfile::TempDir,
    template: PathBuf,
}

/// What one run of the binary left behind.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    step_summary: Option<String>,
    outputs: Option<String>,
}

impl Run {
    fn output(&self, name: &str) -> Option<String> {
        parse_outputs(self.outputs.as_deref()?).remove(name)
    }

    fn describe(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Every request the binary sent to the Zendesk stand-in must be one Zendesk's API
/// description allows (checked when the test ends, unless it already failed).
impl Drop for Env {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            crate::api_description::assert_requests_conform(
                "requests the binary sent",
                &self.zd.all_requests(),
            );
        }
    }
}

impl Env {
    /// Zendesk holds one of the Pages organizations, one Pages user with a name a person
    /// gave, and an agent; GitHub holds nothing.
    async fn new() -> Env {
        Env::with_zendesk(zendesk_standin::StandinOptions::default()).await
    }

    async fn with_zendesk(options: zendesk_standin::StandinOptions) -> Env {
        let zd = ZendeskStandin::start(options).expect("the Zendesk stand-in starts");
        let agency = zd.seed_org("agency-a-web", Some("Agency A")).unwrap();
        zd.seed_user(UserSeed {
            name: "Morgan Q. Quill".into(),
            email: Some("morgan.quill@agency-b.example.gov".into()),
            ..UserSeed::default()
        })
        .unwrap();
        let agent = zd
            .seed_user(UserSeed {
                name: "Avery Agent".into(),
                email: Some("avery.agent@support.example.gov".into()),
                role: "agent".into(),
                ..UserSeed::default()
            })
            .unwrap();
        zd.seed_membership(agent, agency).unwrap();
        // The search index never catches up: finding the month's issue must not need it.
        let gh = GithubStandin::start(StandinOptions {
            search_lag: u32::MAX,
            ..StandinOptions::default()
        })
        .await
        .expect("the GitHub stand-in starts");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("organizations.csv"), ORGANIZATIONS).unwrap();
        std::fs::write(dir.path().join("users.csv"), USERS).unwrap();
        std::fs::write(
            dir.path().join("config.yml"),
            "zendesk:\n  job_poll_interval_ms: 5\n",
        )
        .unwrap();
        Env {
            zd,
            gh,
            dir,
            template: Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(".github/ISSUE_TEMPLATE/pages-zendesk-sync.md"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The binary with only the environment the workflow would give it.
    fn command(&self, args: &[&str], run_id: &str) -> std::process::Command {
        let mut cmd = std::process::Command::new(BIN);
        let creds = self.zd.credentials();
        cmd.env_clear()
            .args(args)
            .env("ZENDESK_URL", self.zd.base_url().as_str())
            .env("ZENDESK_EMAIL", &creds.email)
            .env("ZENDESK_API_TOKEN", &creds.token)
            .env("GITHUB_API_URL", self.gh.api_url())
            .env("GITHUB_TOKEN", self.gh.token())
            .env("GITHUB_REPOSITORY", REPOSITORY)
            .env("GITHUB_SERVER_URL", SERVER)
            .env("GITHUB_RUN_ID", run_id)
            .env("GITHUB_ACTIONS", "true")
            .env(
                "GITHUB_STEP_SUMMARY",
                self.path(&format!("summary-{run_id}.md")),
            )
            .env("GITHUB_OUTPUT", self.path(&format!("output-{run_id}.txt")))
            .env("PAGES_ORGANIZATIONS_REPORT", self.path("organizations.csv"))
            .env("PAGES_USERS_REPORT", self.path("users.csv"))
            .env("PAGES_ZENDESK_SYNC_CONFIG", self.path("config.yml"));
        cmd
    }

    /// `run --month 2026-11 --template <the repository's template>` plus `extra`.
    async fn run(&self, run_id: &str, extra: &[&str]) -> Run {
        let template = self.template.to_string_lossy().to_string();
        let mut args = vec!["run", "--month", MONTH, "--template", &template];
        args.extend_from_slice(extra);
        self.exec(&args, run_id).await
    }

    async fn exec(&self, args: &[&str], run_id: &str) -> Run {
        self.finish(self.command(args, run_id), run_id).await
    }

    async fn finish(&self, cmd: std::process::Command, run_id: &str) -> Run {
        let Ran {
            code,
            stdout,
            stderr,
        } = Ran::of(cmd).await;
        Run {
            code,
            stdout,
            stderr,
            step_summary: std::fs::read_to_string(self.path(&format!("summary-{run_id}.md"))).ok(),
            outputs: std::fs::read_to_string(self.path(&format!("output-{run_id}.txt"))).ok(),
        }
    }

    /// The issues of the month (by title, pull requests left out), oldest first.
    fn month_issues(&self) -> Vec<IssueRecord> {
        self.gh
            .issues()
            .into_iter()
            .filter(|i| i.title == TITLE && !i.pull_request)
            .collect()
    }

    fn the_issue(&self) -> IssueRecord {
        let issues = self.month_issues();
        assert_eq!(issues.len(), 1, "exactly one issue for the month");
        issues.into_iter().next().unwrap()
    }

    fn comments(&self) -> Vec<String> {
        self.gh
            .comments(self.the_issue().number)
            .into_iter()
            .map(|c| c.body)
            .collect()
    }

    fn zendesk_writes(&self) -> usize {
        self.zd.requests().iter().filter(|r| r.is_write()).count()
    }
}

fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const ORGS_BOX: &str = "Orgs in Zendesk match current Pages orgs";
const USERS_BOX: &str = "Org users in Zendesk match current Pages partners users, including";
const ASSIGNMENTS_BOX: &str = "Org assignments";
const ROLES_BOX: &str = "Roles (org manager or not)";
const NAMES_BOX: &str = "Names and emails";

/// The rendered template of the month, as the binary opens it.
fn rendered_body(month: &str) -> String {
    IssueTemplate::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/ISSUE_TEMPLATE/pages-zendesk-sync.md"),
    )
    .unwrap()
    .render(Month::parse(month).unwrap())
    .body
}

/// Replaces what changes from run to run (elapsed time) so snapshots are stable.
fn normalise(text: &str) -> String {
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        let mut line = line.to_string();
        if let Some(at) = line.find("elapsed ") {
            let start = at + "elapsed ".len();
            let mut end = line[start..]
                .find(['|', '\n', ')'])
                .map_or(line.len(), |e| start + e);
            // A sentence's full stop is not part of the duration.
            if line[start..end].trim_end().ends_with('.') {
                end = start + line[start..end].trim_end().len() - 1;
            }
            line.replace_range(start..end, "[elapsed]");
        }
        if let Some(rest) = line.strip_prefix("elapsed-ms=") {
            let nl = if rest.ends_with('\n') { "\n" } else { "" };
            line = format!("elapsed-ms=[elapsed]{nl}");
        }
        out.push_str(&line);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_month_opens_one_issue_comments_ticks_every_box_and_closes_it() {
    let env = Env::new().await;
    let run = env.run("7001", &[]).await;
    assert_eq!(run.code, 0, "{}", run.describe());

    let issue = env.the_issue();
    assert_eq!(env.gh.issues().len(), 1);
    assert_eq!(issue.labels, [LABEL]);
    assert_eq!(issue.state, "closed");
    assert_eq!(issue.state_reason.as_deref(), Some("completed"));
    let body = issue.body.clone().unwrap();
    let all = boxes(&body);
    assert_eq!(all.len(), 5, "{body}");
    assert!(all.iter().all(|(_, t)| *t), "{all:?}");

    let comments = env.comments();
    assert_eq!(comments.len(), 1);
    let comment = &comments[0];
    assert!(comment.contains(": succeeded"), "{comment}");
    assert!(
        comment.contains(&format!("({SERVER}/{REPOSITORY}/actions/runs/7001)")),
        "{comment}"
    );

    // Zendesk: two organizations created, three users created, one updated, five
    // memberships added; the agent is left alone.
    let world = env.zd.snapshot();
    assert_eq!(world.organizations.len(), 3);
    assert_eq!(world.users.len(), 5);
    let outputs = parse_outputs(run.outputs.as_deref().expect("GITHUB_OUTPUT written"));
    assert_eq!(outputs["status"], "succeeded");
    assert_eq!(outputs["issue-number"], issue.number.to_string());
    assert_eq!(
        outputs["issue-url"],
        format!("http://github.standin/{REPOSITORY}/issues/{}", issue.number)
    );
    assert_eq!(outputs["organizations-created"], "2");
    assert_eq!(outputs["users-created"], "3");
    assert_eq!(outputs["users-updated"], "1");
    assert_eq!(outputs["memberships-added"], "5");
    assert_eq!(outputs["memberships-removed"], "0");
    assert_eq!(outputs["failed"], "0");
    let summary = run.step_summary.as_deref().expect("job summary written");
    assert!(summary.contains("succeeded"), "{summary}");

    insta::assert_snapshot!("fresh_month_comment", normalise(comment));
    insta::assert_snapshot!("fresh_month_issue_body", body);
    insta::assert_snapshot!("fresh_month_job_summary", normalise(summary));
    insta::assert_snapshot!(
        "fresh_month_outputs",
        normalise(run.outputs.as_deref().unwrap())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_in_the_month_adds_a_comment_and_no_issue_and_writes_nothing() {
    let env = Env::new().await;
    let first = env.run("7001", &[]).await;
    assert_eq!(first.code, 0, "{}", first.describe());
    env.zd.clear_requests();

    let second = env.run("7002", &[]).await;
    assert_eq!(second.code, 0, "{}", second.describe());
    assert_eq!(env.gh.issues().len(), 1, "no second issue");
    let issue = env.the_issue();
    assert_eq!(issue.state, "closed");
    assert_eq!(issue.state_reason.as_deref(), Some("completed"));
    let comments = env.comments();
    assert_eq!(comments.len(), 2);
    assert!(
        comments[1].contains("/actions/runs/7002)"),
        "{}",
        comments[1]
    );
    assert_eq!(
        env.zendesk_writes(),
        0,
        "a converged Zendesk gets no writes"
    );
    assert_eq!(second.output("changes-applied").as_deref(), Some("0"));
    assert_eq!(
        second.output("issue-number"),
        Some(issue.number.to_string())
    );
}

/// Brings Zendesk in step with the `sync` command, then makes one partner user's roles
/// text stale and fails the next Zendesk job, so that the run cannot fix it: exactly
/// the Roles criterion (and its parent) fails.
async fn make_roles_fail(env: &Env, sync_id: &str) {
    let sync = env.exec(&["sync"], sync_id).await;
    assert_eq!(sync.code, 0, "{}", sync.describe());
    env.zd.with_world(|w| {
        let user = w
            .users
            .values_mut()
            .find(|u| u.email() == Some("lee_o-neil+pages@example.gov"))
            .expect("the user exists after the sync");
        user.details = Some("stale roles".into());
    });
    env.zd.fail_next_jobs(1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_criterion_leaves_its_box_and_the_parent_unticked_and_the_issue_open() {
    let env = Env::new().await;
    make_roles_fail(&env, "6999").await;

    let detail = env.path("detail.json");
    let run = env
        .run("7001", &["--report-json", &detail.to_string_lossy()])
        .await;
    assert_eq!(run.code, 1, "{}", run.describe());
    // The private detail file names the record; the public outputs never do.
    let detail = std::fs::read_to_string(&detail).expect("the detail file is written");
    assert!(detail.contains("lee_o-neil+pages@example.gov"), "{detail}");
    let issue = env.the_issue();
    assert_eq!(issue.state, "open");
    let body = issue.body.unwrap();
    assert!(ticked(&body, ORGS_BOX));
    assert!(!ticked(&body, USERS_BOX));
    assert!(ticked(&body, ASSIGNMENTS_BOX));
    assert!(!ticked(&body, ROLES_BOX));
    assert!(ticked(&body, NAMES_BOX));
    let comments = env.comments();
    assert_eq!(comments.len(), 1);
    assert!(comments[0].contains(": partly failed"), "{}", comments[0]);
    assert_eq!(run.output("status").as_deref(), Some("partly_failed"));
    assert_eq!(run.output("criteria-failed").as_deref(), Some("2"));
    assert!(run.stdout.contains("::error"), "{}", run.describe());
    insta::assert_snapshot!("roles_failing_comment", normalise(&comments[0]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_run_that_finds_a_criterion_failing_reopens_the_closed_issue() {
    let env = Env::new().await;
    let first = env.run("7001", &[]).await;
    assert_eq!(first.code, 0, "{}", first.describe());
    assert_eq!(env.the_issue().state, "closed");

    make_roles_fail(&env, "7002").await;
    let second = env.run("7003", &[]).await;
    assert_eq!(second.code, 1, "{}", second.describe());
    let issue = env.the_issue();
    assert_eq!(issue.state, "open");
    assert_eq!(issue.state_reason.as_deref(), Some("reopened"));
    let body = issue.body.unwrap();
    assert!(!ticked(&body, ROLES_BOX));
    assert!(!ticked(&body, USERS_BOX));
    assert!(ticked(&body, ORGS_BOX));
    assert_eq!(env.comments().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_comments_but_ticks_nothing_closes_nothing_and_writes_nothing() {
    let env = Env::new().await;
    let run = env.run("7001", &["--dry-run"]).await;
    assert_eq!(
        run.code,
        1,
        "criteria fail before the first sync: {}",
        run.describe()
    );
    assert_eq!(env.zendesk_writes(), 0);
    let issue = env.the_issue();
    assert_eq!(issue.state, "open");
    let body = issue.body.unwrap();
    assert_eq!(body, rendered_body(MONTH), "the body is untouched");
    let comments = env.comments();
    assert_eq!(comments.len(), 1);
    assert!(comments[0].contains(": dry run"), "{}", comments[0]);
    assert!(
        !comments[0].contains("pages-zendesk-sync:carry"),
        "a dry run carries no totals"
    );
    assert_eq!(run.output("status").as_deref(), Some("dry_run"));
    assert_eq!(run.output("dry-run").as_deref(), Some("true"));
    insta::assert_snapshot!("dry_run_comment", normalise(&comments[0]));

    // A dry run on a converged Zendesk passes every criterion and still ticks nothing.
    let sync = env.exec(&["sync"], "7002").await;
    assert_eq!(sync.code, 0, "{}", sync.describe());
    env.zd.clear_requests();
    let again = env.run("7003", &["--dry-run"]).await;
    assert_eq!(again.code, 0, "{}", again.describe());
    assert_eq!(env.zendesk_writes(), 0);
    let issue = env.the_issue();
    assert_eq!(issue.state, "open");
    assert_eq!(issue.body.unwrap(), rendered_body(MONTH));
}

/// The action passes its `dry-run` input ("true"/"false") through
/// PAGES_ZENDESK_SYNC_DRY_RUN, set here on the child process only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dry_run_input_is_read_from_the_environment() {
    let env = Env::new().await;
    let template = env.template.to_string_lossy().to_string();
    let args = ["run", "--month", MONTH, "--template", &template];
    let mut dry = env.command(&args, "7001");
    dry.env("PAGES_ZENDESK_SYNC_DRY_RUN", "true");
    let dry = env.finish(dry, "7001").await;
    assert_eq!(
        dry.output("dry-run").as_deref(),
        Some("true"),
        "{}",
        dry.describe()
    );
    assert_eq!(env.zendesk_writes(), 0);

    let mut real = env.command(&args, "7002");
    real.env("PAGES_ZENDESK_SYNC_DRY_RUN", "false");
    let real = env.finish(real, "7002").await;
    assert_eq!(
        real.output("dry-run").as_deref(),
        Some("false"),
        "{}",
        real.describe()
    );
    assert!(env.zendesk_writes() > 0, "{}", real.describe());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persons_edits_survive_and_an_unrecognised_unticked_box_keeps_the_issue_open() {
    let env = Env::new().await;
    // The issue exists (opened by an earlier dry run) and a person edited it.
    let dry = env.run("7001", &["--dry-run"]).await;
    assert_eq!(dry.code, 1, "{}", dry.describe());
    let number = env.the_issue().number;
    let original = env.the_issue().body.unwrap();
    // Browsers send edited bodies with CRLF line ends.
    let edited = (original
        .replace(
            "## Acceptance criteria\n",
            "## Acceptance criteria\n\nNote from the operator: checked the reports by hand.  \n",
        )
        .replace(
            "  - [ ] Names and emails",
            "  - [ ] Names and emails\n- [ ] Agency contacts told about the new orgs",
        )
        + "\nTrailing words a person typed.\n")
        .replace('\n', "\r\n");
    assert!(env.gh.edit_issue_body(number, &edited));

    let run = env.run("7002", &[]).await;
    assert_eq!(run.code, 0, "every criterion passed: {}", run.describe());
    let issue = env.the_issue();
    assert_eq!(issue.state, "open", "the person's box is not ticked");
    let body = issue.body.unwrap();
    // Only the five recognised marks changed.
    let expected = edited
        .replace("- [ ] Orgs in", "- [x] Orgs in")
        .replace("- [ ] Org users", "- [x] Org users")
        .replace("- [ ] Org assignments", "- [x] Org assignments")
        .replace("- [ ] Roles", "- [x] Roles")
        .replace("- [ ] Names and emails", "- [x] Names and emails");
    assert_eq!(body, expected);
    assert!(!ticked(&body, "Agency contacts told about the new orgs"));

    // Once a person ticks their box, the next run closes the issue.
    assert!(env.gh.edit_issue_body(
        number,
        &body.replace("- [ ] Agency contacts", "- [x] Agency contacts")
    ));
    let run = env.run("7003", &[]).await;
    assert_eq!(run.code, 0, "{}", run.describe());
    let issue = env.the_issue();
    assert_eq!(issue.state, "closed");
    assert_eq!(issue.state_reason.as_deref(), Some("completed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_comment_shows_the_change_since_last_months_results() {
    let env = Env::new().await;
    let october = env.gh.seed_issue(SeedIssue {
        title: "Run October 2026 Pages/Zendesk user, role, and org sync".into(),
        body: rendered_body("2026-10"),
        labels: vec![LABEL.into()],
        open: false,
        created_at: Utc.with_ymd_and_hms(2026, 10, 1, 6, 0, 0).unwrap(),
        pull_request: false,
    });
    let mut previous = october_summary();
    previous.totals = Totals {
        pages_organizations: 3,
        pages_users: 6,
        pages_memberships: 4,
        pages_managers: 2,
        zendesk_organizations: 1,
        zendesk_memberships: 7,
        zendesk_users: 5,
    };
    env.gh
        .seed_comment(october, &render_comment(&previous, None, "6001-1"));
    // A later dry run on October's issue carries nothing and must not hide the real one.
    let mut dry = october_summary();
    dry.mode = RunMode::Run { dry_run: true };
    dry.status = JobStatus::DryRun;
    env.gh
        .seed_comment(october, &render_comment(&dry, None, "6002-1"));

    let run = env.run("7001", &[]).await;
    assert_eq!(run.code, 0, "{}", run.describe());
    let comment = &env.comments()[0];
    let section = comment
        .split("<summary>Change since last month (2026-10)</summary>")
        .nth(1)
        .unwrap_or_else(|| panic!("no change section in\n{comment}"));
    assert_change_rows(section);
    assert!(run.step_summary.as_deref().unwrap().contains("2026-10"));
    insta::assert_snapshot!("change_since_last_month_comment", normalise(comment));
}

/// November: 3 organizations, 4 partner users, 5 memberships, 2 managers; Zendesk 3
/// organizations and 5 memberships after the sync. October as seeded.
fn assert_change_rows(section: &str) {
    let table: Vec<&str> = section.lines().filter(|l| l.starts_with('|')).collect();
    let row = |label: &str| -> Vec<String> {
        table
            .iter()
            .find(|l| l.contains(label))
            .unwrap_or_else(|| panic!("no row {label:?} in\n{section}"))
            .split('|')
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect()
    };
    assert_eq!(
        row("Pages organizations")[1..],
        ["3", "3", "0"],
        "{section}"
    );
    assert_eq!(
        row("Pages partner users")[1..],
        ["6", "4", "−2"],
        "{section}"
    );
    assert_eq!(row("Pages memberships")[1..], ["4", "5", "+1"], "{section}");
    assert_eq!(
        row("Zendesk organizations")[1..],
        ["1", "3", "+2"],
        "{section}"
    );
    assert_eq!(
        row("Zendesk memberships")[1..],
        ["7", "5", "−2"],
        "{section}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_months_issue_opened_by_a_person_without_the_marker_is_found_by_title() {
    let env = Env::new().await;
    let october = env.gh.seed_issue(SeedIssue {
        title: "Run October 2026 Pages/Zendesk user, role, and org sync".into(),
        body: "Opened by hand from the template.\n\n## Acceptance criteria\n\n- [x] Orgs in Zendesk match current Pages orgs\n".into(),
        labels: vec![LABEL.into()],
        open: false,
        created_at: Utc.with_ymd_and_hms(2026, 10, 1, 6, 0, 0).unwrap(),
        pull_request: false,
    });
    let mut previous = october_summary();
    previous.totals = Totals {
        pages_organizations: 3,
        pages_users: 6,
        pages_memberships: 4,
        pages_managers: 2,
        zendesk_organizations: 1,
        zendesk_memberships: 7,
        zendesk_users: 5,
    };
    env.gh
        .seed_comment(october, &render_comment(&previous, None, "6001-1"));

    let run = env.run("7001", &[]).await;
    assert_eq!(run.code, 0, "{}", run.describe());
    let comment = &env.comments()[0];
    let section = comment
        .split("<summary>Change since last month (2026-10)</summary>")
        .nth(1)
        .unwrap_or_else(|| panic!("no change section in\n{comment}"));
    assert_change_rows(section);
}

fn october_summary() -> RunSummary {
    RunSummary {
        elapsed_ms: 1000,
        ..RunSummary::empty(
            RunMode::Run { dry_run: false },
            JobStatus::Succeeded,
            Some("2026-10".into()),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_email_or_name_of_the_data_ever_reaches_github() {
    // A run that succeeds, one that partly fails and a dry run, with a user removed from
    // an org (removal within the guard's limits) so every section of the comment shows.
    let env = Env::new().await;
    let agency = env.zd.snapshot().org_by_name("agency-a-web").unwrap().id;
    let former = env
        .zd
        .seed_user(UserSeed {
            name: "Riley Former".into(),
            email: Some("riley.former@agency-a.example.gov".into()),
            ..UserSeed::default()
        })
        .unwrap();
    env.zd.seed_membership(former, agency).unwrap();
    // A row the parser skips: its cell must not be quoted either.
    std::fs::write(
        env.path("users.csv"),
        format!("{USERS}23,\"jordan.keys(at)example.gov\",\"agency-a-web\",\"agency-a-web: user\",\"2025-02-03T10:00:00.000Z\",\n"),
    )
    .unwrap();
    let runs = [
        env.run("7001", &["--dry-run"]).await,
        env.run("7002", &["--allow-mass-removal"]).await,
        {
            make_roles_fail(&env, "7003").await;
            env.run("7004", &[]).await
        },
    ];
    assert_eq!(runs[1].code, 0, "{}", runs[1].describe());
    assert_eq!(runs[1].output("memberships-removed").as_deref(), Some("1"));
    assert_eq!(runs[2].code, 1, "{}", runs[2].describe());
    let last = env.comments().pop().unwrap();
    assert!(
        last.contains("users.csv line 7"),
        "the skipped row is named: {last}"
    );

    // Every name Zendesk holds now, the derived ones included.
    let world = env.zd.snapshot();
    let mut names: Vec<String> = world.users.values().map(|u| u.name.clone()).collect();
    names.extend(SEEDED_NAMES.iter().map(|s| s.to_string()));
    for name in &names {
        assert!(name.contains(' '), "a full name to search for: {name:?}");
    }
    assert!(names.contains(&"Jane Doe".to_string()), "{names:?}");

    let mut public: Vec<(String, String)> = Vec::new();
    for issue in env.gh.issues() {
        public.push((
            format!("issue #{} title", issue.number),
            issue.title.clone(),
        ));
        public.push((
            format!("issue #{} body", issue.number),
            issue.body.clone().unwrap_or_default(),
        ));
        for c in env.gh.comments(issue.number) {
            public.push((format!("comment {}", c.id), c.body));
        }
    }
    for (i, run) in runs.iter().enumerate() {
        public.push((format!("run {i} stdout"), run.stdout.clone()));
        public.push((
            format!("run {i} summary"),
            run.step_summary.clone().unwrap_or_default(),
        ));
        public.push((
            format!("run {i} outputs"),
            run.outputs.clone().unwrap_or_default(),
        ));
        public.push((format!("run {i} log"), run.stderr.clone()));
    }
    assert!(public.len() > 10);
    for (what, text) in &public {
        let lower = text.to_lowercase();
        for email in EMAILS {
            assert!(!lower.contains(email), "{what} shows an email:\n{text}");
            let local = email.split('@').next().unwrap();
            assert!(!lower.contains(local), "{what} shows {local:?}:\n{text}");
        }
        assert!(
            !lower.contains("jordan"),
            "{what} quotes a report cell:\n{text}"
        );
        for name in &names {
            assert!(
                !lower.contains(&name.to_lowercase()),
                "{what} shows a name:\n{text}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_stops_with_exit_2_and_a_failed_comment_without_data() {
    let env = Env::new().await;
    std::fs::write(
        env.path("users.csv"),
        USERS.replacen("\"Email\",", "\"E-mail\",", 1),
    )
    .unwrap();
    env.zd.clear_requests();
    let run = env.run("7001", &[]).await;
    assert_eq!(run.code, 2, "{}", run.describe());
    assert_eq!(env.zendesk_writes(), 0);
    let issue = env.the_issue();
    assert_eq!(issue.state, "open");
    let comments = env.comments();
    assert_eq!(comments.len(), 1);
    let comment = &comments[0];
    assert!(comment.contains(": failed"), "{comment}");
    assert!(comment.contains("users.csv"), "names the file: {comment}");
    assert!(!comment.contains('@'), "{comment}");
    assert!(!comment.contains("pages-zendesk-sync:carry"), "{comment}");
    assert_eq!(run.output("status").as_deref(), Some("failed"));
    assert_eq!(run.output("issue-number"), Some(issue.number.to_string()));
    assert!(run.step_summary.as_deref().unwrap_or("").contains("failed"));
    assert!(run.stdout.contains("::error"), "{}", run.describe());
    insta::assert_snapshot!("bad_input_comment", comment);
    insta::assert_snapshot!("bad_input_job_summary", run.step_summary.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tripped_guard_stops_with_exit_2_and_a_comment_of_counts_only() {
    let env = Env::new().await;
    // Zendesk in step, then the users report loses everyone but one user.
    let sync = env.exec(&["sync"], "6999").await;
    assert_eq!(sync.code, 0, "{}", sync.describe());
    let truncated: String = USERS.lines().take(2).map(|l| format!("{l}\n")).collect();
    std::fs::write(env.path("users.csv"), truncated).unwrap();
    env.zd.clear_requests();

    let run = env.run("7001", &[]).await;
    assert_eq!(run.code, 2, "{}", run.describe());
    assert_eq!(env.zendesk_writes(), 0, "nothing written");
    let issue = env.the_issue();
    assert_eq!(issue.state, "open");
    let comments = env.comments();
    assert_eq!(comments.len(), 1);
    let comment = &comments[0];
    assert!(comment.contains(": failed"), "{comment}");
    assert!(comment.contains("safety guard"), "{comment}");
    assert!(comment.contains("--allow-mass-removal"), "{comment}");
    assert!(!comment.contains('@'), "{comment}");
    assert!(!comment.contains("agency-a-web"), "{comment}");
    assert_eq!(run.output("status").as_deref(), Some("failed"));
    assert_eq!(run.output("guard-tripped").as_deref(), Some("true"));
    let body = issue.body.unwrap();
    assert!(
        boxes(&body).iter().all(|(_, t)| !t),
        "nothing ticked: {body}"
    );
    insta::assert_snapshot!("guard_tripped_comment", comment);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_github_refuses_stops_before_zendesk_with_exit_2() {
    let env = Env::new().await;
    env.zd.clear_requests();
    let mut cmd = env.command(
        &[
            "run",
            "--month",
            MONTH,
            "--template",
            &env.template.to_string_lossy(),
        ],
        "7001",
    );
    cmd.env("GITHUB_TOKEN", "ghs_not_the_right_one");
    let ran = env.finish(cmd, "7001").await;
    let stderr = ran.stderr;
    assert_eq!(ran.code, 2, "{stderr}");
    assert!(stderr.contains("GITHUB_TOKEN"), "{stderr}");
    assert!(!stderr.contains("ghs_not_the_right_one"), "{stderr}");
    assert!(env.zd.requests().is_empty(), "Zendesk was not touched");
    assert!(env.gh.issues().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_github_refuses_the_comment_after_the_sync_the_actions_files_still_tell() {
    let env = Env::new().await;
    env.gh
        .inject(Endpoint::CreateComment, 1, GithubFault::NotAccessible);
    let run = env.run("7001", &[]).await;
    assert_eq!(run.code, 3, "{}", run.describe());
    assert!(env.zendesk_writes() > 0, "the sync ran");
    assert!(env.comments().is_empty());
    assert_eq!(
        env.the_issue().state,
        "open",
        "not closed without a comment"
    );
    assert_eq!(run.output("status").as_deref(), Some("succeeded"));
    assert_eq!(
        run.output("issue-number"),
        Some(env.the_issue().number.to_string())
    );
    assert!(run.step_summary.is_some());
    assert!(run.stderr.contains("issues: write"), "{}", run.describe());

    // The next run finds Zendesk in step and completes the issue.
    let again = env.run("7002", &[]).await;
    assert_eq!(again.code, 0, "{}", again.describe());
    assert_eq!(env.the_issue().state, "closed");
    assert_eq!(env.comments().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zendesk_outage_stops_the_run_with_exit_3_and_a_failed_comment() {
    let env = Env::new().await;
    std::fs::write(
        env.path("config.yml"),
        "zendesk:\n  job_poll_interval_ms: 5\n  max_retries: 0\n",
    )
    .unwrap();
    env.zd.fail_next(1000, 500);
    let run = env.run("7001", &[]).await;
    assert_eq!(run.code, 3, "{}", run.describe());
    assert_eq!(env.zendesk_writes(), 0);
    let issue = env.the_issue();
    assert_eq!(issue.state, "open");
    assert!(boxes(&issue.body.unwrap()).iter().all(|(_, t)| !t));
    let comments = env.comments();
    assert_eq!(comments.len(), 1);
    assert!(comments[0].contains(": failed"), "{}", comments[0]);
    assert!(comments[0].contains("remote API failed"), "{}", comments[0]);
    assert_eq!(run.output("status").as_deref(), Some("failed"));
    assert_eq!(run.output("guard-tripped").as_deref(), Some("false"));
}

/// Like [`make_roles_fail`], for an organization's details: only "Orgs in Zendesk match
/// current Pages orgs" fails.
async fn make_orgs_fail(env: &Env, sync_id: &str) {
    let sync = env.exec(&["sync"], sync_id).await;
    assert_eq!(sync.code, 0, "{}", sync.describe());
    env.zd.with_world(|w| {
        let org = w
            .organizations
            .values_mut()
            .find(|o| o.name == "agency-a-web")
            .expect("the organization exists");
        org.details = Some("Renamed by a person".into());
    });
    env.zd.fail_next_jobs(1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_criterion_whose_box_a_person_deleted_still_keeps_the_issue_open() {
    let env = Env::new().await;
    let dry = env.run("7001", &["--dry-run"]).await;
    assert_eq!(dry.code, 1, "{}", dry.describe());
    let issue = env.the_issue();
    let edited = issue
        .body
        .unwrap()
        .replace("- [ ] Orgs in Zendesk match current Pages orgs\n", "");
    assert!(env.gh.edit_issue_body(issue.number, &edited));
    make_orgs_fail(&env, "7002").await;

    let run = env.run("7003", &[]).await;
    assert_eq!(run.code, 1, "{}", run.describe());
    assert_eq!(run.output("criteria-failed").as_deref(), Some("1"));
    let issue = env.the_issue();
    let body = issue.body.unwrap();
    assert!(
        boxes(&body).iter().all(|(_, t)| *t),
        "the other boxes pass: {body}"
    );
    assert_eq!(issue.state, "open", "the failing criterion keeps it open");
}

/// The body of the month's issue as the team opened it by hand for years: the original
/// template (docs/references.md "The original issue template", front matter
/// `labels: ''`), with the month filled in by a person and a note of their own. No
/// hidden month marker, no label.
const PERSON_BODY: &str = "Monthly review to make sure cloud.gov Pages users, orgs, and roles are accurately reflected in Zendesk.

# Pages/Zendesk user, role, and org sync

Opened by hand for November, as every month. -- a person

## Export organization, user, and role information from Pages Admin

- In Pages Admin, navigate to the Reports section
- View the Organizations report, and download a CSV export
- View the Users report, and download a CSV export

## Acceptance criteria

- [ ] Orgs in Zendesk match current Pages orgs
- [ ] Org users in Zendesk match current Pages partners users, including
  - [ ] Org assignments
  - [ ] Roles (org manager or not)
  - [ ] Names and emails 
";

/// What a person's issue must keep: every line of their text, in order, with only the
/// recognised boxes' marks changed.
fn assert_person_text_kept(body: &str) {
    let expected = PERSON_BODY.replace("- [ ]", "- [x]");
    assert!(
        body.starts_with(expected.trim_end()),
        "the person's text is kept, boxes ticked:\n{body}"
    );
    assert!(
        body.contains(&Month::parse(MONTH).unwrap().marker()),
        "{body}"
    );
}

/// Seeds the repository with what surrounds the month's issue: last month's issue of the
/// tool, an unrelated issue, and a pull request that happens to carry the month's title
/// (GitHub lists pull requests among issues). Returns them, to compare after the run.
fn seed_neighbours(env: &Env) -> Vec<IssueRecord> {
    let october = env.gh.seed_issue(SeedIssue {
        title: "Run October 2026 Pages/Zendesk user, role, and org sync".into(),
        body: rendered_body("2026-10"),
        labels: vec![LABEL.into()],
        open: false,
        created_at: Utc.with_ymd_and_hms(2026, 10, 1, 6, 0, 0).unwrap(),
        pull_request: false,
    });
    let other = env.gh.seed_issue_by(
        SeedIssue {
            title: "Docs: explain the Zendesk sandbox".into(),
            body: "Unrelated.\n\n- [ ] Orgs in Zendesk match current Pages orgs\n".into(),
            labels: vec![],
            open: true,
            created_at: Utc.with_ymd_and_hms(2026, 11, 3, 9, 0, 0).unwrap(),
            pull_request: false,
        },
        "a-person",
    );
    let pr = env.gh.seed_issue_by(
        SeedIssue {
            title: TITLE.into(),
            body: "A pull request with the month's title is not the month's issue.".into(),
            labels: vec![],
            open: true,
            created_at: Utc.with_ymd_and_hms(2026, 11, 4, 9, 0, 0).unwrap(),
            pull_request: true,
        },
        "a-person",
    );
    [october, other, pr]
        .into_iter()
        .map(|n| env.gh.issue(n).unwrap())
        .collect()
}

fn assert_neighbours_untouched(env: &Env, before: &[IssueRecord]) {
    for issue in before {
        assert_eq!(
            env.gh.issue(issue.number).as_ref(),
            Some(issue),
            "issue #{} is untouched",
            issue.number
        );
        assert!(env.gh.comments(issue.number).is_empty());
    }
}

async fn person_opened_issue_is_adopted(open: bool) {
    let env = Env::new().await;
    let neighbours = seed_neighbours(&env);
    let person = env.gh.seed_issue_by(
        SeedIssue {
            title: TITLE.into(),
            body: PERSON_BODY.into(),
            labels: vec![],
            open,
            created_at: Utc.with_ymd_and_hms(2026, 11, 2, 15, 30, 0).unwrap(),
            pull_request: false,
        },
        "pages-operator",
    );
    let run = env.run("7001", &[]).await;
    assert_eq!(run.code, 0, "{}", run.describe());

    let issue = env.the_issue();
    assert_eq!(
        issue.number, person,
        "the person's issue is the month's issue"
    );
    assert_eq!(env.gh.issues().len(), 4, "no second issue");
    assert_eq!(issue.labels, [LABEL], "adopted: the label is added");
    assert_eq!(issue.author, "pages-operator");
    assert_person_text_kept(issue.body.as_deref().unwrap());
    assert_eq!(issue.state, "closed", "every box ticked: closed");
    assert_eq!(env.gh.comments(person).len(), 1);
    assert_eq!(run.output("issue-number"), Some(person.to_string()));
    assert_neighbours_untouched(&env, &neighbours);

    // A second run the same month finds it again (now by its marker) and adds a comment.
    let again = env.run("7002", &[]).await;
    assert_eq!(again.code, 0, "{}", again.describe());
    assert_eq!(env.gh.issues().len(), 4, "still no second issue");
    assert_eq!(env.the_issue().number, person);
    assert_eq!(env.gh.comments(person).len(), 2);
    assert_person_text_kept(env.the_issue().body.as_deref().unwrap());
    assert_neighbours_untouched(&env, &neighbours);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unlabelled_open_issue_a_person_opened_for_the_month_is_adopted() {
    person_opened_issue_is_adopted(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unlabelled_closed_issue_a_person_opened_for_the_month_is_adopted() {
    person_opened_issue_is_adopted(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_create_answer_and_two_runs_back_to_back_leave_one_issue() {
    let env = Env::new().await;
    let neighbours = seed_neighbours(&env);
    // GitHub creates the issue, then the answer is lost (502).
    env.gh.fail_after_create(1, 502);
    let first = env.run("7001", &[]).await;
    assert_eq!(first.code, 0, "{}", first.describe());
    let second = env.run("7002", &[]).await;
    assert_eq!(second.code, 0, "{}", second.describe());

    let issue = env.the_issue();
    assert_eq!(issue.labels, [LABEL]);
    let comments = env.gh.comments(issue.number);
    assert_eq!(comments.len(), 2, "one comment per run, on the one issue");
    assert_eq!(env.gh.issues().len(), 4);
    assert_neighbours_untouched(&env, &neighbours);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_racing_on_a_fresh_month_end_on_one_issue() {
    let env = Env::new().await;
    // Dry runs: both still find or open the month's issue and comment, and neither
    // writes to Zendesk (the workflow's concurrency group keeps real runs apart).
    let (a, b) = tokio::join!(
        env.run("7001", &["--dry-run"]),
        env.run("7002", &["--dry-run"])
    );
    assert_eq!(
        (a.code, b.code),
        (1, 1),
        "{}\n{}",
        a.describe(),
        b.describe()
    );
    // Both may have opened an issue at the same moment; then the younger one is closed
    // as a duplicate and both runs comment on the oldest.
    let issues = env.month_issues();
    let in_use: Vec<&IssueRecord> = issues
        .iter()
        .filter(|i| i.state_reason.as_deref() != Some("duplicate"))
        .collect();
    assert_eq!(in_use.len(), 1, "{issues:#?}");
    let kept = in_use[0].number;
    assert_eq!(issues[0].number, kept, "the oldest is kept");
    let results = env
        .gh
        .comments(kept)
        .iter()
        .filter(|c| c.body.contains("/actions/runs/"))
        .count();
    assert_eq!(results, 2, "both runs commented on the kept issue");
    for dup in issues.iter().filter(|i| i.number != kept) {
        assert_eq!(dup.state, "closed");
        let notes = env.gh.comments(dup.number);
        assert!(notes.iter().any(|c| c.body.contains(&format!("#{kept}"))));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_month_without_a_run_keeps_the_history_and_the_chart_shows_the_gap() {
    use pages_zendesk_sync::report::comment::parse_carry;
    use pages_zendesk_sync::report::history::HistoryPoint;
    let env = Env::new().await;
    // September ran (and carried August); October had no run at all.
    let september = env.gh.seed_issue(SeedIssue {
        title: "Run September 2026 Pages/Zendesk user, role, and org sync".into(),
        body: rendered_body("2026-09"),
        labels: vec![LABEL.into()],
        open: false,
        created_at: Utc.with_ymd_and_hms(2026, 9, 1, 6, 0, 0).unwrap(),
        pull_request: false,
    });
    let mut summary = october_summary();
    summary.month = Some("2026-09".into());
    summary.totals = Totals {
        pages_organizations: 3,
        pages_users: 5,
        pages_memberships: 5,
        pages_managers: 2,
        zendesk_organizations: 3,
        zendesk_memberships: 5,
        zendesk_users: 5,
    };
    let mut august = summary.carry().unwrap();
    august.month = "2026-08".into();
    env.gh.seed_comment(
        september,
        &render_comment(&summary, Some(&august), "5001-1"),
    );

    let run = env.run("7001", &[]).await;
    assert_eq!(run.code, 0, "{}", run.describe());
    let comment = &env.comments()[0];
    assert!(
        comment.contains("<summary>Change since the last results (2026-09)</summary>"),
        "{comment}"
    );
    assert!(comment.contains("No results for 2026-10."), "{comment}");
    assert!(comment.contains("x-axis [\"2026-08\", \"2026-09\", \"2026-11\"]"));
    let carry = parse_carry(comment).unwrap();
    let months: Vec<&str> = carry.history.iter().map(HistoryPoint::month).collect();
    assert_eq!(months, ["2026-08", "2026-09"]);
    let summary = run.step_summary.unwrap();
    assert!(
        summary.contains("x-axis [\"2026-08\", \"2026-09\", \"2026-11\"]"),
        "{summary}"
    );
}
