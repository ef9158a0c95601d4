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

use std::collections::BTreeSet;

use csv::{ByteRecord, ReaderBuilder};
use rustc_hash::FxHashMap;

use super::build::{self, ParsedUsers};
use super::{ReportKind, Reports, RowIssue, RowProblem, SourceError, SourceStats};
use crate::config::Policy;
use crate::model::{
    DesiredOrg, DesiredUser, EmailKey, OrgKey, OrgNameBuffer, Role, Roles, SortedMap,
};
use crate::prefetch::{prefetch, AHEAD};
use crate::threads::{join_if, two_cores};

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
    parse_reports_split(
        orgs_bytes,
        orgs_label,
        users_bytes,
        users_label,
        policy,
        Split::Auto,
        Reading::Simple,
    )
    .map(|(reports, _)| reports)
}

/// organizations.csv parsed: the first stage of [`parse_reports`], which a caller may run
/// while users.csv is still being read (see `super::load_limited`).
pub(crate) struct ParsedOrganizations {
    orgs: SortedMap<OrgKey, DesiredOrg>,
    issues: Vec<RowIssue>,
    stats: SourceStats,
}

pub(super) fn parse_organizations_report(
    bytes: &[u8],
    label: &str,
    reading: Reading,
) -> Result<ParsedOrganizations, SourceError> {
    let mut issues = Vec::new();
    let mut stats = SourceStats::default();
    let orgs = parse_organizations(bytes, label, reading, &mut issues, &mut stats)?;
    Ok(ParsedOrganizations {
        orgs,
        issues,
        stats,
    })
}

/// The second stage of [`parse_reports`]: users.csv against the parsed organizations.
pub(super) fn parse_users_report(
    orgs: ParsedOrganizations,
    users_bytes: &[u8],
    users_label: &str,
    policy: &Policy,
) -> Result<Reports, SourceError> {
    parse_users_report_split(
        orgs,
        Users::Bytes(users_bytes),
        users_label,
        policy,
        Split::Auto,
        Reading::Simple,
    )
    .map(|(reports, _)| reports)
}

/// [`parse_reports`] with the split of users.csv between threads chosen by the caller;
/// also says whether two threads read users.csv.
pub(super) fn parse_reports_split(
    orgs_bytes: &[u8],
    orgs_label: &str,
    users_bytes: &[u8],
    users_label: &str,
    policy: &Policy,
    split: Split,
    reading: Reading,
) -> Result<(Reports, bool), SourceError> {
    // users.csv's encoding is checked (a pass or two over a big file) while
    // organizations.csv is parsed. Errors keep their order: organizations.csv's first.
    let (orgs, users_text) = join_if(
        two_cores() && users_bytes.len() >= SPLIT_MIN_BYTES,
        || parse_organizations_report(orgs_bytes, orgs_label, reading),
        || check_encoding(users_bytes, users_label),
    );
    parse_users_report_split(
        orgs?,
        Users::Checked(users_text?),
        users_label,
        policy,
        split,
        reading,
    )
}

