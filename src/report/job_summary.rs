//! The job summary written to `$GITHUB_STEP_SUMMARY`: a shorter cousin of the results
//! comment (status, what needs attention, criteria, change counts, failures), built from
//! the same sections so the two never disagree.
//!
//! Pure: takes the public [`RunSummary`] and returns markdown. Never shows an email or name.

use crate::report::document::{Block, Document, Text};
use crate::report::{figures, history, sections, wording};
use crate::report::{Carry, RunSummary};

/// Failure rows shown before "…and N more".
const FAILURE_ROWS: usize = 20;

/// Renders the job summary. `issue` is the monthly issue's number and URL, when the
/// command posted to one. A run that stopped gets the short form: why, and where.
pub fn render_job_summary(
    summary: &RunSummary,
    previous: Option<&Carry>,
    issue: Option<(u64, &str)>,
) -> String {
    document(summary, previous, issue).markdown()
}

fn document(
    summary: &RunSummary,
    previous: Option<&Carry>,
    issue: Option<(u64, &str)>,
) -> Document {
    let mut doc = Document::new();
    doc.push(Block::Title(sections::title(summary)));
    if let Some(stopped) = &summary.stopped {
        if let Some((number, url)) = issue {
            doc.paragraph(sections::issue_link("Posted on issue", number, url));
        }
        doc.paragraph(
            Text::new()
                .strong("The run stopped:")
                .text(format!(" {}", stopped.sentence())),
        );
        return doc;
    }
    if let Some((number, url)) = issue {
        doc.paragraph(sections::issue_link("Results posted on issue", number, url));
    }
    doc.paragraph(sections::status(summary));
    doc.push(Block::Section {
        title: "What needs attention".into(),
        body: vec![sections::attention(summary)],
    });
    doc.push(Block::Section {
        title: "Acceptance criteria".into(),
        body: vec![sections::criteria(summary)],
    });
    if summary.mode.plans() {
        doc.push(Block::Section {
            title: if summary.would() {
                "Changes that would be made"
            } else {
                "Changes"
            }
            .into(),
            body: vec![sections::changes(summary)],
        });
    }
    if !summary.failures.is_empty() {
        doc.push(Block::Section {
            title: "Failures by reason".into(),
            body: sections::failures(summary, FAILURE_ROWS),
        });
    }
    if let Some(previous) = previous {
        let parts: Vec<String> = figures::deltas(&summary.totals, &previous.totals)
            .iter()
            .map(|d| format!("{} {}", d.label, figures::signed(d, "−")))
            .collect();
        doc.paragraph(format!(
            "Since {}: {}.",
            wording::previous_month(previous),
            parts.join(", ")
        ));
    }
    if let Some(month) = summary.month.as_deref() {
        let points = crate::report::comment::chart_history(summary, previous);
        let charts = history::render_charts(&points, month);
        if !charts.is_empty() {
            doc.push(Block::Section {
                title: "Last 12 months".into(),
                body: vec![Block::Chart(charts)],
            });
        }
    }
    doc.paragraph(format!("Zendesk API: {}.", wording::requests_text(summary)));
    doc.paragraph(
        Text::new()
            .text("Per-record detail (which rows, users and organizations) is in the JSON report (")
            .code("--report-json")
            .text("), never in public output."),
    );
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    const ISSUE: Option<(u64, &str)> = Some((
        42,
        "https://github.com/cloud-gov/pages-zendesk-sync/issues/42",
    ));

    #[test]
    fn a_stopped_run_says_why_and_links_the_issue() {
        let summary = crate::report::fixtures::stopped_run(
            "bad input or configuration (see the job log)",
            false,
        );
        let out = render_job_summary(&summary, None, Some((7, "https://github.com/o/r/issues/7")));
        assert_eq!(
            out,
            "## ❌ Pages/Zendesk sync 2026-11: failed\n\nPosted on issue \
             [#7](https://github.com/o/r/issues/7).\n\n**The run stopped:** bad input or \
             configuration (see the job log). Nothing was written.\n"
        );
    }

    #[test]
    fn successful_first_run() {
        insta::assert_snapshot!(render_job_summary(
            &fixtures::successful_first_run(),
            None,
            ISSUE
        ));
    }

    #[test]
    fn partly_failed_run() {
        insta::assert_snapshot!(render_job_summary(&fixtures::partly_failed(), None, ISSUE));
    }

    #[test]
    fn dry_run() {
        insta::assert_snapshot!(render_job_summary(&fixtures::dry_run(), None, ISSUE));
    }

    #[test]
    fn plan() {
        insta::assert_snapshot!(render_job_summary(&fixtures::plan(), None, None));
    }

    #[test]
    fn run_with_previous_totals() {
        let previous = fixtures::previous();
        insta::assert_snapshot!(render_job_summary(
            &fixtures::with_previous(),
            Some(&previous),
            ISSUE
        ));
    }

    #[test]
    fn bulk_import_disabled() {
        insta::assert_snapshot!(render_job_summary(&fixtures::bulk_disabled(), None, ISSUE));
    }

    #[test]
    fn tripped_guard() {
        insta::assert_snapshot!(render_job_summary(&fixtures::guard_tripped(), None, ISSUE));
    }

    #[test]
    fn many_failure_reasons_are_cut_with_a_count_of_the_rest() {
        let mut b = fixtures::partly_failed_builder();
        for i in 0..100 {
            b = b.failed(
                crate::plan::ChangeKind::UpdateUser,
                &format!("code_{i:03}"),
                1,
            );
        }
        let out = render_job_summary(&b.build(), None, None);
        // 3 failures in the fixture plus 100: 20 rows shown, 83 reasons left.
        assert!(out.contains("…and 83 more reasons (83 records)"), "{out}");
        assert!(!out.contains("code_099"));
    }

    /// Issue 10: a held-back setting is one line naming the setting, the count and where.
    #[test]
    fn a_needs_attention_item_is_printed_as_given() {
        use crate::report::attention::{AttentionCause, NeedsAttention};
        let item = NeedsAttention {
            cause: AttentionCause::SettingOff(crate::account::Setting::Tagging),
            count: 3,
            problem: "3 manager tags not set: blocked by `user.tagging`.".into(),
            action: "Turn it on.".into(),
        };
        let summary = fixtures::partly_failed_builder()
            .needs(item.clone())
            .build();
        let out = render_job_summary(&summary, None, ISSUE);
        assert!(
            out.contains(
                "- 3 manager tags not set: blocked by `user.tagging`.\n  **Next:** Turn it on.\n"
            ),
            "{out}"
        );
        let text = crate::report::terminal::render_text(&summary);
        assert!(
            text.contains(
                "  - 3 manager tags not set: blocked by user.tagging.\n    next: Turn it on.\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn rendering_adds_no_at_sign() {
        let previous = fixtures::previous();
        for summary in fixtures::all() {
            let out = render_job_summary(&summary, Some(&previous), ISSUE);
            assert!(!out.contains('@'), "{out}");
        }
    }
}
