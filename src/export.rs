//! The offline fallback: CSV files for one of Zendesk's two user importers, built from
//! the parsed Pages reports. It replaces the spreadsheet steps of the manual process;
//! `sync` is the way that keeps Zendesk fully in step.
//!
//! Owns the file layout, the CSV text, the importers' limits and the import instructions.
//! Writes the files as a stream (buffered, one file open per series at a time, the
//! organizations and the users series in parallel), so memory does not grow with the
//! output. Never changes what the reports say: a row that cannot be written faithfully is
//! reported, not mangled.
//!
//! Two formats (Zendesk help centre, "Bulk importing users and organizations",
//! support.zendesk.com/hc/en-us/articles/4408893496218 and …/203661996; "Bulk importing
//! organization data (legacy)", …/10729670046106):
//! - [`ImporterFormat::DataImporter`] (the default, Zendesk's recommended data importer):
//!   users columns `name, emails, external_id, <roles field>, organizations, tags`; a file
//!   may hold up to 1 GB, Zendesk recommends at most 500,000 rows (header included), and
//!   a row may not exceed 128 KB.
//! - [`ImporterFormat::BulkActions`] (the legacy Admin Center "Bulk actions" pages the
//!   original issue template uses): users columns `name, email, external_id, [<roles
//!   field>,] organization, tags`; at most 2,000 rows per file, header included.
//!
//! On update both importers *replace* a user's organizations with the cell's list (they do
//! not add to it), and a user listed twice in one file can make the import fail. So each
//! user is written exactly once, in one row, with every organization in one cell,
//! separated by `|` as both importers document for users in several organizations. An
//! organization whose name contains `|` cannot be written that way: that user's row is
//! left out and reported. The legacy importer *appends* `details` instead of replacing
//! it, so with the roles text configured for `details` the bulk-actions files leave that
//! column out (a monthly import would pile the roles text up).
//!
//! Cells a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a
//! carriage return) are neutralised with a leading `'` where the text is free (names,
//! agency, roles text). In a cell that identifies a record (an email, an organization
//! name) the prefix would change the identity, so that row is reported instead.
//!
//! Deliberately not written:
//! - `role`: Zendesk creates imported users as end-users by default, and a `role` column
//!   would also demote an existing agent or admin who is in a Pages organization
//!   (docs/design.md "Never lose data": never change the role of an agent or admin).
//! - Removals: the importers only add and update.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::config::Policy;
use crate::model::{DesiredState, DesiredUser};
use crate::source::Reports;
use crate::threads::par_map;
use crate::zendesk::{FieldMapping, RolesField};

/// The two Zendesk importers the export can write for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ImporterFormat {
    /// Zendesk's data importer (Admin Center > Objects and rules > Tools > Data importer).
    #[default]
    DataImporter,
    /// The legacy Bulk actions import pages (Admin Center > People > Bulk actions).
    BulkActions,
}

/// What one importer accepts per file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Data rows per file (the header not counted).
    pub max_data_rows: usize,
    /// Bytes per file, header included.
    pub max_file_bytes: u64,
    /// Bytes per row, line end included.
    pub max_row_bytes: usize,
}

/// The legacy Bulk actions pages take 2,000 rows per file, the header included.
pub const BULK_ACTIONS_MAX_DATA_ROWS: usize = 1_999;
/// The data importer: "we recommend a maximum of 500,000 rows", the header included.
pub const DATA_IMPORTER_MAX_DATA_ROWS: usize = 499_999;
/// The data importer: "can't exceed 1 GB in size" (read as 10^9 bytes, the stricter).
pub const DATA_IMPORTER_MAX_FILE_BYTES: u64 = 1_000_000_000;
/// The data importer: "each row can't exceed 128 KB" (read as 128,000 bytes, the stricter).
pub const DATA_IMPORTER_MAX_ROW_BYTES: usize = 128_000;

/// The separator both importers use between a user's organizations in one cell.
pub const ORGANIZATION_SEPARATOR: char = '|';

