//! What `plan`, `sync`, `verify` and `run` print on stdout for a person at a terminal:
//! plain text in aligned columns, no markdown. Built as a [`Document`] from the same
//! figures and wording as the comment, rendered by [`plain`](crate::report::plain).
//!
//! Pure: takes the public [`RunSummary`] and returns text. Per-record detail (emails,
//! names) is never printed here; it goes to the `--report-json` file.

use crate::report::document::{Align, Block, Document, Item, Table, Text};
use crate::report::figures::{self, ChangeRow};
use crate::report::wording::{self, plain};
use crate::report::{attention, RunSummary, NOTHING_WRITTEN};

/// Renders the terminal report of a command.
pub fn render_text(summary: &RunSummary) -> String {
    document(summary).plain()
}

fn document(summary: &RunSummary) -> Document {
    let mut doc = Document::new();
    let month = summary
        .month
        .as_deref()
        .map(|m| format!(" {}", plain(m, 20)))
        .unwrap_or_default();
    let title = Text::plain(format!(
        "pages-zendesk-sync {}{month}: {}",
        summary.mode.command(),
        summary.status.as_str()
    ));
    let status = match &summary.stopped {
        Some(stopped) => format!("The run stopped: {}", stopped.sentence()),
        None => {
            let (lead, rest) = wording::status_parts(summary);
            format!("{lead} {rest}")
        }
    };
    doc.push(Block::Tight(vec![
        Block::Title(title),
        Block::Paragraph(status.into()),
    ]));
    if summary.stopped.is_some() {
        return doc;
    }

    if summary.mode.plans() {
        doc.push(changes(summary));
    }

    let failures = figures::sorted_failures(summary);
    if !failures.is_empty() {
        let mut table = Table::headless(&[Align::Left, Align::Left, Align::Right]);
        for f in failures {
            table.push([
                f.kind.label().to_string(),
                f.reason.to_string(),
                f.count.to_string(),
            ]);
        }
        doc.push(section("Failures by reason", vec![Block::Table(table)]));
    }

    if !summary.criteria.is_empty() {
        let mut table = Table::headless(&[Align::Left, Align::Left, Align::Right, Align::Left]);
        for c in &summary.criteria {
            let indent = if figures::is_child(c.criterion) {
                "  "
            } else {
                ""
            };
            table.push([
                if c.passed { "pass" } else { "FAIL" }.to_string(),
                format!("{indent}{}", c.criterion.checklist_text()),
                format!("{} checked", c.checked),
                if c.passed && c.mismatches.is_empty() {
                    String::new()
                } else {
                    wording::mismatch_text(&c.mismatches)
                },
            ]);
        }
        doc.push(section("Acceptance criteria", vec![Block::Table(table)]));
    }

    let s = &summary.source;
    let (org_rows, user_rows) = wording::source_row_labels(s);
    let table = Table::headless(&[])
        .row([org_rows.to_string(), s.organization_rows.to_string()])
        .row([user_rows.to_string(), s.user_rows.to_string()])
        .row(["partner users".to_string(), s.partner_users.to_string()])
        .row(["memberships".to_string(), s.memberships.to_string()])
        .row(["org managers".to_string(), s.managers.to_string()])
        .row([
            "users without an organization (skipped)".to_string(),
            s.users_without_organization.to_string(),
        ]);
    let mut source = vec![Block::Table(table)];
    source.extend(
        wording::source_notes(s)
            .into_iter()
            .map(|note| Block::Paragraph(note.into())),
    );
    doc.push(section(
        if s.from_database {
            "Pages database"
        } else {
            "Pages reports"
        },
        source,
    ));

    if !summary.row_problems.is_empty() {
        let mut table = Table::headless(&[Align::Left, Align::Right, Align::Left]);
        for (code, n) in &summary.row_problems {
            table.push([
                plain(code, 60),
                n.to_string(),
                wording::row_problem_text(code).to_string(),
            ]);
        }
        let mut body = vec![Block::Table(table)];
        for (report, lines) in summary.row_lines.iter().filter(|(_, l)| !l.is_empty()) {
            body.push(Block::Paragraph(wording::lines_text(*report, lines).into()));
        }
        doc.push(section("Rows skipped or merged", body));
    }

    if !summary.notes.is_empty() {
        let mut table = Table::headless(&[Align::Right, Align::Left]);
        for (k, n) in &summary.notes {
            table.push([n.to_string(), k.label().to_string()]);
        }
        doc.push(section("Notes", vec![Block::Table(table)]));
    }

    let mut figures_lines = vec![
        Block::Paragraph(
            format!(
                "Safety guard: {}; removals {}; {}",
                if summary.guard_tripped {
                    format!("TRIPPED, {NOTHING_WRITTEN}")
                } else {
                    "within limits".into()
                },
                wording::guard_removals_text(summary),
                wording::guard_users_text(summary)
            )
            .into(),
        ),
        Block::Paragraph(format!("Zendesk API: {}", wording::requests_text(summary)).into()),
    ];
    if summary.bulk_user_import_disabled {
        figures_lines.push(Block::Paragraph(
            "Bulk user import is disabled in Zendesk: users were written one at a time".into(),
        ));
    }
    doc.push(Block::Tight(figures_lines));

    let items = attention::list(summary);
    if !items.is_empty() {
        let list = items
            .into_iter()
            .map(|item| Item {
                text: Text::new().coded(item.problem),
                next: Some(Text::new().coded(item.action)),
            })
            .collect();
        doc.push(section("Needs attention", vec![Block::List(list)]));
    }
    doc.paragraph(
        "Per-record detail (rows, users, organizations, Zendesk ids) goes to the file named \
         by --report-json.",
    );
    doc
}

