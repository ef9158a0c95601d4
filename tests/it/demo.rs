//! `demo` end to end: the real binary, run from an unrelated directory with the job's
//! variables set to values that would fail (or reach nothing) if the demo read them.
//! Asserts on what it printed: the issue closed as completed with every box ticked, run 1's
//! changes matching the seeded drift, run 2 with nothing to change and no Zendesk write,
//! the kept records, exit status 0, and no email address of the demo reports anywhere.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use crate::support::BIN;

/// Runs `demo` with hostile job variables; returns the output and the temp dir holding
/// the files those variables name (so the test can check nothing was written there).
fn run_demo(args: &[&str]) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("demo")
        .args(args)
        .current_dir(dir.path())
        // A closed port on loopback: a demo that used these would fail, not reach anything.
        .env("GITHUB_API_URL", "http://127.0.0.1:9")
        .env("GITHUB_TOKEN", "not-a-token")
        .env("GITHUB_REPOSITORY", "someone/else")
        .env("GITHUB_STEP_SUMMARY", dir.path().join("summary.md"))
        .env("GITHUB_OUTPUT", dir.path().join("output.txt"))
        .env("GITHUB_ACTIONS", "true")
        .env("ZENDESK_URL", "http://127.0.0.1:9")
        .env("ZENDESK_SUBDOMAIN", "example")
        .env("ZENDESK_EMAIL", "admin@example.invalid")
        .env("ZENDESK_API_TOKEN", "not-a-token")
        .env(
            "PAGES_ORGANIZATIONS_REPORT",
            "/nonexistent/organizations.csv",
        )
        .env("PAGES_USERS_REPORT", "/nonexistent/users.csv")
        .env("PAGES_ZENDESK_SYNC_MONTH", "1999-01")
        .env_remove("PAGES_ZENDESK_SYNC_LOG")
        .env_remove("RUST_LOG")
        .output()
        .expect("running the demo binary");
    (out, dir)
}

/// The text between `==== title ====` and the next banner.
fn section<'a>(stdout: &'a str, title: &str) -> &'a str {
    let banner = format!("==== {title} ====\n");
    let start = stdout
        .find(&banner)
        .unwrap_or_else(|| panic!("no section {title:?} in:\n{stdout}"))
        + banner.len();
    let rest = &stdout[start..];
    &rest[..rest.find("\n==== ").unwrap_or(rest.len())]
}

/// The comment's "Changes" table: label → (planned, applied, failed, skipped).
fn changes_table(comment: &str) -> BTreeMap<String, [usize; 4]> {
    let mut rows = BTreeMap::new();
    let Some(start) = comment.find("<summary>Changes</summary>") else {
        return rows;
    };
    for line in comment[start..].lines().skip(1) {
        if line.starts_with("</details>") {
            break;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if cells.len() != 5 || cells[0] == "Change" || cells[0].starts_with("---") {
            continue;
        }
        let n: Vec<usize> = cells[1..]
            .iter()
            .map(|c| c.trim_matches('*').parse().unwrap())
            .collect();
        rows.insert(
            cells[0].trim_matches('*').to_string(),
            [n[0], n[1], n[2], n[3]],
        );
    }
    rows
}

/// The demo's own statement of the seeded drift: "seeded drift matches run 1's plan (2
/// organizations created, ...)" → label → count.
fn seeded_drift(stdout: &str) -> BTreeMap<String, usize> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("seeded drift "))
        .expect("a seeded drift line");
    let inner = &line[line.find('(').unwrap() + 1..line.rfind(')').unwrap()];
    inner
        .split(", ")
        .map(|part| {
            let (n, label) = part.split_once(' ').unwrap();
            (label.to_string(), n.parse().unwrap())
        })
        .collect()
}

fn demo_emails() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/users.csv");
    let mut reader = csv::Reader::from_path(path).unwrap();
    reader
        .records()
        .map(|r| r.unwrap()[1].trim().to_lowercase())
        .filter(|e| e.contains('@'))
        .collect()
}

