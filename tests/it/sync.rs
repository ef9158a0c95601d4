//! `plan`, `sync` and `verify` end to end: the real binary against a Zendesk stand-in
//! started in the test, with a cleared environment, small CSV reports in a temp dir and a
//! config file that makes jobs poll fast. Assertions are on the stand-in's world and
//! request log, the exit status and stdout/stderr.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::Value;
use standins::zendesk::{
    Fault, FaultRule, JobCompletion, LoggedRequest, StandinOptions, UserSeed, World,
};

use crate::support::{by_kind, Case, Row};

const TAG: &str = "pages_org_manager";

/// Organization names of a user's memberships, sorted.
fn org_names_of(w: &World, user_id: u64) -> BTreeSet<String> {
    w.memberships_of(user_id)
        .iter()
        .map(|m| w.organizations[&m.organization_id].name.clone())
        .collect()
}

fn user<'a>(w: &'a World, email: &str) -> &'a standins::zendesk::User {
    w.user_by_email(email)
        .unwrap_or_else(|| panic!("no Zendesk user with {email}"))
}

const ORGS: &[(&str, &str)] = &[
    ("agency-a-web", "Agency A"),
    ("Dept. of Examples, Office of Tests", "Dept. of Examples"),
    ("tools: internal & more", ""),
];

const USERS: &[Row<'static>] = &[
    Row(
        17,
        "jane.doe@agency-a.example.gov",
        &[
            ("agency-a-web", "manager"),
            ("Dept. of Examples, Office of Tests", "user"),
        ],
    ),
    Row(18, "sam_lee@example.gov", &[("agency-a-web", "user")]),
    Row(
        19,
        "Pat.O-Neil@Dept.example",
        &[("tools: internal & more", "user")],
    ),
    Row(20, "nobody@example.gov", &[]),
];