impl ImporterFormat {
    pub fn limits(self) -> Limits {
        match self {
            ImporterFormat::DataImporter => Limits {
                max_data_rows: DATA_IMPORTER_MAX_DATA_ROWS,
                max_file_bytes: DATA_IMPORTER_MAX_FILE_BYTES,
                max_row_bytes: DATA_IMPORTER_MAX_ROW_BYTES,
            },
            // No byte limit is documented for the legacy pages; 1,999 short rows are small.
            ImporterFormat::BulkActions => Limits {
                max_data_rows: BULK_ACTIONS_MAX_DATA_ROWS,
                max_file_bytes: u64::MAX,
                max_row_bytes: usize::MAX,
            },
        }
    }

    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ImporterFormat::DataImporter => "data-importer",
            ImporterFormat::BulkActions => "bulk-actions",
        }
    }

    /// Whether the users files carry the roles text: not when it would go to `details`
    /// through the legacy importer, which appends to `details` instead of replacing it.
    pub fn writes_roles(self, mapping: &FieldMapping) -> bool {
        !(self == ImporterFormat::BulkActions && mapping.roles_field == RolesField::Details)
    }

    /// The users files' header, in the importer's column names and order.
    pub fn user_columns(self, mapping: &FieldMapping) -> Vec<String> {
        let (email, organizations) = match self {
            ImporterFormat::DataImporter => ("emails", "organizations"),
            ImporterFormat::BulkActions => ("email", "organization"),
        };
        let mut columns = vec!["name".to_string(), email.into(), "external_id".into()];
        if self.writes_roles(mapping) {
            columns.push(match &mapping.roles_field {
                RolesField::Details => "details".to_string(),
                RolesField::Notes => "notes".to_string(),
                RolesField::UserField(key) => format!("custom_fields.{key}"),
            });
        }
        columns.push(organizations.into());
        columns.push("tags".into());
        columns
    }
}

/// The organizations files' header (both importers).
pub const ORGANIZATION_COLUMNS: [&str; 2] = ["name", "details"];

/// Why a record was left out of the files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportProblemKind {
    /// One of the user's organizations has `|` in its name: the one-cell list would split
    /// it into two organizations that do not exist.
    OrganizationNameHasSeparator,
    /// The row is longer than the importer accepts.
    RowTooLong,
    /// An email or an organization name starts like a spreadsheet formula; neutralising
    /// it would change which record it names.
    FormulaInKeyCell,
}

impl std::fmt::Display for ExportProblemKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ExportProblemKind::OrganizationNameHasSeparator => {
                "an organization's name contains `|`, which the importer reads as a separator"
            }
            ExportProblemKind::RowTooLong => "the row is longer than the importer accepts",
            ExportProblemKind::FormulaInKeyCell => {
                "an email or organization name starts like a spreadsheet formula"
            }
        })
    }
}

/// A record left out of the files: the Pages user id and users.csv line, or the
/// organization's position in the organizations file order (1-based). No email, no name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ExportProblem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pages_user_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users_line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_index: Option<usize>,
    pub problem: ExportProblemKind,
}

/// What was written, in import order. Counts and file names only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Written {
    pub format: ImporterFormat,
    pub organization_files: Vec<String>,
    pub user_files: Vec<String>,
    pub organizations: usize,
    pub users: usize,
    /// Organization cells across the users rows (one per membership written).
    pub memberships: usize,
    pub problems: Vec<ExportProblem>,
}

impl Written {
    /// Every file in import order: organizations first (the importer needs them before
    /// users can be added to them), then users.
    pub fn files(&self) -> Vec<String> {
        self.organization_files
            .iter()
            .chain(&self.user_files)
            .cloned()
            .collect()
    }
}

