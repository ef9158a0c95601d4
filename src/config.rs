//! Configuration: the optional YAML file (`--config`) and the environment, validated into
//! [`Settings`] before any network call. Unknown keys in the file are an error, so a typo
//! never silently falls back to a default.
//!
//! Secrets (API tokens) are read here into `SecretString` and never printed.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::zendesk::{FieldMapping, RolesField};

/// The configuration file could not be read or is invalid.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The file as written by a person. Every key is optional; defaults live in [`Settings`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub users: RawUsers,
    #[serde(default)]
    pub guard: RawGuard,
    #[serde(default)]
    pub zendesk: RawZendesk,
    #[serde(default)]
    pub github: RawGithub,
    #[serde(default)]
    pub pages: RawPages,
    #[serde(default)]
    pub reports: RawReports,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReports {
    /// The largest report read, in bytes.
    pub max_bytes: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUsers {
    pub external_id_prefix: Option<String>,
    /// `details`, `notes`, or `user_field:<key>`.
    pub roles_field: Option<String>,
    pub manager_tag: Option<String>,
    pub send_verification_email: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGuard {
    pub max_membership_removal_percent: Option<f64>,
    pub min_users_report_percent: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawZendesk {
    pub requests_per_minute: Option<u32>,
    pub max_jobs_in_flight: Option<usize>,
    pub request_timeout_seconds: Option<u64>,
    pub max_retries: Option<u32>,
    pub job_poll_interval_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGithub {
    pub template: Option<PathBuf>,
    pub label: Option<String>,
}

/// Which Pages organizations to read (the database source only: the reports carry no
/// sandbox or active flag).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPages {
    pub include_sandbox_organizations: Option<bool>,
    pub include_inactive_organizations: Option<bool>,
}

/// Options the admin reports never had. The defaults include everything, as the reports
/// do; leaving organizations out needs the database source (the reports cannot tell
/// sandbox or inactive organizations apart) and is stated in the results comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PagesOptions {
    pub include_sandbox_organizations: bool,
    pub include_inactive_organizations: bool,
}

impl Default for PagesOptions {
    fn default() -> Self {
        PagesOptions {
            include_sandbox_organizations: true,
            include_inactive_organizations: true,
        }
    }
}

impl PagesOptions {
    /// True when an option leaves organizations out (not the report's selection).
    pub fn filters(&self) -> bool {
        !self.include_sandbox_organizations || !self.include_inactive_organizations
    }
}

/// The planning rules: which values Pages wants in Zendesk (docs/design.md "Mapping into
/// Zendesk"). Where those values go in Zendesk, and how users are created, is the adapter's
/// [`FieldMapping`], not the planner's business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub external_id_prefix: String,
    pub manager_tag: String,
}

impl Policy {
    /// The external_id a Pages user gets: the prefix, then the Pages id as digits.
    pub fn external_id(&self, pages_id: u64) -> String {
        let mut s = String::with_capacity(self.external_id_prefix.len() + 20);
        self.push_external_id(&mut s, pages_id);
        s
    }

    /// [`Self::external_id`] appended to `out` (no allocation when `out` has room).
    pub fn push_external_id(&self, out: &mut String, pages_id: u64) {
        out.push_str(&self.external_id_prefix);
        out.push_str(itoa::Buffer::new().format(pages_id));
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            external_id_prefix: "pages-user-".into(),
            manager_tag: "pages_org_manager".into(),
        }
    }
}

/// Limits of the safety guard (docs/design.md "Never lose data").
#[derive(Debug, Clone, PartialEq)]
pub struct GuardLimits {
    /// Refuse when removals exceed this percentage of the managed memberships.
    pub max_membership_removal_percent: f64,
    /// Refuse when the users report holds fewer partner users than this percentage of the
    /// partner users Zendesk holds (a truncated report must never empty Zendesk).
    pub min_users_report_percent: f64,
    /// `--allow-mass-removal`: the operator has read the plan and accepts the removals.
    pub allow_mass_removal: bool,
}

impl Default for GuardLimits {
    fn default() -> Self {
        GuardLimits {
            max_membership_removal_percent: 10.0,
            min_users_report_percent: 50.0,
            allow_mass_removal: false,
        }
    }
}

/// Zendesk client tuning that does not involve credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZendeskTuning {
    pub requests_per_minute: u32,
    pub max_jobs_in_flight: usize,
    pub request_timeout_seconds: u64,
    pub max_retries: u32,
    /// First wait before polling background jobs; doubles up to 15 s while they run.
    pub job_poll_interval_ms: u64,
    /// True unless the operator set `requests_per_minute`: the budget then follows the
    /// account limit Zendesk announces in its rate-limit headers (up or down, keeping a
    /// share free for the account's other integrations). A configured value is a ceiling
    /// that announced limits can only lower.
    pub follow_announced_limit: bool,
}

