//! `doctor`'s findings as data: a list of [`Check`]s (area, name, status, what was found,
//! what to change and where), rendered as one line per check plus a summary line, or as
//! JSON. The checks themselves are made in `commands::doctor`; other sources of checks
//! (e.g. a Pages database) append to the same list.
//!
//! Pure. `found` and `fix` are public text: counts, settings and paths, never an email,
//! a name or a token.

use std::fmt;

use serde::Serialize;

/// How a check came out. A run would fail on `Fail`; `Warn` is worth reading first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    /// Not checked, and not needed for what was asked (e.g. GitHub when not configured).
    Skip,
    Warn,
    Fail,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Skip => "skip",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// `Pages reports`, `Zendesk`, `GitHub`, ...
    pub area: &'static str,
    /// Short name of what was checked: `credentials`, `user.tagging`, ...
    pub name: &'static str,
    pub status: Status,
    /// What was found.
    pub found: String,
    /// For anything not passing: exactly what to change, and where.
    pub fix: Option<String>,
}

impl Check {
    pub fn pass(area: &'static str, name: &'static str, found: impl Into<String>) -> Check {
        Check {
            area,
            name,
            status: Status::Pass,
            found: found.into(),
            fix: None,
        }
    }

    pub fn skip(area: &'static str, name: &'static str, found: impl Into<String>) -> Check {
        Check {
            status: Status::Skip,
            ..Check::pass(area, name, found)
        }
    }

    pub fn warn(
        area: &'static str,
        name: &'static str,
        found: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            area,
            name,
            status: Status::Warn,
            found: found.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn fail(
        area: &'static str,
        name: &'static str,
        found: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            status: Status::Fail,
            ..Check::warn(area, name, found, fix)
        }
    }
}

/// Every check of one `doctor` run, in the order made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Checks {
    pub checks: Vec<Check>,
}

/// Counts per status, for the summary line and `--json`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub pass: usize,
    pub skip: usize,
    pub warn: usize,
    pub fail: usize,
}

impl Checks {
    pub fn push(&mut self, check: Check) {
        self.checks.push(check);
    }

    pub fn extend(&mut self, checks: impl IntoIterator<Item = Check>) {
        self.checks.extend(checks);
    }

    pub fn tally(&self) -> Tally {
        let mut t = Tally::default();
        for c in &self.checks {
            match c.status {
                Status::Pass => t.pass += 1,
                Status::Skip => t.skip += 1,
                Status::Warn => t.warn += 1,
                Status::Fail => t.fail += 1,
            }
        }
        t
    }

    /// 0 all pass, 1 warnings only, 2 something that would make a run fail.
    pub fn exit_code(&self) -> u8 {
        let t = self.tally();
        if t.fail > 0 {
            2
        } else if t.warn > 0 {
            1
        } else {
            0
        }
    }

    /// One line per check (`fix` on an indented line after it), then the summary line.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for c in &self.checks {
            out.push_str(&format!(
                "{:<4}  {:<14} {}: {}\n",
                c.status.word(),
                c.area,
                c.name,
                c.found
            ));
            if let Some(fix) = &c.fix {
                out.push_str(&format!("      fix: {fix}\n"));
            }
        }
        out.push_str(&self.summary_line());
        out.push('\n');
        out
    }

    pub fn summary_line(&self) -> String {
        let t = self.tally();
        let verdict = match self.exit_code() {
            0 => "ready for a run",
            1 => "a run can go ahead; read the warnings first",
            _ => "a run would fail; fix the FAIL lines first",
        };
        format!(
            "doctor: {} passed, {} {}, {} failed, {} skipped: {verdict}",
            t.pass,
            t.warn,
            if t.warn == 1 { "warning" } else { "warnings" },
            t.fail,
            t.skip
        )
    }

    /// The same as data: `{checks, tally, exit_code}`.
    pub fn render_json(&self) -> String {
        let value = serde_json::json!({
            "checks": self.checks,
            "tally": self.tally(),
            "exit_code": self.exit_code(),
        });
        serde_json::to_string_pretty(&value).unwrap_or_else(|_| "{}".into()) + "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_is_the_worst_status() {
        let mut c = Checks::default();
        c.push(Check::pass("Zendesk", "credentials", "accepted"));
        c.push(Check::skip("GitHub", "repository", "not configured"));
        assert_eq!(c.exit_code(), 0);
        c.push(Check::warn(
            "Zendesk",
            "owner",
            "is the owner",
            "use another admin",
        ));
        assert_eq!(c.exit_code(), 1);
        c.push(Check::fail("Zendesk", "admin", "agent", "use an admin"));
        assert_eq!(c.exit_code(), 2);
    }

    #[test]
    fn each_check_is_one_line_and_a_fix_follows_it() {
        let mut c = Checks::default();
        c.push(Check::pass("Zendesk", "credentials", "accepted"));
        c.push(Check::fail(
            "Zendesk",
            "user.tagging",
            "off; 3 managers need the tag",
            "turn it on",
        ));
        assert_eq!(
            c.render_text(),
            "pass  Zendesk        credentials: accepted\n\
             FAIL  Zendesk        user.tagging: off; 3 managers need the tag\n      \
             fix: turn it on\n\
             doctor: 1 passed, 0 warnings, 1 failed, 0 skipped: a run would fail; fix the FAIL lines first\n"
        );
    }

    #[test]
    fn json_carries_the_checks_and_the_exit_code() {
        let mut c = Checks::default();
        c.push(Check::warn(
            "GitHub",
            "issues: write",
            "not provable",
            "grant it",
        ));
        let v: serde_json::Value = serde_json::from_str(&c.render_json()).unwrap();
        assert_eq!(v["exit_code"], 1);
        assert_eq!(v["checks"][0]["status"], "warn");
        assert_eq!(v["checks"][0]["fix"], "grant it");
    }
}