#[tokio::test(flavor = "multi_thread")]
async fn a_first_sync_into_an_empty_account_creates_everything_and_verify_passes() {
    let case = Case::new();
    case.reports(ORGS, USERS);
    let ran = case.run(&["sync"]).await;
    ran.assert_code(0);
    assert!(ran.stdout.contains("succeeded"), "{}", ran.stdout);
    assert!(
        !ran.stdout.contains('@'),
        "no email on stdout: {}",
        ran.stdout
    );

    let w = case.world();
    assert_eq!(w.organizations.len(), 3);
    let details: BTreeMap<&str, Option<&str>> = w
        .organizations
        .values()
        .map(|o| (o.name.as_str(), o.details.as_deref()))
        .collect();
    assert_eq!(details["agency-a-web"], Some("Agency A"));
    assert_eq!(
        details["Dept. of Examples, Office of Tests"],
        Some("Dept. of Examples")
    );
    assert!(matches!(details["tools: internal & more"], None | Some("")));

    assert_eq!(w.users.len(), 3, "the user without organization is skipped");
    let jane = user(&w, "jane.doe@agency-a.example.gov");
    assert_eq!(jane.name, "Jane Doe");
    assert_eq!(jane.role, "end-user");
    assert_eq!(jane.external_id.as_deref(), Some("pages-user-17"));
    assert_eq!(
        jane.details.as_deref(),
        Some("agency-a-web: manager, Dept. of Examples, Office of Tests: user")
    );
    assert_eq!(jane.tags, vec![TAG.to_string()]);
    assert_eq!(
        org_names_of(&w, jane.id),
        BTreeSet::from([
            "agency-a-web".to_string(),
            "Dept. of Examples, Office of Tests".to_string()
        ])
    );
    let sam = user(&w, "sam_lee@example.gov");
    assert_eq!(sam.name, "Sam Lee");
    assert!(sam.tags.is_empty());
    assert_eq!(sam.details.as_deref(), Some("agency-a-web: user"));
    let pat = user(&w, "pat.o-neil@dept.example");
    assert_eq!(pat.external_id.as_deref(), Some("pages-user-19"));
    assert!(!pat.name.trim().is_empty());
    assert_eq!(w.memberships.len(), 4);
    assert!(w.user_by_email("nobody@example.gov").is_none());
    // New users are created without the verification email: create_many does not
    // document `skip_verify_email`, so their email identities are created verified.
    assert_eq!(w.emails_sent, vec![], "no verification email to new users");
    assert!(w
        .users
        .values()
        .all(|u| u.identities.iter().all(|i| i.verified)));
    let requests = case.zd.requests();
    let creates: Vec<&LoggedRequest> = requests
        .iter()
        .filter(|r| r.path.ends_with("users/create_many"))
        .collect();
    assert_eq!(creates.len(), 1);
    for u in creates[0].body.as_ref().unwrap()["users"]
        .as_array()
        .unwrap()
    {
        assert_eq!(u["verified"], Value::Bool(true));
        assert!(u.get("organization_id").is_none());
    }

    case.zd.clear_requests();
    let verified = case.run(&["verify"]).await;
    verified.assert_code(0);
    assert!(case.writes().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_sync_right_after_a_successful_one_writes_nothing() {
    let case = Case::new();
    case.reports(ORGS, USERS);
    case.run(&["sync"]).await.assert_code(0);
    let before = case.world();
    case.zd.clear_requests();

    let ran = case.run(&["sync"]).await;
    ran.assert_code(0);
    assert_eq!(case.writes(), Vec::<LoggedRequest>::new());
    assert!(ran.stdout.contains("none needed"), "{}", ran.stdout);
    let after = case.world();
    assert_eq!(after.users, before.users);
    assert_eq!(after.memberships, before.memberships);
    assert_eq!(after.organizations, before.organizations);
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_is_corrected_while_what_people_set_and_agents_are_kept() {
    let case = Case::new();
    case.config(
        "zendesk: {job_poll_interval_ms: 5}\nguard: {max_membership_removal_percent: 50}\n",
    );
    case.reports(ORGS, USERS);
    let zd = &case.zd;
    let web = zd.seed_org("agency-a-web", Some("Wrong Agency")).unwrap();
    let dept = zd
        .seed_org(
            "dept. of examples, office of tests",
            Some("Dept. of Examples"),
        )
        .unwrap();
    let tools = zd.seed_org("tools: internal & more", None).unwrap();
    let partners = zd.seed_org("Support Partners", Some("not Pages")).unwrap();

    // Jane: a case-different email, a name a person set, a tag a person set, a membership
    // in an organization Pages does not manage.
    let jane = zd
        .seed_user(UserSeed {
            name: "Jane Q. Doe".into(),
            email: Some("JANE.DOE@Agency-A.example.gov".into()),
            tags: vec!["vip".into()],
            ..UserSeed::default()
        })
        .unwrap();
    zd.seed_membership(jane, partners).unwrap();
    zd.seed_membership(jane, web).unwrap();
    // Sam: known to Zendesk under another primary email; the Pages email is a secondary
    // identity. A stale membership in a Pages organization he has left.
    let sam = case.seed_user("Samuel Lee", "s.lee@old.example", "end-user");
    zd.add_identity(sam, "sam_lee@example.gov", false).unwrap();
    zd.seed_membership(sam, web).unwrap();
    zd.seed_membership(sam, dept).unwrap();
    // Pat is a suspended agent in Zendesk: role, name and suspension stay, and a membership
    // Pages does not list is kept.
    let pat = zd
        .seed_user(UserSeed {
            name: "Pat (support)".into(),
            email: Some("pat.o-neil@dept.example".into()),
            role: "agent".into(),
            suspended: true,
            ..UserSeed::default()
        })
        .unwrap();
    zd.seed_membership(pat, web).unwrap();
    // An admin and a former end-user, neither in Pages, both in a Pages organization.
    let admin = case.seed_user("Ada Admin", "ada@support.example", "admin");
    zd.seed_membership(admin, web).unwrap();
    let former = case.seed_user("Former Partner", "former@example.gov", "end-user");
    zd.seed_membership(former, tools).unwrap();
    zd.seed_membership(former, partners).unwrap();
    let users_before = case.world().users.len();

    let ran = case.run(&["sync"]).await;
    ran.assert_code(0);
    let w = case.world();
    assert_eq!(w.users.len(), users_before, "no user created, none deleted");
    assert_eq!(
        w.organizations.len(),
        4,
        "no organization created or deleted"
    );
    assert_eq!(w.organizations[&web].details.as_deref(), Some("Agency A"));
    assert_eq!(
        w.organizations[&partners].details.as_deref(),
        Some("not Pages")
    );

    let j = &w.users[&jane];
    assert_eq!(j.name, "Jane Q. Doe", "a name a person set is kept");
    assert_eq!(j.external_id.as_deref(), Some("pages-user-17"));
    let tags: BTreeSet<&str> = j.tags.iter().map(String::as_str).collect();
    assert_eq!(tags, BTreeSet::from(["vip", TAG]), "tags merged");
    assert_eq!(
        org_names_of(&w, jane),
        BTreeSet::from([
            "agency-a-web".to_string(),
            "dept. of examples, office of tests".to_string(),
            "Support Partners".to_string(),
        ])
    );

    let s = &w.users[&sam];
    assert_eq!(s.name, "Samuel Lee");
    assert_eq!(s.external_id.as_deref(), Some("pages-user-18"));
    assert!(s
        .identities
        .iter()
        .any(|i| i.value.eq_ignore_ascii_case("sam_lee@example.gov")));
    assert_eq!(
        org_names_of(&w, sam),
        BTreeSet::from(["agency-a-web".to_string()]),
        "the stale membership in a Pages organization is removed"
    );

    let p = &w.users[&pat];
    assert_eq!(
        (p.role.as_str(), p.name.as_str(), p.suspended),
        ("agent", "Pat (support)", true)
    );
    assert!(
        w.membership_pairs().contains(&(pat, web)),
        "agent membership kept"
    );
    assert!(w.membership_pairs().contains(&(pat, tools)));
    let a = &w.users[&admin];
    assert_eq!((a.role.as_str(), a.name.as_str()), ("admin", "Ada Admin"));
    assert!(
        w.membership_pairs().contains(&(admin, web)),
        "admin membership kept"
    );

    assert!(
        !w.membership_pairs().contains(&(former, tools)),
        "former removed"
    );
    assert!(
        w.membership_pairs().contains(&(former, partners)),
        "non-Pages kept"
    );

    // Nothing in any write touched role, suspended, organization_id or email of a user.
    for r in case.writes() {
        let Some(body) = &r.body else { continue };
        for u in body
            .get("users")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if r.path.ends_with("update_many") {
                for key in ["role", "suspended", "organization_id", "email"] {
                    assert!(u.get(key).is_none(), "{key} sent in {}: {u}", r.path);
                }
            }
        }
    }

    case.zd.clear_requests();
    case.run(&["sync"]).await.assert_code(0);
    assert!(case.writes().is_empty(), "converged in one run");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_email_changed_in_pages_becomes_the_primary_email_of_the_same_user() {
    let case = Case::new();
    case.reports(
        &[("agency-a-web", "Agency A")],
        &[Row(
            17,
            "jane.doe@new-agency.example.gov",
            &[("agency-a-web", "user")],
        )],
    );
    let web = case.zd.seed_org("agency-a-web", Some("Agency A")).unwrap();
    let jane = case
        .zd
        .seed_user(UserSeed {
            name: "Jane Doe".into(),
            email: Some("jane.doe@old-agency.example.gov".into()),
            external_id: Some("pages-user-17".into()),
            details: Some("agency-a-web: user".into()),
            ..UserSeed::default()
        })
        .unwrap();
    case.zd.seed_membership(jane, web).unwrap();

    case.run(&["sync"]).await.assert_code(0);
    let w = case.world();
    assert_eq!(w.users.len(), 1, "no duplicate user");
    let u = &w.users[&jane];
    assert_eq!(u.email(), Some("jane.doe@new-agency.example.gov"));
    assert_eq!(u.external_id.as_deref(), Some("pages-user-17"));
    assert_eq!(w.memberships.len(), 1);

    case.zd.clear_requests();
    case.run(&["sync"]).await.assert_code(0);
    assert!(case.writes().is_empty());
}

/// Zendesk holds 12 end-users in a Pages organization that the report no longer lists.
fn seed_departed_users(case: &Case) -> u64 {
    let web = case.zd.seed_org("agency-a-web", Some("Agency A")).unwrap();
    for n in 0..12 {
        let id = case.seed_user(
            &format!("Departed {n}"),
            &format!("departed{n}@example.gov"),
            "end-user",
        );
        case.zd.seed_membership(id, web).unwrap();
    }
    web
}

#[tokio::test(flavor = "multi_thread")]
async fn the_guard_refuses_mass_removals_before_any_write_unless_allowed() {
    let case = Case::new();
    case.reports(
        &[("agency-a-web", "Agency A")],
        &[Row(17, "jane.doe@example.gov", &[("agency-a-web", "user")])],
    );
    let web = seed_departed_users(&case);

    let ran = case.run(&["sync"]).await;
    ran.assert_code(2);
    assert!(ran.stderr.contains("safety guard"), "{}", ran.stderr);
    assert!(ran.stderr.contains("remove 12 of the 12"), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("--allow-mass-removal"),
        "{}",
        ran.stderr
    );
    let plain: Vec<&str> = ran
        .stderr
        .lines()
        .filter(|l| l.contains("refused the plan") && !l.contains(" ERROR "))
        .collect();
    assert_eq!(
        plain.len(),
        1,
        "said once besides the log line: {}",
        ran.stderr
    );
    assert!(!ran.stderr.contains('@'), "{}", ran.stderr);
    assert!(!ran.stdout.contains('@'), "{}", ran.stdout);
    assert!(case.writes().is_empty(), "{:?}", case.writes());
    assert!(!case.zd.requests().is_empty(), "Zendesk was read");
    assert_eq!(case.world().memberships.len(), 12);

    let ran = case.run(&["sync", "--allow-mass-removal"]).await;
    ran.assert_code(0);
    let w = case.world();
    assert_eq!(w.users.len(), 13, "users are never deleted");
    let jane = user(&w, "jane.doe@example.gov").id;
    assert_eq!(w.membership_pairs(), BTreeSet::from([(jane, web)]));
}

#[tokio::test(flavor = "multi_thread")]
async fn per_record_failures_are_reported_while_the_rest_succeeds() {
    let mut case = Case::with(StandinOptions {
        reject_emails: BTreeSet::from(["sam_lee@example.gov".to_string()]),
        ..StandinOptions::default()
    });
    // Debug logs: a line per request, and still no email in them.
    case.log = "debug".into();
    case.reports(ORGS, USERS);
    let json = case.path("report.json");
    let ran = case
        .run(&["sync", "--report-json", json.to_str().unwrap()])
        .await;
    ran.assert_code(1);
    assert!(
        ran.stderr.contains("Zendesk request"),
        "debug lines: {}",
        ran.stderr
    );
    assert!(
        ran.stdout.contains("partly failed") || ran.stdout.contains("partly_failed"),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("Failures by reason"), "{}", ran.stdout);
    let failure_line = ran
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("Failures by reason"))
        .find(|l| l.contains("users created") && l.contains("UserCreateFailed"))
        .unwrap_or_else(|| panic!("a failure line with the reason:\n{}", ran.stdout));
    assert!(failure_line.trim_end().ends_with(" 1"), "{failure_line}");
    assert!(
        !ran.stdout.contains('@'),
        "no email on stdout:\n{}",
        ran.stdout
    );
    assert!(
        !ran.stderr.contains('@'),
        "no email on stderr:\n{}",
        ran.stderr
    );

    let w = case.world();
    assert!(w.user_by_email("sam_lee@example.gov").is_none());
    assert!(w.user_by_email("jane.doe@agency-a.example.gov").is_some());
    assert!(w.user_by_email("pat.o-neil@dept.example").is_some());
    assert_eq!(
        w.memberships.len(),
        3,
        "the failed user's membership is skipped"
    );

    let detail: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let failures = detail["failures"].as_array().expect("failures");
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["subject"], "sam_lee@example.gov");
    assert_eq!(failures[0]["kind"], "create_user");
    assert_eq!(failures[0]["reason"], "UserCreateFailed");
    // Zendesk's own words stay in the detail file.
    assert!(failures[0]["detail"]
        .as_str()
        .unwrap()
        .contains("not properly formatted"));

    // The criteria are unsatisfied until a person fixes the record: verify says so.
    case.zd.clear_requests();
    case.run(&["verify"]).await.assert_code(1);
    assert!(case.writes().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn with_bulk_import_switched_off_users_are_created_one_at_a_time() {
    let case = Case::with(StandinOptions {
        bulk_user_import: false,
        ..StandinOptions::default()
    });
    case.reports(ORGS, USERS);
    let json = case.path("report.json");
    let ran = case
        .run(&["sync", "--report-json", json.to_str().unwrap()])
        .await;
    ran.assert_code(0);
    assert!(
        ran.stdout.contains("Bulk user import is disabled"),
        "{}",
        ran.stdout
    );
    let kinds = by_kind(&case.zd.requests());
    assert_eq!(kinds.get("POST users"), Some(&3), "{kinds:?}");
    assert_eq!(kinds.get("POST users/create_many"), Some(&1), "{kinds:?}");
    let w = case.world();
    assert_eq!(w.users.len(), 3);
    assert_eq!(w.memberships.len(), 4);
    assert_eq!(w.emails_sent, vec![], "no verification email to new users");
    let detail: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(detail["summary"]["bulk_user_import_disabled"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_and_dry_run_write_nothing_and_print_counts() {
    let case = Case::new();
    case.reports(ORGS, USERS);
    let ran = case.run(&["plan"]).await;
    ran.assert_code(0);
    assert!(
        ran.stdout.contains("Changes that would be made"),
        "{}",
        ran.stdout
    );
    let line = |out: &str, label: &str| -> String {
        out.lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label} in\n{out}"))
            .split_whitespace()
            .last()
            .unwrap()
            .to_string()
    };
    assert_eq!(line(&ran.stdout, "organizations created"), "3");
    assert_eq!(line(&ran.stdout, "users created"), "3");
    assert_eq!(line(&ran.stdout, "memberships added"), "4");
    assert!(case.writes().is_empty());

    let ran = case.run(&["sync", "--dry-run"]).await;
    // Nothing written, so the criteria are not satisfied yet.
    ran.assert_code(1);
    assert!(ran.stdout.contains("Dry run"), "{}", ran.stdout);
    assert!(case.writes().is_empty());
    let w = case.world();
    assert!(w.organizations.is_empty() && w.users.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_users_report_without_an_email_column_stops_before_any_request() {
    let case = Case::new();
    case.reports(ORGS, USERS);
    std::fs::write(
        case.path("users.csv"),
        "\"ID\",\"Organizations\",\"Details\"\n17,\"agency-a-web\",\"agency-a-web: user\"\n",
    )
    .unwrap();
    for args in [&["sync"][..], &["plan"], &["verify"]] {
        let ran = case.run(args).await;
        ran.assert_code(2);
        assert!(ran.stderr.contains("Email"), "{}", ran.stderr);
        assert!(ran.stderr.contains("users.csv"), "{}", ran.stderr);
    }
    assert!(case.zd.requests().is_empty(), "{:?}", case.zd.requests());
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_credentials_exit_2_naming_the_variables_and_never_the_token() {
    let case = Case::new();
    case.reports(ORGS, USERS);
    let token = "wrong-token-7c1e9b";
    let ran = case
        .run_as(&["sync"], &case.zd.credentials().email.clone(), token)
        .await;
    ran.assert_code(2);
    assert!(ran.stderr.contains("ZENDESK_EMAIL"), "{}", ran.stderr);
    assert!(ran.stderr.contains("ZENDESK_API_TOKEN"), "{}", ran.stderr);
    for out in [&ran.stdout, &ran.stderr] {
        assert!(!out.contains(token));
        assert!(!out.contains(&case.token));
    }
    assert!(case.writes().is_empty());
    assert!(case.zd.requests().iter().all(|r| r.status == 401));
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limited_answers_are_waited_out_and_counted() {
    let case = Case::new();
    case.reports(ORGS, USERS);
    for path in ["organizations/create_many", "users"] {
        case.zd.inject(FaultRule {
            method: None,
            path_contains: Some(path.into()),
            times: 1,
            fault: Fault::status(429),
        });
    }
    let json = case.path("report.json");
    let started = Instant::now();
    let ran = case
        .run(&["sync", "--report-json", json.to_str().unwrap()])
        .await;
    ran.assert_code(0);
    assert!(started.elapsed() < Duration::from_secs(20));
    let limited = case
        .zd
        .requests()
        .iter()
        .filter(|r| r.status == 429)
        .count();
    assert_eq!(limited, 2);
    assert!(
        ran.stdout.contains("2 rate-limited waits (429)"),
        "{}",
        ran.stdout
    );
    let detail: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(detail["summary"]["requests"]["rate_limited"], 2);
    let w = case.world();
    assert_eq!(
        (w.organizations.len(), w.users.len(), w.memberships.len()),
        (3, 3, 4)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_call_is_logged_with_zendesks_request_id_at_the_default_level() {
    let case = Case::new();
    case.reports(ORGS, USERS);
    case.zd.inject(FaultRule {
        method: Some("POST".into()),
        path_contains: Some("organization_memberships/create_many".into()),
        times: 1,
        fault: Fault::internal_error(),
    });
    let ran = case.run(&["sync"]).await;
    ran.assert_code(3);
    let failed = case
        .zd
        .requests()
        .into_iter()
        .find(|r| r.status == 500)
        .expect("the 500 was answered");
    // The Case runs the binary at `warn`, a stricter level than the default `info`.
    assert!(
        ran.stderr.contains(&failed.request_id),
        "request id {} missing from\n{}",
        failed.request_id,
        ran.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_stopped_half_way_is_finished_by_the_next_without_duplicates() {
    let case = Case::new();
    case.reports(ORGS, USERS);
    case.zd.inject(FaultRule {
        method: Some("POST".into()),
        path_contains: Some("organization_memberships/create_many".into()),
        times: 1,
        fault: Fault::internal_error(),
    });
    let ran = case.run(&["sync"]).await;
    ran.assert_code(3);
    let w = case.world();
    assert_eq!((w.organizations.len(), w.users.len()), (3, 3));
    assert!(w.memberships.is_empty());

    case.run(&["sync"]).await.assert_code(0);
    let w = case.world();
    assert_eq!(
        (w.organizations.len(), w.users.len(), w.memberships.len()),
        (3, 3, 4)
    );
    let emails: BTreeSet<String> = w
        .users
        .values()
        .filter_map(|u| u.email().map(str::to_lowercase))
        .collect();
    assert_eq!(emails.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_pages_users_sharing_an_id_are_created_without_external_id() {
    let case = Case::new();
    case.reports(
        &[("agency-a-web", "Agency A")],
        &[
            Row(30, "first@example.gov", &[("agency-a-web", "user")]),
            Row(30, "second@example.gov", &[("agency-a-web", "user")]),
        ],
    );
    let ran = case.run(&["sync"]).await;
    ran.assert_code(0);
    let w = case.world();
    assert_eq!(w.users.len(), 2);
    for u in w.users.values() {
        assert_eq!(u.external_id, None, "{}", u.name);
    }
    let requests = case.zd.requests();
    let create = requests
        .iter()
        .find(|r| r.path.ends_with("users/create_many"))
        .expect("a bulk create");
    for u in create.body.as_ref().unwrap()["users"].as_array().unwrap() {
        assert!(u.get("external_id").is_none(), "{u}");
    }
    assert_eq!(w.memberships.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_job_fails_its_records_and_the_next_run_finishes_the_work() {
    let case = Case::new();
    case.reports(ORGS, USERS);
    // The organizations job ends `failed`: no organization exists, so no membership can
    // be added; the users are still created.
    case.zd.fail_next_jobs(1);
    let json = case.path("report.json");
    let ran = case
        .run(&["sync", "--report-json", json.to_str().unwrap()])
        .await;
    ran.assert_code(1);
    let w = case.world();
    assert_eq!(
        (w.organizations.len(), w.users.len(), w.memberships.len()),
        (0, 3, 0)
    );
    let detail: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let failures = detail["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 3, "{failures:?}");
    assert!(failures.iter().all(|f| f["kind"] == "create_organization"));
    assert_eq!(detail["summary"]["skipped"]["add_membership"], 4);

    case.run(&["sync"]).await.assert_code(0);
    let w = case.world();
    assert_eq!(
        (w.organizations.len(), w.users.len(), w.memberships.len()),
        (3, 3, 4)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_that_finish_on_their_own_and_a_busy_job_queue_still_converge() {
    // Another integration holds job slots: only 2 of our jobs may be queued or running,
    // though the config allows 30. Jobs finish on their own after 40 ms. The
    // `zendesk-ratelimit-inflight-jobs` header of each submission says how many places
    // are left, so the third batch waits for one instead of running into TooManyJobs.
    let case = Case::with(StandinOptions {
        job_completion: JobCompletion::AfterDuration(Duration::from_millis(40)),
        max_jobs_in_flight: 2,
        ..StandinOptions::default()
    });
    case.config("zendesk: {job_poll_interval_ms: 5, max_jobs_in_flight: 30}\n");
    let many: Vec<(String, String)> = (0..250)
        .map(|n| (format!("org-{n:03}"), format!("Agency {}", n / 10)))
        .collect();
    let mut orgs: Vec<(&str, &str)> = many.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    orgs.extend_from_slice(ORGS);
    case.reports(&orgs, USERS);
    let ran = case.run(&["sync"]).await;
    ran.assert_code(0);
    let too_many_jobs = case
        .zd
        .requests()
        .iter()
        .filter(|r| r.status == 429 && r.path.ends_with("create_many"))
        .count();
    assert_eq!(too_many_jobs, 0, "the third batch waited for a place");
    assert!(ran.stdout.contains("0 rate-limited wait"), "{}", ran.stdout);
    let submissions = case
        .zd
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("organizations/create_many"))
        .count();
    assert_eq!(submissions, 3);
    let w = case.world();
    assert_eq!(
        (w.organizations.len(), w.users.len(), w.memberships.len()),
        (253, 3, 4)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_answering_jobs_in_sparse_documented_shapes_still_converges() {
    // show_many carries {id, status} without results (as the OAS example does), and
    // removal results do not name membership ids: the binary reads each finished job on
    // its own and settles removals by reading the memberships again.
    let case = Case::with(StandinOptions {
        show_many_results: false,
        destroy_results_name_ids: false,
        ..StandinOptions::default()
    });
    case.reports(ORGS, USERS);
    case.run(&["sync"]).await.assert_code(0);
    let mut fewer: Vec<Row<'static>> = USERS.to_vec();
    fewer[0] = Row(
        17,
        "jane.doe@agency-a.example.gov",
        &[("agency-a-web", "manager")],
    );
    case.reports(ORGS, &fewer);
    case.zd.clear_requests();
    // One of four memberships is past the guard's 10%: the removal is intended here.
    let ran = case.run(&["sync", "--allow-mass-removal"]).await;
    ran.assert_code(0);
    let kinds = by_kind(&case.zd.requests());
    assert_eq!(
        kinds.get("DELETE organization_memberships/destroy_many"),
        Some(&1),
        "{kinds:?}"
    );
    assert_eq!(
        kinds.get("GET organization_memberships/{id}"),
        Some(&1),
        "the removal was settled by a re-read: {kinds:?}"
    );
    let w = case.world();
    let jane = user(&w, "jane.doe@agency-a.example.gov");
    assert_eq!(
        org_names_of(&w, jane.id),
        BTreeSet::from(["agency-a-web".to_string()])
    );
}