/// Whether a spreadsheet would treat the cell as a formula (OWASP "CSV injection").
fn looks_like_formula(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// Free text: prefixed with `'` when a spreadsheet would run it.
fn neutralise(cell: &str) -> Cow<'_, str> {
    if looks_like_formula(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// Whether `c` is whitespace in the sense of [`char::is_whitespace`], for one byte of
/// ASCII (the vertical tab and form feed included, which `u8::is_ascii_whitespace` leaves out).
fn ascii_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

/// Whether a field must be quoted: it holds a comma, a quote or a line break, or starts
/// or ends with whitespace. Scans bytes (a multi-character `contains` walks chars, and is
/// the export's hottest check); decodes a char only when the first or last byte is not
/// ASCII.
fn needs_quotes(field: &str) -> bool {
    let bytes = field.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if has_quote_trigger(bytes) {
        return true;
    }
    let edge = |b: u8, c: Option<char>| {
        if b.is_ascii() {
            ascii_whitespace(b)
        } else {
            c.is_some_and(char::is_whitespace)
        }
    };
    edge(first, field.chars().next()) || edge(last, field.chars().next_back())
}

/// Whether `bytes` holds a comma, a quote or a line break; eight bytes at a time (a
/// word has a byte equal to `c` exactly when `word ^ c…c` has a zero byte, and
/// `(v - 0x01…01) & !v & 0x80…80` is non-zero exactly when `v` has a zero byte).
fn has_quote_trigger(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGHS: u64 = ONES << 7;
    let has_zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS != 0;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_ne_bytes(word);
        if has_zero_byte(v ^ (ONES * u64::from(b',')))
            || has_zero_byte(v ^ (ONES * u64::from(b'"')))
            || has_zero_byte(v ^ (ONES * u64::from(b'\n')))
            || has_zero_byte(v ^ (ONES * u64::from(b'\r')))
        {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
}

/// Appends the user's display name ([`crate::model::name_from_email`]) to `out` without
/// a string of its own: an ASCII local part is done byte by byte here (the export names
/// a million users), anything else by the model's function. A test keeps the two equal.
fn push_name(out: &mut String, email: &crate::model::EmailKey) {
    let local = email.local_part();
    let local = local.split('+').next().unwrap_or(local);
    if !local.is_ascii() {
        out.push_str(&crate::model::name_from_email(email));
        return;
    }
    let start = out.len();
    let mut word_start = true;
    for &b in local.as_bytes() {
        if matches!(b, b'.' | b'_' | b'-') {
            word_start = true;
        } else if word_start {
            if out.len() > start {
                out.push(' ');
            }
            out.push(char::from(b.to_ascii_uppercase()));
            word_start = false;
        } else {
            out.push(char::from(b));
        }
    }
    if out.len() == start {
        out.push_str(local);
    }
}

/// One CSV record, RFC 4180 style: fields quoted when they hold a comma, a quote, a line
/// break or surrounding spaces; quotes doubled; CRLF after the record.
pub fn encode_record<S: AsRef<str>>(out: &mut Vec<u8>, fields: &[S]) {
    for (i, field) in fields.iter().enumerate() {
        let field = field.as_ref();
        if i > 0 {
            out.push(b',');
        }
        if needs_quotes(field) {
            out.push(b'"');
            for part in field.split('"').enumerate() {
                if part.0 > 0 {
                    out.extend_from_slice(b"\"\"");
                }
                out.extend_from_slice(part.1.as_bytes());
            }
            out.push(b'"');
        } else {
            out.extend_from_slice(field.as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// What the users rows need of one organization: its name, and why a user in it cannot
/// be written (worked out once per organization, not once per membership).
#[derive(Clone, Copy)]
struct OrgCell<'a> {
    name: &'a str,
    problem: Option<ExportProblemKind>,
}

impl<'a> OrgCell<'a> {
    fn new(name: &'a str) -> Self {
        let problem = if name.contains(ORGANIZATION_SEPARATOR) {
            Some(ExportProblemKind::OrganizationNameHasSeparator)
        } else if looks_like_formula(name) {
            Some(ExportProblemKind::FormulaInKeyCell)
        } else {
            None
        };
        OrgCell { name, problem }
    }
}

/// Each organization's cell, by its position in `DesiredState::orgs` (as users' roles
/// name it): a million users' roles read a vector, no lookup.
struct OrgNames<'a> {
    cells: Vec<OrgCell<'a>>,
}

impl<'a> OrgNames<'a> {
    fn new(desired: &'a DesiredState) -> Self {
        let cells = desired
            .orgs
            .values()
            .map(|o| OrgCell::new(&o.name))
            .collect();
        OrgNames { cells }
    }

    /// Panics on a position past the organizations: every role names one of them.
    fn cell(&self, org: u32) -> OrgCell<'a> {
        self.cells[org as usize]
    }
}

/// Without building the user's row (one look at each organization): why it cannot be
/// written, short of its length, with the same checks in the same order as
/// [`encode_user`] (an organization's name, in the user's order, then the email); or else
/// an upper bound of its bytes: every cell at most doubled by quoting plus its two
/// quotes, the name (from the email's local part) at most three times the email's bytes
/// (upper-casing a character can take three times its bytes) plus a `'`.
fn user_row_bound(
    names: &OrgNames<'_>,
    user: &DesiredUser,
    policy: &Policy,
) -> Result<u64, ExportProblemKind> {
    let email = user.email.as_str().len() as u64;
    let (mut organizations, mut roles) = (0u64, 1u64);
    for (i, (org, role)) in user.roles.iter().enumerate() {
        let cell = names.cell(org);
        if let Some(problem) = cell.problem {
            return Err(problem);
        }
        let name = cell.name.len() as u64;
        let sep = u64::from(i > 0);
        organizations += name + sep;
        roles += name + 2 + role.as_str().len() as u64 + 2 * sep;
    }
    let cells = (3 * email + 1)
        + email
        + (policy.external_id_prefix.len() + itoa::Buffer::new().format(user.pages_id).len())
            as u64
        + roles
        + organizations
        + policy.manager_tag.len() as u64;
    if looks_like_formula(user.email.as_str()) {
        return Err(ExportProblemKind::FormulaInKeyCell);
    }
    Ok(2 * cells + 2 * 6 + 5 + 2)
}

/// Reusable buffers for one users row.
#[derive(Default)]
struct Scratch {
    organizations: String,
    roles: String,
    name: String,
    external_id: String,
}

/// What encoding a users row within the row length limit needs besides the user: the
/// same for every row of an export.
struct RowLimit<'r, 'a> {
    names: &'r OrgNames<'a>,
    format: ImporterFormat,
    policy: &'r Policy,
    mapping: &'r FieldMapping,
    max_row_bytes: usize,
}

impl<'r, 'a> RowLimit<'r, 'a> {
    fn new(
        names: &'r OrgNames<'a>,
        format: ImporterFormat,
        policy: &'r Policy,
        mapping: &'r FieldMapping,
        limits: Limits,
    ) -> Self {
        RowLimit {
            names,
            format,
            policy,
            mapping,
            max_row_bytes: limits.max_row_bytes,
        }
    }

    /// The user's row in `out` (cleared first), or why it cannot be written:
    /// [`encode_user`]'s reasons, or a row longer than the limit.
    fn encode(
        &self,
        out: &mut Vec<u8>,
        user: &'a DesiredUser,
        scratch: &mut Scratch,
    ) -> Result<(), ExportProblemKind> {
        out.clear();
        encode_user(
            out,
            self.names,
            user,
            self.format,
            self.policy,
            self.mapping,
            scratch,
        )?;
        if out.len() <= self.max_row_bytes {
            Ok(())
        } else {
            Err(ExportProblemKind::RowTooLong)
        }
    }
}

/// Encodes the users row of one Pages user into `out`, or says why it cannot be written.
fn encode_user<'a>(
    out: &mut Vec<u8>,
    names: &OrgNames<'a>,
    user: &'a DesiredUser,
    format: ImporterFormat,
    policy: &Policy,
    mapping: &FieldMapping,
    scratch: &mut Scratch,
) -> Result<(), ExportProblemKind> {
    let Scratch {
        organizations,
        roles,
        name,
        external_id,
    } = scratch;
    organizations.clear();
    roles.clear();
    name.clear();
    external_id.clear();
    policy.push_external_id(external_id, user.pages_id);
    for (i, (org, role)) in user.roles.iter().enumerate() {
        let org = names.cell(org);
        if let Some(problem) = org.problem {
            return Err(problem);
        }
        if i > 0 {
            organizations.push(ORGANIZATION_SEPARATOR);
            roles.push_str(", ");
        }
        organizations.push_str(org.name);
        // The canonical roles text (`DesiredState::roles_text`), built in the same pass.
        roles.push_str(org.name);
        roles.push_str(": ");
        roles.push_str(role.as_str());
    }
    let email = user.email.as_str();
    if looks_like_formula(email) {
        return Err(ExportProblemKind::FormulaInKeyCell);
    }
    push_name(name, &user.email);
    let tags = if user.is_manager() {
        policy.manager_tag.as_str()
    } else {
        ""
    };
    let name = neutralise(name);
    if format.writes_roles(mapping) {
        let roles = neutralise(roles);
        encode_record(
            out,
            &[
                &*name,
                email,
                external_id,
                &roles,
                organizations.as_str(),
                tags,
            ],
        );
    } else {
        encode_record(
            out,
            &[&*name, email, external_id, organizations.as_str(), tags],
        );
    }
    Ok(())
}

/// A numbered series of files (`<stem>-001.csv`, …) written to temporary names, each
/// with the header, rolled over at the row and byte limits.
struct Series {
    dir: PathBuf,
    stem: &'static str,
    header: Vec<u8>,
    limits: Limits,
    /// (temporary path, final name) of every file started.
    files: Vec<(PathBuf, String)>,
    current: Option<Open>,
}

struct Open {
    out: BufWriter<File>,
    rows: usize,
    bytes: u64,
}

impl Series {
    fn new(dir: &Path, stem: &'static str, header: &[impl AsRef<str>], limits: Limits) -> Self {
        let mut line = Vec::new();
        encode_record(&mut line, header);
        Series {
            dir: dir.to_path_buf(),
            stem,
            header: line,
            limits,
            files: Vec::new(),
            current: None,
        }
    }

    fn push(&mut self, record: &[u8]) -> Result<()> {
        let full = self.current.as_ref().is_none_or(|c| {
            c.rows >= self.limits.max_data_rows
                || c.bytes + record.len() as u64 > self.limits.max_file_bytes
        });
        if full {
            self.start()?;
        }
        let Some(open) = self.current.as_mut() else {
            anyhow::bail!("no open file for {}", self.stem);
        };
        let files = &self.files;
        open.out.write_all(record).with_context(|| {
            format!(
                "writing {}",
                files.last().map(|f| f.1.as_str()).unwrap_or_default()
            )
        })?;
        open.rows += 1;
        open.bytes += record.len() as u64;
        Ok(())
    }

    fn start(&mut self) -> Result<()> {
        self.close()?;
        let name = format!("{}-{:03}.csv", self.stem, self.files.len() + 1);
        let temp = self.dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let file = File::create(&temp).with_context(|| format!("creating {name}"))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        out.write_all(&self.header)
            .with_context(|| format!("writing {name}"))?;
        self.files.push((temp, name));
        self.current = Some(Open {
            out,
            rows: 0,
            bytes: self.header.len() as u64,
        });
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        if let Some(open) = self.current.take() {
            let file = open
                .out
                .into_inner()
                .map_err(|e| e.into_error())
                .context("writing an export file")?;
            // No fsync: the files are renamed into place only once all are complete, and
            // an export is redone in seconds; syncing a gigabyte costs more than that.
            drop(file);
        }
        Ok(())
    }

    /// Closes the last file; returns (temporary path, final name) in order.
    fn finish(mut self) -> Result<Vec<(PathBuf, String)>> {
        self.close()?;
        Ok(std::mem::take(&mut self.files))
    }
}

fn remove_temps(files: &[(PathBuf, String)]) {
    for (temp, _) in files {
        let _ = std::fs::remove_file(temp);
    }
}

/// Writes the importer files into `dir` (which must exist) and returns what was written.
/// Every file is written to a temporary name first and renamed into place only when all
/// are complete, so an interrupted export never leaves a part file that looks whole.
pub fn write_files(
    reports: &Reports,
    policy: &Policy,
    mapping: &FieldMapping,
    format: ImporterFormat,
    limits: Limits,
    dir: &Path,
) -> Result<Written> {
    let limits = Limits {
        max_data_rows: limits.max_data_rows.max(1),
        ..limits
    };
    let desired = &reports.desired;
    let (orgs, users) = std::thread::scope(|scope| {
        let orgs = scope.spawn(|| write_organizations(desired, limits, dir));
        let users = write_users(desired, policy, mapping, format, limits, dir, true);
        let orgs = orgs
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("writing the organizations files failed")));
        (orgs, users)
    });
    let (orgs, users) = match (orgs, users) {
        (Ok(o), Ok(u)) => (o, u),
        (o, u) => {
            if let Ok(o) = &o {
                remove_temps(&o.files);
            }
            if let Ok(u) = &u {
                remove_temps(&u.files);
            }
            return Err(match (o, u) {
                (Err(e), _) | (_, Err(e)) => e,
                (Ok(_), Ok(_)) => anyhow::anyhow!("writing the export files failed"),
            });
        }
    };
    let all: Vec<(PathBuf, String)> = orgs.files.iter().chain(&users.files).cloned().collect();
    for (temp, name) in &all {
        if let Err(e) = std::fs::rename(temp, dir.join(name)) {
            remove_temps(&all);
            return Err(e).with_context(|| format!("writing {name}"));
        }
    }
    let mut problems = orgs.problems;
    problems.extend(users.problems);
    Ok(Written {
        format,
        organization_files: orgs.files.into_iter().map(|f| f.1).collect(),
        user_files: users.files.into_iter().map(|f| f.1).collect(),
        organizations: orgs.records,
        users: users.records,
        memberships: users.memberships,
        problems,
    })
}

/// What one series wrote.
struct SeriesOut {
    files: Vec<(PathBuf, String)>,
    records: usize,
    memberships: usize,
    problems: Vec<ExportProblem>,
}

fn write_organizations(desired: &DesiredState, limits: Limits, dir: &Path) -> Result<SeriesOut> {
    let mut series = Series::new(dir, "organizations", &ORGANIZATION_COLUMNS, limits);
    let mut problems = Vec::new();
    let mut written = 0;
    let mut record = Vec::with_capacity(256);
    let result = (|| -> Result<()> {
        for (index, org) in desired.orgs.values().enumerate() {
            if looks_like_formula(&org.name) {
                problems.push(ExportProblem {
                    pages_user_id: None,
                    users_line: None,
                    organization_index: Some(index + 1),
                    problem: ExportProblemKind::FormulaInKeyCell,
                });
                continue;
            }
            record.clear();
            encode_record(&mut record, &[org.name.as_str(), &neutralise(&org.details)]);
            if record.len() > limits.max_row_bytes {
                problems.push(ExportProblem {
                    pages_user_id: None,
                    users_line: None,
                    organization_index: Some(index + 1),
                    problem: ExportProblemKind::RowTooLong,
                });
                continue;
            }
            series.push(&record)?;
            written += 1;
        }
        Ok(())
    })();
    match result {
        Ok(()) => Ok(SeriesOut {
            files: series.finish()?,
            records: written,
            memberships: 0,
            problems,
        }),
        Err(e) => {
            let files = series.finish().unwrap_or_default();
            remove_temps(&files);
            Err(e)
        }
    }
}

/// The users files; `parallel: false` always takes the one-thread path (for the test
/// that both give the same files).
fn write_users(
    desired: &DesiredState,
    policy: &Policy,
    mapping: &FieldMapping,
    format: ImporterFormat,
    limits: Limits,
    dir: &Path,
    parallel: bool,
) -> Result<SeriesOut> {
    let names = OrgNames::new(desired);
    let mut header = Vec::new();
    encode_record(&mut header, &format.user_columns(mapping));
    if parallel {
        let users: Vec<&DesiredUser> = desired.users.values().collect();
        if let Some(layout) =
            lay_out_users(&users, &names, format, policy, mapping, limits, &header)
        {
            let files = write_user_files(&users, &layout, &names, format, policy, mapping, dir)?;
            return Ok(SeriesOut {
                files,
                records: layout.records,
                memberships: layout.memberships,
                problems: layout.problems,
            });
        }
    }
    write_users_in_one_series(desired, &names, policy, mapping, format, limits, dir)
}

/// Which user goes into which users file, worked out before writing any, so that the
/// files can be written at the same time on several threads.
struct UserLayout {
    /// Per user, in order: whether the user has a row.
    written: Vec<bool>,
    /// Per file: the index of the user its first row is for. File k holds the written
    /// users from `starts[k]` up to `starts[k + 1]` (the end for the last file).
    starts: Vec<usize>,
    records: usize,
    memberships: usize,
    problems: Vec<ExportProblem>,
}

/// The users files' layout, or `None` when a file could come near the byte limit: then
/// only writing the rows tells where a file must end, and the one series does it.
/// Gives exactly the files, counts and problems the one series would: the same checks
/// decide which users are written ([`user_row_bound`]'s problems, and the exact row
/// length whenever its bound passes the row limit), and with no file near the byte limit
/// only the row limit ends a file.
fn lay_out_users(
    users: &[&DesiredUser],
    names: &OrgNames<'_>,
    format: ImporterFormat,
    policy: &Policy,
    mapping: &FieldMapping,
    limits: Limits,
    header: &[u8],
) -> Option<UserLayout> {
    let mut layout = UserLayout {
        written: Vec::with_capacity(users.len()),
        starts: Vec::new(),
        records: 0,
        memberships: 0,
        problems: Vec::new(),
    };
    let row = RowLimit::new(names, format, policy, mapping, limits);
    // Each user's own checks, on both cores (a million users' organization names to
    // look up); then the files are laid out in order on this thread.
    let checks = par_map(users, |user| {
        let bound = match user_row_bound(names, user, policy) {
            Ok(bound) => bound,
            Err(problem) => return (Some(problem), 0),
        };
        if bound <= limits.max_row_bytes as u64 {
            return (None, bound);
        }
        // Rare: a row that may be too long is encoded to know its length.
        let (mut record, mut scratch) = (Vec::new(), Scratch::default());
        match row.encode(&mut record, user, &mut scratch) {
            Ok(()) => (None, record.len() as u64),
            Err(kind) => (Some(kind), 0),
        }
    });
    let (mut rows, mut bytes) = (0usize, 0u64);
    for (i, (user, (problem, bound))) in users.iter().zip(checks).enumerate() {
        if let Some(problem) = problem {
            layout.written.push(false);
            layout.problems.push(ExportProblem {
                pages_user_id: Some(user.pages_id),
                users_line: Some(user.line),
                organization_index: None,
                problem,
            });
            continue;
        }
        layout.written.push(true);
        if layout.starts.is_empty() || rows >= limits.max_data_rows {
            layout.starts.push(i);
            (rows, bytes) = (0, header.len() as u64);
        }
        bytes = bytes.saturating_add(bound);
        if bytes > limits.max_file_bytes {
            return None;
        }
        rows += 1;
        layout.records += 1;
        layout.memberships += user.roles.len();
    }
    Some(layout)
}

/// Bytes gathered before each write to a file.
const WRITE_CHUNK: usize = 1 << 20;

/// Writes the users files of `layout` to temporary names, on as many threads as the
/// machine has cores (each thread takes the next file not yet started; one 1 MiB buffer
/// per thread). Returns (temporary path, final name) of every file, in order.
fn write_user_files(
    users: &[&DesiredUser],
    layout: &UserLayout,
    names: &OrgNames<'_>,
    format: ImporterFormat,
    policy: &Policy,
    mapping: &FieldMapping,
    dir: &Path,
) -> Result<Vec<(PathBuf, String)>> {
    use std::sync::atomic::{AtomicUsize, Ordering};

    let mut header = Vec::new();
    encode_record(&mut header, &format.user_columns(mapping));

    let files: Vec<(PathBuf, String)> = (0..layout.starts.len())
        .map(|k| {
            let name = format!("users-{:03}.csv", k + 1);
            let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
            (temp, name)
        })
        .collect();
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(files.len())
        .max(1);
    let write_one = |k: usize, buf: &mut Vec<u8>, scratch: &mut Scratch| -> Result<()> {
        let (temp, name) = &files[k];
        let (start, end) = (
            layout.starts[k],
            layout.starts.get(k + 1).copied().unwrap_or(users.len()),
        );
        let mut file = File::create(temp).with_context(|| format!("creating {name}"))?;
        buf.clear();
        buf.extend_from_slice(&header);
        for (user, &written) in users[start..end].iter().zip(&layout.written[start..end]) {
            if !written {
                continue;
            }
            // The layout already made these checks; a user passes them again.
            encode_user(buf, names, user, format, policy, mapping, scratch)
                .map_err(|kind| anyhow::anyhow!("writing {name}: {kind}"))?;
            if buf.len() >= WRITE_CHUNK {
                file.write_all(buf)
                    .with_context(|| format!("writing {name}"))?;
                buf.clear();
            }
        }
        file.write_all(buf)
            .with_context(|| format!("writing {name}"))?;
        Ok(())
    };
    let results: Vec<Result<()>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    let mut buf = Vec::with_capacity(WRITE_CHUNK + 64 * 1024);
                    let mut scratch = Scratch::default();
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        if k >= files.len() {
                            return Ok(());
                        }
                        if let Err(e) = write_one(k, &mut buf, &mut scratch) {
                            // The other threads start no further file.
                            next.store(files.len(), Ordering::Relaxed);
                            return Err(e);
                        }
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("writing the users files failed")))
            })
            .collect()
    });
    if let Some(e) = results.into_iter().find_map(Result::err) {
        remove_temps(&files);
        return Err(e);
    }
    Ok(files)
}

