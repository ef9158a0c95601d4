//! Request efficiency (issue requirement): "for 5,000 users in 500 orgs from an empty
//! account, the requests made are within 10% of the minimum the API allows". The real
//! binary runs a first `sync` into an empty Zendesk stand-in (jobs complete as the
//! stand-in's default says: at their second status fetch) and the stand-in's request log
//! is counted. Figures go to stderr (`cargo test -- --nocapture`) and BENCHMARKS.md.

use std::fmt::Write as _;
use std::time::Instant;

use standins::zendesk::StandinOptions;

use crate::support::{by_kind, Case};

const USERS: usize = 5_000;
const ORGS: usize = 500;
/// `max_jobs_in_flight` in the config, as Zendesk allows at most 30 queued-or-running jobs.
const JOBS_IN_FLIGHT: usize = 30;
/// Records per bulk call, ids per `show_many`, records per cursor page.
const PER_CALL: usize = 100;

/// Deterministic reports: every user in one organization, every other user in a second
/// one (1.5 memberships per user), one in seven a manager somewhere.
fn reports(case: &Case) -> usize {
    let mut orgs = String::from("\"Organization\",\"Agency\",\"Self Authorized\"\n");
    for o in 0..ORGS {
        writeln!(
            orgs,
            "\"org-{o:03}, office {o}\",\"Agency {}\",false",
            o / 10
        )
        .unwrap();
    }
    let mut users = String::from(
        "\"ID\",\"Email\",\"Organizations\",\"Details\",\"Created\",\"Last Signed In\"\n",
    );
    let mut memberships = 0;
    for u in 0..USERS {
        let mut names = vec![format!("org-{:03}, office {}", u % ORGS, u % ORGS)];
        if u % 2 == 1 {
            let o = (u * 7 + 3) % ORGS;
            if o != u % ORGS {
                names.push(format!("org-{o:03}, office {o}"));
            }
        }
        memberships += names.len();
        let details: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let role = if i == 0 && u % 7 == 0 {
                    "manager"
                } else {
                    "user"
                };
                format!("{n}: {role}")
            })
            .collect();
        writeln!(
            users,
            "{},\"first{u}.last@agency{}.example.gov\",\"{}\",\"{}\",\"2024-03-05T14:07:09.123Z\",",
            1000 + u,
            u % 37,
            names.join("|"),
            details.join(", ")
        )
        .unwrap();
    }
    std::fs::write(case.path("organizations.csv"), orgs).unwrap();
    std::fs::write(case.path("users.csv"), users).unwrap();
    memberships
}

/// The fewest requests the API allows for a first sync into an empty account:
///
/// ```text
///   1                          account/settings (read once before planning, issue 10)
/// + 3                          reads: organizations, users, memberships (one page each, empty)
/// + ⌈O/100⌉ + ⌈O/100⌉          organizations/create_many, organizations/show_many (new ids)
/// + ⌈U/100⌉ + ⌈U/100⌉          users/create_many, users/show_many (new ids)
/// + ⌈M/100⌉                    organization_memberships/create_many
/// + Σ phases ⌈jobs/30⌉         job polls: one job_statuses/show_many round per wave of at
///                              most 30 jobs in flight, per phase (orgs, users, memberships)
/// + ⌈O/100⌉+⌈U/100⌉+⌈M/100⌉    verification re-read, cursor pages of 100
/// ```
///
/// Job results carry created ids without their request index, so ids of new organizations
/// and users must be read back (`show_many`, 100 ids each) before memberships can name them.
fn minimum(orgs: usize, users: usize, memberships: usize) -> usize {
    let c = |n: usize| n.div_ceil(PER_CALL);
    let waves = |jobs: usize| jobs.div_ceil(JOBS_IN_FLIGHT);
    1 + 3
        + 2 * c(orgs)
        + 2 * c(users)
        + c(memberships)
        + waves(c(orgs))
        + waves(c(users))
        + waves(c(memberships))
        + c(orgs)
        + c(users)
        + c(memberships)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_sync_of_5000_users_in_500_orgs_stays_within_10_percent_of_the_minimum_requests() {
    let case = Case::with(StandinOptions::default());
    case.config(&format!(
        "zendesk: {{job_poll_interval_ms: 5, max_jobs_in_flight: {JOBS_IN_FLIGHT}, requests_per_minute: 2500}}\n"
    ));
    let memberships = reports(&case);
    let started = Instant::now();
    let ran = case.run(&["sync"]).await;
    let wall = started.elapsed();
    ran.assert_code(0);

    let w = case.world();
    assert_eq!(w.organizations.len(), ORGS);
    assert_eq!(w.users.len(), USERS);
    assert_eq!(w.memberships.len(), memberships);

    let requests = case.zd.requests();
    let kinds = by_kind(&requests);
    let total = requests.len();
    let min = minimum(ORGS, USERS, memberships);
    let ratio = total as f64 / min as f64;
    eprintln!("first sync: {USERS} users, {ORGS} orgs, {memberships} memberships");
    for (kind, n) in &kinds {
        eprintln!("  {n:>5}  {kind}");
    }
    eprintln!(
        "  total {total}, minimum {min}, ratio {ratio:.3}, wall time {:.1} s (debug build, stand-in in the test process)",
        wall.as_secs_f64()
    );
    assert!(
        requests.iter().all(|r| r.status < 400),
        "no refused request: {:?}",
        requests
            .iter()
            .filter(|r| r.status >= 400)
            .map(|r| (&r.method, &r.path, r.status))
            .collect::<Vec<_>>()
    );
    assert!(
        total as f64 <= 1.10 * min as f64,
        "{total} requests is more than 10% above the minimum {min}: {kinds:#?}"
    );
}