/// users.csv as `parse_users` gets it.
#[derive(Clone, Copy)]
enum Users<'a> {
    /// As read: its encoding is checked while the organizations' index is built.
    Bytes(&'a [u8]),
    /// Already through [`check_encoding`].
    Checked(&'a str),
}

fn parse_users_report_split(
    orgs: ParsedOrganizations,
    users: Users<'_>,
    users_label: &str,
    policy: &Policy,
    split: Split,
    reading: Reading,
) -> Result<(Reports, bool), SourceError> {
    let ParsedOrganizations {
        orgs,
        mut issues,
        mut stats,
    } = orgs;
    let (users, two_threads) = parse_users(
        users,
        users_label,
        &orgs,
        policy,
        (split, reading),
        &mut issues,
        &mut stats,
    )?;
    Ok((build::assemble(orgs, users, issues, stats), two_threads))
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
        reader: &mut csv::Reader<Cursor<'_>>,
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

/// What the CSV reader reads: the checked text, seekable (the rows [`RowReader`] splits
/// itself are skipped by seeking past them).
type Cursor<'a> = std::io::Cursor<&'a [u8]>;

fn reader(text: &str) -> csv::Reader<Cursor<'_>> {
    // Headers are read by hand so that the header's own problems get our messages;
    // `flexible(false)` turns a row of the wrong width into an error with its line.
    ReaderBuilder::new()
        .has_headers(false)
        .flexible(false)
        .from_reader(std::io::Cursor::new(text.as_bytes()))
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
    reading: Reading,
    issues: &mut Vec<RowIssue>,
    stats: &mut SourceStats,
) -> Result<SortedMap<OrgKey, DesiredOrg>, SourceError> {
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

    let mut orgs = build::OrgRows::default();
    let mut rows = 0usize;
    let simple = reading == Reading::Simple;
    let mut rows_in = RowReader::new(&mut reader, text, header.names.len(), simple);
    loop {
        match rows_in.next(&mut record, None) {
            Ok(Next::End) => break,
            Ok(Next::Simple { line }) => {
                rows += 1;
                orgs.add(
                    issues,
                    line,
                    rows_in.cell(name_col),
                    rows_in.cell(agency_col),
                );
            }
            Ok(Next::Record) => {
                rows += 1;
                let line = line_of(text, &record);
                let name = field(&record, name_col, label, line)?;
                let agency = field(&record, agency_col, label, line)?;
                orgs.add(issues, line, name, agency);
            }
            Err(e) => return Err(csv_error(label, text, &e)),
        }
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
    Ok(orgs.finish())
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
    /// The name exactly as organizations.csv writes it (trimmed, in an [`OrgNameBuffer`]:
    /// the million and a half lookups of a big users.csv compare against a few compact
    /// megabytes, not strings scattered between the tree's nodes): the usual case, no
    /// lower-casing needed. Fx, not SipHash: the names come from the
    /// operator's own report and a million and a half lookups are on the hot path.
    exact: FxHashMap<&'a str, u32>,
    /// The key (trimmed, lower-cased): matches any case.
    folded: FxHashMap<&'a str, u32>,
}

impl<'a> OrgIndex<'a> {
    /// `names` is [`OrgNameBuffer::new`] of the same `orgs`.
    pub(super) fn new(orgs: &'a SortedMap<OrgKey, DesiredOrg>, names: &'a OrgNameBuffer) -> Self {
        let mut index = OrgIndex {
            exact: FxHashMap::with_capacity_and_hasher(orgs.len(), Default::default()),
            folded: FxHashMap::with_capacity_and_hasher(orgs.len(), Default::default()),
        };
        for (i, key) in orgs.keys().enumerate() {
            let name = names.get(i);
            // Fewer than 2^32 organizations: the report is capped far below that size.
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            index.exact.insert(name, i);
            index.folded.insert(key.as_str(), i);
        }
        index
    }

    /// Shared by the two threads that read users.csv, hence `&self`: a name written in
    /// another case than organizations.csv's (rare) costs an allocation.
    pub(super) fn find(&self, name: &str) -> Option<u32> {
        if let Some(&i) = self.exact.get(name) {
            return Some(i);
        }
        // Same normalisation as `OrgKey::new` (the name is already trimmed).
        let folded = if name.is_ascii() {
            name.to_ascii_lowercase()
        } else {
            name.to_lowercase()
        };
        self.folded.get(folded.as_str()).copied()
    }
}

/// Where to split users.csv between two threads.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(test), allow(dead_code))]
pub(super) enum Split {
    /// Near the middle, when the report is big enough and a second core is there.
    Auto,
    /// One thread reads every row and resolves duplicates (the reference the tests
    /// compare the threaded parse with).
    Never,
    /// At the first line that starts at or after this byte offset (after a BOM), if any:
    /// tests choose it to put the split anywhere, including inside a quoted field.
    Near(usize),
}

/// How the reports' rows are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(test), allow(dead_code))]
pub(super) enum Reading {
    /// A row that is one line of plain fields ([`simple_row`]) is split here; any other
    /// by the CSV reader.
    Simple,
    /// Every row by the CSV reader (the reference the tests compare with).
    Csv,
}

/// Below this size a second thread costs more than it saves.
const SPLIT_MIN_BYTES: usize = 1 << 20;

/// The columns of users.csv that the parser reads.
#[derive(Clone, Copy)]
struct Columns {
    id: usize,
    email: usize,
    organizations: usize,
    details: usize,
    /// Fields in the header: every row has this many.
    width: usize,
    /// Whether simple rows are split without the CSV reader ([`Reading::Simple`]).
    simple_rows: bool,
}

/// What the rows of users.csv (all of them, or one part) give before duplicates are
/// resolved. Two parts read on two threads are appended in file order.
#[derive(Default)]
struct UserRows {
    candidates: Vec<Candidate>,
    /// The candidates of the part of the file after this one, once appended: a second
    /// sorted run, merged with `candidates` while duplicates are resolved (on two threads)
    /// rather than here (on one).
    later: Vec<Candidate>,
    memberships: Memberships,
    protected_emails: BTreeSet<EmailKey>,
    protected_external_ids: BTreeSet<String>,
    issues: Vec<RowIssue>,
    rows: usize,
    without_organization: usize,
    /// Rows with organizations but no sign-in email (counted, not a row problem).
    without_identity: usize,
    /// Byte ranges of the organization names in the current row's Organizations cell
    /// (ranges, not `&str`, so the buffer outlives the reused record).
    names: Vec<(usize, usize)>,
    /// (index into `names`, role) of the current row.
    pairs: Vec<(usize, Role)>,
}

impl UserRows {
    fn with_capacity(bytes: usize) -> Self {
        UserRows {
            candidates: Vec::with_capacity(Self::rows_in(bytes)),
            memberships: Vec::with_capacity(Self::memberships_in(bytes)),
            ..UserRows::default()
        }
    }

    /// Rough room for the rows of `bytes` of users.csv (Pages rows are ~150 bytes), and
    /// for their roles: enough to avoid most regrowth.
    fn rows_in(bytes: usize) -> usize {
        bytes / 160 + 16
    }

    fn memberships_in(bytes: usize) -> usize {
        Self::rows_in(bytes) * 3 / 2
    }

    /// Sorts the candidates by email, then line (lines are unique, so the order is total
    /// and an unstable sort exact): within an email, the first row comes first.
    fn sort(&mut self) {
        self.candidates.sort_unstable_by(candidate_order);
    }

    /// Moves every line number on by `lines` (a part read from the middle of the file
    /// counts its lines from its own top). Keeps the sort order.
    fn move_lines(&mut self, lines: u64) {
        for candidate in &mut self.candidates {
            candidate.line += lines;
        }
        for issue in &mut self.issues {
            issue.line += lines;
        }
    }

    /// Appends the rows of the part of the file after this one (both sorted, this one
    /// without `later` rows of its own): its candidates become the second sorted run.
    fn append(&mut self, later: UserRows) {
        let offset = self.memberships.len();
        self.memberships.extend_from_slice(&later.memberships);
        self.later = later.candidates;
        for c in &mut self.later {
            c.roles = c.roles.start + offset..c.roles.end + offset;
        }
        self.protected_emails.extend(later.protected_emails);
        self.protected_external_ids
            .extend(later.protected_external_ids);
        self.issues.extend(later.issues);
        self.rows += later.rows;
        self.without_organization += later.without_organization;
        self.without_identity += later.without_identity;
    }
}

pub(super) fn candidate_order(a: &Candidate, b: &Candidate) -> std::cmp::Ordering {
    a.prefix
        .cmp(&b.prefix)
        .then_with(|| a.email.cmp(&b.email))
        .then(a.line.cmp(&b.line))
}

/// How reading a part of users.csv ended.
#[derive(PartialEq, Eq)]
enum Ended {
    /// At the end of the file.
    Eof,
    /// A record starts exactly at the split offset: the other thread's part begins there.
    AtSplit,
}

fn parse_users(
    users: Users<'_>,
    label: &str,
    orgs: &SortedMap<OrgKey, DesiredOrg>,
    policy: &Policy,
    (split, reading): (Split, Reading),
    issues: &mut Vec<RowIssue>,
    stats: &mut SourceStats,
) -> Result<(ParsedUsers, bool), SourceError> {
    let two_cores = two_cores();
    // The organizations' index does not depend on users.csv: for a big report not yet
    // checked, it is built while this thread checks the encoding (two passes over it, tens
    // of ms).
    let org_names = OrgNameBuffer::new(orgs.values());
    let (text, org_index) = match users {
        Users::Checked(text) => (Ok(text), OrgIndex::new(orgs, &org_names)),
        Users::Bytes(bytes) => join_if(
            two_cores && bytes.len() >= SPLIT_MIN_BYTES,
            || check_encoding(bytes, label),
            || OrgIndex::new(orgs, &org_names),
        ),
    };
    let text = text?;
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
    let columns = Columns {
        id: header.require(USER_ID, label)?,
        email: header.require(USER_EMAIL, label)?,
        organizations: header.require(USER_ORGANIZATIONS, label)?,
        details: header.require(USER_DETAILS, label)?,
        width: header.names.len(),
        simple_rows: reading == Reading::Simple,
    };
    let split_at = match split {
        Split::Never => None,
        Split::Auto if !two_cores || text.len() < SPLIT_MIN_BYTES => None,
        Split::Auto => split_point(text, text.len() / 2),
        Split::Near(offset) => split_point(text, offset),
    };

    let (mut rows, two_threads) = match split_at {
        None => {
            let mut rows = UserRows::with_capacity(text.len());
            read_user_rows(
                &mut reader,
                &mut record,
                text,
                0,
                None,
                columns,
                &org_index,
                policy,
                &mut rows,
            )
            .map_err(|e| rows_error(label, text, &e))?;
            rows.sort();
            (rows, false)
        }
        Some(at) => {
            read_in_two_parts(reader, record, text, at, label, columns, &org_index, policy)?
        }
    };
    if rows.rows == 0 {
        return Err(error(
            label,
            None,
            None,
            "has a header row but no data rows".into(),
        ));
    }
    stats.user_rows = rows.rows;
    stats.users_without_organization += rows.without_organization;
    stats.users_without_identity += rows.without_identity;
    issues.append(&mut rows.issues);

    let mut protected_external_ids = rows.protected_external_ids;
    let users = resolve_duplicates(
        rows.candidates,
        rows.later,
        !matches!(split, Split::Never),
        &rows.memberships,
        policy,
        issues,
        &mut protected_external_ids,
        stats,
    );
    Ok((
        ParsedUsers {
            users,
            protected_emails: rows.protected_emails,
            protected_external_ids,
        },
        two_threads,
    ))
}

/// The first offset after `near` where a line starts with a byte that begins a record
/// (not a line break, ASCII), or `None`. Whether a record really starts there (and not
/// inside a quoted field that spans lines) is not known here: the first thread, reading
/// the file from the top with the CSV state machine, finds out when it gets there.
fn split_point(text: &str, near: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let newline = bytes.get(near..)?.iter().position(|&b| b == b'\n')? + near;
    let at = newline + 1;
    let start = at + bytes[at..].iter().position(|&b| b != b'\n' && b != b'\r')?;
    bytes[start].is_ascii().then_some(start)
}

/// Reads users.csv on two threads: this one from the top up to `at`, another from `at`
/// to the end, speculatively. The second part is kept only if the first thread's reader,
/// which carries the CSV state (quotes) from the top of the file, has a record starting
/// exactly at `at`; from a record start the reader's state is the same as a fresh
/// reader's, so both parts then give exactly the rows one reader would. Otherwise (`at`
/// was inside a quoted field) or if the second part met a CSV error, the first thread
/// reads on to the end, so errors and their lines are always the one reader's.
#[allow(clippy::too_many_arguments)]
fn read_in_two_parts(
    mut reader: csv::Reader<Cursor<'_>>,
    mut record: ByteRecord,
    text: &str,
    at: usize,
    label: &str,
    columns: Columns,
    org_index: &OrgIndex<'_>,
    policy: &Policy,
) -> Result<(UserRows, bool), SourceError> {
    let (first, second) = std::thread::scope(|scope| {
        let second = scope.spawn(|| {
            let part = &text[at..];
            // Lines are counted from the top of this part; they are moved on by the lines
            // before it once the first thread knows the line where the part starts.
            let mut rows = UserRows::with_capacity(part.len());
            let mut reader = self::reader(part);
            let mut record = ByteRecord::new();
            read_user_rows(
                &mut reader,
                &mut record,
                part,
                0,
                None,
                columns,
                org_index,
                policy,
                &mut rows,
            )
            .ok()?;
            rows.sort();
            Some(rows)
        });
        let mut rows = UserRows::with_capacity(at);
        // Room for the second part's roles too: appended without moving these.
        rows.memberships
            .reserve(UserRows::memberships_in(text.len()));
        let ended = read_user_rows(
            &mut reader,
            &mut record,
            text,
            0,
            Some(at),
            columns,
            org_index,
            policy,
            &mut rows,
        );
        if matches!(ended, Ok(Ended::AtSplit)) {
            // While the other thread may still be reading (sorting again is harmless if
            // this thread has to read on).
            rows.sort();
        }
        // A panic in the second thread is not expected; it would be this one's bug too.
        let second = second.join().unwrap_or(None);
        (ended.map(|ended| (ended, rows)), second)
    });
    let (ended, mut rows) = first.map_err(|e| rows_error(label, text, &e))?;
    match (ended, second) {
        (Ended::AtSplit, Some(mut second)) => {
            // The record at the split is the second part's line 1.
            second.move_lines(line_of(text, &record).saturating_sub(1));
            rows.append(second);
            Ok((rows, true))
        }
        (ended, _) => {
            if ended == Ended::AtSplit {
                // The second part failed: read it here, where errors get their true lines.
                rows.rows += 1;
                let line = line_of(text, &record);
                record_cells(&record, line)
                    .and_then(|cell| {
                        add_user_cells(cell, line, columns, org_index, policy, &mut rows)
                    })
                    .map_err(|e| rows_error(label, text, &e))?;
                read_user_rows(
                    &mut reader,
                    &mut record,
                    text,
                    0,
                    None,
                    columns,
                    org_index,
                    policy,
                    &mut rows,
                )
                .map_err(|e| rows_error(label, text, &e))?;
            }
            rows.sort();
            Ok((rows, false))
        }
    }
}

/// Reads rows of users.csv into `rows` until the end, or until a record starts exactly
/// at byte `stop_at` of `text` (that record is read but not added, and left in `record`).
/// `text` is what the reader reads; `lines_before` the lines of the file before it.
/// Simple rows are split in place, the others read by the reader ([`RowReader`]).
#[allow(clippy::too_many_arguments)]
fn read_user_rows(
    reader: &mut csv::Reader<Cursor<'_>>,
    record: &mut ByteRecord,
    text: &str,
    lines_before: u64,
    stop_at: Option<usize>,
    columns: Columns,
    org_index: &OrgIndex<'_>,
    policy: &Policy,
    rows: &mut UserRows,
) -> Result<Ended, RowsError> {
    let mut rows_in = RowReader::new(reader, text, columns.width, columns.simple_rows);
    loop {
        match rows_in.next(record, stop_at)? {
            Next::End => return Ok(Ended::Eof),
            Next::Simple { line } => {
                rows.rows += 1;
                let line = lines_before + line;
                let cell = |index: usize| Ok(rows_in.cell(index));
                add_user_cells(cell, line, columns, org_index, policy, rows)?;
            }
            Next::Record => {
                if let Some(stop_at) = stop_at {
                    if record_start(text, record) == stop_at {
                        return Ok(Ended::AtSplit);
                    }
                }
                if record.len() != columns.width {
                    // Only a part that does not start at the top can get here (the reader
                    // compares with its own first row): the caller reads that part again.
                    return Err(csv::Error::from(std::io::Error::other("unequal lengths")).into());
                }
                rows.rows += 1;
                let line = lines_before + line_of(text, record);
                add_user_cells(
                    record_cells(record, line)?,
                    line,
                    columns,
                    org_index,
                    policy,
                    rows,
                )?;
            }
        }
    }
}

/// The rows of a report after its header, in file order: a simple row ([`simple_row`]:
/// nearly every row of a Pages report) split here, its cells read in place in the text;
/// any other row (a quote inside a field, a line break inside quotes, a blank line, a row
/// of the wrong width) read by the CSV reader, sought to where the row starts, exactly as
/// if it had read every row: its line numbers, record counts and errors are the reader's.
/// A property test compares both ways on such files.
struct RowReader<'r, 'c, 't> {
    reader: &'r mut csv::Reader<Cursor<'c>>,
    text: &'t str,
    width: usize,
    /// Whether simple rows are split here ([`Reading::Simple`]).
    simple: bool,
    /// Where the next row starts (or the line breaks before it), as the reader counts.
    at: csv::Position,
    /// The fields of the last simple row, as byte ranges in `text`.
    fields: Vec<(usize, usize)>,
}

/// What [`RowReader::next`] found.
enum Next {
    /// A simple row (its cells: [`RowReader::cell`]), starting on line `line`.
    Simple {
        line: u64,
    },
    /// A row the reader read into the record.
    Record,
    End,
}

impl<'r, 'c, 't> RowReader<'r, 'c, 't> {
    fn new(
        reader: &'r mut csv::Reader<Cursor<'c>>,
        text: &'t str,
        width: usize,
        simple: bool,
    ) -> Self {
        let at = reader.position().clone();
        RowReader {
            reader,
            text,
            width,
            simple,
            at,
            fields: Vec::with_capacity(width),
        }
    }

    /// The next row; one that starts at byte `to_reader` is always read by the reader.
    fn next(&mut self, record: &mut ByteRecord, to_reader: Option<usize>) -> csv::Result<Next> {
        let start = usize::try_from(self.at.byte()).unwrap_or(usize::MAX);
        if self.simple && to_reader != Some(start) {
            if let Some(next) = simple_row(self.text, start, self.width, &mut self.fields) {
                let line = self.at.line();
                // One line, one record on.
                let record_count = self.at.record() + 1;
                self.at
                    .set_byte(next as u64)
                    .set_line(line + 1)
                    .set_record(record_count);
                return Ok(Next::Simple { line });
            }
        }
        if self.reader.position().byte() != self.at.byte() {
            self.reader.seek(self.at.clone())?;
        }
        let more = self.reader.read_byte_record(record)?;
        self.at = self.reader.position().clone();
        Ok(if more { Next::Record } else { Next::End })
    }

    /// Field `index` of the last simple row ("" past its end).
    fn cell(&self, index: usize) -> &'t str {
        let (from, to) = self.fields.get(index).copied().unwrap_or_default();
        // Ranges split at ASCII bytes of a checked text: always within it.
        self.text.get(from..to).unwrap_or_default()
    }
}

