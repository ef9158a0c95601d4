//! The sections the results comment and the job summary share, as document blocks: the
//! title, the status sentence, what needs attention, the criteria, the changes, the
//! failures and the month-to-month deltas. Built once here so the two never disagree.

use crate::report::document::{Align, Block, Item, Table, Text};
use crate::report::figures::{self, ChangeRow};
use crate::report::wording::{self, plain, plural};
use crate::report::{attention, Carry, JobStatus, RunSummary};

/// `✅ Pages/Zendesk sync 2025-03: succeeded`
pub(super) fn title(summary: &RunSummary) -> Text {
    let month = summary
        .month
        .as_deref()
        .map(|m| format!(" {}", plain(m, 20)))
        .unwrap_or_default();
    Text::plain(format!(
        "{} Pages/Zendesk sync{month}: {}",
        summary.status.mark(),
        summary.status.as_str()
    ))
}

/// One sentence on the outcome: the lead in bold, then the figures.
pub(super) fn status(summary: &RunSummary) -> Text {
    let (lead, rest) = wording::status_parts(summary);
    Text::new().strong(lead).text(format!(" {rest}"))
}

/// "Posted on issue [#7](url)." with the given lead words.
pub(super) fn issue_link(lead: &str, number: u64, url: &str) -> Text {
    Text::new()
        .text(format!("{lead} "))
        .link(format!("#{number}"), url)
        .text(".")
}

/// What needs attention, with what to do about each; a sentence when nothing does.
pub(super) fn attention(summary: &RunSummary) -> Block {
    let items = attention::list(summary);
    if items.is_empty() {
        return Block::Paragraph(Text::plain(if summary.all_criteria_passed() {
            "Nothing needs attention: every acceptance criterion is satisfied."
        } else {
            "Nothing needs attention."
        }));
    }
    Block::List(
        items
            .into_iter()
            .map(|i| Item {
                text: Text::new().coded(i.problem),
                next: Some(Text::new().coded(i.action)),
            })
            .collect(),
    )
}

pub(super) fn criteria(summary: &RunSummary) -> Block {
    if summary.criteria.is_empty() {
        return Block::Paragraph(
            Text::new().emphasis("Acceptance criteria were not checked in this run."),
        );
    }
    let mut table = Table::new(
        &["Result", "Criterion", "Checked", "Mismatches"],
        &[Align::Left, Align::Left, Align::Right, Align::Left],
    );
    for c in &summary.criteria {
        let name = if figures::is_child(c.criterion) {
            format!("↳ {}", c.criterion.checklist_text())
        } else {
            c.criterion.checklist_text().to_string()
        };
        table.push([
            if c.passed { "✅ pass" } else { "❌ fail" }.to_string(),
            name,
            c.checked.to_string(),
            wording::mismatch_text(&c.mismatches),
        ]);
    }
    Block::Table(table)
}

pub(super) fn changes(summary: &RunSummary) -> Block {
    let rows = figures::change_rows(summary);
    if rows.is_empty() {
        return Block::Paragraph(Text::plain(if summary.status == JobStatus::Failed {
            "No changes were made."
        } else {
            "No changes needed: Zendesk already matched Pages."
        }));
    }
    let total = figures::change_total(&rows);
    if summary.would() {
        let mut table = Table::new(&["Change", "Would make"], &[Align::Left, Align::Right]);
        for r in &rows {
            table.push([r.kind.label().to_string(), r.planned.to_string()]);
        }
        table.rows.push(vec![
            Text::new().strong("total"),
            Text::new().strong(total.planned.to_string()),
        ]);
        Block::Table(table)
    } else {
        let cells = |r: &ChangeRow| [r.planned, r.applied, r.failed, r.skipped];
        let mut table = Table::new(
            &["Change", "Planned", "Applied", "Failed", "Skipped"],
            &[
                Align::Left,
                Align::Right,
                Align::Right,
                Align::Right,
                Align::Right,
            ],
        );
        for r in &rows {
            let mut row = vec![Text::plain(r.kind.label())];
            row.extend(cells(r).iter().map(|n| Text::plain(n.to_string())));
            table.rows.push(row);
        }
        let mut last = vec![Text::new().strong("total")];
        last.extend(
            cells(&total)
                .iter()
                .map(|n| Text::new().strong(n.to_string())),
        );
        table.rows.push(last);
        Block::Table(table)
    }
}

/// Failures by kind and reason, at most `max_rows` rows, then a line saying how many more.
pub(super) fn failures(summary: &RunSummary, max_rows: usize) -> Vec<Block> {
    let sorted = figures::sorted_failures(summary);
    let mut table = Table::new(
        &["Change", "Reason", "Records"],
        &[Align::Left, Align::Left, Align::Right],
    );
    for f in sorted.iter().take(max_rows) {
        table.rows.push(vec![
            Text::plain(f.kind.label()),
            Text::new().code(f.reason.to_string()),
            Text::plain(f.count.to_string()),
        ]);
    }
    let mut out = vec![Block::Table(table)];
    if sorted.len() > max_rows {
        let rest = &sorted[max_rows..];
        out.push(Block::Paragraph(Text::plain(format!(
            "…and {} more {} ({} records); all of them are in the JSON report and the job log.",
            rest.len(),
            if rest.len() == 1 { "reason" } else { "reasons" },
            rest.iter().map(|f| f.count).sum::<usize>()
        ))));
    }
    out
}

/// The failures in one sentence, when there is no room for the table.
pub(super) fn failures_in_brief(summary: &RunSummary) -> Block {
    Block::Paragraph(Text::plain(format!(
        "{} failed; the reasons are in the JSON report and the job log.",
        plural(summary.failed_records(), "record", "records")
    )))
}

/// Last results against this run, figure by figure.
pub(super) fn deltas(summary: &RunSummary, previous: &Carry) -> Block {
    let month = wording::previous_month(previous);
    let now = summary
        .month
        .as_deref()
        .map(|m| plain(m, 20))
        .unwrap_or_else(|| "now".into());
    let mut table = Table::new(
        &["Figure", &month, &now, "Change"],
        &[Align::Left, Align::Right, Align::Right, Align::Right],
    );
    for d in figures::deltas(&summary.totals, &previous.totals) {
        table.push([
            d.label.to_string(),
            d.previous.to_string(),
            d.current.to_string(),
            figures::signed(&d, "−"),
        ]);
    }
    Block::Table(table)
}
