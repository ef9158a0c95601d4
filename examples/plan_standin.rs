//! The whole `plan` command at Pages scale against the Zendesk stand-in: where a run's time
//! goes (read reports / read Zendesk / plan / render), and whether the stand-in is the
//! bottleneck.
//!
//! Run: `cargo build --release --locked && cargo run --release --locked --example
//! plan_standin [users]` (default 100,000 users in users/10 organizations, the world of
//! the parse_and_plan bench). Writes the reports to a temporary directory, starts the
//! stand-in in this process and seeds it as last month's sync left it (every organization,
//! user with external_id, and membership; no roles text, so `plan` has changes to make),
//! then runs the release binary's `plan` three times with `PAGES_ZENDESK_SYNC_LOG=info` and prints the
//! `ms` of its phase log lines, its wall and CPU time, and this process's CPU time in that
//! interval (the stand-in's: it is the only work this process does meanwhile), with the
//! parse_and_plan bench's calibration line before and after the runs.

#![allow(clippy::print_stdout, clippy::print_stderr)] // a program that reports by printing

use std::process::Command;
use std::time::Instant;

use standins::zendesk::{StandinOptions, UserSeed, ZendeskStandin};

#[path = "../benches/common/calibration.rs"]
mod calibration;
use calibration::calibrate;

#[path = "../benches/common/world.rs"]
#[allow(dead_code)] // `World::desired` serves the bench only
mod world;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let users: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.replace('_', "").parse().ok())
        .unwrap_or(100_000);
    let bin = std::env::var("PZS_BIN")
        .unwrap_or_else(|_| "target/release/pages-zendesk-sync".to_string());
    let dir = tempfile::tempdir()?;
    let world = world::World::generate(users);
    let (orgs_csv, users_csv) = world.csv();
    std::fs::write(dir.path().join("organizations.csv"), &orgs_csv)?;
    std::fs::write(dir.path().join("users.csv"), &users_csv)?;
    std::fs::write(
        dir.path().join("config.yml"),
        "zendesk: {requests_per_minute: 100000}\n",
    )?;

    let seeding = Instant::now();
    let zd = ZendeskStandin::start(StandinOptions::default())?;
    let mut org_ids = Vec::with_capacity(world.orgs.len());
    for (name, agency) in &world.orgs {
        org_ids.push(zd.seed_org(name, Some(agency))?);
    }
    for (id, email, roles) in &world.users {
        if roles.is_empty() {
            continue;
        }
        let user = zd.seed_user(UserSeed {
            name: email.split('@').next().unwrap_or_default().to_string(),
            email: Some(email.clone()),
            role: "end-user".into(),
            external_id: Some(format!("pages-user-{id}")),
            ..UserSeed::default()
        })?;
        for (org, _) in roles {
            zd.seed_membership(user, org_ids[*org])?;
        }
    }
    eprintln!(
        "{users} users, {} organizations seeded in {:.1} s",
        world.orgs.len(),
        seeding.elapsed().as_secs_f64()
    );
    drop(world);
    let credentials = zd.credentials().clone();
    eprintln!("calibration before the runs: {}", calibrate());

    for run in 1..=3 {
        let cpu_before = cpu_seconds(libc::RUSAGE_SELF);
        let child_before = cpu_seconds(libc::RUSAGE_CHILDREN);
        let started = Instant::now();
        let mut cmd = Command::new(&bin);
        cmd.arg("plan")
            .arg("--organizations")
            .arg(dir.path().join("organizations.csv"))
            .arg("--users")
            .arg(dir.path().join("users.csv"))
            .arg("--config")
            .arg(dir.path().join("config.yml"))
            .env("ZENDESK_URL", zd.base_url().as_str().trim_end_matches('/'))
            .env("ZENDESK_EMAIL", &credentials.email)
            .env("ZENDESK_API_TOKEN", &credentials.token)
            .env("PAGES_ZENDESK_SYNC_LOG", "info")
            .env("NO_COLOR", "1");
        let out = tokio::task::spawn_blocking(move || cmd.output()).await??;
        let wall = started.elapsed().as_secs_f64();
        let standin_cpu = cpu_seconds(libc::RUSAGE_SELF) - cpu_before;
        let binary_cpu = cpu_seconds(libc::RUSAGE_CHILDREN) - child_before;
        let log = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            anyhow::bail!("plan failed ({}):\n{log}", out.status);
        }
        let phase = |message: &str| {
            log.lines()
                .filter(|l| l.contains(message))
                .find_map(|l| l.split("ms=").nth(1))
                .and_then(|v| v.split_whitespace().next())
                .unwrap_or("?")
                .to_string()
        };
        println!(
            "run {run}: read reports {} ms | read Zendesk {} ms | plan {} ms | render {} ms | \
             plan command {:.0} ms wall, {:.0} ms CPU | stand-in {:.0} ms CPU",
            phase("read the Pages reports"),
            phase("read Zendesk"),
            phase("planned"),
            phase("rendered the summary"),
            wall * 1e3,
            binary_cpu * 1e3,
            standin_cpu * 1e3,
        );
    }
    eprintln!("calibration after the runs: {}", calibrate());
    zd.shutdown();
    Ok(())
}

/// User + system CPU seconds of this process (all threads) or of its waited-for children.
fn cpu_seconds(who: libc::c_int) -> f64 {
    // SAFETY: getrusage writes one rusage through a valid pointer.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &mut usage) } != 0 {
        return f64::NAN;
    }
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 * 1e-6;
    t(usage.ru_utime) + t(usage.ru_stime)
}