/// The fields (byte ranges in `text`) of the row starting at `start`, and where the next
/// row starts, if the row is one line of plain fields: each either unquoted without a
/// quote, or quoted without a quote inside and followed by a comma or the line's end; no
/// carriage return but a line's final `\r\n`; exactly `width` fields. Such a row is read
/// by the CSV reader into exactly these fields; for any other, `None`.
fn simple_row(
    text: &str,
    start: usize,
    width: usize,
    fields: &mut Vec<(usize, usize)>,
) -> Option<usize> {
    let bytes = text.as_bytes();
    if matches!(bytes.get(start), None | Some(b'\r' | b'\n')) {
        return None;
    }
    let (mut end, next) = match memchr::memchr(b'\n', &bytes[start..]) {
        Some(n) => (start + n, start + n + 1),
        None => (bytes.len(), bytes.len()),
    };
    if bytes[..end].ends_with(b"\r") {
        end -= 1;
    }
    if memchr::memchr(b'\r', &bytes[start..end]).is_some() {
        return None;
    }
    fields.clear();
    let mut at = start;
    loop {
        if bytes.get(at) == Some(&b'"') && at < end {
            let close = at + 1 + memchr::memchr(b'"', &bytes[at + 1..end])?;
            fields.push((at + 1, close));
            match bytes.get(close + 1) {
                _ if close + 1 == end => break,
                Some(b',') => at = close + 2,
                _ => return None,
            }
        } else {
            let stop = memchr::memchr2(b',', b'"', &bytes[at..end]).map_or(end, |n| at + n);
            if stop < end && bytes[stop] == b'"' {
                return None;
            }
            fields.push((at, stop));
            if stop == end {
                break;
            }
            at = stop + 1;
        }
        if fields.len() > width {
            return None;
        }
    }
    (fields.len() == width).then_some(next)
}

