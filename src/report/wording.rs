//! The words every report shares: the status sentence, the guard's figures, the API
//! figures, durations, row-problem meanings, line lists, and the one way each thing is
//! said (one [`plural`], one [`NOTHING_WRITTEN`]).
//!
//! Pure: works from the public summary only, so it can never show an email or name.

use std::collections::BTreeMap;

use crate::report::figures::{change_rows, change_total, percent};
use crate::report::{Carry, JobStatus, RunSummary, MAX_LINES};
use crate::source::{ReportKind, SourceStats};
use crate::verify::MismatchKind;

/// How every report says that a run did not write to Zendesk.
pub const NOTHING_WRITTEN: &str = "nothing was written";

/// `s` with its first letter in upper case.
pub fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `1 record`, `3 records`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Keeps only characters that cannot start markdown or HTML (a month is `YYYY-MM`, but
/// the renderer must not trust that).
pub fn plain(s: &str, max_chars: usize) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ' ' | '_'))
        .take(max_chars)
        .collect()
}

/// `memberships missing: 3, memberships not in Pages: 1`, or `none`.
pub fn mismatch_text(mismatches: &BTreeMap<MismatchKind, usize>) -> String {
    let parts: Vec<String> = mismatches
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{}: {n}", k.label()))
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

/// The labels of the two row counts: the report files, or the database's tables.
pub fn source_row_labels(source: &SourceStats) -> (&'static str, &'static str) {
    if source.from_database {
        ("Pages organizations (database)", "Pages users (database)")
    } else {
        ("organizations.csv rows", "users.csv rows")
    }
}

/// Sentences about the Pages data that are not row problems, counts only: users with no
/// sign-in identity (nothing to fix in Pages, nothing to sync) and organizations the
/// configuration left out.
pub fn source_notes(source: &SourceStats) -> Vec<String> {
    let mut notes = Vec::new();
    match source.users_without_identity {
        0 => {}
        1 => notes.push(
            "1 Pages user has organizations but no sign-in identity; not synced.".to_string(),
        ),
        n => notes.push(format!(
            "{n} Pages users have organizations but no sign-in identity; not synced."
        )),
    }
    if let Some(n) = source.sandbox_organizations_left_out {
        notes.push(format!(
            "{n} sandbox organization(s) left out, with their memberships \
             (`pages.include_sandbox_organizations: false`)."
        ));
    }
    if let Some(n) = source.inactive_organizations_left_out {
        notes.push(format!(
            "{n} inactive organization(s) left out, with their memberships \
             (`pages.include_inactive_organizations: false`)."
        ));
    }
    notes
}

pub fn report_file(report: ReportKind) -> &'static str {
    match report {
        ReportKind::Organizations => "organizations.csv",
        ReportKind::Users => "users.csv",
    }
}

/// `users.csv lines 14, 88` — at most [`MAX_LINES`] numbers, then a pointer to the rest.
pub fn lines_text(report: ReportKind, lines: &[u64]) -> String {
    let shown: Vec<String> = lines.iter().take(MAX_LINES).map(u64::to_string).collect();
    let word = if lines.len() == 1 { "line" } else { "lines" };
    let mut out = format!("{} {word} {}", report_file(report), shown.join(", "));
    if lines.len() >= MAX_LINES {
        out.push_str(&format!(" (first {MAX_LINES} listed)"));
    }
    out
}

/// All line lists, `; `-separated, or None when there are none.
pub fn all_lines_text(summary: &RunSummary) -> Option<String> {
    let parts: Vec<String> = summary
        .row_lines
        .iter()
        .filter(|(_, l)| !l.is_empty())
        .map(|(r, l)| lines_text(*r, l))
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Words for a row-problem code; the code itself stays visible for grep and search.
pub fn row_problem_text(code: &str) -> &'static str {
    match code {
        "invalid_email" => "email is not a usable address",
        "missing_email" => "user has organizations but no email",
        "invalid_id" => "ID is not a whole number",
        "unknown_role" => "a role is neither manager nor user",
        "details_mismatch" => "Details does not follow the Organizations list",
        "unknown_organization" => "organization not in the organizations report",
        "duplicate_email_merged" => "same email as an earlier row; merged into it",
        "duplicate_email_conflict" => "same email as an earlier row with another role; skipped",
        "empty_organization_name" => "organization name is empty",
        "duplicate_organization" => "same organization as an earlier row; skipped",
        _ => "",
    }
}

