//! The command line as a user meets it: help text, and the exit status 2 ("bad input or
//! configuration, nothing written") for mistakes caught before any network call.

use std::process::{Command, Output};

use crate::support::BIN;

fn bin() -> Command {
    let mut cmd = Command::new(BIN);
    // Nothing from the developer's shell may leak in (tokens, report locations).
    cmd.env_clear();
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Secret values a workflow holds in its environment; `--help` must never show them.
const SECRETS: &[(&str, &str)] = &[
    ("ZENDESK_API_TOKEN", "zd-token-Hunter2"),
    ("GITHUB_TOKEN", "gh-token-Hunter2"),
    ("PAGES_REPORTS_AUTHORIZATION", "Bearer reports-Hunter2"),
    (
        "PAGES_DATABASE_URL",
        "postgres://pages:Hunter2-pw@db.example.gov/pages",
    ),
];

/// `args` (ending in `--help`) run twice: in an empty environment and with the secrets
/// set. Both must print the snapshot, at a fixed width (`COLUMNS`), so the help hides
/// every secret value and does not depend on the terminal it runs in.
/// `SNAPSHOTS=overwrite cargo test --test it help` rewrites the snapshots.
fn assert_help(args: &[&str], snapshot: snapbox::Data) {
    for secrets in [&[][..], SECRETS] {
        let out = snapbox::cmd::Command::new(BIN)
            .env_clear()
            .env("COLUMNS", "100")
            .envs(secrets.iter().copied())
            .args(args)
            .assert()
            .success()
            .stderr_eq("");
        let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
        for (name, value) in SECRETS {
            assert!(!stdout.contains(value), "{name}'s value shown by {args:?}");
        }
        out.stdout_eq(snapshot.clone());
    }
}

/// The snapshot lists `demo`, which a build without the `demo` feature has not.
#[cfg(feature = "demo")]
#[test]
fn help_matches_its_snapshot() {
    assert_help(&["--help"], snapbox::file!["help/top.txt"]);
}

#[test]
fn run_help_matches_its_snapshot() {
    assert_help(&["run", "--help"], snapbox::file!["help/run.txt"]);
}

#[test]
fn plan_help_matches_its_snapshot() {
    assert_help(&["plan", "--help"], snapbox::file!["help/plan.txt"]);
}

#[test]
fn sync_help_matches_its_snapshot() {
    assert_help(&["sync", "--help"], snapbox::file!["help/sync.txt"]);
}

#[test]
fn verify_help_matches_its_snapshot() {
    assert_help(&["verify", "--help"], snapbox::file!["help/verify.txt"]);
}

#[test]
fn export_help_matches_its_snapshot() {
    assert_help(&["export", "--help"], snapbox::file!["help/export.txt"]);
}

#[cfg(feature = "demo")]
#[test]
fn demo_help_matches_its_snapshot() {
    assert_help(&["demo", "--help"], snapbox::file!["help/demo.txt"]);
}

#[test]
fn doctor_help_matches_its_snapshot() {
    assert_help(&["doctor", "--help"], snapbox::file!["help/doctor.txt"]);
}

#[test]
fn a_missing_report_is_bad_input() {
    let out = bin().arg("plan").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("PAGES_ORGANIZATIONS_REPORT"));
}

#[test]
fn missing_zendesk_credentials_are_bad_input_and_name_the_variable() {
    let out = bin()
        .args(["sync", "--organizations", "o.csv", "--users", "u.csv"])
        .env("ZENDESK_SUBDOMAIN", "example")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("ZENDESK_EMAIL"), "{}", text(&out));
}

#[test]
fn plain_http_to_a_remote_zendesk_is_refused() {
    let out = bin()
        .args(["verify", "--organizations", "o.csv", "--users", "u.csv"])
        .env("ZENDESK_URL", "http://zendesk.example.com")
        .env("ZENDESK_EMAIL", "admin@example.gov")
        .env("ZENDESK_API_TOKEN", "secret-token-value")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(!text(&out).contains("secret-token-value"));
}

