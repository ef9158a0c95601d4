//! Helpers shared by the integration tests: the binary, the Pages reports as Pages Admin
//! writes them, one run's result, the Zendesk stand-in case that `sync`-style tests run
//! the binary against, request tallies and the issue checklist's boxes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use standins::zendesk::{LoggedRequest, StandinOptions, UserSeed, World, ZendeskStandin};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_pages-zendesk-sync");

/// A Pages user row: id, email, (organization, role) pairs in report order.
#[derive(Clone, Copy)]
pub(crate) struct Row<'a>(pub u64, pub &'a str, pub &'a [(&'a str, &'a str)]);

/// Two Pages organizations and two users: one manages the first and is a user of the
/// second, the other a user of the second (account_settings, doctor).
pub(crate) const ORGS: &[(&str, &str)] =
    &[("agency-a-web", "Agency A"), ("agency-b-web", "Agency B")];
pub(crate) const USERS: &[Row<'static>] = &[
    Row(
        17,
        "jane.doe@agency-a.example.gov",
        &[("agency-a-web", "manager"), ("agency-b-web", "user")],
    ),
    Row(18, "sam_lee@example.gov", &[("agency-b-web", "user")]),
];

/// Quotes a CSV field the way json2csv does.
pub(crate) fn q(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

pub(crate) fn orgs_csv(orgs: &[(&str, &str)]) -> String {
    let mut out = String::from("\"Organization\",\"Agency\",\"Self Authorized\"\n");
    for (name, agency) in orgs {
        out.push_str(&format!("{},{},false\n", q(name), q(agency)));
    }
    out
}

pub(crate) fn users_csv(rows: &[Row<'_>]) -> String {
    let mut out = String::from(
        "\"ID\",\"Email\",\"Organizations\",\"Details\",\"Created\",\"Last Signed In\"\n",
    );
    for Row(id, email, roles) in rows {
        let names: Vec<&str> = roles.iter().map(|(o, _)| *o).collect();
        let details: Vec<String> = roles.iter().map(|(o, r)| format!("{o}: {r}")).collect();
        out.push_str(&format!(
            "{id},{},{},{},\"2024-03-05T14:07:09.123Z\",\n",
            q(email),
            q(&names.join("|")),
            q(&details.join(", "))
        ));
    }
    out
}

/// What one run of the binary left behind.
#[derive(Debug)]
pub(crate) struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// Runs `cmd` to its end on a blocking thread, so that stand-ins served by the test's
    /// runtime keep answering meanwhile.
    pub(crate) async fn of(mut cmd: std::process::Command) -> Ran {
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .expect("join")
            .expect("the binary runs");
        Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub(crate) fn describe(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    pub(crate) fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "exit status\n{}", self.describe());
        self
    }
}

/// A stand-in plus a temp dir with the reports and the config file.
pub(crate) struct Case {
    pub zd: ZendeskStandin,
    dir: tempfile::TempDir,
    pub token: String,
    /// The binary's log filter (PAGES_ZENDESK_SYNC_LOG).
    pub log: String,
}

/// Every request the binary sent to this test's stand-in must be one Zendesk's API
/// description allows (checked when the test ends, unless it already failed).
impl Drop for Case {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            crate::api_description::assert_requests_conform(
                "requests the binary sent",
                &self.zd.all_requests(),
            );
        }
    }
}

impl Case {
    pub(crate) fn new() -> Case {
        Case::with(StandinOptions::default())
    }

    pub(crate) fn with(options: StandinOptions) -> Case {
        let zd = ZendeskStandin::start(options).expect("stand-in starts");
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("config.yml"),
            "zendesk: {job_poll_interval_ms: 5}\n",
        )
        .unwrap();
        let token = zd.credentials().token.clone();
        // PZS_TEST_LOG=debug shows the binary's request lines with --nocapture.
        let log = std::env::var("PZS_TEST_LOG").unwrap_or_else(|_| "warn".into());
        Case {
            zd,
            dir,
            token,
            log,
        }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn config(&self, yaml: &str) {
        std::fs::write(self.path("config.yml"), yaml).unwrap();
    }

    pub(crate) fn reports(&self, orgs: &[(&str, &str)], users: &[Row<'_>]) {
        std::fs::write(self.path("organizations.csv"), orgs_csv(orgs)).unwrap();
        std::fs::write(self.path("users.csv"), users_csv(users)).unwrap();
    }

    /// Runs the binary with a cleared, explicit environment.
    pub(crate) async fn run(&self, args: &[&str]) -> Ran {
        self.run_as(args, &self.zd.credentials().email.clone(), &self.token)
            .await
    }

    pub(crate) async fn run_as(&self, args: &[&str], email: &str, token: &str) -> Ran {
        let mut cmd = std::process::Command::new(BIN);
        cmd.args(args)
            .arg("--config")
            .arg(self.path("config.yml"))
            .env_clear()
            .env("ZENDESK_URL", self.zd.base_url().as_str())
            .env("ZENDESK_EMAIL", email)
            .env("ZENDESK_API_TOKEN", token)
            .env("PAGES_ORGANIZATIONS_REPORT", self.path("organizations.csv"))
            .env("PAGES_USERS_REPORT", self.path("users.csv"))
            .env("PAGES_ZENDESK_SYNC_LOG", &self.log);
        let ran = Ran::of(cmd).await;
        if std::env::var_os("PZS_TEST_LOG").is_some() {
            eprintln!("{}", ran.stderr);
        }
        ran
    }

    pub(crate) fn world(&self) -> World {
        self.zd.snapshot()
    }

    pub(crate) fn writes(&self) -> Vec<LoggedRequest> {
        self.zd
            .requests()
            .into_iter()
            .filter(LoggedRequest::is_write)
            .collect()
    }

    pub(crate) fn seed_user(&self, name: &str, email: &str, role: &str) -> u64 {
        self.zd
            .seed_user(UserSeed {
                name: name.into(),
                email: Some(email.into()),
                role: role.into(),
                ..UserSeed::default()
            })
            .expect("seed user")
    }
}

/// Requests by "METHOD path" (path without /api/v2/ and ids kept).
pub(crate) fn by_kind(requests: &[LoggedRequest]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in requests {
        let path = r.path.trim_start_matches("/api/v2/");
        let shape: Vec<&str> = path
            .split('/')
            .map(|s| {
                if s.chars().all(|c| c.is_ascii_digit()) {
                    "{id}"
                } else {
                    s
                }
            })
            .collect();
        *out.entry(format!("{} {}", r.method, shape.join("/")))
            .or_default() += 1;
    }
    out
}

/// `- [x] text` or `- [ ] text` → (text, ticked), for every checkbox line of a body.
pub(crate) fn boxes(body: &str) -> Vec<(String, bool)> {
    body.lines()
        .filter_map(|l| {
            let t = l.trim_start().strip_prefix("- [")?;
            let (mark, text) = t.split_at(1);
            let text = text.strip_prefix("] ")?;
            Some((text.trim().to_string(), mark != " "))
        })
        .collect()
}

/// Whether the checkbox whose text is exactly `text` is ticked (panics without one).
pub(crate) fn ticked(body: &str, text: &str) -> bool {
    boxes(body)
        .into_iter()
        .find(|(t, _)| t == text)
        .unwrap_or_else(|| panic!("no box {text:?} in\n{body}"))
        .1
}