/// The previous carry's month, made safe to print.
pub fn previous_month(previous: &Carry) -> String {
    plain(&previous.month, 20)
}

/// `850 ms`, `12.3 s`, `4 min 05 s`, `1 h 02 min`.
pub fn duration(ms: u64) -> String {
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{}.{} s", ms / 1_000, (ms % 1_000) / 100)
    } else if ms < 3_600_000 {
        let s = ms / 1_000;
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        let m = ms / 60_000;
        format!("{} h {:02} min", m / 60, m % 60)
    }
}

/// The guard's figures in words, for every report.
pub fn guard_removals_text(summary: &RunSummary) -> String {
    let g = &summary.guard;
    match percent(g.removals, g.managed_memberships) {
        Some(p) => format!(
            "{} of {} managed memberships ({p})",
            g.removals, g.managed_memberships
        ),
        None => format!("{} (no managed memberships yet)", g.removals),
    }
}

pub fn guard_users_text(summary: &RunSummary) -> String {
    let g = &summary.guard;
    match percent(g.report_users, g.zendesk_partner_users) {
        Some(p) => format!(
            "{} partner users in the report, {} in Zendesk ({p})",
            g.report_users, g.zendesk_partner_users
        ),
        None => format!(
            "{} partner users in the report, none in Zendesk yet",
            g.report_users
        ),
    }
}

/// The outcome as a lead ("Zendesk is in step with Pages.") and the figures after it.
pub fn status_parts(summary: &RunSummary) -> (String, String) {
    let verified = summary.criteria.iter().filter(|c| c.passed).count();
    let total = summary.criteria.len();
    let criteria = if total == 0 {
        "acceptance criteria not checked".to_string()
    } else {
        format!("{verified} of {total} acceptance criteria satisfied")
    };
    let rows = change_rows(summary);
    let t = change_total(&rows);
    let changes = if !summary.mode.plans() {
        String::new()
    } else if summary.guard_tripped {
        format!(
            "{} refused; ",
            plural(t.planned, "planned change", "planned changes")
        )
    } else if summary.would() {
        format!("{} would be made; ", plural(t.planned, "change", "changes"))
    } else {
        format!(
            "{} of {} applied, {} failed; ",
            t.applied,
            plural(t.planned, "planned change", "planned changes"),
            t.failed
        )
    };
    let lead = match summary.status {
        JobStatus::Succeeded => "Zendesk is in step with Pages.".to_string(),
        JobStatus::PartlyFailed => "The run finished, but not everything is in step.".into(),
        JobStatus::Failed if summary.guard_tripped => {
            "The safety guard stopped the run before any write.".into()
        }
        JobStatus::Failed => "The run stopped before it finished.".into(),
        JobStatus::DryRun => format!("Dry run: {NOTHING_WRITTEN}."),
    };
    (lead, format!("{changes}{criteria}."))
}

pub fn requests_text(summary: &RunSummary) -> String {
    let r = &summary.requests;
    format!(
        "{} ({}), {} rate-limited {} (429), {}, elapsed {}",
        plural(
            usize::try_from(r.requests).unwrap_or(usize::MAX),
            "request",
            "requests"
        ),
        plural(
            usize::try_from(r.write_requests).unwrap_or(usize::MAX),
            "write",
            "writes"
        ),
        r.rate_limited,
        if r.rate_limited == 1 { "wait" } else { "waits" },
        plural(
            usize::try_from(r.retries).unwrap_or(usize::MAX),
            "retry",
            "retries"
        ),
        duration(summary.elapsed_ms)
    )
}
