//! Parsing the two Pages reports, already in memory, into the desired state.
//!
//! Owns the file-level checks (encoding, header, shape: a [`SourceError`]) and the row-level
//! checks (a [`RowIssue`] per skipped or merged row). Strict where a wrong guess would cost
//! data (a missing column, a row with the wrong number of fields, the two reports swapped),
//! forgiving where exports vary (BOM, CRLF, header case and order, extra columns).
//!
//! Must never: do I/O, log, or put a cell value (email, name, organization) into an error
//! or an issue. Errors name the file, the line and the column; issues carry line numbers.
//!
//! Speed: a 1M-user report is parsed with one reused `ByteRecord`, no per-field allocation
//! except the strings the desired state keeps, and sorted once at the end instead of
//! keeping a map ordered while reading.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use csv::{ByteRecord, ReaderBuilder};
use rustc_hash::FxHashMap;

use super::build::{self, ParsedUsers, UserRows};
use super::{ReportKind, Reports, RowIssue, RowProblem, SourceError, SourceStats};
use crate::config::Policy;
use crate::model::{DesiredOrg, DesiredUser, EmailKey, OrgKey, Role, Roles};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Column names as Pages writes them; matched trimmed and case-insensitively.
const ORG_NAME: &str = "Organization";
const ORG_AGENCY: &str = "Agency";
const USER_ID: &str = "ID";
const USER_EMAIL: &str = "Email";
const USER_ORGANIZATIONS: &str = "Organizations";
const USER_DETAILS: &str = "Details";

pub(super) fn parse_reports(
    orgs_bytes: &[u8],
    orgs_label: &str,
    users_bytes: &[u8],
    users_label: &str,
    policy: &Policy,
) -> Result<Reports, SourceError> {
    let mut issues = Vec::new();
    let mut stats = SourceStats::default();
    let orgs = parse_organizations(orgs_bytes, orgs_label, &mut issues, &mut stats)?;
    let users = parse_users(
        users_bytes,
        users_label,
        &orgs,
        policy,
        &mut issues,
        &mut stats,
    )?;
    Ok(build::assemble(orgs, users, issues, stats))
}

fn error(label: &str, line: Option<u64>, column: Option<&str>, problem: String) -> SourceError {
    SourceError {
        file: label.to_string(),
        line,
        column: column.map(str::to_string),
        problem,
    }
}

/// File-level checks that come before CSV parsing: returns the bytes without a BOM, known
/// to be UTF-8 without NUL bytes, so every field can be read as `&str` later.
fn check_encoding<'a>(bytes: &'a [u8], label: &str) -> Result<&'a str, SourceError> {
    let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
    let line_at =
        |offset: usize| bytes[..offset].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(error(label, None, None, "the file is empty".into()));
    }
    // `contains` on a byte slice is a memchr; only the error path counts lines.
    if bytes.contains(&0) {
        let at = bytes.iter().position(|&b| b == 0).unwrap_or(0);
        return Err(error(
            label,
            Some(line_at(at)),
            None,
            "contains NUL bytes: this is a binary file, not a CSV report".into(),
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        error(
            label,
            Some(line_at(e.valid_up_to())),
            None,
            "is not valid UTF-8 text (export or save the report as UTF-8 CSV)".into(),
        )
    })?;
    if text.trim_start().starts_with('<') {
        return Err(error(
            label,
            Some(1),
            None,
            "looks like HTML or XML, not a CSV report (a login or error page instead of the report?)"
                .into(),
        ));
    }
    Ok(text)
}

fn csv_error(label: &str, text: &str, e: &csv::Error) -> SourceError {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => error(
            label,
            pos.as_ref().map(|p| physical_line(text, p)),
            None,
            format!("the row has {len} fields but the header has {expected_len} (a broken quote or a stray comma?)"),
        ),
        _ => error(
            label,
            e.position().map(|p| physical_line(text, p)),
            None,
            format!("cannot be read as CSV: {e}"),
        ),
    }
}

/// The header row: column names trimmed and lower-cased, in file order.
struct Header {
    names: Vec<String>,
}

