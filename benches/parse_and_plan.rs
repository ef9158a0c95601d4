//! Wall time and peak memory of the pure core at Pages scale: parse both reports, plan,
//! check the guard, apply in memory and verify, for 10k, 100k and 1M users.
//!
//! ```text
//! cargo bench --bench parse_and_plan                      # 10k, 100k, 1M users
//! cargo bench --bench parse_and_plan -- 10000 --plan-only # chosen sizes, no parser
//! cargo bench --bench parse_and_plan -- 1000000 --repeat 5 # parse and plan 5 times each
//! PZS_BENCH_SIZES=10000,100000 PZS_BENCH_PLAN_ONLY=1 cargo bench --bench parse_and_plan
//! ```
//!
//! Each size runs in a child process of this binary, in three phases; before each phase the
//! heap is trimmed and the RSS high-water mark (VmHWM) reset, so each peak is that phase's:
//! 1. parse: the report bytes (as a run holds them while parsing) and the desired state;
//! 2. plan: the desired state, the Zendesk snapshot (inputs a run holds) and the plan;
//! 3. guard, apply in memory, verify: not part of the goal, reported so nothing is hidden.
//!
//! With `--repeat N` (or `PZS_BENCH_REPEAT=N`) parse and plan each run N times on the same
//! inputs in one process: every run is listed on stderr and the table shows the fastest
//! (by wall time), the steadiest figure on a shared machine where other work only ever
//! adds time. Peaks are the first run's.
//!
//! Times are wall and process CPU (all threads). The inputs are generated in memory:
//! organizations = users / 10 with commas, colons and ampersands in names; ~1.5
//! memberships per user; one user in seven a manager; a Zendesk snapshot with most users
//! present and some drift (changed details, stale memberships, missing users and
//! organizations, changed emails, users no longer in Pages).

#![allow(clippy::print_stdout, clippy::print_stderr)] // a bench reports by printing

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;
use std::time::Instant;

use pages_zendesk_sync::config::{GuardLimits, Policy};
use pages_zendesk_sync::model::{
    name_from_email, ActualState, DesiredState, EmailKey, OrgKey, ZendeskIdentity,
    ZendeskMembership, ZendeskOrg, ZendeskRole, ZendeskUser,
};
use pages_zendesk_sync::plan::{guard, plan, simulate};
use pages_zendesk_sync::{source, verify};

// The generated Pages side, shared with `examples/write_reports.rs`.
#[path = "common/calibration.rs"]
mod calibration;
#[path = "common/world.rs"]
mod world;
use calibration::calibrate;
use world::World;

const CHILD_ENV: &str = "PZS_BENCH_CHILD_SIZE";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let plan_only = args.iter().any(|a| a == "--plan-only")
        || std::env::var("PZS_BENCH_PLAN_ONLY").is_ok_and(|v| v != "0" && !v.is_empty());
    let repeat = args
        .iter()
        .position(|a| a == "--repeat")
        .and_then(|at| args.get(at + 1))
        .cloned()
        .or_else(|| std::env::var("PZS_BENCH_REPEAT").ok())
        .map_or(1, |n| {
            n.parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .expect("--repeat takes a positive number of runs")
        });

    if args.iter().any(|a| a == "--calibrate-only") {
        eprintln!("calibration: {}", calibrate());
        return;
    }
    if let Ok(size) = std::env::var(CHILD_ENV) {
        let size: usize = size.parse().expect("child size is a number");
        run_one(size, plan_only, repeat);
        return;
    }

    let mut sizes: Vec<usize> = args
        .iter()
        .enumerate()
        .filter(|&(i, _)| i == 0 || args[i - 1] != "--repeat")
        .filter_map(|(_, a)| a.replace('_', "").parse().ok())
        .collect();
    if sizes.is_empty() {
        if let Ok(env) = std::env::var("PZS_BENCH_SIZES") {
            sizes = env
                .split(',')
                .filter_map(|s| s.trim().replace('_', "").parse().ok())
                .collect();
        }
    }
    if sizes.is_empty() {
        sizes = vec![10_000, 100_000, 1_000_000];
    }

    eprintln!("calibration: {}", calibrate());
    let exe = std::env::current_exe().expect("bench binary path");
    let mut times = Vec::new();
    let mut memory = Vec::new();
    for size in sizes {
        let mut cmd = Command::new(&exe);
        cmd.env(CHILD_ENV, size.to_string());
        if plan_only {
            cmd.arg("--plan-only");
        }
        cmd.args(["--repeat", &repeat.to_string()]);
        cmd.stderr(std::process::Stdio::inherit());
        let out = cmd.output().expect("run bench child");
        if !out.status.success() {
            eprintln!("size {size}: child failed ({})", out.status);
        }
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some(row) = line.strip_prefix("TIME") {
                times.push(row.to_string());
            } else if let Some(row) = line.strip_prefix("MEM") {
                memory.push(row.to_string());
            }
        }
    }
    println!("Time, wall (CPU of the whole process, all threads):\n");
    println!(
        "| users | orgs | memberships | users.csv | parse | plan | parse + plan | changes | guard | verify (after apply) |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for row in times {
        println!("{row}");
    }
    println!("\nPeak RSS (VmHWM, reset before each phase):\n");
    println!(
        "| users | CSV bytes | parse peak | desired | desired + snapshot | plan peak | **parse + plan peak** | guard + apply + verify peak |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for row in memory {
        println!("{row}");
    }
}

