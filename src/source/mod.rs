//! The Pages data: the reports `organizations.csv` and `users.csv` read from a file path
//! or an HTTPS URL and parsed, or the same rows read from the Pages database
//! ([`database`]); either way the same builder derives the desired Zendesk state.
//!
//! A file-level problem is a [`SourceError`] naming file, line and column; the run stops
//! before anything is written. A row-level problem is a [`RowIssue`] (data, not an error):
//! the row is skipped or merged and the report says which row and why. Row issues never
//! carry emails or names, only line numbers and reasons.

mod build;
pub mod database;
mod parse;
mod read;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::PathBuf;

use anyhow::Context;
use secrecy::SecretString;
use serde::Serialize;

pub use read::{label, read, DEFAULT_MAX_BYTES};

use crate::config::{PagesOptions, Policy};
use crate::model::{DesiredState, InvalidEmail};

/// Where a report comes from, as given on the command line or in the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Path(PathBuf),
    /// `https://`, or `http://` on a loopback host only.
    Url(url::Url),
}

/// Which of the two reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    Organizations,
    Users,
}

/// A file-level problem: the run stops before anything is written (exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SourceError {
    /// The file as the operator named it (path or URL without credentials or query).
    pub file: String,
    pub line: Option<u64>,
    pub column: Option<String>,
    pub problem: String,
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        if let Some(column) = &self.column {
            write!(f, " column {column:?}")?;
        }
        write!(f, ": {}", self.problem)
    }
}

/// Why a row was skipped or merged. Carries no personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "problem")]
pub enum RowProblem {
    /// users.csv: the Email cell is not a usable address.
    InvalidEmail { reason: InvalidEmail },
    /// users.csv: the ID cell is not a whole number.
    InvalidId,
    /// users.csv: a role in Details is neither `manager` nor `user`.
    UnknownRole,
    /// users.csv: Details does not follow the Organizations list (`name: role` each, in order).
    DetailsMismatch,
    /// users.csv: an organization that organizations.csv does not list.
    UnknownOrganization,
    /// users.csv: the same email on an earlier row; the organizations were merged into it.
    DuplicateEmailMerged { first_line: u64 },
    /// users.csv: the same email on an earlier row with a different role in the same
    /// organization; this row was skipped.
    DuplicateEmailConflict { first_line: u64 },
    /// organizations.csv: an empty Organization cell.
    EmptyOrganizationName,
    /// organizations.csv: the same name (ignoring case) on an earlier row; skipped.
    DuplicateOrganization { first_line: u64 },
}

impl RowProblem {
    /// A stable reason code for grouping in public output.
    pub fn code(&self) -> &'static str {
        match self {
            RowProblem::InvalidEmail { .. } => "invalid_email",
            RowProblem::InvalidId => "invalid_id",
            RowProblem::UnknownRole => "unknown_role",
            RowProblem::DetailsMismatch => "details_mismatch",
            RowProblem::UnknownOrganization => "unknown_organization",
            RowProblem::DuplicateEmailMerged { .. } => "duplicate_email_merged",
            RowProblem::DuplicateEmailConflict { .. } => "duplicate_email_conflict",
            RowProblem::EmptyOrganizationName => "empty_organization_name",
            RowProblem::DuplicateOrganization { .. } => "duplicate_organization",
        }
    }

    /// Whether the row was dropped (true) or merged into another (false).
    pub fn skipped(&self) -> bool {
        !matches!(self, RowProblem::DuplicateEmailMerged { .. })
    }
}

impl fmt::Display for RowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowProblem::InvalidEmail { reason } => write!(f, "{reason}"),
            RowProblem::InvalidId => f.write_str("ID is not a whole number"),
            RowProblem::UnknownRole => f.write_str("a role is neither manager nor user"),
            RowProblem::DetailsMismatch => f.write_str(
                "Details does not list `organization: role` for each organization in order",
            ),
            RowProblem::UnknownOrganization => {
                f.write_str("an organization is not in the organizations report")
            }
            RowProblem::DuplicateEmailMerged { first_line } => {
                write!(
                    f,
                    "same email as line {first_line}; organizations merged into it"
                )
            }
            RowProblem::DuplicateEmailConflict { first_line } => {
                write!(f, "same email as line {first_line} with a different role in an organization; skipped")
            }
            RowProblem::EmptyOrganizationName => f.write_str("organization name is empty"),
            RowProblem::DuplicateOrganization { first_line } => {
                write!(f, "same organization as line {first_line}; skipped")
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RowIssue {
    pub report: ReportKind,
    /// 1-based physical line where the row starts (the header is line 1).
    pub line: u64,
    pub problem: RowProblem,
}

/// Counts about the reports, for the results comment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SourceStats {
    pub organization_rows: usize,
    pub user_rows: usize,
    /// Users with no organization: not partner users; skipped and counted.
    pub users_without_organization: usize,
    /// Users with organizations but no sign-in email (no live UAA identity): they cannot
    /// sign in nor be matched in Zendesk; counted in a note, not a row problem.
    pub users_without_identity: usize,
    /// Read from the Pages database (rows numbered as the report would print them)
    /// rather than from the report files.
    pub from_database: bool,
    /// `pages.include_sandbox_organizations: false`: how many sandbox organizations (and
    /// their memberships) were left out. `None` when the option was not used.
    pub sandbox_organizations_left_out: Option<usize>,
    /// `pages.include_inactive_organizations: false`: how many inactive organizations were
    /// left out. `None` when the option was not used.
    pub inactive_organizations_left_out: Option<usize>,
    /// Partner users (after merging duplicates).
    pub partner_users: usize,
    /// (user, organization) pairs of partner users.
    pub memberships: usize,
    pub managers: usize,
}