/// The byte offset of a record's first byte (csv's position can be at line breaks
/// skipped before it, as in [`physical_line`]).
fn record_start(text: &str, record: &ByteRecord) -> usize {
    let at = record.position().map_or(0, |p| {
        usize::try_from(p.byte())
            .unwrap_or(usize::MAX)
            .min(text.len())
    });
    at + text.as_bytes()[at..]
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count()
}

/// The cells of a record the CSV reader read (`cell(i)`, the `i`th field's text), for
/// [`add_user_cells`]. One check of the whole record (its fields side by side) rather
/// than one per cell.
fn record_cells<'r>(
    record: &'r ByteRecord,
    line: u64,
) -> Result<impl Fn(usize) -> Result<&'r str, RowsError> + 'r, RowsError> {
    let fields = std::str::from_utf8(record.as_slice()).map_err(|_| RowsError::Utf8 { line })?;
    Ok(move |index: usize| match record.range(index) {
        None => Ok(""),
        Some(range) => fields.get(range).ok_or(RowsError::Utf8 { line }),
    })
}

/// One data row of users.csv, given by its cells (`cell(i)`, the `i`th field's text): a
/// candidate user, or a row issue, or a count.
fn add_user_cells<'c>(
    cell: impl Fn(usize) -> Result<&'c str, RowsError>,
    line: u64,
    columns: Columns,
    org_index: &OrgIndex<'_>,
    policy: &Policy,
    rows: &mut UserRows,
) -> Result<(), RowsError> {
    let organizations = cell(columns.organizations)?;
    let UserRows {
        candidates,
        memberships,
        protected_emails,
        protected_external_ids,
        issues,
        without_organization,
        without_identity,
        names,
        pairs,
        ..
    } = rows;
    name_spans(organizations, names);
    if names.is_empty() {
        // Not a partner user (docs/design.md "Pages data"): counted, not an issue.
        *without_organization += 1;
        return Ok(());
    }
    let email = EmailKey::parse(cell(columns.email)?);
    let id = cell(columns.id)?.trim().parse::<u64>().ok();
    if matches!(email, Err(crate::model::InvalidEmail::Empty)) {
        // No sign-in identity (docs/design.md "Pages data"): counted, never a row problem;
        // a Zendesk user already stamped with this Pages id keeps its memberships.
        *without_identity += 1;
        if let Some(id) = id {
            protected_external_ids.insert(policy.external_id(id));
        }
        return Ok(());
    }
    let details = cell(columns.details)?;

    let problem = match &email {
        Err(reason) => Some(RowProblem::InvalidEmail { reason: *reason }),
        Ok(_) if id.is_none() => Some(RowProblem::InvalidId),
        Ok(_) => walk_details(organizations, names, details, pairs).err(),
    };
    let start = memberships.len();
    let problem = problem
        .or_else(|| add_memberships(organizations, names, pairs, org_index, memberships).err());
    match (problem, email, id) {
        (None, Ok(email), Some(pages_id)) => candidates.push(Candidate {
            prefix: sort_prefix(&email),
            email,
            pages_id,
            line,
            roles: start..memberships.len(),
        }),
        (problem, email, id) => {
            memberships.truncate(start);
            // A bad row must not cost data: whoever it names keeps their memberships.
            if let Ok(email) = email {
                protected_emails.insert(email);
            }
            if let Some(id) = id {
                protected_external_ids.insert(policy.external_id(id));
            }
            issues.push(RowIssue {
                report: ReportKind::Users,
                line,
                // `problem` is Some here: the arm above took every valid row.
                problem: problem.unwrap_or(RowProblem::DetailsMismatch),
            });
        }
    }
    Ok(())
}

