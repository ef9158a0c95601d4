//! The job summary written to `$GITHUB_STEP_SUMMARY`: a shorter cousin of the results
//! comment (status, what needs attention, criteria, change counts, failures), built from
//! the same pieces so the two never disagree.
//!
//! Pure: takes the public [`RunSummary`] and returns markdown. Never shows an email or name.

use crate::report::view;
use crate::report::{Carry, RunSummary};

/// Failure rows shown before "…and N more".
const FAILURE_ROWS: usize = 20;

/// Renders the job summary. `issue` is the monthly issue's number and URL, when the
/// command posted to one.
pub fn render_job_summary(
    summary: &RunSummary,
    previous: Option<&Carry>,
    issue: Option<(u64, &str)>,
) -> String {
    let would = view::would(summary);
    let mut out = view::md_heading(summary);
    out.push('\n');
    if let Some((number, url)) = issue {
        match view::link_target(url) {
            Some(url) => out.push_str(&format!("Results posted on issue [#{number}]({url}).\n\n")),
            None => out.push_str(&format!("Results posted on issue #{number}.\n\n")),
        }
    }
    out.push_str(&view::status_sentence(summary));

    out.push_str("\n### What needs attention\n\n");
    out.push_str(&view::md_attention(summary));

    out.push_str("\n### Acceptance criteria\n\n");
    out.push_str(&view::md_criteria_table(summary));

    if view::shows_changes(summary) {
        out.push_str(if would {
            "\n### Changes that would be made\n\n"
        } else {
            "\n### Changes\n\n"
        });
        out.push_str(&view::md_changes_table(summary));
    }

    if !summary.failures.is_empty() {
        out.push_str("\n### Failures by reason\n\n");
        out.push_str(&view::md_failures_table(summary, FAILURE_ROWS));
    }

    if let Some(previous) = previous {
        let parts: Vec<String> = view::deltas(&summary.totals, &previous.totals)
            .iter()
            .map(|d| format!("{} {}", d.label, view::signed(d, "−")))
            .collect();
        out.push_str(&format!(
            "\nSince {}: {}.\n",
            view::previous_month(previous),
            parts.join(", ")
        ));
    }

    if let Some(month) = summary.month.as_deref() {
        let points = crate::report::comment::chart_history(summary, previous);
        let charts = crate::report::history::render_charts(&points, month);
        if !charts.is_empty() {
            out.push_str("\n### Last 12 months\n\n");
            out.push_str(&charts);
        }
    }

    out.push_str(&format!(
        "\nZendesk API: {}.\n",
        view::requests_text(summary)
    ));
    out.push_str(
        "\nPer-record detail (which rows, users and organizations) is in the JSON report \
         (`--report-json`), never in public output.\n",
    );
    out
}

/// The job summary of a run that stopped before a result (bad input, a tripped guard, a
/// failed API). `reason` is public text: counts and categories, never data.
pub fn render_stopped_summary(month: &str, reason: &str, issue: Option<(u64, &str)>) -> String {
    let mut out = format!(
        "## {} Pages/Zendesk sync {}: failed\n\n",
        view::status_mark(crate::report::JobStatus::Failed),
        view::plain(month, 20)
    );
    if let Some((number, url)) = issue {
        match view::link_target(url) {
            Some(url) => out.push_str(&format!("Posted on issue [#{number}]({url}).\n\n")),
            None => out.push_str(&format!("Posted on issue #{number}.\n\n")),
        }
    }
    out.push_str(&format!("**The run stopped:** {reason}\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::view::fixtures;

    const ISSUE: Option<(u64, &str)> = Some((
        42,
        "https://github.com/cloud-gov/pages-zendesk-sync/issues/42",
    ));

    #[test]
    fn a_stopped_run_says_why_and_links_the_issue() {
        let out = render_stopped_summary(
            "2026-11",
            "nothing was written",
            Some((7, "https://github.com/o/r/issues/7")),
        );
        assert_eq!(
            out,
            "## ❌ Pages/Zendesk sync 2026-11: failed\n\nPosted on issue \
             [#7](https://github.com/o/r/issues/7).\n\n**The run stopped:** nothing was written\n"
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
        let text = crate::report::text::render_text(&summary);
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