impl Default for ZendeskTuning {
    fn default() -> Self {
        ZendeskTuning {
            // The Team plan's account limit; Zendesk's rate-limit headers raise it at run time.
            requests_per_minute: 200,
            // Zendesk allows 30 queued-or-running jobs per account; leave room for others.
            max_jobs_in_flight: 10,
            request_timeout_seconds: 60,
            max_retries: 5,
            job_poll_interval_ms: 1000,
            follow_announced_limit: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubSettings {
    pub template: PathBuf,
    /// Label put on every generated issue; used to find this month's issue.
    pub label: String,
}

impl Default for GithubSettings {
    fn default() -> Self {
        GithubSettings {
            template: PathBuf::from(".github/ISSUE_TEMPLATE/pages-zendesk-sync.md"),
            label: "pages-zendesk-sync".into(),
        }
    }
}

/// How the Pages reports are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportSettings {
    /// A report larger than this is refused before it is parsed (a wrong or runaway
    /// download). The default, 1 GiB, is at least what Zendesk's data importer takes.
    pub max_bytes: u64,
}

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings {
            max_bytes: crate::source::DEFAULT_MAX_BYTES,
        }
    }
}

/// The validated configuration file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileSettings {
    pub policy: Policy,
    /// `users.roles_field` and `users.send_verification_email`: the Zendesk adapter's.
    pub mapping: FieldMapping,
    pub guard: GuardLimits,
    pub zendesk: ZendeskTuning,
    pub github: GithubSettings,
    pub pages: PagesOptions,
    pub reports: ReportSettings,
}

impl FileSettings {
    /// Reads and validates a YAML file; `None` gives the defaults.
    /// Any problem is a [`ConfigError`] (exit status 2: nothing was written).
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))
            .map_err(|e| ConfigError(format!("{e:#}")))?;
        Self::parse(&text)
            .map_err(|e| ConfigError(format!("config file {}: {e:#}", path.display())).into())
    }

    pub fn parse(text: &str) -> Result<Self> {
        let raw: RawConfig = if text.trim().is_empty() {
            RawConfig::default()
        } else {
            serde_yaml::from_str(text)?
        };
        Self::validate(raw)
    }

    fn validate(raw: RawConfig) -> Result<Self> {
        let mut s = FileSettings::default();
        if let Some(prefix) = raw.users.external_id_prefix {
            if prefix.trim() != prefix || prefix.chars().any(char::is_whitespace) {
                bail!("users.external_id_prefix must not contain white space");
            }
            s.policy.external_id_prefix = prefix;
        }
        if let Some(field) = raw.users.roles_field {
            s.mapping.roles_field = match field.trim() {
                "details" => RolesField::Details,
                "notes" => RolesField::Notes,
                other => match other.strip_prefix("user_field:") {
                    Some(key) if valid_field_key(key) => RolesField::UserField(key.to_string()),
                    _ => bail!(
                        "users.roles_field must be `details`, `notes` or `user_field:<key>` \
                         (key: letters, digits and underscores), got {other:?}"
                    ),
                },
            };
        }
        if let Some(tag) = raw.users.manager_tag {
            if tag.is_empty()
                || !tag
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                bail!("users.manager_tag must be lowercase letters, digits and underscores, got {tag:?}");
            }
            s.policy.manager_tag = tag;
        }
        if let Some(send) = raw.users.send_verification_email {
            s.mapping.send_verification_email = send;
        }
        if let Some(p) = raw.guard.max_membership_removal_percent {
            if !(0.0..=100.0).contains(&p) {
                bail!("guard.max_membership_removal_percent must be between 0 and 100, got {p}");
            }
            s.guard.max_membership_removal_percent = p;
        }
        if let Some(p) = raw.guard.min_users_report_percent {
            if !(0.0..=100.0).contains(&p) {
                bail!("guard.min_users_report_percent must be between 0 and 100, got {p}");
            }
            s.guard.min_users_report_percent = p;
        }
        if let Some(rpm) = raw.zendesk.requests_per_minute {
            if !(1..=100_000).contains(&rpm) {
                bail!("zendesk.requests_per_minute must be between 1 and 100000, got {rpm}");
            }
            s.zendesk.requests_per_minute = rpm;
            s.zendesk.follow_announced_limit = false;
        }
        if let Some(jobs) = raw.zendesk.max_jobs_in_flight {
            if !(1..=30).contains(&jobs) {
                bail!("zendesk.max_jobs_in_flight must be between 1 and 30 (Zendesk's limit), got {jobs}");
            }
            s.zendesk.max_jobs_in_flight = jobs;
        }
        if let Some(t) = raw.zendesk.request_timeout_seconds {
            if !(1..=600).contains(&t) {
                bail!("zendesk.request_timeout_seconds must be between 1 and 600, got {t}");
            }
            s.zendesk.request_timeout_seconds = t;
        }
        if let Some(r) = raw.zendesk.max_retries {
            if r > 20 {
                bail!("zendesk.max_retries must be at most 20, got {r}");
            }
            s.zendesk.max_retries = r;
        }
        if let Some(ms) = raw.zendesk.job_poll_interval_ms {
            if !(1..=60_000).contains(&ms) {
                bail!("zendesk.job_poll_interval_ms must be between 1 and 60000, got {ms}");
            }
            s.zendesk.job_poll_interval_ms = ms;
        }
        if let Some(max) = raw.reports.max_bytes {
            if max < 1024 {
                bail!("reports.max_bytes must be at least 1024, got {max}");
            }
            s.reports.max_bytes = max;
        }
        if let Some(t) = raw.github.template {
            s.github.template = t;
        }
        if let Some(label) = raw.github.label {
            if label.trim().is_empty() || label.contains(',') {
                bail!("github.label must be a non-empty label name without commas");
            }
            s.github.label = label;
        }
        if let Some(include) = raw.pages.include_sandbox_organizations {
            s.pages.include_sandbox_organizations = include;
        }
        if let Some(include) = raw.pages.include_inactive_organizations {
            s.pages.include_inactive_organizations = include;
        }
        Ok(s)
    }
}