/// Why reading rows of users.csv stopped short.
enum RowsError {
    Csv(csv::Error),
    /// Cannot happen: the text was checked to be UTF-8 and csv splits at ASCII bytes only;
    /// reported as the file error it would be rather than with `unsafe`.
    Utf8 {
        line: u64,
    },
}

impl From<csv::Error> for RowsError {
    fn from(e: csv::Error) -> Self {
        RowsError::Csv(e)
    }
}

fn rows_error(label: &str, text: &str, e: &RowsError) -> SourceError {
    match e {
        RowsError::Csv(e) => csv_error(label, text, e),
        RowsError::Utf8 { line } => {
            error(label, Some(*line), None, "is not valid UTF-8 text".into())
        }
    }
}

/// Appends one row's memberships, sorted by organization and without repeats.
/// On error the caller truncates the arena back to where the row started.
fn add_memberships(
    organizations: &str,
    names: &[(usize, usize)],
    pairs: &[(usize, Role)],
    org_index: &OrgIndex<'_>,
    memberships: &mut Memberships,
) -> Result<(), RowProblem> {
    let start = memberships.len();
    for &(index, role) in pairs {
        let (from, to) = names[index];
        let org = org_index
            .find(&organizations[from..to])
            .ok_or(RowProblem::UnknownOrganization)?;
        memberships.push((org, role));
    }
    close_memberships(memberships, start)
}

