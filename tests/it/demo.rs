//! `demo` end to end: the real binary, run from an unrelated directory with the job's
//! variables set to values that would fail (or reach nothing) if the demo read them.
//! Asserts on what it printed: the issue closed as completed with every box ticked, run 1's
//! changes matching the seeded drift, run 2 with nothing to change and no Zendesk write,
//! the kept records, exit status 0, and no email address of the demo reports anywhere.
//! The demo only states what happened; these tests are its self-check.

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

/// The demo's statement of what the seeded drift calls for: "The drift calls for these
/// changes in run 1: 2 organizations created, ..., 2 memberships removed." → label → count.
fn seeded_drift(stdout: &str) -> BTreeMap<String, usize> {
    let prefix = "The drift calls for these changes in run 1: ";
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .expect("a line saying what the drift calls for");
    line.trim_end_matches('.')
        .split(", ")
        .map(|part| {
            let (n, label) = part.split_once(' ').unwrap();
            (label.to_string(), n.parse().unwrap())
        })
        .collect()
}

/// Run 1's plan equals what the seeded drift calls for, kind by kind (a kind missing from
/// the comment's table was planned 0 times), and in total on the run line.
fn assert_plan_matches_the_drift(stdout: &str) {
    let table = changes_table(section(stdout, "Results comment of run 1"));
    let drift = seeded_drift(stdout);
    for (label, want) in &drift {
        let planned = table.get(label).map_or(0, |row| row[0]);
        assert_eq!(
            planned, *want,
            "{label}: run 1 planned against the seeded drift"
        );
    }
    for label in table.keys().filter(|l| *l != "total") {
        assert!(
            drift.contains_key(label),
            "{label} is not a kind of change the demo counts"
        );
    }
    let total: usize = drift.values().sum();
    let run1 = section(stdout, "Run 1: the monthly job");
    assert!(
        run1.starts_with(&format!(
            "run 1: succeeded; {total} changes planned, {total} applied, 0 failed;"
        )),
        "{run1}"
    );
}

/// What the demo printed after run 1 for each record a person touched: the text before
/// "): " (the kind of record and its id) → the facts after it.
fn touched_records(stdout: &str) -> Vec<(String, String)> {
    let run1 = section(stdout, "Run 1: the monthly job");
    let header = "What the Zendesk stand-in holds after run 1 for the records a person touched:\n";
    let start = run1.find(header).unwrap_or_else(|| panic!("{run1}")) + header.len();
    run1[start..]
        .lines()
        .map_while(|l| l.strip_prefix("  "))
        .map(|l| {
            let (what, facts) = l.split_once("): ").unwrap_or_else(|| panic!("{l}"));
            (format!("{what})"), facts.to_string())
        })
        .collect()
}

/// The demo's former self-check, one assertion per property: the sync kept every record
/// a person touched. Returns how many records were shown.
fn assert_touched_records_kept(stdout: &str) -> usize {
    let records = touched_records(stdout);
    for (what, facts) in &records {
        if what.starts_with("organization not in Pages (") {
            // The Zendesk organization not in Pages is still there, with its member.
            let (now, seeded) = facts.split_once(" (seeded: ").unwrap();
            let seeded = seeded.trim_end_matches(')');
            assert!(now.starts_with("present; members: "), "{what}: {facts}");
            if seeded != "none" {
                assert!(
                    now["present; members: ".len()..]
                        .split(", ")
                        .any(|m| m == seeded),
                    "{what}: {facts}"
                );
            }
        } else if what.starts_with("Zendesk agent (") {
            // The agent was left alone: role and name unchanged.
            assert_eq!(facts, "role agent; name as seeded", "{what}");
        } else if what.starts_with("user whose name a person edited (") {
            // The name a person edited was kept.
            assert_eq!(facts, "name as seeded", "{what}");
        } else if what.starts_with("user with a tag a person set (") {
            // The tag a person set was kept.
            let tags = facts
                .strip_prefix("tags ")
                .unwrap_or_else(|| panic!("{what}: {facts}"));
            assert!(
                tags.split(", ").any(|t| t == "vip_partner"),
                "{what}: {facts}"
            );
        } else if what.starts_with("user whose Pages email was a secondary identity (")
            || what.starts_with("user whose email changed in Pages (")
        {
            // The Pages email is now primary, on the same user, which keeps its former
            // primary as a secondary identity, and no other user holds the Pages email.
            let parts: Vec<&str> = facts.split("; ").collect();
            assert_eq!(parts.len(), 3, "{what}: {facts}");
            assert_eq!(parts[0], "primary: the Pages email", "{what}");
            let identities = parts[1].strip_prefix("identities: ").unwrap();
            assert!(
                identities.split(", ").any(|i| i == "the former primary"),
                "{what}: {facts}"
            );
            assert_eq!(parts[2], "users holding the Pages email: 1", "{what}");
        } else {
            panic!("a record the test does not know: {what}: {facts}");
        }
    }
    records.len()
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
    assert_plan_matches_the_drift(&stdout);
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

    // The records a person touched were kept: every kind of them was seeded and shown.
    assert_eq!(assert_touched_records_kept(&stdout), 6, "{stdout}");

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
    assert_plan_matches_the_drift(&stdout);
    for (label, [planned, applied, failed, _]) in &changes_table(first) {
        assert_eq!((*applied, *failed), (*planned, 0), "{label}");
    }
    // Whatever the small reports allowed to seed was kept; the organization not in Pages
    // is always seeded.
    assert!(assert_touched_records_kept(&stdout) >= 1, "{stdout}");
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
