//! What every rendering of a [`RunSummary`] shows, as plain data and small text pieces:
//! change rows, sorted failures, deltas, what needs attention, durations, and the markdown
//! table builder. The comment, job summary, terminal text and workflow commands are all
//! built from these so they cannot disagree.
//!
//! Pure: no I/O. Works from the public summary only, so it can never show an email or name.

use std::collections::BTreeMap;

use crate::plan::{ChangeKind, NoteKind};
use crate::report::{Carry, FailureCount, JobStatus, RunSummary, Totals, MAX_LINES};
use crate::source::{ReportKind, SourceStats};
use crate::verify::{Criterion, MismatchKind};

/// Whether counts are of changes that would be made rather than were made.
pub(super) fn would(summary: &RunSummary) -> bool {
    summary.dry_run || summary.status == JobStatus::DryRun || summary.command == "plan"
}

/// Whether the command makes changes at all (`verify` does not).
pub(super) fn shows_changes(summary: &RunSummary) -> bool {
    summary.command != "verify"
}

/// "succeeded", "partly failed", ... with a mark that reads at a glance.
pub(super) fn status_mark(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Succeeded => "✅",
        JobStatus::PartlyFailed => "⚠️",
        JobStatus::Failed => "❌",
        JobStatus::DryRun => "📝",
    }
}

/// The machine form of a status (`partly_failed`), as in the carry JSON.
pub(super) fn status_code(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Succeeded => "succeeded",
        JobStatus::PartlyFailed => "partly_failed",
        JobStatus::Failed => "failed",
        JobStatus::DryRun => "dry_run",
    }
}

/// Keeps only characters that cannot start markdown or HTML (a month is `YYYY-MM`, but
/// the renderer must not trust that).
pub(super) fn plain(s: &str, max_chars: usize) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ' ' | '_'))
        .take(max_chars)
        .collect()
}

