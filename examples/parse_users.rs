//! Timing of the report parser on a generated 1M-user users.csv (invented data).
//! Run: `cargo run --release --example parse_users [users]`. Prints the size and the time.

#![allow(clippy::print_stdout, clippy::print_stderr)] // a program that reports by printing

use std::fmt::Write as _;
use std::time::Instant;

use pages_zendesk_sync::config::Policy;
use pages_zendesk_sync::source;

fn main() {
    let users: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let orgs = 2_000;
    let mut org_csv = String::from("\"Organization\",\"Agency\",\"Self Authorized\"\n");
    for o in 0..orgs {
        writeln!(
            org_csv,
            "\"Dept. of Examples {o}, Office\",\"Agency {o}\",false"
        )
        .unwrap();
    }
    let mut user_csv = String::with_capacity(users * 170);
    user_csv.push_str(
        "\"ID\",\"Email\",\"Organizations\",\"Details\",\"Created\",\"Last Signed In\"\n",
    );
    for u in 0..users {
        let (a, b) = (u % orgs, (u * 7 + 3) % orgs);
        let stamp = "\"2024-03-05T14:07:09.123Z\",\"2026-10-30T09:12:44.001Z\"";
        match u % 10 {
            0 => writeln!(user_csv, "{u},\"someone.{u}@example.gov\",\"\",\"\",{stamp}"),
            1..=3 => writeln!(
                user_csv,
                "{u},\"first.last{u}@agency{a}.example.gov\",\"Dept. of Examples {a}, Office|Dept. of Examples {b}, Office\",\
                 \"Dept. of Examples {a}, Office: manager, Dept. of Examples {b}, Office: user\",{stamp}"
            ),
            _ => writeln!(
                user_csv,
                "{u},\"first.last{u}@agency{a}.example.gov\",\"Dept. of Examples {a}, Office\",\
                 \"Dept. of Examples {a}, Office: user\",{stamp}"
            ),
        }
        .unwrap();
    }
    let cpu_before = cpu_ns();
    let started = Instant::now();
    let reports = source::parse(
        org_csv.as_bytes(),
        "organizations.csv",
        user_csv.as_bytes(),
        "users.csv",
        &Policy::default(),
    )
    .expect("generated reports parse");
    let elapsed = started.elapsed();
    let cpu = cpu_ns()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    println!(
        "{} user rows, {:.1} MB: parsed in {:.0} ms wall, {} ({} partner users, {} memberships, {} issues)",
        reports.stats.user_rows,
        user_csv.len() as f64 / 1e6,
        elapsed.as_secs_f64() * 1e3,
        cpu.map_or("CPU time unknown".to_string(), |ns| format!("{:.0} ms on CPU", ns as f64 / 1e6)),
        reports.stats.partner_users,
        reports.stats.memberships,
        reports.issues.len()
    );
}

/// CPU time of this thread so far (Linux), which a busy machine distorts less than wall time.
fn cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}
