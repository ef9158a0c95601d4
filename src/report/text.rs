//! What `plan`, `sync`, `verify` and `run` print on stdout for a person at a terminal:
//! plain text in aligned columns, no markdown. Built from the same pieces as the comment.
//!
//! Pure: takes the public [`RunSummary`] and returns text. Per-record detail (emails,
//! names) is never printed here; it goes to the `--report-json` file.

use crate::report::view;
use crate::report::RunSummary;

/// Renders the terminal report of a command.
pub fn render_text(summary: &RunSummary) -> String {
    let would = view::would(summary);
    let mut out = String::new();
    let month = summary
        .month
        .as_deref()
        .map(|m| format!(" {}", view::plain(m, 20)))
        .unwrap_or_default();
    out.push_str(&format!(
        "pages-zendesk-sync {}{month}: {}\n",
        view::plain(summary.command, 20),
        summary.status.as_str()
    ));
    let (lead, rest) = view::status_parts(summary);
    out.push_str(&format!("{lead} {rest}\n"));

    if view::shows_changes(summary) {
        out.push('\n');
        let rows = view::change_rows(summary);
        if rows.is_empty() {
            out.push_str("Changes: none needed\n");
        } else if would {
            let mut table = vec![vec![
                "Changes that would be made".to_string(),
                String::new(),
            ]];
            table.extend(
                rows.iter()
                    .map(|r| vec![format!("  {}", r.kind.label()), r.planned.to_string()]),
            );
            table.push(vec![
                "  total".into(),
                view::change_total(&rows).planned.to_string(),
            ]);
            out.push_str(&view::text_table("", &[], &table));
        } else {
            let mut table = vec![["Changes", "planned", "applied", "failed", "skipped"]
                .map(String::from)
                .to_vec()];
            let row = |label: String, r: &view::ChangeRow| {
                vec![
                    label,
                    r.planned.to_string(),
                    r.applied.to_string(),
                    r.failed.to_string(),
                    r.skipped.to_string(),
                ]
            };
            table.extend(rows.iter().map(|r| row(format!("  {}", r.kind.label()), r)));
            table.push(row("  total".into(), &view::change_total(&rows)));
            out.push_str(&view::text_table("", &[], &table));
        }
    }

    let failures = view::sorted_failures(summary);
    if !failures.is_empty() {
        out.push_str("\nFailures by reason\n");
        let table: Vec<Vec<String>> = failures
            .iter()
            .map(|f| {
                vec![
                    f.kind.label().to_string(),
                    f.reason.to_string(),
                    f.count.to_string(),
                ]
            })
            .collect();
        out.push_str(&view::text_table("  ", &[true, true, false], &table));
    }

    if !summary.criteria.is_empty() {
        out.push_str("\nAcceptance criteria\n");
        let table: Vec<Vec<String>> = summary
            .criteria
            .iter()
            .map(|c| {
                let indent = if view::is_child(c.criterion) {
                    "  "
                } else {
                    ""
                };
                vec![
                    if c.passed { "pass" } else { "FAIL" }.to_string(),
                    format!("{indent}{}", c.criterion.checklist_text()),
                    format!("{} checked", c.checked),
                    if c.passed && c.mismatches.is_empty() {
                        String::new()
                    } else {
                        view::mismatch_text(&c.mismatches)
                    },
                ]
            })
            .collect();
        out.push_str(&view::text_table("  ", &[true, true, false, true], &table));
    }

    let s = &summary.source;
    let (org_rows, user_rows) = view::source_row_labels(s);
    out.push_str(if s.from_database {
        "\nPages database\n"
    } else {
        "\nPages reports\n"
    });
    out.push_str(&view::text_table(
        "  ",
        &[],
        &[
            vec![org_rows.into(), s.organization_rows.to_string()],
            vec![user_rows.into(), s.user_rows.to_string()],
            vec!["partner users".into(), s.partner_users.to_string()],
            vec!["memberships".into(), s.memberships.to_string()],
            vec!["org managers".into(), s.managers.to_string()],
            vec![
                "users without an organization (skipped)".into(),
                s.users_without_organization.to_string(),
            ],
        ],
    ));
    for note in view::source_notes(s) {
        out.push_str(&format!("  {note}\n"));
    }
    if !summary.row_problems.is_empty() {
        out.push_str("\nRows skipped or merged\n");
        let table: Vec<Vec<String>> = summary
            .row_problems
            .iter()
            .map(|(code, n)| {
                vec![
                    view::plain(code, 60),
                    n.to_string(),
                    view::row_problem_text(code).to_string(),
                ]
            })
            .collect();
        out.push_str(&view::text_table("  ", &[true, false, true], &table));
        for (report, lines) in summary.row_lines.iter().filter(|(_, l)| !l.is_empty()) {
            out.push_str(&format!("  {}\n", view::lines_text(*report, lines)));
        }
    }

    if !summary.notes.is_empty() {
        out.push_str("\nNotes\n");
        let table: Vec<Vec<String>> = summary
            .notes
            .iter()
            .map(|(k, n)| vec![n.to_string(), k.label().to_string()])
            .collect();
        out.push_str(&view::text_table("  ", &[false, true], &table));
    }

    out.push('\n');
    out.push_str(&format!(
        "Safety guard: {}; removals {}; {}\n",
        if summary.guard_tripped {
            "TRIPPED, nothing written"
        } else {
            "within limits"
        },
        view::guard_removals_text(summary),
        view::guard_users_text(summary)
    ));
    out.push_str(&format!("Zendesk API: {}\n", view::requests_text(summary)));
    if summary.bulk_user_import_disabled {
        out.push_str("Bulk user import is disabled in Zendesk: users were written one at a time\n");
    }

    let attention = view::attention(summary);
    if !attention.is_empty() {
        out.push_str("\nNeeds attention\n");
        for item in &attention {
            out.push_str(&format!(
                "  - {}\n    next: {}\n",
                view::unmark(&item.problem),
                view::unmark(&item.action)
            ));
        }
    }
    out.push_str(
        "\nPer-record detail (rows, users, organizations, Zendesk ids) goes to the file named \
         by --report-json.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::view::fixtures::{self, run};
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
                .command("verify")
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