/// A link target that cannot break out of `[text](...)`: characters that end or confuse
/// the link are percent-encoded; anything but http(s) is refused.
pub(super) fn link_target(url: &str) -> Option<String> {
    let url = url.trim();
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return None;
    }
    let mut out = String::with_capacity(url.len());
    for c in url.chars().take(2000) {
        match c {
            ' ' => out.push_str("%20"),
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '"' => out.push_str("%22"),
            '[' => out.push_str("%5B"),
            ']' => out.push_str("%5D"),
            '|' => out.push_str("%7C"),
            '`' => out.push_str("%60"),
            c if c.is_control() || c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    Some(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ChangeRow {
    pub kind: ChangeKind,
    pub planned: usize,
    pub applied: usize,
    pub failed: usize,
    pub skipped: usize,
}

/// One row per change kind with any non-zero count, in [`ChangeKind::ALL`] order.
pub(super) fn change_rows(summary: &RunSummary) -> Vec<ChangeRow> {
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

pub(super) fn change_total(rows: &[ChangeRow]) -> ChangeRow {
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

pub(super) fn failed_by_kind(summary: &RunSummary) -> BTreeMap<ChangeKind, usize> {
    let mut out = BTreeMap::new();
    for f in &summary.failures {
        *out.entry(f.kind).or_default() += f.count;
    }
    out
}

/// Failures grouped by kind (in kind order), most frequent reason first, so a cut-off
/// list still shows what matters most.
pub(super) fn sorted_failures(summary: &RunSummary) -> Vec<&FailureCount> {
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
pub(super) fn is_child(criterion: Criterion) -> bool {
    Criterion::ALL
        .iter()
        .any(|p| p.children().contains(&criterion))
}

/// `memberships missing: 3, memberships not in Pages: 1`, or `none`.
pub(super) fn mismatch_text(mismatches: &BTreeMap<MismatchKind, usize>) -> String {
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
pub(super) fn source_row_labels(source: &SourceStats) -> (&'static str, &'static str) {
    if source.from_database {
        ("Pages organizations (database)", "Pages users (database)")
    } else {
        ("organizations.csv rows", "users.csv rows")
    }
}

/// Sentences about the Pages data that are not row problems, counts only: users with no
/// sign-in identity (nothing to fix in Pages, nothing to sync) and organizations the
/// configuration left out.
pub(super) fn source_notes(source: &SourceStats) -> Vec<String> {
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

pub(super) fn report_file(report: ReportKind) -> &'static str {
    match report {
        ReportKind::Organizations => "organizations.csv",
        ReportKind::Users => "users.csv",
    }
}

/// `users.csv lines 14, 88` — at most [`MAX_LINES`] numbers, then a pointer to the rest.
pub(super) fn lines_text(report: ReportKind, lines: &[u64]) -> String {
    let shown: Vec<String> = lines.iter().take(MAX_LINES).map(u64::to_string).collect();
    let word = if lines.len() == 1 { "line" } else { "lines" };
    let mut out = format!("{} {word} {}", report_file(report), shown.join(", "));
    if lines.len() >= MAX_LINES {
        out.push_str(&format!(" (first {MAX_LINES} listed)"));
    }
    out
}

/// All line lists, `; `-separated, or None when there are none.
pub(super) fn all_lines_text(summary: &RunSummary) -> Option<String> {
    let parts: Vec<String> = summary
        .row_lines
        .iter()
        .filter(|(_, l)| !l.is_empty())
        .map(|(r, l)| lines_text(*r, l))
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Words for a row-problem code; the code itself stays visible for grep and search.
pub(super) fn row_problem_text(code: &str) -> &'static str {
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

/// Rows the reports dropped (merged duplicates are not dropped).
pub(super) fn skipped_rows(summary: &RunSummary) -> usize {
    summary
        .row_problems
        .iter()
        .filter(|(code, _)| **code != "duplicate_email_merged")
        .map(|(_, n)| n)
        .sum()
}

/// Notes that a person has to act on; the others are informational.
pub(super) fn note_needs_person(kind: NoteKind) -> bool {
    matches!(
        kind,
        NoteKind::EmailOwnedByAnotherUser | NoteKind::ExternalIdOwnedByAnotherUser
    )
}

pub(super) struct Delta {
    pub label: &'static str,
    pub previous: usize,
    pub current: usize,
}

pub(super) fn deltas(current: &Totals, previous: &Totals) -> Vec<Delta> {
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
pub(super) fn signed(delta: &Delta, minus: &str) -> String {
    use std::cmp::Ordering;
    match delta.current.cmp(&delta.previous) {
        Ordering::Greater => format!("+{}", delta.current - delta.previous),
        Ordering::Less => format!("{minus}{}", delta.previous - delta.current),
        Ordering::Equal => "0".into(),
    }
}

/// The previous carry's month, made safe to print.
pub(super) fn previous_month(previous: &Carry) -> String {
    plain(&previous.month, 20)
}

/// `850 ms`, `12.3 s`, `4 min 05 s`, `1 h 02 min`.
pub(super) fn duration(ms: u64) -> String {
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

/// `12.5%` of a whole, or None for a zero whole.
pub(super) fn percent(part: usize, whole: usize) -> Option<String> {
    (whole > 0).then(|| format!("{:.1}%", part as f64 * 100.0 / whole as f64))
}

/// The guard's figures in words, for every report.
pub(super) fn guard_removals_text(summary: &RunSummary) -> String {
    let g = &summary.guard;
    match percent(g.removals, g.managed_memberships) {
        Some(p) => format!(
            "{} of {} managed memberships ({p})",
            g.removals, g.managed_memberships
        ),
        None => format!("{} (no managed memberships yet)", g.removals),
    }
}

pub(super) fn guard_users_text(summary: &RunSummary) -> String {
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

pub(super) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// One thing a person should look at, and what to do about it. Text may contain
/// `backticks` (rendered as code in markdown, kept as is in plain text).
pub(super) struct Attention {
    pub problem: String,
    pub action: String,
}

/// What needs attention, most serious first. Empty when nothing does.
pub(super) fn attention(summary: &RunSummary) -> Vec<Attention> {
    let mut out = Vec::new();
    let would = would(summary);
    if summary.guard_tripped {
        out.push(Attention {
            problem: format!(
                "The safety guard refused the plan, so nothing was written: removals {}; {}.",
                guard_removals_text(summary),
                guard_users_text(summary)
            ),
            action: "Check the Pages reports are complete and read the plan \
                     (`pages-zendesk-sync plan`). If the removals are right, run again with \
                     `--allow-mass-removal`."
                .into(),
        });
    } else if summary.status == JobStatus::Failed {
        out.push(Attention {
            problem: "The run stopped before it finished (bad input, or a remote API failed)."
                .into(),
            action: "Read the job log for the error. Once it is fixed, run the workflow \
                     again: each run recomputes both sides and finishes the work."
                .into(),
        });
    }
    let failed = summary.failed_records();
    if failed > 0 {
        let kinds: Vec<String> = failed_by_kind(summary)
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        out.push(Attention {
            problem: format!(
                "{} failed ({}).",
                plural(failed, "record", "records"),
                kinds.join(", ")
            ),
            action: "Find the records and Zendesk's reasons in the JSON report \
                     (`--report-json`) or the job log, fix them in Zendesk or Pages, and \
                     run again."
                .into(),
        });
    }
    for item in &summary.needs_attention {
        out.push(Attention {
            problem: item.problem.clone(),
            action: item.action.clone(),
        });
    }
    let unsatisfied: Vec<&str> = summary
        .criteria
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.criterion.checklist_text())
        .collect();
    if !unsatisfied.is_empty() {
        out.push(Attention {
            problem: format!(
                "{} not satisfied: {}.",
                if unsatisfied.len() == 1 {
                    "1 acceptance criterion is"
                } else {
                    "Some acceptance criteria are"
                },
                unsatisfied
                    .iter()
                    .map(|t| format!("\"{t}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            action: if would {
                "Nothing was written in this dry run; the mismatches are what a real run \
                 would fix."
                    .into()
            } else {
                "The mismatches (with examples) are in the JSON report's verification. \
                 Fix what the sync cannot, then run again or tick the box by hand; \
                 the issue stays open until every box is ticked."
                    .into()
            },
        });
    }
    let skipped = skipped_rows(summary);
    if skipped > 0 {
        let lines = all_lines_text(summary)
            .map(|l| format!(" (rows with problems: {l})"))
            .unwrap_or_default();
        out.push(Attention {
            problem: format!(
                "{} of the Pages reports {} skipped{lines}.",
                plural(skipped, "row", "rows"),
                if skipped == 1 { "was" } else { "were" }
            ),
            action: "Fix those rows in Pages (the reasons are listed under Pages reports); \
                     the next run picks them up."
                .into(),
        });
    }
    let person_notes: usize = summary
        .notes
        .iter()
        .filter(|(k, _)| note_needs_person(**k))
        .map(|(_, n)| n)
        .sum();
    if person_notes > 0 {
        out.push(Attention {
            problem: format!(
                "{} where the Pages user and the Zendesk user do not line up.",
                plural(person_notes, "case", "cases")
            ),
            action: "Merge or fix those Zendesk users by hand (their Zendesk ids are in the \
                     JSON report's plan notes)."
                .into(),
        });
    }
    if summary.bulk_user_import_disabled {
        out.push(Attention {
            problem: "Bulk user import is switched off in this Zendesk account; users were \
                      written one at a time (slower, more requests)."
                .into(),
            action: "Nothing is wrong. If runs get slow, ask a Zendesk admin to enable bulk \
                     user import."
                .into(),
        });
    }
    if would && summary.status != JobStatus::Failed && summary.command != "verify" {
        out.push(Attention {
            problem: "This was a dry run: nothing was written to Zendesk.".into(),
            action: "Run without `--dry-run` to apply the changes.".into(),
        });
    }
    out
}

/// Removes the `backticks` of attention text for plain output.
pub(super) fn unmark(s: &str) -> String {
    s.replace('`', "")
}

/// A GitHub-flavoured markdown table. `right[i]` right-aligns column i (numbers).
pub(super) fn md_table(header: &[&str], right: &[bool], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    out.push('|');
    for h in header {
        out.push_str(&format!(" {h} |"));
    }
    out.push_str("\n|");
    for i in 0..header.len() {
        out.push_str(if right.get(i).copied().unwrap_or(false) {
            " ---: |"
        } else {
            " --- |"
        });
    }
    out.push('\n');
    for row in rows {
        out.push('|');
        for cell in row {
            out.push_str(&format!(" {} |", cell.replace('|', "\\|")));
        }
        out.push('\n');
    }
    out
}

/// Plain-text columns: the first column left-aligned, the rest right-aligned unless
/// `left[i]` says otherwise; two spaces between columns; each line indented by `indent`.
pub(super) fn text_table(indent: &str, left: &[bool], rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::from(indent);
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = widths[i].saturating_sub(cell.chars().count());
            let is_left = left.get(i).copied().unwrap_or(i == 0);
            if is_left {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            } else {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

// ---------------------------------------------------------------------------------------
// Markdown pieces shared by the results comment and the job summary.

/// `## ✅ Pages/Zendesk sync 2025-03: succeeded`
pub(super) fn md_heading(summary: &RunSummary) -> String {
    let month = summary
        .month
        .as_deref()
        .map(|m| format!(" {}", plain(m, 20)))
        .unwrap_or_default();
    format!(
        "## {} Pages/Zendesk sync{month}: {}\n",
        status_mark(summary.status),
        summary.status.as_str()
    )
}

/// One sentence on the outcome, markdown: the lead in bold.
pub(super) fn status_sentence(summary: &RunSummary) -> String {
    let (lead, rest) = status_parts(summary);
    format!("**{lead}** {rest}\n")
}

/// The outcome as a lead ("Zendesk is in step with Pages.") and the figures after it.
pub(super) fn status_parts(summary: &RunSummary) -> (&'static str, String) {
    let verified = summary.criteria.iter().filter(|c| c.passed).count();
    let total = summary.criteria.len();
    let criteria = if total == 0 {
        "acceptance criteria not checked".to_string()
    } else {
        format!("{verified} of {total} acceptance criteria satisfied")
    };
    let rows = change_rows(summary);
    let t = change_total(&rows);
    let changes = if !shows_changes(summary) {
        String::new()
    } else if summary.guard_tripped {
        format!(
            "{} refused; ",
            plural(t.planned, "planned change", "planned changes")
        )
    } else if would(summary) {
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
        JobStatus::Succeeded => "Zendesk is in step with Pages.",
        JobStatus::PartlyFailed => "The run finished, but not everything is in step.",
        JobStatus::Failed if summary.guard_tripped => {
            "The safety guard stopped the run before any write."
        }
        JobStatus::Failed => "The run stopped before it finished.",
        JobStatus::DryRun => "Dry run: nothing was written.",
    };
    (lead, format!("{changes}{criteria}."))
}

pub(super) fn md_criteria_table(summary: &RunSummary) -> String {
    if summary.criteria.is_empty() {
        return "_Acceptance criteria were not checked in this run._\n".into();
    }
    let rows: Vec<Vec<String>> = summary
        .criteria
        .iter()
        .map(|c| {
            let name = if is_child(c.criterion) {
                format!("↳ {}", c.criterion.checklist_text())
            } else {
                c.criterion.checklist_text().to_string()
            };
            vec![
                if c.passed { "✅ pass" } else { "❌ fail" }.to_string(),
                name,
                c.checked.to_string(),
                mismatch_text(&c.mismatches),
            ]
        })
        .collect();
    md_table(
        &["Result", "Criterion", "Checked", "Mismatches"],
        &[false, false, true, false],
        &rows,
    )
}

pub(super) fn md_changes_table(summary: &RunSummary) -> String {
    let rows = change_rows(summary);
    if rows.is_empty() {
        return if summary.status == JobStatus::Failed {
            "No changes were made.\n".into()
        } else {
            "No changes needed: Zendesk already matched Pages.\n".into()
        };
    }
    let total = change_total(&rows);
    if would(summary) {
        let mut table: Vec<Vec<String>> = rows
            .iter()
            .map(|r| vec![r.kind.label().to_string(), r.planned.to_string()])
            .collect();
        table.push(vec!["**total**".into(), format!("**{}**", total.planned)]);
        md_table(&["Change", "Would make"], &[false, true], &table)
    } else {
        let cells = |r: &ChangeRow| {
            vec![
                r.planned.to_string(),
                r.applied.to_string(),
                r.failed.to_string(),
                r.skipped.to_string(),
            ]
        };
        let mut table: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                let mut row = vec![r.kind.label().to_string()];
                row.extend(cells(r));
                row
            })
            .collect();
        let mut last = vec!["**total**".to_string()];
        last.extend(cells(&total).into_iter().map(|c| format!("**{c}**")));
        table.push(last);
        md_table(
            &["Change", "Planned", "Applied", "Failed", "Skipped"],
            &[false, true, true, true, true],
            &table,
        )
    }
}

/// Failures by kind and reason, at most `max_rows` rows, then a line saying how many more.
pub(super) fn md_failures_table(summary: &RunSummary, max_rows: usize) -> String {
    let sorted = sorted_failures(summary);
    let rows: Vec<Vec<String>> = sorted
        .iter()
        .take(max_rows)
        .map(|f| {
            vec![
                f.kind.label().to_string(),
                format!("`{}`", f.reason),
                f.count.to_string(),
            ]
        })
        .collect();
    let mut out = md_table(
        &["Change", "Reason", "Records"],
        &[false, false, true],
        &rows,
    );
    if sorted.len() > max_rows {
        let rest = &sorted[max_rows..];
        out.push_str(&format!(
            "\n…and {} more {} ({} records); all of them are in the JSON report and the job log.\n",
            rest.len(),
            if rest.len() == 1 { "reason" } else { "reasons" },
            rest.iter().map(|f| f.count).sum::<usize>()
        ));
    }
    out
}

pub(super) fn md_attention(summary: &RunSummary) -> String {
    let items = attention(summary);
    if items.is_empty() {
        return if summary.all_criteria_passed() {
            "Nothing needs attention: every acceptance criterion is satisfied.\n".into()
        } else {
            "Nothing needs attention.\n".into()
        };
    }
    let mut out = String::new();
    for item in &items {
        out.push_str(&format!(
            "- {}\n  **Next:** {}\n",
            item.problem, item.action
        ));
    }
    out
}

pub(super) fn md_deltas(summary: &RunSummary, previous: &Carry) -> String {
    let month = previous_month(previous);
    let rows: Vec<Vec<String>> = deltas(&summary.totals, &previous.totals)
        .iter()
        .map(|d| {
            vec![
                d.label.to_string(),
                d.previous.to_string(),
                d.current.to_string(),
                signed(d, "−"),
            ]
        })
        .collect();
    let now = summary
        .month
        .as_deref()
        .map(|m| plain(m, 20))
        .unwrap_or_else(|| "now".into());
    md_table(
        &["Figure", &month, &now, "Change"],
        &[false, true, true, true],
        &rows,
    )
}

pub(super) fn requests_text(summary: &RunSummary) -> String {
    let r = &summary.requests;
    format!(
        "{} ({}), {} rate-limited {} (429), {}, elapsed {}",
        plural(r.requests as usize, "request", "requests"),
        plural(r.write_requests as usize, "write", "writes"),
        r.rate_limited,
        if r.rate_limited == 1 { "wait" } else { "waits" },
        plural(r.retries as usize, "retry", "retries"),
        duration(summary.elapsed_ms)
    )
}

#[cfg(test)]
pub(super) mod fixtures {
    //! Small builders for report tests: every figure is set explicitly by the test.

    use std::collections::BTreeMap;

    use crate::outcome::{Reason, RequestStats};
    use crate::plan::guard::GuardFigures;
    use crate::plan::{ChangeKind, NoteKind};
    use crate::report::{Carry, CriterionResult, FailureCount, JobStatus, RunSummary, Totals};
    use crate::source::{ReportKind, SourceStats};
    use crate::verify::{Criterion, MismatchKind};

    pub struct Builder(pub RunSummary);

    /// A `run` for 2025-03 with realistic source figures and nothing else set.
    pub fn run() -> Builder {
        Builder(RunSummary {
            command: "run",
            status: JobStatus::Succeeded,
            dry_run: false,
            month: Some("2025-03".into()),
            source: SourceStats {
                organization_rows: 42,
                user_rows: 318,
                users_without_organization: 11,
                partner_users: 305,
                memberships: 352,
                managers: 57,
                ..SourceStats::default()
            },
            row_problems: BTreeMap::new(),
            row_lines: BTreeMap::new(),
            planned: BTreeMap::new(),
            applied: BTreeMap::new(),
            skipped: BTreeMap::new(),
            failures: Vec::new(),
            notes: BTreeMap::new(),
            guard: GuardFigures {
                managed_memberships: 350,
                removals: 0,
                report_users: 305,
                zendesk_partner_users: 300,
            },
            guard_tripped: false,
            criteria: Vec::new(),
            bulk_user_import_disabled: false,
            needs_attention: Vec::new(),
            requests: RequestStats {
                requests: 12,
                write_requests: 0,
                rate_limited: 0,
                retries: 0,
            },
            elapsed_ms: 8_420,
            totals: Totals {
                pages_organizations: 42,
                pages_users: 305,
                pages_memberships: 352,
                pages_managers: 57,
                zendesk_organizations: 45,
                zendesk_memberships: 352,
                zendesk_users: 300,
            },
            run_url: Some(
                "https://github.com/cloud-gov/pages-zendesk-sync/actions/runs/123".into(),
            ),
        })
    }

    impl Builder {
        pub fn build(self) -> RunSummary {
            self.0
        }
        pub fn command(mut self, c: &'static str) -> Self {
            self.0.command = c;
            self
        }
        pub fn status(mut self, s: JobStatus) -> Self {
            self.0.status = s;
            self
        }
        pub fn dry_run(mut self) -> Self {
            self.0.dry_run = true;
            self.0.status = JobStatus::DryRun;
            self
        }
        pub fn no_run_url(mut self) -> Self {
            self.0.run_url = None;
            self
        }
        pub fn month(mut self, m: Option<&str>) -> Self {
            self.0.month = m.map(String::from);
            self
        }
        /// Planned and applied alike.
        pub fn changed(mut self, kind: ChangeKind, n: usize) -> Self {
            self.0.planned.insert(kind, n);
            self.0.applied.insert(kind, n);
            self
        }
        pub fn planned(mut self, kind: ChangeKind, n: usize) -> Self {
            self.0.planned.insert(kind, n);
            self
        }
        pub fn applied(mut self, kind: ChangeKind, n: usize) -> Self {
            self.0.applied.insert(kind, n);
            self
        }
        pub fn skipped(mut self, kind: ChangeKind, n: usize) -> Self {
            self.0.skipped.insert(kind, n);
            self
        }
        pub fn failed(mut self, kind: ChangeKind, reason: &str, n: usize) -> Self {
            self.0.failures.push(FailureCount {
                kind,
                reason: Reason::new(reason),
                count: n,
            });
            self
        }
        pub fn row_problem(mut self, code: &'static str, n: usize) -> Self {
            self.0.row_problems.insert(code, n);
            self
        }
        pub fn row_lines(mut self, report: ReportKind, lines: &[u64]) -> Self {
            self.0.row_lines.insert(report, lines.to_vec());
            self
        }
        pub fn note(mut self, kind: NoteKind, n: usize) -> Self {
            self.0.notes.insert(kind, n);
            self
        }
        pub fn guard(mut self, removals: usize, managed: usize) -> Self {
            self.0.guard.removals = removals;
            self.0.guard.managed_memberships = managed;
            self
        }
        pub fn guard_users(mut self, report: usize, zendesk: usize) -> Self {
            self.0.guard.report_users = report;
            self.0.guard.zendesk_partner_users = zendesk;
            self
        }
        pub fn guard_tripped(mut self) -> Self {
            self.0.guard_tripped = true;
            self.0.status = JobStatus::Failed;
            self
        }
        pub fn needs(mut self, item: crate::report::attention::NeedsAttention) -> Self {
            self.0.needs_attention.push(item);
            self
        }

        pub fn bulk_disabled(mut self) -> Self {
            self.0.bulk_user_import_disabled = true;
            self
        }
        pub fn requests(mut self, requests: u64, writes: u64, limited: u64, retries: u64) -> Self {
            self.0.requests = RequestStats {
                requests,
                write_requests: writes,
                rate_limited: limited,
                retries,
            };
            self
        }
        pub fn elapsed_ms(mut self, ms: u64) -> Self {
            self.0.elapsed_ms = ms;
            self
        }
        pub fn totals(mut self, f: impl FnOnce(&mut Totals)) -> Self {
            f(&mut self.0.totals);
            self
        }
        /// Every criterion passing, with plausible checked counts.
        pub fn all_criteria_pass(mut self) -> Self {
            self.0.criteria = Criterion::ALL
                .iter()
                .map(|&criterion| CriterionResult {
                    criterion,
                    passed: true,
                    checked: checked_for(criterion),
                    mismatches: BTreeMap::new(),
                })
                .collect();
            self
        }
        /// Fails `criterion` (and its parent) with the given mismatches.
        pub fn criterion_fails(
            mut self,
            criterion: Criterion,
            m: &[(MismatchKind, usize)],
        ) -> Self {
            let mismatches: BTreeMap<MismatchKind, usize> = m.iter().copied().collect();
            for c in &mut self.0.criteria {
                if c.criterion == criterion || c.criterion.children().contains(&criterion) {
                    c.passed = false;
                    for (k, n) in &mismatches {
                        *c.mismatches.entry(*k).or_default() += n;
                    }
                }
            }
            self
        }
    }

    fn checked_for(c: Criterion) -> usize {
        match c {
            Criterion::OrgsMatch => 42,
            Criterion::OrgUsersMatch | Criterion::Roles | Criterion::NamesAndEmails => 305,
            Criterion::OrgAssignments => 352,
        }
    }

    pub fn previous() -> Carry {
        Carry {
            version: 1,
            month: "2025-02".into(),
            status: JobStatus::Succeeded,
            totals: Totals {
                pages_organizations: 40,
                pages_users: 310,
                pages_memberships: 349,
                pages_managers: 57,
                zendesk_organizations: 43,
                zendesk_memberships: 349,
                zendesk_users: 308,
            },
            history: Vec::new(),
        }
    }

    // The scenarios every renderer is snapshotted with.

    pub fn successful_first_run() -> RunSummary {
        run()
            .changed(ChangeKind::CreateOrganization, 42)
            .changed(ChangeKind::CreateUser, 280)
            .changed(ChangeKind::UpdateUser, 25)
            .changed(ChangeKind::AddMembership, 352)
            .note(NoteKind::OrganizationNotInPages, 3)
            .requests(61, 38, 0, 0)
            .elapsed_ms(94_310)
            .all_criteria_pass()
            .build()
    }

    pub fn partly_failed() -> RunSummary {
        partly_failed_builder().build()
    }

    pub fn partly_failed_builder() -> Builder {
        run()
            .status(JobStatus::PartlyFailed)
            .changed(ChangeKind::CreateOrganization, 2)
            .planned(ChangeKind::CreateUser, 9)
            .applied(ChangeKind::CreateUser, 6)
            .planned(ChangeKind::UpdateUser, 14)
            .applied(ChangeKind::UpdateUser, 13)
            .planned(ChangeKind::AddMembership, 12)
            .applied(ChangeKind::AddMembership, 9)
            .skipped(ChangeKind::AddMembership, 3)
            .changed(ChangeKind::RemoveMembership, 4)
            .failed(
                ChangeKind::CreateUser,
                "RecordInvalid/email/DuplicateValue",
                2,
            )
            .failed(ChangeKind::CreateUser, "http_500", 1)
            .failed(ChangeKind::UpdateUser, "RecordInvalid/details/TooLong", 1)
            .row_problem("invalid_email", 2)
            .row_problem("unknown_organization", 1)
            .row_problem("duplicate_email_merged", 1)
            .row_lines(ReportKind::Users, &[14, 88, 120, 203])
            .note(NoteKind::AgentOrAdminLeftAlone, 2)
            .note(NoteKind::EmailOwnedByAnotherUser, 1)
            .guard(4, 350)
            .requests(84, 31, 3, 2)
            .elapsed_ms(131_005)
            .all_criteria_pass()
            .criterion_fails(
                Criterion::OrgAssignments,
                &[(MismatchKind::MembershipMissing, 3)],
            )
            .criterion_fails(Criterion::NamesAndEmails, &[(MismatchKind::UserMissing, 3)])
    }

    pub fn dry_run() -> RunSummary {
        run()
            .dry_run()
            .planned(ChangeKind::CreateOrganization, 2)
            .planned(ChangeKind::UpdateUser, 7)
            .planned(ChangeKind::AddMembership, 5)
            .planned(ChangeKind::RemoveMembership, 1)
            .guard(1, 350)
            .requests(10, 0, 0, 0)
            .elapsed_ms(3_250)
            .build()
    }

    pub fn plan() -> RunSummary {
        run()
            .command("plan")
            .dry_run()
            .month(None)
            .no_run_url()
            .planned(ChangeKind::CreateUser, 3)
            .planned(ChangeKind::SetPrimaryEmail, 1)
            .planned(ChangeKind::AddMembership, 4)
            .row_problem("invalid_id", 1)
            .row_lines(ReportKind::Users, &[77])
            .note(NoteKind::OrganizationNotInPages, 3)
            .requests(9, 0, 1, 0)
            .elapsed_ms(2_480)
            .build()
    }

    pub fn with_previous() -> RunSummary {
        run()
            .changed(ChangeKind::CreateOrganization, 2)
            .changed(ChangeKind::CreateUser, 4)
            .changed(ChangeKind::UpdateUser, 6)
            .changed(ChangeKind::AddMembership, 7)
            .changed(ChangeKind::RemoveMembership, 4)
            .guard(4, 349)
            .requests(40, 12, 0, 0)
            .elapsed_ms(45_600)
            .all_criteria_pass()
            .build()
    }

    pub fn bulk_disabled() -> RunSummary {
        run()
            .bulk_disabled()
            .changed(ChangeKind::CreateUser, 30)
            .changed(ChangeKind::UpdateUser, 12)
            .changed(ChangeKind::AddMembership, 31)
            .requests(140, 117, 6, 0)
            .elapsed_ms(412_000)
            .all_criteria_pass()
            .build()
    }

    /// Every scenario above.
    pub fn all() -> Vec<RunSummary> {
        vec![
            successful_first_run(),
            partly_failed(),
            dry_run(),
            plan(),
            with_previous(),
            bulk_disabled(),
            guard_tripped(),
        ]
    }

    pub fn guard_tripped() -> RunSummary {
        let mut b = run()
            .guard_tripped()
            .planned(ChangeKind::AddMembership, 2)
            .planned(ChangeKind::RemoveMembership, 310)
            .guard(310, 350)
            .guard_users(12, 300)
            .totals(|t| {
                t.pages_users = 12;
                t.pages_memberships = 14;
            })
            .requests(8, 0, 0, 0)
            .elapsed_ms(2_010);
        // A truncated users report: the reason the guard exists.
        b.0.source.user_rows = 13;
        b.0.source.partner_users = 12;
        b.0.source.memberships = 14;
        b.0.source.managers = 3;
        b.0.source.users_without_organization = 0;
        b.0.totals.pages_managers = 3;
        b.build()
    }
}