impl Header {
    fn read(
        reader: &mut csv::Reader<&[u8]>,
        text: &str,
        label: &str,
    ) -> Result<(Header, ByteRecord), SourceError> {
        let mut record = ByteRecord::new();
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => return Err(error(label, None, None, "the file is empty".into())),
            Err(e) => return Err(csv_error(label, text, &e)),
        }
        let names = record
            .iter()
            .map(|f| String::from_utf8_lossy(f).trim().to_lowercase())
            .collect();
        Ok((Header { names }, record))
    }

    fn find(&self, column: &str) -> Option<usize> {
        self.names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(column))
    }

    fn has(&self, column: &str) -> bool {
        self.find(column).is_some()
    }

    fn require(&self, column: &str, label: &str) -> Result<usize, SourceError> {
        self.find(column).ok_or_else(|| {
            error(
                label,
                Some(1),
                Some(column),
                "this required column is missing from the header row".into(),
            )
        })
    }

    fn looks_like_users(&self) -> bool {
        self.has(USER_EMAIL) && (self.has(USER_DETAILS) || self.has(USER_ORGANIZATIONS))
    }

    fn looks_like_organizations(&self) -> bool {
        self.has(ORG_NAME) && self.has(ORG_AGENCY) && !self.has(USER_EMAIL)
    }
}

fn reader(text: &str) -> csv::Reader<&[u8]> {
    // Headers are read by hand so that the header's own problems get our messages;
    // `flexible(false)` turns a row of the wrong width into an error with its line.
    ReaderBuilder::new()
        .has_headers(false)
        .flexible(false)
        .from_reader(text.as_bytes())
}

/// A field of a record from a checked buffer. The buffer is valid UTF-8 and the CSV parser
/// splits only at ASCII bytes, so this cannot fail; the error path exists to avoid `unsafe`.
fn field<'r>(
    record: &'r ByteRecord,
    index: usize,
    label: &str,
    line: u64,
) -> Result<&'r str, SourceError> {
    std::str::from_utf8(record.get(index).unwrap_or_default())
        .map_err(|_| error(label, Some(line), None, "is not valid UTF-8 text".into()))
}

fn line_of(text: &str, record: &ByteRecord) -> u64 {
    record.position().map_or(0, |p| physical_line(text, p))
}

/// The 1-based line where a record's first byte is. csv's `Position` is taken before the
/// reader skips the `\n` of a CRLF and any blank lines, so with CRLF files it would name
/// the previous line; count the line breaks skipped from there.
fn physical_line(text: &str, pos: &csv::Position) -> u64 {
    let start = usize::try_from(pos.byte())
        .unwrap_or(usize::MAX)
        .min(text.len());
    let skipped = text.as_bytes()[start..]
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .filter(|&&b| b == b'\n')
        .count();
    pos.line() + skipped as u64
}

fn parse_organizations(
    bytes: &[u8],
    label: &str,
    issues: &mut Vec<RowIssue>,
    stats: &mut SourceStats,
) -> Result<BTreeMap<OrgKey, DesiredOrg>, SourceError> {
    let text = check_encoding(bytes, label)?;
    let mut reader = reader(text);
    let (header, mut record) = Header::read(&mut reader, text, label)?;
    if !header.has(ORG_NAME) && header.looks_like_users() {
        return Err(error(
            label,
            Some(1),
            None,
            "this is the users report (it has Email and Details columns), given where the \
             organizations report belongs: check --organizations and --users"
                .into(),
        ));
    }
    let name_col = header.require(ORG_NAME, label)?;
    let agency_col = header.require(ORG_AGENCY, label)?;

    let mut orgs = BTreeMap::new();
    let mut first_lines: HashMap<OrgKey, u64> = HashMap::new();
    let mut rows = 0usize;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(label, text, &e)),
        }
        rows += 1;
        let line = line_of(text, &record);
        let name = field(&record, name_col, label, line)?;
        let agency = field(&record, agency_col, label, line)?;
        build::add_organization(&mut orgs, &mut first_lines, issues, line, name, agency);
    }
    if rows == 0 {
        return Err(error(
            label,
            None,
            None,
            "has a header row but no data rows".into(),
        ));
    }
    stats.organization_rows = rows;
    Ok(orgs)
}

