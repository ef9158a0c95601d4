//! Fault matrix (issue 14, "a safety net first"): the real binary's `sync` against the
//! Zendesk stand-in with faults armed in turn and combined. For each case: at most two
//! runs bring Zendesk to the state a clean run reaches, with no duplicate organization,
//! user or membership, nothing seeded by hand removed, and exit codes from the README's
//! table (first run 0, 1 or 3; the second run what the clean run answers).
//!
//! Faults are fixed or chosen by a seeded `fastrand::Rng`, so every run is the same. They
//! are armed for the first run only (a fault episode); the stand-in's `clear_faults`
//! disarms what is left before the second run.
//! Not covered here (stand-in options missing): connections dropped without an answer,
//! and the GitHub side (issues, comments) of `run`.

use std::collections::BTreeSet;
use std::time::Duration;

use standins::zendesk::{Fault, FaultRule, StandinOptions, UserSeed, World, ZendeskStandin};

use crate::support::{Case, Row, BIN};

const ORGS: &[(&str, &str)] = &[
    ("agency-a-web", "Agency A"),
    ("dept-b-site", "Dept. B"),
    ("tools-c", ""),
];

const USERS: &[Row<'static>] = &[
    Row(
        1,
        "ann@a.example.gov",
        &[("agency-a-web", "manager"), ("dept-b-site", "user")],
    ),
    Row(2, "bob@a.example.gov", &[("agency-a-web", "user")]),
    Row(3, "cy@b.example.gov", &[("dept-b-site", "manager")]),
    Row(4, "di@c.example.gov", &[("tools-c", "user")]),
    Row(
        5,
        "ed@c.example.gov",
        &[("tools-c", "user"), ("agency-a-web", "user")],
    ),
];

/// What the comparison looks at: organizations, users and memberships by name/email.
#[derive(Debug, PartialEq, Eq)]
struct Shape {
    orgs: Vec<(String, Option<String>, Option<String>)>,
    users: Vec<(String, String, String, Option<String>)>,
    memberships: Vec<(String, String)>,
}

fn shape(w: &World) -> Shape {
    let mut orgs: Vec<_> = w
        .organizations
        .values()
        .map(|o| (o.name.clone(), o.details.clone(), o.external_id.clone()))
        .collect();
    orgs.sort();
    let mut users: Vec<_> = w
        .users
        .values()
        .map(|u| {
            (
                u.email().unwrap_or("").to_lowercase(),
                u.name.clone(),
                u.role.clone(),
                u.external_id.clone(),
            )
        })
        .collect();
    users.sort();
    let mut memberships: Vec<_> = w
        .memberships
        .values()
        .map(|m| {
            (
                w.users[&m.user_id].email().unwrap_or("").to_lowercase(),
                w.organizations[&m.organization_id].name.clone(),
            )
        })
        .collect();
    memberships.sort();
    Shape {
        orgs,
        users,
        memberships,
    }
}

fn assert_no_duplicates(s: &Shape, label: &str) {
    let names: BTreeSet<_> = s.orgs.iter().map(|o| &o.0).collect();
    assert_eq!(names.len(), s.orgs.len(), "{label}: duplicate organization");
    let emails: BTreeSet<_> = s.users.iter().map(|u| &u.0).collect();
    assert_eq!(emails.len(), s.users.len(), "{label}: duplicate user");
    let pairs: BTreeSet<_> = s.memberships.iter().collect();
    assert_eq!(
        pairs.len(),
        s.memberships.len(),
        "{label}: duplicate membership"
    );
}

/// Seeds what the plan must not touch: an agent in an organization Pages does not know.
/// Returns the ids that must survive.
fn seed_bystanders(zd: &ZendeskStandin) -> (u64, u64, u64) {
    let org = zd.seed_org("helpdesk-internal", None).expect("seed org");
    let agent = zd
        .seed_user(UserSeed {
            name: "Support Agent".into(),
            email: Some("agent@support.example".into()),
            role: "agent".into(),
            ..UserSeed::default()
        })
        .expect("seed user");
    let membership = zd.seed_membership(agent, org).expect("seed membership");
    (org, agent, membership)
}

fn setup(options: StandinOptions) -> (Case, (u64, u64, u64)) {
    let case = Case::with(options);
    case.reports(ORGS, USERS);
    let kept = seed_bystanders(&case.zd);
    (case, kept)
}

/// The state and exit status a clean run reaches with these (permanent) options.
async fn clean(options: StandinOptions) -> (Shape, i32) {
    let (case, _) = setup(options);
    let ran = case.run(&["sync"]).await;
    let s = shape(&case.world());
    assert_no_duplicates(&s, "clean run");
    (s, ran.code)
}

fn assert_kept(w: &World, (org, agent, membership): (u64, u64, u64), label: &str) {
    assert!(w.organizations.contains_key(&org), "{label}: org removed");
    assert!(w.users.contains_key(&agent), "{label}: agent removed");
    assert!(
        w.memberships.contains_key(&membership),
        "{label}: membership removed"
    );
}