fn valid_field_key(key: &str) -> bool {
    !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !key.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_gives_the_defaults() {
        assert_eq!(FileSettings::parse("").unwrap(), FileSettings::default());
    }

    #[test]
    fn the_report_size_limit_is_a_setting_of_at_least_a_gigabyte_by_default() {
        assert!(FileSettings::default().reports.max_bytes >= 1_000_000_000);
        let s = FileSettings::parse("reports:\n  max_bytes: 2000000000\n").unwrap();
        assert_eq!(s.reports.max_bytes, 2_000_000_000);
        assert!(FileSettings::parse("reports:\n  max_bytes: 10\n").is_err());
        assert!(FileSettings::parse("reports:\n  max_size: 10\n").is_err());
    }

    #[test]
    fn every_key_is_read() {
        let s = FileSettings::parse(
            "users:\n  external_id_prefix: pz-\n  roles_field: user_field:pages_roles\n  manager_tag: mgr\n  send_verification_email: true\n\
             guard:\n  max_membership_removal_percent: 5\n  min_users_report_percent: 80\n\
             zendesk:\n  requests_per_minute: 700\n  max_jobs_in_flight: 3\n  request_timeout_seconds: 10\n  max_retries: 2\n\
             github:\n  template: t.md\n  label: sync\n",
        )
        .unwrap();
        assert_eq!(s.policy.external_id_prefix, "pz-");
        assert_eq!(
            s.mapping.roles_field,
            RolesField::UserField("pages_roles".into())
        );
        assert_eq!(s.policy.manager_tag, "mgr");
        assert!(s.mapping.send_verification_email);
        assert_eq!(s.guard.max_membership_removal_percent, 5.0);
        assert_eq!(s.guard.min_users_report_percent, 80.0);
        assert_eq!(s.zendesk.requests_per_minute, 700);
        assert_eq!(s.zendesk.max_jobs_in_flight, 3);
        assert_eq!(s.github.template, PathBuf::from("t.md"));
        assert_eq!(s.github.label, "sync");
    }

    #[test]
    fn pages_options_include_everything_unless_told_otherwise() {
        let s = FileSettings::parse("github:\n  label: sync\n").unwrap();
        assert_eq!(s.pages, PagesOptions::default());
        assert!(!s.pages.filters());
        let s = FileSettings::parse("pages:\n  include_sandbox_organizations: false\n").unwrap();
        assert!(!s.pages.include_sandbox_organizations);
        assert!(s.pages.include_inactive_organizations);
        assert!(s.pages.filters());
        let s = FileSettings::parse("pages:\n  include_inactive_organizations: false\n").unwrap();
        assert!(s.pages.include_sandbox_organizations && !s.pages.include_inactive_organizations);
        assert!(FileSettings::parse("pages:\n  include_sandboxes: false\n").is_err());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        assert!(FileSettings::parse("users:\n  manger_tag: x\n").is_err());
        assert!(FileSettings::parse("guard:\n  max_membership_removal_percent: 150\n").is_err());
        assert!(FileSettings::parse("users:\n  roles_field: phone\n").is_err());
        assert!(FileSettings::parse("zendesk:\n  max_jobs_in_flight: 31\n").is_err());
        assert!(FileSettings::parse("users:\n  manager_tag: Org Manager\n").is_err());
    }
}