/// Both reports, parsed: the desired state plus what was skipped and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reports {
    pub desired: DesiredState,
    pub issues: Vec<RowIssue>,
    pub stats: SourceStats,
}

/// Where the Pages data comes from: the two reports, or the Pages database.
#[derive(Debug, Clone)]
pub enum PagesSource {
    Reports {
        organizations: String,
        users: String,
        /// Authorization header for URL reports.
        authorization: Option<SecretString>,
    },
    Database(Box<database::DatabaseSource>),
}

/// Reads the Pages data from either source; a report larger than `max_bytes` (the
/// `reports.max_bytes` setting) is refused. Options that leave organizations out need
/// the database (the reports carry no sandbox or active flag): a usage error otherwise.
pub async fn load_from(
    source: &PagesSource,
    policy: &Policy,
    options: &PagesOptions,
    max_bytes: u64,
) -> anyhow::Result<Reports> {
    match source {
        PagesSource::Reports {
            organizations,
            users,
            authorization,
        } => {
            if options.filters() {
                return Err(crate::config::ConfigError(
                    "pages.include_sandbox_organizations / \
                     pages.include_inactive_organizations: false needs the Pages database \
                     source (--pages-database); the reports cannot tell sandbox or inactive \
                     organizations apart"
                        .into(),
                )
                .into());
            }
            load_limited(
                organizations,
                users,
                authorization.as_ref(),
                policy,
                max_bytes,
            )
            .await
        }
        PagesSource::Database(db) => database::load(db, policy, options).await,
    }
}

/// Parses both reports (already read into memory) and derives the desired state.
/// `orgs_label` and `users_label` name the files in errors.
pub fn parse(
    orgs_bytes: &[u8],
    orgs_label: &str,
    users_bytes: &[u8],
    users_label: &str,
    policy: &Policy,
) -> Result<Reports, SourceError> {
    parse::parse_reports(orgs_bytes, orgs_label, users_bytes, users_label, policy)
}

/// Reads both reports (paths or URLs, concurrently) and parses them.
///
/// A file-level problem comes back as a [`SourceError`] inside the `anyhow::Error`
/// (`err.downcast_ref::<SourceError>()`), which callers map to exit status 2.
pub async fn load(
    organizations: &str,
    users: &str,
    authorization: Option<&SecretString>,
    policy: &Policy,
) -> anyhow::Result<Reports> {
    load_limited(
        organizations,
        users,
        authorization,
        policy,
        DEFAULT_MAX_BYTES,
    )
    .await
}

/// As [`load`], refusing a report larger than `max_bytes` (the `reports.max_bytes`
/// setting).
pub async fn load_limited(
    organizations: &str,
    users: &str,
    authorization: Option<&SecretString>,
    policy: &Policy,
    max_bytes: u64,
) -> anyhow::Result<Reports> {
    let orgs_location = Location::parse(organizations).context("the organizations report")?;
    let users_location = Location::parse(users).context("the users report")?;
    let orgs_label = label(&orgs_location);
    let users_label = label(&users_location);
    // organizations.csv is small: it is read and parsed while users.csv, the big one, is
    // still being read (on a 2-core machine that hides the organizations' parse). Errors
    // keep their order: reading either report, then organizations.csv's content, then
    // users.csv's.
    let orgs = async {
        let bytes = read(&orgs_location, authorization, max_bytes).await?;
        let label = orgs_label.clone();
        tokio::task::spawn_blocking(move || {
            parse::parse_organizations_report(&bytes, &label, parse::Reading::Simple)
        })
        .await
        .context("parsing the Pages reports")
    };
    let (orgs, users_bytes) = tokio::join!(orgs, read(&users_location, authorization, max_bytes));
    let (orgs, users_bytes) = (orgs?, users_bytes?);
    let orgs = orgs?;
    let policy = policy.clone();
    // Parsing a large report takes a noticeable fraction of a second: keep it off the
    // async workers.
    let parsed = tokio::task::spawn_blocking(move || {
        parse::parse_users_report(orgs, &users_bytes, &users_label, &policy)
    })
    .await
    .context("parsing the Pages reports")?;
    Ok(parsed?)
}
