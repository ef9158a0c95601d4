//! Wall time, CPU time and peak memory of reading the Pages database: 100k users (or the
//! sizes given) with their memberships, from a local PostgreSQL server, into the desired
//! state (`source::database::load`, split into its read and build steps).
//!
//! ```text
//! scripts/test-postgres.sh run -- cargo bench --bench read_database            # 100k users
//! scripts/test-postgres.sh run -- cargo bench --bench read_database -- 10000 100000
//! PAGES_ZENDESK_SYNC_TEST_DATABASE_URL=postgres://… cargo bench --bench read_database
//! ```
//!
//! Each size gets a database of its own, generated on the server (N users, N/10
//! organizations with commas, colons and `&` in their names, ~1.5 memberships per user,
//! one in seven a manager, one in twenty without a sign-in identity, one in 101 without
//! organization, one organization in 40 a sandbox and one in 30 inactive), and runs in a
//! child process of this binary. Before each step the heap is trimmed and the RSS
//! high-water mark (VmHWM) reset, so each peak is that step's own (absolute RSS, the
//! process's baseline included: "RSS before" is that baseline). The server's own CPU
//! is not in the process CPU figure; the wall time includes it. A calibration line on
//! stderr (1M u64 inserts + lookups in a std `HashMap`, as in `parse_and_plan`) tells how
//! fast the machine was.

#![allow(clippy::print_stdout, clippy::print_stderr)] // a bench reports by printing

use std::process::Command;
use std::time::Instant;

use pages_zendesk_sync::config::{PagesOptions, Policy};
use pages_zendesk_sync::source::database::{self, DatabaseSource};
use tokio_postgres::NoTls;

#[path = "common/calibration.rs"]
mod calibration;
use calibration::calibrate;

const URL_VAR: &str = "PAGES_ZENDESK_SYNC_TEST_DATABASE_URL";
const CHILD_ENV: &str = "PZS_BENCH_DB_URL";
const SCHEMA: &str = include_str!("../tests/fixtures/pages-database/schema.sql");

fn main() {
    if let Ok(url) = std::env::var(CHILD_ENV) {
        child(&url);
        return;
    }
    let Some(admin_url) = std::env::var(URL_VAR).ok().filter(|u| !u.is_empty()) else {
        eprintln!(
            "read_database: {URL_VAR} is not set; run: scripts/test-postgres.sh run -- \
             cargo bench --bench read_database"
        );
        return;
    };
    let mut sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.replace('_', "").parse().ok())
        .collect();
    if sizes.is_empty() {
        sizes = vec![100_000];
    }
    eprintln!("calibration: {}", calibrate());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let exe = std::env::current_exe().expect("bench binary path");
    println!(
        "| users | orgs | memberships | read (query + rows) | build desired state | load (both) | RSS before | read peak | build peak | RSS with the desired state |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for users in sizes {
        let (name, url) = runtime.block_on(create(&admin_url, users));
        let out = Command::new(&exe)
            .env(CHILD_ENV, &url)
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("run bench child");
        if !out.status.success() {
            eprintln!("{users} users: child failed ({})", out.status);
        }
        print!("{}", String::from_utf8_lossy(&out.stdout));
        runtime.block_on(drop_database(&admin_url, &name));
    }
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("the server accepts the connection");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A database with the Pages schema and `users` generated users.
async fn create(admin_url: &str, users: usize) -> (String, String) {
    let name = format!("pzs_bench_{}_{users}", std::process::id());
    let admin = connect(admin_url).await;
    // Separate statements: neither may run inside the implicit transaction of a batch.
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        admin.batch_execute(&sql).await.expect("CREATE DATABASE");
    }
    let mut url = url::Url::parse(admin_url).expect("a URL");
    url.set_path(&format!("/{name}"));
    let url = url.to_string();
    let db = connect(&url).await;
    let orgs = (users / 10).max(1);
    let started = Instant::now();
    db.batch_execute(SCHEMA).await.expect("schema");
    db.batch_execute(&format!(
        r#"
INSERT INTO role (id, name, "createdAt", "updatedAt")
  VALUES (1, 'manager', now(), now()), (2, 'user', now(), now());
INSERT INTO organization (id, name, agency, "isSandbox", "isActive", "createdAt", "updatedAt")
  SELECT g, 'Office ' || g || ', Programs: Tests & Co',
         CASE WHEN g % 17 = 0 THEN NULL ELSE 'Agency ' || (g % 50) END,
         g % 40 = 0, g % 30 <> 0, now(), now()
  FROM generate_series(1, {orgs}) g;
INSERT INTO "user" (id, username, "createdAt", "updatedAt")
  SELECT g, 'u' || g, now(), now() FROM generate_series(1, {users}) g;
INSERT INTO uaa_identity ("uaaId", "userName", email, origin, "userId", "createdAt", "updatedAt")
  SELECT 'uaa-' || g, 'first' || g || '.last@agency' || (g % 50) || '.example.gov',
         'first' || g || '.last@agency' || (g % 50) || '.example.gov', 'cloud.gov', g, now(), now()
  FROM generate_series(1, {users}) g WHERE g % 20 <> 0;
INSERT INTO organization_role ("organizationId", "userId", "roleId", "createdAt", "updatedAt")
  SELECT 1 + (g * 7) % {orgs}, g, CASE WHEN g % 7 = 0 THEN 1 ELSE 2 END, now(), now()
  FROM generate_series(1, {users}) g WHERE g % 101 <> 0
  UNION ALL
  SELECT 1 + (g * 13 + 1) % {orgs}, g, 2, now(), now()
  FROM generate_series(1, {users}) g
  WHERE g % 2 = 0 AND g % 101 <> 0 AND (g * 13 + 1) % {orgs} <> (g * 7) % {orgs};
ANALYZE;
"#
    ))
    .await
    .expect("seed");
    eprintln!(
        "{users} users: database generated in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    (name, url)
}