fn run_one(users: usize, plan_only: bool, repeat: usize) {
    let policy = Policy::default();
    let world = World::generate(users);

    // Phase 1, parse: holds the report bytes (as a run does while parsing) and what the
    // parser builds. The generator's own rows are dropped first.
    let (desired, parse, csv_bytes, parse_peak) = if plan_only {
        let desired = world.desired();
        drop(world);
        (desired, None, 0, 0)
    } else {
        let (orgs_csv, users_csv) = world.csv();
        drop(world);
        let csv_bytes = orgs_csv.len() + users_csv.len();
        let (reports, runs, peak) = repeated(repeat, || {
            source::parse(
                &orgs_csv,
                "organizations.csv",
                &users_csv,
                "users.csv",
                &policy,
            )
            .expect("generated reports parse")
        });
        let parse = fastest("parse", users, &runs);
        // A run drops the bytes once parsed (`source::load` returns only the reports).
        drop((orgs_csv, users_csv));
        (reports.desired, Some(parse), csv_bytes, peak)
    };

    // Phase 2, plan: holds the desired state and the Zendesk snapshot (both inputs of a
    // run's plan) and what the planner builds. Generating the snapshot is not measured.
    memory::fresh_phase();
    let desired_only = memory::current();
    let actual = snapshot(&desired, &policy);
    memory::fresh_phase();
    let held = memory::current();
    let memberships: usize = desired.users.values().map(|u| u.roles.len()).sum();
    let (the_plan, runs, plan_peak) = repeated(repeat, || plan(&desired, &actual, &policy));
    let plan_cost = fastest("plan", users, &runs);

    // Phase 3, the rest of a run's core: guard, apply in memory (a stand-in for Zendesk),
    // verify. Not part of the goal; measured so that nothing is hidden.
    memory::fresh_phase();
    let meter = Meter::start();
    let figures = guard::figures(&the_plan, &desired, &actual);
    let _ = guard::check(&the_plan, &desired, &actual, &GuardLimits::default());
    let guard_cost = meter.stop();

    let after = simulate::apply_in_memory(&actual, &the_plan);
    let meter = Meter::start();
    let verification = verify::verify(&desired, &after, &policy);
    let verify_cost = meter.stop();
    let rest_peak = memory::peak();
    assert!(
        verification.all_passed(),
        "the generated world converges in one run"
    );

    let mut counts = String::new();
    for (kind, n) in the_plan.counts() {
        if n > 0 {
            let _ = write!(counts, "{}={n} ", kind.label().replace(' ', "_"));
        }
    }
    eprintln!(
        "users={users}: {counts}removals={} of {} managed",
        figures.removals, figures.managed_memberships
    );
    let (parse_cell, both_cell) = match parse {
        Some(p) => (p.to_string(), p.plus(plan_cost).to_string()),
        None => ("not run".to_string(), "not run".to_string()),
    };
    println!(
        "TIME| {users} | {} | {memberships} | {} | {parse_cell} | {plan_cost} | {both_cell} | {} | {guard_cost} | {verify_cost} |",
        desired.orgs.len(),
        mib(csv_bytes as u64),
        the_plan.changes.len(),
    );
    println!(
        "MEM| {users} | {} | {} | {} | {} | {} | **{}** | {} |",
        mib(csv_bytes as u64),
        mib(parse_peak),
        mib(desired_only),
        mib(held),
        mib(plan_peak),
        mib(parse_peak.max(plan_peak)),
        mib(rest_peak),
    );
}

