//! The builder both Pages sources share (the parsed reports and the database's typed
//! rows): an organization row kept or refused, a users row kept or refused (protecting
//! whoever it names), users without a sign-in identity counted, duplicates resolved, and
//! the desired state assembled. One set of rules, so both sources yield the same desired
//! state for the same data.
//!
//! Must never: do I/O, log, or put a value (email, name, organization) into an issue.

use std::collections::hash_map::Entry;
use std::collections::BTreeSet;

use rustc_hash::FxHashMap;

use super::parse::{
    candidate_order, close_memberships, resolve_duplicates, Candidate, Memberships,
};
use super::{ReportKind, Reports, RowIssue, RowProblem, SourceStats};
use crate::config::Policy;
use crate::model::{DesiredOrg, DesiredState, DesiredUser, EmailKey, OrgKey, SortedMap};

/// The last step of both sources (reports and database): the desired state and its counts.
pub(super) fn assemble(
    orgs: SortedMap<OrgKey, DesiredOrg>,
    users: ParsedUsers,
    mut issues: Vec<RowIssue>,
    mut stats: SourceStats,
) -> Reports {
    issues.sort();
    stats.partner_users = users.users.len();
    Reports {
        desired: DesiredState {
            // In key order already: users' roles name organizations by these positions.
            orgs,
            users: users.users,
            protected_emails: users.protected_emails,
            protected_external_ids: users.protected_external_ids,
        },
        issues,
        stats,
    }
}

/// The organization rows of either source, as they are kept: the first row of each name
/// (ignoring case), in row order, sorted by key once at the end. One hash lookup per row
/// and one bulk build of the tree, instead of a tree insert per row (a tenth of a second
/// at 100,000 organizations, on the critical path of every run).
#[derive(Default)]
pub(super) struct OrgRows {
    kept: Vec<(OrgKey, DesiredOrg)>,
    /// Key → line of its first row. Fx, not SipHash: the names are the operator's own
    /// report or database, not an attacker's input.
    first_lines: FxHashMap<OrgKey, u64>,
}

impl OrgRows {
    /// One organization row: kept, or a row issue (empty name; the same name ignoring case
    /// as an earlier row).
    pub(super) fn add(&mut self, issues: &mut Vec<RowIssue>, line: u64, name: &str, agency: &str) {
        let (name, agency) = (name.trim(), agency.trim());
        let Some(key) = OrgKey::new(name) else {
            issues.push(RowIssue {
                report: ReportKind::Organizations,
                line,
                problem: RowProblem::EmptyOrganizationName,
            });
            return;
        };
        match self.first_lines.entry(key) {
            Entry::Occupied(first) => issues.push(RowIssue {
                report: ReportKind::Organizations,
                line,
                problem: RowProblem::DuplicateOrganization {
                    first_line: *first.get(),
                },
            }),
            Entry::Vacant(slot) => {
                self.kept.push((
                    slot.key().clone(),
                    DesiredOrg {
                        name: name.to_string(),
                        details: agency.to_string(),
                    },
                ));
                slot.insert(line);
            }
        }
    }

    /// The organizations kept, by key.
    pub(super) fn finish(mut self) -> SortedMap<OrgKey, DesiredOrg> {
        // Keys are unique (the hash map saw to it): an unstable sort is exact.
        self.kept.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        SortedMap::from_sorted(self.kept)
    }
}

pub(super) struct ParsedUsers {
    pub(super) users: SortedMap<EmailKey, DesiredUser>,
    pub(super) protected_emails: BTreeSet<EmailKey>,
    pub(super) protected_external_ids: BTreeSet<String>,
}

/// The users rows of either source, after each row's own checks: the valid rows
/// (candidates, their roles in one arena) and who a skipped row protects. Both sources
/// build the desired state through this, so they agree on every rule.
pub(super) struct UserRows {
    pub(super) candidates: Vec<Candidate>,
    pub(super) memberships: Memberships,
    pub(super) protected_emails: BTreeSet<EmailKey>,
    pub(super) protected_external_ids: BTreeSet<String>,
}

impl UserRows {
    pub(super) fn with_capacity(rows: usize) -> Self {
        UserRows {
            candidates: Vec::with_capacity(rows),
            memberships: Vec::with_capacity(rows + rows / 2),
            protected_emails: BTreeSet::new(),
            protected_external_ids: BTreeSet::new(),
        }
    }

    /// A user with organizations but no sign-in email (docs/design.md "Pages data"): not a
    /// row problem, only counted. Such a user cannot be matched by email, and a Zendesk
    /// user already stamped with its Pages id keeps its memberships.
    pub(super) fn without_identity(
        &mut self,
        id: Option<u64>,
        policy: &Policy,
        stats: &mut SourceStats,
    ) {
        stats.users_without_identity += 1;
        if let Some(id) = id {
            self.protected_external_ids.insert(policy.external_id(id));
        }
    }

    /// Ends a row whose memberships were pushed from `start` on (see
    /// [`super::parse::close_memberships`]).
    pub(super) fn close_memberships(&mut self, start: usize) -> Result<(), RowProblem> {
        close_memberships(&mut self.memberships, start)
    }

    /// Keeps a valid row (its memberships from `start` on), or records its problem and
    /// protects whoever it names.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn accept(
        &mut self,
        line: u64,
        problem: Option<RowProblem>,
        email: Result<EmailKey, crate::model::InvalidEmail>,
        id: Option<u64>,
        start: usize,
        policy: &Policy,
        issues: &mut Vec<RowIssue>,
    ) {
        match (problem, email, id) {
            (None, Ok(email), Some(pages_id)) => {
                let roles = start..self.memberships.len();
                self.candidates
                    .push(Candidate::new(email, pages_id, line, roles));
            }
            (problem, email, id) => {
                self.memberships.truncate(start);
                // A bad row must not cost data: whoever it names keeps their memberships.
                if let Ok(email) = email {
                    self.protected_emails.insert(email);
                }
                if let Some(id) = id {
                    self.protected_external_ids.insert(policy.external_id(id));
                }
                issues.push(RowIssue {
                    report: ReportKind::Users,
                    line,
                    // `problem` is Some here: the arm above took every valid row.
                    problem: problem.unwrap_or(RowProblem::DetailsMismatch),
                });
            }
        }
    }

    /// Resolves rows with the same email and builds the users of the desired state.
    pub(super) fn finish(
        mut self,
        policy: &Policy,
        issues: &mut Vec<RowIssue>,
        stats: &mut SourceStats,
    ) -> ParsedUsers {
        // Duplicates are resolved over runs of one email: by email, then line.
        self.candidates.sort_unstable_by(candidate_order);
        let users = resolve_duplicates(
            self.candidates,
            Vec::new(),
            true,
            &self.memberships,
            policy,
            issues,
            &mut self.protected_external_ids,
            stats,
        );
        ParsedUsers {
            users,
            protected_emails: self.protected_emails,
            protected_external_ids: self.protected_external_ids,
        }
    }
}