/// The users files written one row after another by one thread, each row encoded before
/// it is written: the way for files that may come near the byte limit.
fn write_users_in_one_series(
    desired: &DesiredState,
    names: &OrgNames<'_>,
    policy: &Policy,
    mapping: &FieldMapping,
    format: ImporterFormat,
    limits: Limits,
    dir: &Path,
) -> Result<SeriesOut> {
    let mut series = Series::new(dir, "users", &format.user_columns(mapping), limits);
    let mut problems = Vec::new();
    let (mut users, mut memberships) = (0, 0);
    let mut record = Vec::with_capacity(512);
    let mut scratch = Scratch::default();
    let row = RowLimit::new(names, format, policy, mapping, limits);
    let result = (|| -> Result<()> {
        for user in desired.users.values() {
            let problem = match row.encode(&mut record, user, &mut scratch) {
                Ok(()) => {
                    series.push(&record)?;
                    users += 1;
                    memberships += user.roles.len();
                    continue;
                }
                Err(kind) => kind,
            };
            problems.push(ExportProblem {
                pages_user_id: Some(user.pages_id),
                users_line: Some(user.line),
                organization_index: None,
                problem,
            });
        }
        Ok(())
    })();
    match result {
        Ok(()) => Ok(SeriesOut {
            files: series.finish()?,
            records: users,
            memberships,
            problems,
        }),
        Err(e) => {
            let files = series.finish().unwrap_or_default();
            remove_temps(&files);
            Err(e)
        }
    }
}