/// A valid users.csv row, before duplicates are resolved. Its roles live in a shared
/// arena (`Memberships`) so that a row costs no allocation beyond its email.
pub(super) struct Candidate {
    /// The email's first 16 bytes, big-endian: orders like the email (ties broken by the
    /// email), so that most comparisons of the sort never leave the vector.
    prefix: u128,
    email: EmailKey,
    pages_id: u64,
    line: u64,
    roles: std::ops::Range<usize>,
}

impl Candidate {
    pub(super) fn new(
        email: EmailKey,
        pages_id: u64,
        line: u64,
        roles: std::ops::Range<usize>,
    ) -> Self {
        Candidate {
            prefix: sort_prefix(&email),
            email,
            pages_id,
            line,
            roles,
        }
    }
}

/// (index of the organization in key order, role) for every candidate, row after row;
/// each row's slice is sorted by organization.
pub(super) type Memberships = Vec<(u32, Role)>;

/// Finds an organization of organizations.csv by the name a users row gives.
pub(super) struct OrgIndex<'a> {
    /// Keys in order: position = the index used in `Memberships`.
    /// Owned (shared) clones, side by side: handing a key to a user's roles then reads
    /// this vector, not a tree node per membership.
    pub(super) keys: Vec<OrgKey>,
    /// The name exactly as organizations.csv writes it (trimmed): the usual case, no
    /// lower-casing needed. Fx, not SipHash: the names come from the operator's own
    /// report and a million and a half lookups are on the hot path.
    exact: FxHashMap<&'a str, u32>,
    /// The key (trimmed, lower-cased): matches any case.
    folded: FxHashMap<&'a str, u32>,
    buffer: String,
}

impl<'a> OrgIndex<'a> {
    pub(super) fn new(orgs: &'a BTreeMap<OrgKey, DesiredOrg>) -> Self {
        let mut index = OrgIndex {
            keys: Vec::with_capacity(orgs.len()),
            exact: FxHashMap::with_capacity_and_hasher(orgs.len(), Default::default()),
            folded: FxHashMap::with_capacity_and_hasher(orgs.len(), Default::default()),
            buffer: String::new(),
        };
        for (i, (key, org)) in orgs.iter().enumerate() {
            // Fewer than 2^32 organizations: the report is capped far below that size.
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            index.keys.push(key.clone());
            index.exact.insert(org.name.as_str(), i);
            index.folded.insert(key.as_str(), i);
        }
        index
    }

    pub(super) fn find(&mut self, name: &str) -> Option<u32> {
        if let Some(&i) = self.exact.get(name) {
            return Some(i);
        }
        // Same normalisation as `OrgKey::new` (the name is already trimmed).
        self.buffer.clear();
        if name.is_ascii() {
            self.buffer.push_str(name);
            self.buffer.make_ascii_lowercase();
        } else {
            self.buffer.push_str(&name.to_lowercase());
        }
        self.folded.get(self.buffer.as_str()).copied()
    }
}

