//! Figures every report derives from a [`RunSummary`]: change rows and their total,
//! failures by kind and in reading order, row and note counts, month-to-month deltas.
//!
//! Pure numbers: the words for them are in [`wording`](super::wording).

use std::collections::BTreeMap;

use crate::plan::{ChangeKind, NoteKind};
use crate::report::{FailureCount, RunSummary, Totals};
use crate::verify::Criterion;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeRow {
    pub kind: ChangeKind,
    pub planned: usize,
    pub applied: usize,
    pub failed: usize,
    pub skipped: usize,
}

/// One row per change kind with any non-zero count, in [`ChangeKind::ALL`] order.
pub fn change_rows(summary: &RunSummary) -> Vec<ChangeRow> {
    let failed = failed_by_kind(summary);
    ChangeKind::ALL
        .iter()
        .map(|&kind| ChangeRow {
            kind,
            planned: count(&summary.planned, kind),
            applied: count(&summary.applied, kind),
            failed: failed.get(&kind).copied().unwrap_or(0),
            skipped: count(&summary.skipped, kind),
        })
        .filter(|r| r.planned + r.applied + r.failed + r.skipped > 0)
        .collect()
}

pub fn change_total(rows: &[ChangeRow]) -> ChangeRow {
    rows.iter().fold(
        ChangeRow {
            kind: ChangeKind::CreateOrganization,
            planned: 0,
            applied: 0,
            failed: 0,
            skipped: 0,
        },
        |acc, r| ChangeRow {
            planned: acc.planned + r.planned,
            applied: acc.applied + r.applied,
            failed: acc.failed + r.failed,
            skipped: acc.skipped + r.skipped,
            ..acc
        },
    )
}

fn count<K: Ord>(map: &BTreeMap<K, usize>, key: K) -> usize {
    map.get(&key).copied().unwrap_or(0)
}

pub fn failed_by_kind(summary: &RunSummary) -> BTreeMap<ChangeKind, usize> {
    let mut out = BTreeMap::new();
    for f in &summary.failures {
        *out.entry(f.kind).or_default() += f.count;
    }
    out
}

/// Failures grouped by kind (in kind order), most frequent reason first, so a cut-off
/// list still shows what matters most.
pub fn sorted_failures(summary: &RunSummary) -> Vec<&FailureCount> {
    let mut out: Vec<&FailureCount> = summary.failures.iter().filter(|f| f.count > 0).collect();
    out.sort_by(|a, b| {
        a.kind
            .cmp(&b.kind)
            .then(b.count.cmp(&a.count))
            .then(a.reason.cmp(&b.reason))
    });
    out
}

/// Whether a criterion is a sub-item of another in the issue template's checklist.
pub fn is_child(criterion: Criterion) -> bool {
    Criterion::ALL
        .iter()
        .any(|p| p.children().contains(&criterion))
}

/// Rows the reports dropped (merged duplicates are not dropped).
pub fn skipped_rows(summary: &RunSummary) -> usize {
    summary
        .row_problems
        .iter()
        .filter(|(code, _)| **code != "duplicate_email_merged")
        .map(|(_, n)| n)
        .sum()
}

/// Notes that a person has to act on; the others are informational.
pub fn note_needs_person(kind: NoteKind) -> bool {
    matches!(
        kind,
        NoteKind::EmailOwnedByAnotherUser | NoteKind::ExternalIdOwnedByAnotherUser
    )
}

pub struct Delta {
    pub label: &'static str,
    pub previous: usize,
    pub current: usize,
}

pub fn deltas(current: &Totals, previous: &Totals) -> Vec<Delta> {
    let pairs = [
        (
            "Pages organizations",
            previous.pages_organizations,
            current.pages_organizations,
        ),
        (
            "Pages partner users",
            previous.pages_users,
            current.pages_users,
        ),
        (
            "Pages memberships",
            previous.pages_memberships,
            current.pages_memberships,
        ),
        (
            "Pages managers",
            previous.pages_managers,
            current.pages_managers,
        ),
        (
            "Zendesk organizations",
            previous.zendesk_organizations,
            current.zendesk_organizations,
        ),
        (
            "Zendesk memberships",
            previous.zendesk_memberships,
            current.zendesk_memberships,
        ),
    ];
    // Carry blocks written before Zendesk partner users were counted hold 0 for them.
    let users = (previous.zendesk_users > 0).then_some((
        "Zendesk partner users",
        previous.zendesk_users,
        current.zendesk_users,
    ));
    pairs
        .into_iter()
        .chain(users)
        .map(|(label, previous, current)| Delta {
            label,
            previous,
            current,
        })
        .collect()
}

/// `+2`, `−3` (with the given minus sign), `0`.
pub fn signed(delta: &Delta, minus: &str) -> String {
    use std::cmp::Ordering;
    match delta.current.cmp(&delta.previous) {
        Ordering::Greater => format!("+{}", delta.current - delta.previous),
        Ordering::Less => format!("{minus}{}", delta.previous - delta.current),
        Ordering::Equal => "0".into(),
    }
}

/// `12.5%` of a whole, or None for a zero whole.
pub fn percent(part: usize, whole: usize) -> Option<String> {
    (whole > 0).then(|| format!("{:.1}%", part as f64 * 100.0 / whole as f64))
}