/// Ends a row whose memberships were pushed from `start` on: sorts them by organization
/// and drops repeats; the same organization with two roles is a row problem. Shared by
/// both sources.
pub(super) fn close_memberships(
    memberships: &mut Memberships,
    start: usize,
) -> Result<(), RowProblem> {
    let row = &mut memberships[start..];
    row.sort_unstable();
    // The same organization twice with two roles cannot be resolved.
    if row.windows(2).any(|w| w[0].0 == w[1].0 && w[0].1 != w[1].1) {
        return Err(RowProblem::DetailsMismatch);
    }
    let mut kept = start;
    for read in start..memberships.len() {
        if read == start || memberships[read] != memberships[kept - 1] {
            memberships[kept] = memberships[read];
            kept += 1;
        }
    }
    memberships.truncate(kept);
    Ok(())
}

fn sort_prefix(email: &EmailKey) -> u128 {
    let mut bytes = [0u8; 16];
    let text = email.as_str().as_bytes();
    let n = text.len().min(16);
    bytes[..n].copy_from_slice(&text[..n]);
    u128::from_be_bytes(bytes)
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
///
/// `earlier` and `later` are two runs of candidates (the two parts of users.csv; `later`
/// may be empty), each sorted by [`candidate_order`], every line of `earlier` before
/// every line of `later`. They are merged as they are resolved, on two threads for a big
/// report (`threads: false` keeps it on this one): each thread takes the emails below, or
/// from, the candidate in the middle of both runs together, so that all rows of one email
/// meet on one thread; their users are concatenated in email order.
#[allow(clippy::too_many_arguments)]
pub(super) fn resolve_duplicates(
    mut earlier: Vec<Candidate>,
    mut later: Vec<Candidate>,
    threads: bool,
    memberships: &[(u32, Role)],
    policy: &Policy,
    issues: &mut Vec<RowIssue>,
    protected_external_ids: &mut BTreeSet<String>,
    stats: &mut SourceStats,
) -> SortedMap<EmailKey, DesiredUser> {
    let two_cores = two_cores();
    // The candidate in the middle of both runs together (the runs need not look alike:
    // in a file in id order, each part can hold its own range of emails). Any candidate
    // would give the same users; the middle one gives each thread half the work.
    let (i, j) = taken_below(&earlier, &later, (earlier.len() + later.len()) / 2);
    let middle = match (earlier.get(i), later.get(j)) {
        (Some(a), Some(b)) => Some(if candidate_order(b, a).is_lt() { b } else { a }),
        (a, b) => a.or(b),
    };
    let pivot = middle
        .filter(|_| threads && two_cores && earlier.len() + later.len() >= SPLIT_MIN_USERS)
        .map(|c| (c.prefix, c.email.clone()));
    let mut first = if let Some(pivot) = pivot {
        let below = |c: &Candidate| (c.prefix, &c.email) < (pivot.0, &pivot.1);
        let earlier_from = earlier.split_off(earlier.partition_point(below));
        let later_from = later.split_off(later.partition_point(below));
        let total = earlier.len() + later.len() + earlier_from.len() + later_from.len();
        let (mut first, second) = crate::threads::join(
            || resolve_run(Merge::new(earlier, later, memberships), total, policy),
            || resolve_run(Merge::new(earlier_from, later_from, memberships), 0, policy),
        );
        first.append(second);
        first
    } else {
        resolve_run(Merge::new(earlier, later, memberships), 0, policy)
    };
    issues.append(&mut first.issues);
    protected_external_ids.append(&mut first.protected_external_ids);
    stats.memberships += first.memberships;
    stats.managers += first.managers;
    // Sorted by email and unique by construction: the runs were sorted, split at one
    // email and merged, and every email's candidates resolved into one user. The order is
    // still checked as the users came out (each against the one before, by prefix first):
    // lookups by email must never silently miss. Should it ever fail, sorting (the last
    // of equal emails kept, as a map would) gives what the B-tree used to.
    if first.in_order {
        SortedMap::from_sorted(first.users)
    } else {
        first.users.into_iter().collect()
    }
}

/// How many of the `k` first candidates of two sorted runs merged come from each run:
/// (i, j) with i + j = k, such that every candidate taken precedes every one left.
fn taken_below(first: &[Candidate], second: &[Candidate], k: usize) -> (usize, usize) {
    let (mut low, mut high) = (k.saturating_sub(second.len()), k.min(first.len()));
    while low < high {
        let i = (low + high) / 2;
        let j = k - i;
        // first[i] precedes the last candidate taken from `second`: take more of `first`.
        if j > 0 && candidate_order(&first[i], &second[j - 1]).is_lt() {
            low = i + 1;
        } else {
            high = i;
        }
    }
    (low, k - low)
}

/// Two runs of candidates sorted by [`candidate_order`], as one run in that order
/// (on equal candidates, which cannot occur since lines differ, the first run's first).
///
/// Candidates are in email order, their roles (in the arena) and emails' texts in file
/// order: as a candidate is taken, the memory of the one [`AHEAD`] places on in its run is
/// asked for ([`prefetch`]), so that resolving it does not wait.
struct Merge<'m> {
    first: std::vec::IntoIter<Candidate>,
    second: std::vec::IntoIter<Candidate>,
    memberships: &'m [(u32, Role)],
}

