//! Writes the benchmark's generated Pages reports (invented data) to a directory, for
//! `benches/vs_python.sh` and for trying the binary on a big report by hand.
//!
//! Run: `cargo run --release --example write_reports -- DIR [users]` (default 1,000,000
//! users in users/10 organizations; the same world as `cargo bench --bench parse_and_plan`).
//! Writes `DIR/organizations.csv` and `DIR/users.csv` and prints their sizes.

#![allow(clippy::print_stdout, clippy::print_stderr)] // a program that reports by printing

use std::path::PathBuf;

#[path = "../benches/common/world.rs"]
#[allow(dead_code)] // `World::desired` serves the bench only
mod world;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "bench-reports".into()));
    let users: usize = args
        .next()
        .and_then(|n| n.replace('_', "").parse().ok())
        .unwrap_or(1_000_000);
    std::fs::create_dir_all(&dir)?;
    let (orgs, users_csv) = world::World::generate(users).csv();
    std::fs::write(dir.join("organizations.csv"), &orgs)?;
    std::fs::write(dir.join("users.csv"), &users_csv)?;
    println!(
        "{users} users: organizations.csv {} bytes, users.csv {} bytes, in {}",
        orgs.len(),
        users_csv.len(),
        dir.display()
    );
    Ok(())
}