async fn drop_database(admin_url: &str, name: &str) {
    let admin = connect(admin_url).await;
    let _ = admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await;
}

fn child(url: &str) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let source = DatabaseSource::from_url(url, None).expect("a loopback URL");
    let policy = Policy::default();
    let options = PagesOptions::default();

    memory::fresh_phase();
    let before = memory::current();
    let (wall, cpu) = (Instant::now(), process_cpu_seconds());
    let rows = runtime
        .block_on(database::read_rows(&source))
        .expect("the database reads");
    let read = (wall.elapsed().as_secs_f64(), process_cpu_seconds() - cpu);
    let read_peak = memory::peak();

    memory::fresh_phase();
    let (wall, cpu) = (Instant::now(), process_cpu_seconds());
    let reports = database::build(&rows, &policy, &options);
    let build = (wall.elapsed().as_secs_f64(), process_cpu_seconds() - cpu);
    let build_peak = memory::peak();
    drop(rows);
    memory::fresh_phase();
    let desired = memory::current();
    let (users, orgs, memberships) = (
        reports.stats.user_rows,
        reports.stats.organization_rows,
        reports.stats.memberships,
    );
    drop(reports);

    // The whole load as a run does it (read, then build off the async workers).
    memory::fresh_phase();
    let (wall, cpu) = (Instant::now(), process_cpu_seconds());
    let again = runtime
        .block_on(database::load(&source, &policy, &options))
        .expect("the database loads");
    let load = (wall.elapsed().as_secs_f64(), process_cpu_seconds() - cpu);
    assert_eq!(again.stats.memberships, memberships);

    let t = |(w, c): (f64, f64)| format!("{:.0} ms ({:.0} ms CPU)", w * 1e3, c * 1e3);
    println!(
        "| {users} | {orgs} | {memberships} | {} | {} | {} | {} | {} | {} | {} |",
        t(read),
        t(build),
        t(load),
        mib(before),
        mib(read_peak),
        mib(build_peak),
        mib(desired),
    );
}

fn process_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe {
        libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts);
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

mod memory {
    fn status_kb(field: &str) -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with(field))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|n| n.parse().ok())
            })
            .unwrap_or(0)
    }

    pub(crate) fn current() -> u64 {
        status_kb("VmRSS:") * 1024
    }

    pub(crate) fn peak() -> u64 {
        status_kb("VmHWM:") * 1024
    }

    /// Trims the heap and resets the high-water mark to the current RSS.
    pub(crate) fn fresh_phase() {
        // SAFETY: malloc_trim only returns free heap pages to the system.
        unsafe {
            libc::malloc_trim(0);
        }
        let _ = std::fs::write("/proc/self/clear_refs", "5");
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