/// Runs `sync` at most twice against `case` and compares with the clean run.
async fn converges(case: &Case, kept: (u64, u64, u64), want: &(Shape, i32), label: &str) {
    let first = case.run(&["sync"]).await;
    assert!(
        [0, 1, 3].contains(&first.code),
        "{label}: first run exit {}\n{}\n{}",
        first.code,
        first.stdout,
        first.stderr
    );
    let s = shape(&case.world());
    assert_no_duplicates(&s, label);
    assert_kept(&case.world(), kept, label);
    if first.code == want.1 && s == want.0 {
        return;
    }
    // The fault episode is over: what was not used up in the first run is disarmed.
    case.zd.clear_faults();
    let second = case.run(&["sync"]).await;
    assert_eq!(
        second.code, want.1,
        "{label}: second run\n{}\n{}",
        second.stdout, second.stderr
    );
    let s = shape(&case.world());
    assert_no_duplicates(&s, label);
    assert_kept(&case.world(), kept, label);
    assert_eq!(s, want.0, "{label}: not the clean run's state");
}

fn rule(method: &str, path: &str, times: usize, fault: Fault) -> FaultRule {
    FaultRule {
        method: Some(method.into()),
        path_contains: Some(path.into()),
        times,
        fault,
    }
}

/// The write endpoints of a first sync (bulk and one-at-a-time forms).
const WRITES: &[&str] = &[
    "organizations/create_many",
    "users/create_many",
    "users/create_or_update_many",
    "organization_memberships/create_many",
];

/// Seeded 500 and 503 answers: each write endpoint of a first sync fails once with
/// probability 40 % (half of them after the server applied the write), each list read
/// once with 30 %; at least one fault hits. Over all the requests of a small first
/// sync that is a few percent of answers, not a per-request 5 % rate (the stand-in
/// has no random-fault option).
fn seeded_server_errors(seed: u64) -> Vec<FaultRule> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut rules = Vec::new();
    for path in WRITES {
        if rng.u8(0..100) < 40 {
            let status = if rng.bool() { 500 } else { 503 };
            let mut fault = Fault {
                status,
                retry_after: None,
                after_processing: false,
            };
            if rng.bool() {
                fault = fault.after_processing();
            }
            rules.push(rule("POST", path, 1, fault));
        }
    }
    for path in ["users", "organizations", "organization_memberships"] {
        if rng.u8(0..100) < 30 {
            rules.push(rule("GET", path, 1, Fault::status(503)));
        }
    }
    // `users/create_or_update_many` is not sent by a first sync with bulk import on.
    let used = |r: &FaultRule| r.path_contains.as_deref() != Some("users/create_or_update_many");
    if !rules.iter().any(used) {
        rules.push(rule("POST", WRITES[0], 1, Fault::internal_error()));
    }
    rules
}

fn burst_429() -> Vec<FaultRule> {
    vec![
        rule("GET", "users", 3, Fault::status(429)),
        rule("POST", "create_many", 2, Fault::status(429)),
    ]
}

/// Retry-After 0 s on every 429 and 503, to keep `cargo test` fast (the stand-in's
/// default of 1 s is kept by the ignored long version).
fn quick(mut rules: Vec<FaultRule>) -> Vec<FaultRule> {
    for r in &mut rules {
        if r.fault.retry_after.is_some() {
            r.fault.retry_after = Some(0);
        }
    }
    rules
}

#[tokio::test(flavor = "multi_thread")]
async fn each_fault_alone_and_combined_converges_within_two_runs() {
    matrix(&[1, 7, 42, 1234], quick).await;
}

/// The long version: real Retry-After waits (1 s) and more seeds. Run with
/// `cargo test --locked --test it faults::long -- --ignored` (about three minutes).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "long: real Retry-After waits; run with --ignored"]
async fn long_matrix_with_real_retry_after_waits_and_more_seeds() {
    let seeds: Vec<u64> = (1..=24).collect();
    matrix(&seeds, |rules| rules).await;
}