/// The instructions file next to the CSVs: which files to import, in which order, and
/// what each importer does to records that already exist. Counts and file names only.
pub fn import_instructions(written: &Written, mapping: &FieldMapping) -> String {
    let mut t = String::new();
    let files = written.files();
    match written.format {
        ImporterFormat::DataImporter => t.push_str(
            "Zendesk import files written by `pages-zendesk-sync export --format data-importer`,\n\
             for Zendesk's data importer (Admin Center > Objects and rules > Tools > Data importer).\n",
        ),
        ImporterFormat::BulkActions => t.push_str(
            "Zendesk import files written by `pages-zendesk-sync export --format bulk-actions`,\n\
             for the legacy Bulk actions pages (Admin Center > People > Bulk actions >\n\
             Import organizations / Import users).\n",
        ),
    }
    t.push_str(
        "\nBEFORE YOU IMPORT, check one setting: Admin Center > People > Configuration > End users >\n\
         \"Allow users to belong to multiple organizations\" must be ON. If it is off, Zendesk keeps\n\
         only one organization per user and every partner user in several Pages organizations\n\
         ends up in one of them.\n",
    );
    t.push_str(
        "\nImport the files one at a time, in this order, and wait for each import to finish\n\
         (the organizations must exist before users can be added to them). For the users files\n\
         choose to create new users and update existing ones.\n\n",
    );
    for (i, file) in files.iter().enumerate() {
        t.push_str(&format!("{:>4}. {}\n", i + 1, file));
    }
    t.push_str("\nWhat the import does to records that already exist in Zendesk:\n");
    let roles_field = match &mapping.roles_field {
        RolesField::Details => "details".to_string(),
        RolesField::Notes => "notes".to_string(),
        RolesField::UserField(key) => format!("the user field {key}"),
    };
    let roles = if written.format.writes_roles(mapping) {
        format!("- The Pages roles text replaces what {roles_field} holds.")
    } else {
        "- The legacy importer ADDS to a user's details instead of replacing them, so a monthly \
         import would pile the roles text up. These files therefore leave the roles text out; \
         use the data importer format or `pages-zendesk-sync sync` to write roles."
            .to_string()
    };
    for item in [
        "- Organizations: matched by name. Their details are replaced by the Pages agency.",
        "- Users: matched by email. Each user is in exactly one row of one file, with all of \
         the user's Pages organizations in one cell, separated by |.",
        "- A user's organizations are REPLACED, not added to: after the import the user \
         belongs to exactly the organizations in the cell. This also removes the user from \
         organizations that Pages does not manage (ones added by hand in Zendesk). Check \
         those users first.",
        "- Empty cells overwrite what Zendesk holds: the name, the external id and the tags \
         are replaced by the file's values. The tags cell holds only the manager tag, so \
         other tags on these users are removed.",
        &roles,
        "- New users get a welcome email if Admin Center > People > Configuration > End users \
         > \"Also send a welcome email when a new user is created by an agent or admin\" is \
         on. Pages users are already verified: turn it off for the import if they should not \
         be emailed.",
        "- Nothing is ever removed by an import: organizations and users missing from Pages \
         stay. Run `pages-zendesk-sync sync` to bring memberships fully in step.",
    ] {
        t.push_str(&wrap(item, 88));
    }
    if !written.problems.is_empty() {
        t.push_str(&format!(
            "\n{} record(s) were left out because they cannot be written for the importer without\n\
             changing them (details per record in the --report-json file):\n",
            written.problems.len()
        ));
        for kind in [
            ExportProblemKind::OrganizationNameHasSeparator,
            ExportProblemKind::FormulaInKeyCell,
            ExportProblemKind::RowTooLong,
        ] {
            let n = written
                .problems
                .iter()
                .filter(|p| p.problem == kind)
                .count();
            if n > 0 {
                t.push_str(&format!("- {n}: {kind}\n"));
            }
        }
    }
    t
}

/// Wraps a paragraph at `width` characters, continuing lines with two spaces.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = "  ".to_string();
        }
        if !line.trim().is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests;