#[test]
fn demo_runs_the_monthly_job_twice_and_the_second_run_changes_nothing() {
    let (out, dir) = run_demo(&[]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // Logs default to warn for the demo: a clean run logs nothing.
    assert!(stderr.trim().is_empty(), "stderr:\n{stderr}");

    // The job's variables were ignored: this month, not PAGES_ZENDESK_SYNC_MONTH; no
    // Actions files; no annotations.
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    assert!(stdout.contains(&format!("the monthly job for {month}")));
    assert!(!dir.path().join("summary.md").exists());
    assert!(!dir.path().join("output.txt").exists());
    assert!(!stdout.contains("::error") && !stdout.contains("::warning"));

    // The issue as it ends: closed as completed, labelled, every box ticked.
    let issue = section(&stdout, "The issue after run 1");
    assert!(issue.contains("\nstate: closed (completed)\n"), "{issue}");
    assert!(issue.contains("\nlabels: pages-zendesk-sync\n"), "{issue}");
    assert_eq!(issue.matches("- [x] ").count(), 5, "{issue}");
    assert!(!issue.contains("- [ ]"), "{issue}");

    // Run 1's comment: the changes the seeded drift calls for, all applied.
    let first = section(&stdout, "Results comment of run 1");
    assert!(first.contains(": succeeded"), "{first}");
    let table = changes_table(first);
    let drift = seeded_drift(&stdout);
    for (label, want) in [
        ("organizations created", Some(2)),
        ("organizations updated", Some(1)),
        ("users created", None),
        ("users updated", None),
        ("primary emails changed", Some(2)),
        ("memberships added", None),
        ("memberships removed", Some(2)),
    ] {
        let [planned, applied, failed, skipped] = table
            .get(label)
            .copied()
            .unwrap_or_else(|| panic!("no {label:?} row in:\n{first}"));
        assert!(planned > 0, "{label}: {planned}");
        if let Some(want) = want {
            assert_eq!(planned, want, "{label}");
        }
        assert_eq!(planned, drift[label], "{label} against the seeded drift");
        assert_eq!((applied, failed, skipped), (planned, 0, 0), "{label}");
    }
    assert!(table["users created"][0] >= 3);
    assert!(stdout.contains("seeded drift matches run 1's plan"));
    // The two bad rows are reported by line and reason, and do not fail a criterion.
    assert!(first.contains("users.csv lines 322, 323"), "{first}");
    assert!(first.contains("`invalid_email`") && first.contains("`unknown_organization`"));
    assert_eq!(first.matches("✅ pass").count(), 5, "{first}");
    assert!(
        first.contains("<summary>Change since last month ("),
        "{first}"
    );
    assert!(first.contains("| Zendesk organizations not in Pages (kept) | 1 |"));

    // The preflight ran first, read-only, and found nothing that would fail a run.
    let doctor = section(&stdout, "Doctor: the preflight before a first real run");
    assert!(
        doctor.contains("pass  Zendesk        user.tagging: on"),
        "{doctor}"
    );
    assert!(doctor.contains(" 0 failed, 0 skipped"), "{doctor}");

    // The records a person touched were kept.
    let run1 = section(&stdout, "Run 1: the monthly job");
    assert_eq!(run1.matches("\n  ok  ").count(), 6, "{run1}");
    assert!(!run1.contains("FAIL"), "{run1}");

    // Run 2: nothing left to change, no Zendesk write.
    let second = section(&stdout, "Results comment of run 2");
    assert!(second.contains("No changes needed"), "{second}");
    assert!(second.contains("(0 writes)"), "{second}");
    assert_eq!(second.matches("✅ pass").count(), 5, "{second}");
    let summary = section(&stdout, "Summary");
    let run2 = summary
        .lines()
        .find(|l| l.starts_with("run 2: "))
        .expect("a run 2 line");
    assert!(run2.contains("0 changes planned"), "{run2}");
    assert!(run2.contains(" 0 of them writes"), "{run2}");
    assert!(run2.contains("issue #2 closed"), "{run2}");
    assert!(run2.ends_with("exit status 0"), "{run2}");
    assert!(
        summary.contains(
            "issue #2 as it ends: closed (completed), labels pages-zendesk-sync, 5 of 5 boxes ticked, 2 comments"
        ),
        "{summary}"
    );

    // No email address of the reports anywhere in what was printed.
    let printed = stdout.to_lowercase();
    let emails = demo_emails();
    assert!(emails.len() > 300);
    for email in emails {
        assert!(
            !printed.contains(&email),
            "an email of demo/users.csv was printed"
        );
    }
}

#[test]
fn demo_takes_a_month_and_a_data_directory() {
    let reports = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reports");
    let (out, _dir) = run_demo(&["--month", "2025-01", "--data", reports.to_str().unwrap()]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let issue = section(&stdout, "The issue after run 1");
    assert!(issue.starts_with("#2 Run January 2025 "), "{issue}");
    assert!(issue.contains("\nstate: closed (completed)\n"), "{issue}");
    let first = section(&stdout, "Results comment of run 1");
    assert!(
        first.contains("<summary>Change since last month (2024-12)</summary>"),
        "{first}"
    );
    let table = changes_table(first);
    let drift = seeded_drift(&stdout);
    for (label, [planned, applied, failed, _]) in &table {
        if label == "total" {
            continue;
        }
        assert_eq!(*planned, drift[label], "{label}");
        assert_eq!((*applied, *failed), (*planned, 0), "{label}");
    }
    assert!(section(&stdout, "Results comment of run 2")
        .contains("Nothing needed changing and nothing needs attention"));
}

#[test]
fn demo_refuses_a_data_directory_without_the_reports() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _d) = run_demo(&["--data", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("organizations.csv is missing"), "{stderr}");
    assert!(out.stdout.is_empty());
}