async fn matrix(seeds: &[u64], waits: fn(Vec<FaultRule>) -> Vec<FaultRule>) {
    let want = clean(StandinOptions::default()).await;
    assert_eq!(want.1, 0);
    assert_eq!(
        (
            want.0.orgs.len(),
            want.0.users.len(),
            want.0.memberships.len()
        ),
        (4, 6, 8)
    );
    let mut cases: Vec<(String, StandinOptions)> = vec![
        (
            "429 burst".into(),
            StandinOptions {
                faults: waits(burst_429()),
                ..StandinOptions::default()
            },
        ),
        (
            "slow answers".into(),
            StandinOptions {
                latency: Duration::from_millis(20),
                ..StandinOptions::default()
            },
        ),
        (
            "write applied, answer 500".into(),
            StandinOptions {
                faults: vec![rule(
                    "POST",
                    "users/create_many",
                    1,
                    Fault::internal_error().after_processing(),
                )],
                ..StandinOptions::default()
            },
        ),
        (
            "write refused 503".into(),
            StandinOptions {
                faults: vec![rule(
                    "POST",
                    "organization_memberships/create_many",
                    1,
                    Fault {
                        status: 503,
                        retry_after: None,
                        after_processing: false,
                    },
                )],
                ..StandinOptions::default()
            },
        ),
    ];
    for &seed in seeds {
        cases.push((
            format!("seeded 500/503, seed {seed}"),
            StandinOptions {
                faults: waits(seeded_server_errors(seed)),
                ..StandinOptions::default()
            },
        ));
        let mut combined = waits(burst_429());
        combined.extend(waits(seeded_server_errors(seed)));
        cases.push((
            format!("429 + 500/503 + slow, seed {seed}"),
            StandinOptions {
                faults: combined,
                latency: Duration::from_millis(3),
                ..StandinOptions::default()
            },
        ));
    }
    for (label, options) in cases {
        let armed = !options.faults.is_empty();
        let (case, kept) = setup(options);
        converges(&case, kept, &want, &label).await;
        if armed {
            let hit = case
                .zd
                .requests()
                .iter()
                .filter(|r| matches!(r.status, 429 | 500 | 503))
                .count();
            assert!(hit > 0, "{label}: no fault was answered");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn whole_jobs_that_fail_are_finished_by_the_second_run() {
    let want = clean(StandinOptions::default()).await;
    for n in [1, 2, 3] {
        let (case, kept) = setup(StandinOptions::default());
        case.zd.fail_next_jobs(n);
        converges(&case, kept, &want, &format!("{n} failed jobs")).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_job_items_and_bulk_import_off_match_their_clean_runs() {
    let failing = || StandinOptions {
        reject_emails: ["bob@a.example.gov".to_string()].into(),
        ..StandinOptions::default()
    };
    let want = clean(failing()).await;
    assert_eq!(want.1, 1, "a rejected user is a failed record");
    let (case, kept) = setup(StandinOptions {
        faults: quick(seeded_server_errors(99)),
        ..failing()
    });
    converges(&case, kept, &want, "item fails + 500/503").await;

    let off = || StandinOptions {
        bulk_user_import: false,
        ..StandinOptions::default()
    };
    let want = clean(off()).await;
    assert_eq!(want.1, 0);
    let (case, kept) = setup(StandinOptions {
        faults: quick(seeded_server_errors(5)),
        latency: Duration::from_millis(2),
        ..off()
    });
    converges(&case, kept, &want, "bulk import off + 500/503").await;
}

/// Starts `sync` and kills the process once the stand-in has logged `n` writes.
async fn killed_after_writes(case: &Case, n: usize) -> bool {
    let mut cmd = std::process::Command::new(BIN);
    cmd.arg("sync")
        .arg("--config")
        .arg(case.path("config.yml"))
        .env_clear()
        .env("ZENDESK_URL", case.zd.base_url().as_str())
        .env("ZENDESK_EMAIL", &case.zd.credentials().email)
        .env("ZENDESK_API_TOKEN", &case.zd.credentials().token)
        .env("PAGES_ORGANIZATIONS_REPORT", case.path("organizations.csv"))
        .env("PAGES_USERS_REPORT", case.path("users.csv"))
        .env("PAGES_ZENDESK_SYNC_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().expect("the binary starts");
    loop {
        let writes = case.zd.requests().iter().filter(|r| r.is_write()).count();
        if writes >= n {
            child.kill().expect("kill");
            child.wait().expect("wait");
            return true;
        }
        if child.try_wait().expect("try_wait").is_some() {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_process_killed_after_the_nth_write_is_finished_by_the_next_run() {
    // Slow answers keep the kill close to the n-th write.
    let options = || StandinOptions {
        latency: Duration::from_millis(15),
        ..StandinOptions::default()
    };
    let want = clean(options()).await;
    let writes = {
        let (case, _) = setup(options());
        case.run(&["sync"]).await.assert_code(want.1);
        case.zd.requests().iter().filter(|r| r.is_write()).count()
    };
    assert!(
        writes >= 3,
        "a first sync writes at least 3 times: {writes}"
    );
    for n in 1..writes {
        let (case, kept) = setup(options());
        let killed = killed_after_writes(&case, n).await;
        assert!(killed, "the run ended before write {n}");
        let w = case.world();
        let s = shape(&w);
        assert_no_duplicates(&s, &format!("killed after {n}"));
        assert_kept(&w, kept, &format!("killed after {n}"));
        let ran = case.run(&["sync"]).await;
        assert_eq!(ran.code, want.1, "after kill at {n}");
        let s = shape(&case.world());
        assert_no_duplicates(&s, &format!("killed after {n}"));
        assert_eq!(s, want.0, "killed after write {n}");
    }
}