impl<'m> Merge<'m> {
    fn new(first: Vec<Candidate>, second: Vec<Candidate>, memberships: &'m [(u32, Role)]) -> Self {
        Merge {
            first: first.into_iter(),
            second: second.into_iter(),
            memberships,
        }
    }

    /// The next candidate of `run`, having warmed the memory of the one `AHEAD` after it.
    fn take(
        run: &mut std::vec::IntoIter<Candidate>,
        memberships: &[(u32, Role)],
    ) -> Option<Candidate> {
        if let Some(ahead) = run.as_slice().get(AHEAD) {
            prefetch(ahead.email.as_str());
            if let Some(roles) = memberships.get(ahead.roles.start) {
                prefetch(roles);
            }
        }
        run.next()
    }
}

impl Iterator for Merge<'_> {
    type Item = Candidate;

    fn next(&mut self) -> Option<Candidate> {
        let from_second = match (
            self.first.as_slice().first(),
            self.second.as_slice().first(),
        ) {
            (Some(a), Some(b)) => candidate_order(a, b).is_gt(),
            (Some(_), None) => false,
            (None, _) => true,
        };
        if from_second {
            Merge::take(&mut self.second, self.memberships)
        } else {
            Merge::take(&mut self.first, self.memberships)
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let len = self.first.len() + self.second.len();
        (len, Some(len))
    }
}