fn parse_users(
    bytes: &[u8],
    label: &str,
    orgs: &BTreeMap<OrgKey, DesiredOrg>,
    policy: &Policy,
    issues: &mut Vec<RowIssue>,
    stats: &mut SourceStats,
) -> Result<ParsedUsers, SourceError> {
    let text = check_encoding(bytes, label)?;
    let mut reader = reader(text);
    let (header, mut record) = Header::read(&mut reader, text, label)?;
    if !header.has(USER_EMAIL) && header.looks_like_organizations() {
        return Err(error(
            label,
            Some(1),
            None,
            "this is the organizations report (it has Organization and Agency columns), given \
             where the users report belongs: check --organizations and --users"
                .into(),
        ));
    }
    let id_col = header.require(USER_ID, label)?;
    let email_col = header.require(USER_EMAIL, label)?;
    let orgs_col = header.require(USER_ORGANIZATIONS, label)?;
    let details_col = header.require(USER_DETAILS, label)?;

    let mut org_index = OrgIndex::new(orgs);
    // Pages rows are ~150 bytes; a rough capacity avoids most regrowth of the big vectors.
    let mut user_rows = UserRows::with_capacity(text.len() / 160 + 16);
    // Byte ranges of the organization names in the current row's Organizations cell
    // (ranges, not `&str`, so the buffer outlives the reused record).
    let mut names: Vec<(usize, usize)> = Vec::new();
    let mut pairs: Vec<(usize, Role)> = Vec::new();
    let mut rows = 0usize;

    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(label, text, &e)),
        }
        rows += 1;
        let line = line_of(text, &record);
        let organizations = field(&record, orgs_col, label, line)?;
        name_spans(organizations, &mut names);
        if names.is_empty() {
            // Not a partner user (docs/design.md "Pages data"): counted, not an issue.
            stats.users_without_organization += 1;
            continue;
        }
        let email = EmailKey::parse(field(&record, email_col, label, line)?);
        let id = field(&record, id_col, label, line)?
            .trim()
            .parse::<u64>()
            .ok();
        if matches!(email, Err(crate::model::InvalidEmail::Empty)) {
            user_rows.without_identity(id, policy, stats);
            continue;
        }
        let details = field(&record, details_col, label, line)?;

        let problem = match &email {
            Err(reason) => Some(RowProblem::InvalidEmail { reason: *reason }),
            Ok(_) if id.is_none() => Some(RowProblem::InvalidId),
            Ok(_) => walk_details(organizations, &names, details, &mut pairs).err(),
        };
        let start = user_rows.memberships.len();
        let problem = problem.or_else(|| {
            let found = add_memberships(
                organizations,
                &names,
                &pairs,
                &mut org_index,
                &mut user_rows,
            );
            found.err()
        });
        user_rows.accept(line, problem, email, id, start, policy, issues);
    }
    if rows == 0 {
        return Err(error(
            label,
            None,
            None,
            "has a header row but no data rows".into(),
        ));
    }
    stats.user_rows = rows;
    Ok(user_rows.finish(&org_index.keys, policy, issues, stats))
}

/// Appends one row's memberships, sorted by organization and without repeats.
/// On error the caller truncates the arena back to where the row started.
fn add_memberships(
    organizations: &str,
    names: &[(usize, usize)],
    pairs: &[(usize, Role)],
    org_index: &mut OrgIndex<'_>,
    user_rows: &mut UserRows,
) -> Result<(), RowProblem> {
    let start = user_rows.memberships.len();
    for &(index, role) in pairs {
        let (from, to) = names[index];
        let org = org_index
            .find(&organizations[from..to])
            .ok_or(RowProblem::UnknownOrganization)?;
        user_rows.memberships.push((org, role));
    }
    user_rows.close_memberships(start)
}

fn sort_prefix(email: &EmailKey) -> u128 {
    let mut bytes = [0u8; 16];
    let text = email.as_str().as_bytes();
    let n = text.len().min(16);
    bytes[..n].copy_from_slice(&text[..n]);
    u128::from_be_bytes(bytes)
}

pub(super) fn external_id(policy: &Policy, id: u64) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(policy.external_id_prefix.len() + 20);
    s.push_str(&policy.external_id_prefix);
    // Writing to a String cannot fail.
    let _ = write!(s, "{id}");
    s
}

/// Splits the Organizations cell on `|` into trimmed, non-empty names, as byte ranges.
fn name_spans(organizations: &str, spans: &mut Vec<(usize, usize)>) {
    spans.clear();
    let mut start = 0;
    for part in organizations.split('|') {
        let trimmed = part.trim();
        if !trimmed.is_empty() {
            let lead = part.len() - part.trim_start().len();
            spans.push((start + lead, start + lead + trimmed.len()));
        }
        start += part.len() + 1;
    }
}