#[test]
fn an_invalid_config_file_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yml");
    std::fs::write(&config, "guard:\n  max_membership_removal_percent: 150\n").unwrap();
    let out = bin()
        .args(["plan", "--config"])
        .arg(&config)
        .args(["--organizations", "o.csv", "--users", "u.csv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("max_membership_removal_percent"));
}

#[test]
fn an_invalid_month_is_bad_input() {
    let out = bin()
        .args([
            "run",
            "--month",
            "2026-13",
            "--organizations",
            "o.csv",
            "--users",
            "u.csv",
        ])
        .env("ZENDESK_SUBDOMAIN", "example")
        .env("ZENDESK_EMAIL", "admin@example.gov")
        .env("ZENDESK_API_TOKEN", "t")
        .env("GITHUB_TOKEN", "t")
        .env("GITHUB_REPOSITORY", "o/r")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--month"), "{}", text(&out));
}

#[test]
fn export_reports_a_file_level_problem_as_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let orgs = dir.path().join("organizations.csv");
    let users = dir.path().join("users.csv");
    std::fs::write(&orgs, "\"Organization\",\"Agency\"\n\"a\",\"A\"\n").unwrap();
    std::fs::write(
        &users,
        "\"ID\",\"Organizations\",\"Details\"\n1,\"a\",\"a: user\"\n",
    )
    .unwrap();
    let out = bin()
        .arg("export")
        .arg("--out")
        .arg(dir.path().join("out"))
        .arg("--organizations")
        .arg(&orgs)
        .arg("--users")
        .arg(&users)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("Email"), "{}", text(&out));
    assert!(
        !dir.path().join("out").exists()
            || std::fs::read_dir(dir.path().join("out"))
                .unwrap()
                .next()
                .is_none()
    );
}

#[test]
fn a_database_url_with_a_report_is_a_usage_error_that_never_shows_the_url() {
    let url = "postgres://pages:Hunter2-pw@db.example.gov:5432/pages";
    for (args, env) in [
        (
            vec!["plan", "--pages-database", url, "--users", "u.csv"],
            vec![],
        ),
        (
            vec!["sync"],
            vec![
                ("PAGES_DATABASE_URL", url),
                ("PAGES_ORGANIZATIONS_REPORT", "o.csv"),
            ],
        ),
        (
            vec![
                "export",
                "--out",
                "x",
                "--organizations",
                "o.csv",
                "--pages-database",
                url,
            ],
            vec![],
        ),
    ] {
        let out = bin().args(&args).envs(env).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains("cannot be used with"), "{}", text(&out));
        assert!(!text(&out).contains("Hunter2-pw"), "{}", text(&out));
    }
}

#[test]
fn a_database_off_this_machine_without_tls_is_refused_before_any_connection() {
    let out = bin()
        .args(["plan"])
        .env(
            "PAGES_DATABASE_URL",
            "postgres://pages:Hunter2-pw@db.example.gov/pages?sslmode=disable",
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("TLS is required"), "{}", text(&out));
    assert!(!text(&out).contains("Hunter2-pw"), "{}", text(&out));
}

#[test]
fn an_unreachable_database_exits_3_and_the_help_hides_the_url() {
    // A port on this machine where nothing listens: refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://pages:Hunter2-pw@127.0.0.1:{port}/pages");
    let out = bin()
        .args(["plan"])
        .env("PAGES_DATABASE_URL", &url)
        .env("ZENDESK_URL", "http://127.0.0.1:9")
        .env("ZENDESK_EMAIL", "admin@example.gov")
        .env("ZENDESK_API_TOKEN", "token")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(!text(&out).contains("Hunter2-pw"), "{}", text(&out));

    let help = bin()
        .args(["sync", "--help"])
        .env("PAGES_DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(text(&help).contains("PAGES_DATABASE_URL"));
    assert!(!text(&help).contains("Hunter2-pw"), "{}", text(&help));
}

#[test]
fn leaving_out_sandbox_organizations_needs_the_database_source() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yml");
    std::fs::write(&config, "pages:\n  include_sandbox_organizations: false\n").unwrap();
    let out = bin()
        .args(["export", "--out"])
        .arg(dir.path().join("out"))
        .args(["--organizations", "o.csv", "--users", "u.csv", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--pages-database"), "{}", text(&out));
}