/// Below this many candidates, resolving on one thread is quicker.
pub(super) const SPLIT_MIN_USERS: usize = 20_000;

/// What resolving a run of candidates gives.
struct Resolved {
    users: Vec<(EmailKey, DesiredUser)>,
    /// Whether every user's email is greater than the one before it.
    in_order: bool,
    issues: Vec<RowIssue>,
    protected_external_ids: BTreeSet<String>,
    memberships: usize,
    managers: usize,
}

impl Resolved {
    fn append(&mut self, mut later: Resolved) {
        self.in_order &= later.in_order
            && match (self.users.last(), later.users.first()) {
                (Some((last, _)), Some((next, _))) => last < next,
                _ => true,
            };
        self.users.append(&mut later.users);
        self.issues.append(&mut later.issues);
        self.protected_external_ids
            .append(&mut later.protected_external_ids);
        self.memberships += later.memberships;
        self.managers += later.managers;
    }
}

/// `capacity`: users to make room for (the first of two parts makes room for both, so
/// that appending the second copies it once instead of moving both into a bigger vector).
fn resolve_run(candidates: Merge<'_>, capacity: usize, policy: &Policy) -> Resolved {
    let memberships = candidates.memberships;
    let mut out = Resolved {
        users: Vec::with_capacity(capacity.max(candidates.size_hint().0)),
        in_order: true,
        issues: Vec::new(),
        protected_external_ids: BTreeSet::new(),
        memberships: 0,
        managers: 0,
    };
    let mut roles: Vec<(u32, Role)> = Vec::new();
    let mut candidates = candidates.peekable();
    // The prefix of the last user's email (see `Candidate::prefix`).
    let mut last_prefix = 0;
    while let Some(first) = candidates.next() {
        roles.clear();
        roles.extend_from_slice(&memberships[first.roles.clone()]);
        // The prefixes first: two different emails nearly always differ there, and the
        // texts (scattered on the heap, in file order) are then never read.
        while let Some(later) =
            candidates.next_if(|c| c.prefix == first.prefix && c.email == first.email)
        {
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
                out.protected_external_ids
                    .insert(policy.external_id(later.pages_id));
            }
            out.issues.push(RowIssue {
                report: ReportKind::Users,
                line: later.line,
                problem,
            });
        }
        // `org` came from the index built over the same keys, in key order: the pairs
        // come out sorted, positions in the organizations as `DesiredState` holds them.
        let user = DesiredUser {
            pages_id: first.pages_id,
            email: first.email.clone(),
            roles: Roles::from_sorted(&roles),
            line: first.line,
        };
        // Counted here, while the user is at hand, not in more passes over the tree.
        out.memberships += user.roles.len();
        out.managers += usize::from(user.is_manager());
        if let Some((last, _)) = out.users.last() {
            out.in_order &= (last_prefix, last) < (first.prefix, &first.email);
        }
        last_prefix = first.prefix;
        out.users.push((first.email, user));
    }
    out
}