/// Walks Details along the Organizations list: `name: role` for each name, in order,
/// separated by `,`. Never splits on commas, since names may contain `, ` and `: `.
/// Fills `pairs` with (index into `names`, role).
fn walk_details(
    organizations: &str,
    names: &[(usize, usize)],
    details: &str,
    pairs: &mut Vec<(usize, Role)>,
) -> Result<(), RowProblem> {
    pairs.clear();
    let mut rest = details;
    for (index, &(start, end)) in names.iter().enumerate() {
        let name = &organizations[start..end];
        rest = rest.trim_start();
        let head = rest.get(..name.len()).ok_or(RowProblem::DetailsMismatch)?;
        if !head.eq_ignore_ascii_case(name) {
            return Err(RowProblem::DetailsMismatch);
        }
        rest = rest[name.len()..]
            .trim_start()
            .strip_prefix(':')
            .ok_or(RowProblem::DetailsMismatch)?;
        // A role word has no comma, so the first comma ends it.
        let (role_text, after) = match rest.split_once(',') {
            Some((role, after)) => (role, Some(after)),
            None => (rest, None),
        };
        let last = index + 1 == names.len();
        match after {
            Some(after) if last && !after.trim().is_empty() => {
                return Err(RowProblem::DetailsMismatch)
            }
            None if !last => return Err(RowProblem::DetailsMismatch),
            _ => {}
        }
        let role = parse_role(role_text).ok_or(RowProblem::UnknownRole)?;
        pairs.push((index, role));
        rest = after.unwrap_or_default();
    }
    Ok(())
}

pub(super) fn parse_role(raw: &str) -> Option<Role> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("manager") {
        Some(Role::Manager)
    } else if raw.eq_ignore_ascii_case("user") {
        Some(Role::User)
    } else {
        None
    }
}

/// Rows with the same email: the first row wins; a later row's organizations are merged
/// into it when no organization has two different roles, otherwise the later row is
/// skipped. Either way a later row's Pages id stays protected.
pub(super) fn resolve_duplicates(
    mut candidates: Vec<Candidate>,
    memberships: &[(u32, Role)],
    keys: &[OrgKey],
    policy: &Policy,
    issues: &mut Vec<RowIssue>,
    protected_external_ids: &mut BTreeSet<String>,
    stats: &mut SourceStats,
) -> BTreeMap<EmailKey, DesiredUser> {
    // Lines are unique, so (email, line) is a total order and an unstable sort is exact:
    // within an email, the first row is the earliest line.
    candidates.sort_unstable_by(|a, b| {
        a.prefix
            .cmp(&b.prefix)
            .then_with(|| a.email.cmp(&b.email))
            .then(a.line.cmp(&b.line))
    });
    let mut users: Vec<(EmailKey, DesiredUser)> = Vec::with_capacity(candidates.len());
    let mut roles: Vec<(u32, Role)> = Vec::new();
    let mut candidates = candidates.into_iter().peekable();
    while let Some(first) = candidates.next() {
        roles.clear();
        roles.extend_from_slice(&memberships[first.roles.clone()]);
        while let Some(later) = candidates.next_if(|c| c.email == first.email) {
            let row = &memberships[later.roles.clone()];
            let conflict = row.iter().any(|(org, role)| {
                roles
                    .binary_search_by_key(org, |(o, _)| *o)
                    .is_ok_and(|at| roles[at].1 != *role)
            });
            let problem = if conflict {
                RowProblem::DuplicateEmailConflict {
                    first_line: first.line,
                }
            } else {
                roles.extend_from_slice(row);
                roles.sort_unstable();
                roles.dedup();
                RowProblem::DuplicateEmailMerged {
                    first_line: first.line,
                }
            };
            if later.pages_id != first.pages_id {
                protected_external_ids.insert(external_id(policy, later.pages_id));
            }
            issues.push(RowIssue {
                report: ReportKind::Users,
                line: later.line,
                problem,
            });
        }
        // `org` came from the index built over the same keys, in key order: the pairs
        // come out sorted.
        let role_list: Vec<(OrgKey, Role)> = roles
            .iter()
            .filter_map(|&(org, role)| keys.get(org as usize).map(|k| (k.clone(), role)))
            .collect();
        let user = DesiredUser {
            pages_id: first.pages_id,
            external_id: external_id(policy, first.pages_id),
            email: first.email.clone(),
            roles: Roles::from_sorted(role_list),
            line: first.line,
        };
        // Counted here, while the user is at hand, not in more passes over the tree.
        stats.memberships += user.roles.len();
        stats.managers += usize::from(user.is_manager());
        users.push((first.email, user));
    }
    // Already sorted and unique: `from_iter` checks the order in one pass and bulk-builds.
    users.into_iter().collect()
}