fn section(title: &str, body: Vec<Block>) -> Block {
    Block::Section {
        title: title.into(),
        body,
    }
}

/// The change counts: "would be made" for a dry run, planned/applied/failed/skipped else.
fn changes(summary: &RunSummary) -> Block {
    let rows = figures::change_rows(summary);
    if rows.is_empty() {
        return Block::Paragraph("Changes: none needed".into());
    }
    let total = figures::change_total(&rows);
    if summary.would() {
        let mut table = Table::new(&["Changes that would be made", ""], &[]);
        for r in &rows {
            table.push([format!("  {}", r.kind.label()), r.planned.to_string()]);
        }
        table.push(["  total".to_string(), total.planned.to_string()]);
        Block::Table(table)
    } else {
        let mut table = Table::new(&["Changes", "planned", "applied", "failed", "skipped"], &[]);
        let row = |label: String, r: &ChangeRow| {
            [
                label,
                r.planned.to_string(),
                r.applied.to_string(),
                r.failed.to_string(),
                r.skipped.to_string(),
            ]
        };
        for r in &rows {
            table.push(row(format!("  {}", r.kind.label()), r));
        }
        table.push(row("  total".into(), &total));
        Block::Table(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{self, run};
    use crate::report::RunMode;
    use crate::verify::Criterion;

    #[test]
    fn successful_first_run() {
        insta::assert_snapshot!(render_text(&fixtures::successful_first_run()));
    }

    #[test]
    fn partly_failed_run() {
        insta::assert_snapshot!(render_text(&fixtures::partly_failed()));
    }

    #[test]
    fn dry_run() {
        insta::assert_snapshot!(render_text(&fixtures::dry_run()));
    }

    #[test]
    fn plan() {
        insta::assert_snapshot!(render_text(&fixtures::plan()));
    }

    #[test]
    fn bulk_import_disabled() {
        insta::assert_snapshot!(render_text(&fixtures::bulk_disabled()));
    }

    #[test]
    fn tripped_guard() {
        insta::assert_snapshot!(render_text(&fixtures::guard_tripped()));
    }

    #[test]
    fn plan_says_would_and_has_no_criteria_section() {
        let out = render_text(&fixtures::plan());
        assert!(out.contains("Changes that would be made"));
        assert!(!out.contains("Acceptance criteria\n"));
        assert!(!out.contains("applied"));
    }

    #[test]
    fn verify_shows_criteria_and_no_changes() {
        let out = render_text(
            &run()
                .mode(RunMode::Verify)
                .all_criteria_pass()
                .criterion_fails(Criterion::Roles, &[])
                .build(),
        );
        assert!(out.contains("FAIL    Roles (org manager or not)"), "{out}");
        assert!(!out.contains("Changes"));
    }

    #[test]
    fn no_markdown_in_plain_text() {
        for summary in fixtures::all() {
            let out = render_text(&summary);
            for mark in ["**", "`", "|", "##", "✅", "❌"] {
                assert!(!out.contains(mark), "{mark} in\n{out}");
            }
            assert!(!out.contains('@'));
        }
    }

    #[test]
    fn columns_line_up() {
        let out = render_text(&fixtures::partly_failed());
        let header = out.lines().find(|l| l.starts_with("Changes")).unwrap();
        let end = header.find("skipped").unwrap() + "skipped".len();
        for line in out
            .lines()
            .skip_while(|l| !l.starts_with("Changes"))
            .skip(1)
            .take_while(|l| l.starts_with("  "))
        {
            assert_eq!(line.chars().count(), end, "{line:?}");
        }
    }
}