/// Wall and CPU time of one step. CPU time is the whole process's (every thread), so a
/// step that runs on two threads shows more CPU than wall; on a machine shared with other
/// builds, CPU time is the steadier of the two.
#[derive(Clone, Copy)]
struct Cost {
    wall: f64,
    cpu: f64,
    /// Minor page faults: memory touched for the first time (each costs a trip into the
    /// kernel, which zeroes the page).
    faults: u64,
}

/// `step` run `repeat` times (at least once), the heap trimmed and the RSS high-water mark
/// reset before each: the last result (earlier ones are dropped untimed), every run's
/// cost, and the first run's peak.
fn repeated<T>(repeat: usize, mut step: impl FnMut() -> T) -> (T, Vec<Cost>, u64) {
    let mut runs = Vec::with_capacity(repeat);
    let mut peak = 0;
    loop {
        memory::fresh_phase();
        let meter = Meter::start();
        let out = step();
        runs.push(meter.stop());
        if runs.len() == 1 {
            peak = memory::peak();
        }
        if runs.len() >= repeat {
            return (out, runs, peak);
        }
    }
}

/// The fastest of the runs (by wall time); all of them listed on stderr when more than one.
fn fastest(step: &str, users: usize, runs: &[Cost]) -> Cost {
    if runs.len() > 1 {
        let all: Vec<String> = runs
            .iter()
            .map(|c| format!("{c} {}k faults", c.faults / 1000))
            .collect();
        eprintln!("users={users}: {step} runs: {}", all.join(", "));
    }
    runs.iter()
        .copied()
        .min_by(|a, b| a.wall.total_cmp(&b.wall))
        .expect("at least one run")
}

impl Cost {
    fn plus(self, other: Cost) -> Cost {
        Cost {
            wall: self.wall + other.wall,
            cpu: self.cpu + other.cpu,
            faults: self.faults + other.faults,
        }
    }
}

impl std::fmt::Display for Cost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.0} ms ({:.0})", self.wall * 1e3, self.cpu * 1e3)
    }
}

struct Meter {
    wall: Instant,
    cpu: f64,
    faults: u64,
}

impl Meter {
    fn start() -> Self {
        Meter {
            wall: Instant::now(),
            cpu: process_cpu_seconds(),
            faults: minor_faults(),
        }
    }

    fn stop(self) -> Cost {
        Cost {
            wall: self.wall.elapsed().as_secs_f64(),
            cpu: process_cpu_seconds() - self.cpu,
            faults: minor_faults().saturating_sub(self.faults),
        }
    }
}

/// Minor page faults of the whole process so far (all threads).
fn minor_faults() -> u64 {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes one rusage through a valid pointer.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    if rc != 0 {
        return 0;
    }
    u64::try_from(usage.ru_minflt).unwrap_or(0)
}

fn process_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return f64::NAN;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Resident memory of this process, read from `/proc/self/status` (Linux), in bytes.
mod memory {
    fn status_kb(field: &str) -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with(field))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<u64>().ok())
            })
            .unwrap_or(0)
    }

    pub(crate) fn current() -> u64 {
        status_kb("VmRSS:") * 1024
    }

    /// The high-water mark since the last [`fresh_phase`].
    pub(crate) fn peak() -> u64 {
        status_kb("VmHWM:") * 1024
    }

    /// Hands freed heap pages back to the kernel, then resets the high-water mark to the
    /// current RSS, so that the next [`peak`] is this phase's own (on top of what is held).
    pub(crate) fn fresh_phase() {
        // SAFETY: malloc_trim only releases free memory of the glibc allocator.
        unsafe {
            libc::malloc_trim(0);
        }
        // Writing 5 to clear_refs resets VmHWM (Linux ≥ 4.0).
        if std::fs::write("/proc/self/clear_refs", "5").is_err() {
            eprintln!("cannot reset VmHWM: peaks include earlier phases");
        }
    }
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes / (1024 * 1024))
}

/// Zendesk after last month's run, plus a month of drift.
fn snapshot(desired: &DesiredState, policy: &Policy) -> ActualState {
    let mut a = ActualState::default();
    let mut org_ids: BTreeMap<&OrgKey, u64> = BTreeMap::new();
    for (i, (key, org)) in desired.orgs.iter().enumerate() {
        if i % 100 == 99 {
            continue; // new in Pages this month
        }
        let id = 10_000_000 + i as u64;
        let details = if i % 50 == 7 {
            Some("Renamed agency".to_string())
        } else {
            Some(org.details.clone())
        };
        a.orgs.insert(
            id,
            ZendeskOrg {
                id,
                name: org.name.clone(),
                details,
            },
        );
        org_ids.insert(key, id);
    }
    for i in 0..(desired.orgs.len() / 100) {
        let id = 20_000_000 + i as u64;
        a.orgs.insert(
            id,
            ZendeskOrg {
                id,
                name: format!("Old org {i}"),
                details: None,
            },
        );
    }
    let managed: Vec<u64> = org_ids.values().copied().collect();

    let mut membership_id = 100_000_000u64;
    let mut identity_id = 50_000_000u64;
    // Built as the Zendesk reader builds them: collected, then bulk-loaded into the maps.
    let mut users: Vec<(u64, ZendeskUser)> = Vec::with_capacity(desired.users.len());
    let mut memberships: Vec<(u64, ZendeskMembership)> =
        Vec::with_capacity(desired.users.len() * 3 / 2);
    let mut add_member = |memberships: &mut Vec<_>, user_id: u64, org_id: u64| {
        membership_id += 1;
        memberships.push((
            membership_id,
            ZendeskMembership {
                id: membership_id,
                user_id,
                org_id,
            },
        ));
    };
    for (i, d) in desired.users.values().enumerate() {
        if i % 100 == 42 {
            continue; // new partner user this month
        }
        let id = 1_000_000 + i as u64;
        identity_id += 1;
        let email_changed = i % 200 == 3;
        let email = if email_changed {
            EmailKey::parse(&format!("old.{i}@agency.gov")).unwrap()
        } else {
            // Its own copy of the text, as the Zendesk reader makes: a clone of the Pages
            // key would share it, and comparing the two would stop at the pointer.
            EmailKey::parse(d.email.as_str()).unwrap()
        };
        let manager = d.is_manager();
        let mut tags = vec!["partner".to_string()];
        if manager != (i % 97 == 5) {
            tags.push(policy.manager_tag.clone());
        }
        users.push((
            id,
            ZendeskUser {
                id,
                name: if i % 300 == 1 {
                    String::new()
                } else {
                    name_from_email(&d.email)
                },
                role: if i % 1000 == 17 {
                    ZendeskRole::Agent
                } else {
                    ZendeskRole::EndUser
                },
                external_id: (i % 10 != 4 || email_changed).then(|| policy.external_id(d.pages_id)),
                roles_text: Some(if i % 33 == 8 {
                    "stale".into()
                } else {
                    desired.roles_text(d)
                }),
                tags,
                suspended: false,
                identities: vec![ZendeskIdentity {
                    id: identity_id,
                    email,
                    primary: true,
                }],
            },
        ));
        for (j, (key, _)) in desired.roles_of(d).enumerate() {
            if let Some(&org_id) = org_ids.get(key) {
                if (i + j) % 50 != 11 {
                    add_member(&mut memberships, id, org_id);
                }
            }
        }
        if i % 200 == 9 && !managed.is_empty() {
            // A stale membership: the user left that org in Pages.
            let stale = managed[(i * 31) % managed.len()];
            if !desired
                .roles_of(d)
                .any(|(k, _)| org_ids.get(k) == Some(&stale))
            {
                add_member(&mut memberships, id, stale);
            }
        }
    }
    // End-users who left Pages altogether.
    for i in 0..(desired.users.len() / 200) {
        let id = 5_000_000 + i as u64;
        identity_id += 1;
        users.push((
            id,
            ZendeskUser {
                id,
                name: format!("Former {i}"),
                role: ZendeskRole::EndUser,
                external_id: None,
                roles_text: None,
                tags: Vec::new(),
                suspended: false,
                identities: vec![ZendeskIdentity {
                    id: identity_id,
                    email: EmailKey::parse(&format!("former{i}@agency.gov")).unwrap(),
                    primary: true,
                }],
            },
        ));
        if !managed.is_empty() {
            add_member(&mut memberships, id, managed[(i * 7) % managed.len()]);
        }
    }
    a.users = users.into_iter().collect();
    a.memberships = memberships.into_iter().collect();
    a
}
