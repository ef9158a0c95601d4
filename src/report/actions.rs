//! GitHub Actions output of a run: the `$GITHUB_OUTPUT` lines other workflow steps read,
//! and `::error`/`::warning` workflow commands (annotations) for stdout.
//!
//! Pure: builds strings from the public [`RunSummary`]; the command writes them. Values are
//! counts, codes and URLs only, escaped per the workflow-command rules so no value can
//! inject a command or an output of its own.

use crate::plan::ChangeKind;
use crate::report::wording::{self, plural};
use crate::report::{figures, RunSummary};

/// At most this many failure-reason annotations; GitHub shows only 10 errors per step.
const MAX_FAILURE_ANNOTATIONS: usize = 8;

/// `$GITHUB_OUTPUT` lines, one output each, ending in a newline. Counts are of changes
/// applied (zero in a dry run; see `changes-planned`). `issue` is the monthly issue's
/// number and URL, when the command posted to one. A run that stopped has the short set:
/// status `failed`, the issue, whether the safety guard refused the plan, the run's link.
pub fn github_outputs(summary: &RunSummary, issue: Option<(u64, &str)>) -> String {
    if summary.stopped.is_some() {
        return stopped_outputs(summary, issue);
    }
    let applied = |kinds: &[ChangeKind]| -> usize {
        kinds
            .iter()
            .map(|k| summary.applied.get(k).copied().unwrap_or(0))
            .sum()
    };
    let mut pairs: Vec<(&str, String)> = vec![
        ("status", summary.status.code().into()),
        ("dry-run", summary.would().to_string()),
    ];
    if let Some(month) = &summary.month {
        pairs.push(("month", month.clone()));
    }
    if let Some((number, url)) = issue {
        pairs.push(("issue-number", number.to_string()));
        pairs.push(("issue-url", url.to_string()));
    }
    pairs.extend([
        (
            "created",
            applied(&[ChangeKind::CreateOrganization, ChangeKind::CreateUser]).to_string(),
        ),
        (
            "updated",
            applied(&[
                ChangeKind::UpdateOrganization,
                ChangeKind::UpdateUser,
                ChangeKind::SetPrimaryEmail,
            ])
            .to_string(),
        ),
    ]);
    for kind in ChangeKind::ALL {
        pairs.push((output_name(kind), applied(&[kind]).to_string()));
    }
    pairs.extend([
        (
            "changes-planned",
            summary.planned.values().sum::<usize>().to_string(),
        ),
        (
            "changes-applied",
            summary.applied.values().sum::<usize>().to_string(),
        ),
        ("failed", summary.failed_records().to_string()),
        (
            "skipped-changes",
            summary.skipped.values().sum::<usize>().to_string(),
        ),
        ("skipped-rows", figures::skipped_rows(summary).to_string()),
        ("criteria-passed", summary.all_criteria_passed().to_string()),
        (
            "criteria-failed",
            summary
                .criteria
                .iter()
                .filter(|c| !c.passed)
                .count()
                .to_string(),
        ),
        ("guard-tripped", summary.guard_tripped.to_string()),
        (
            "bulk-user-import-disabled",
            summary.bulk_user_import_disabled.to_string(),
        ),
        ("requests", summary.requests.requests.to_string()),
        ("rate-limited", summary.requests.rate_limited.to_string()),
        ("retries", summary.requests.retries.to_string()),
        ("elapsed-ms", summary.elapsed_ms.to_string()),
    ]);
    if let Some(url) = &summary.run_url {
        pairs.push(("run-url", url.clone()));
    }
    pairs
        .iter()
        .map(|(name, value)| output_line(name, value))
        .collect()
}

fn stopped_outputs(summary: &RunSummary, issue: Option<(u64, &str)>) -> String {
    let mut pairs: Vec<(&str, String)> = vec![
        ("status", summary.status.code().into()),
        ("dry-run", summary.mode.dry().to_string()),
    ];
    if let Some(month) = &summary.month {
        pairs.push(("month", month.clone()));
    }
    if let Some((number, url)) = issue {
        pairs.push(("issue-number", number.to_string()));
        pairs.push(("issue-url", url.to_string()));
    }
    pairs.push(("criteria-passed", "false".into()));
    pairs.push(("guard-tripped", summary.guard_tripped.to_string()));
    if let Some(url) = &summary.run_url {
        pairs.push(("run-url", url.clone()));
    }
    pairs
        .iter()
        .map(|(name, value)| output_line(name, value))
        .collect()
}

fn output_name(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::CreateOrganization => "organizations-created",
        ChangeKind::UpdateOrganization => "organizations-updated",
        ChangeKind::CreateUser => "users-created",
        ChangeKind::UpdateUser => "users-updated",
        ChangeKind::SetPrimaryEmail => "primary-emails-changed",
        ChangeKind::AddMembership => "memberships-added",
        ChangeKind::RemoveMembership => "memberships-removed",
    }
}

/// `name=value`, or the `name<<DELIM` form when the value has a line break (a plain line
/// would let the value set outputs of its own).
fn output_line(name: &str, value: &str) -> String {
    if !value.contains(['\n', '\r']) {
        return format!("{name}={value}\n");
    }
    let mut delimiter = String::from("ghadelim_7c1f3e9a2b");
    let mut n = 0u32;
    while value.contains(&delimiter) {
        n += 1;
        delimiter = format!("ghadelim_7c1f3e9a2b_{n}");
    }
    format!("{name}<<{delimiter}\n{value}\n{delimiter}\n")
}

/// Workflow commands for stdout: errors for failures, unsatisfied criteria and a tripped
/// guard; warnings for skipped rows and disabled bulk import. A run that stopped has one
/// error saying why.
pub fn annotations(summary: &RunSummary) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(stopped) = &summary.stopped {
        out.push(format!(
            "::error title=pages-zendesk-sync stopped::{}",
            escape_data(&stopped.sentence())
        ));
        return out;
    }
    if summary.guard_tripped {
        out.push(command(
            "error",
            "Safety guard refused the plan",
            &format!(
                "{}. Membership removals: {}. Users report: {}. \
                 Check the Pages reports; if the removals are right, run again with --allow-mass-removal.",
                wording::capitalised(wording::NOTHING_WRITTEN),
                wording::guard_removals_text(summary),
                wording::guard_users_text(summary)
            ),
        ));
    }
    let failures = figures::sorted_failures(summary);
    for f in failures.iter().take(MAX_FAILURE_ANNOTATIONS) {
        out.push(command(
            "error",
            &format!("Zendesk refused {}", f.kind.label()),
            &format!(
                "{} with reason {}; per-record detail is in the JSON report",
                plural(f.count, "record", "records"),
                f.reason
            ),
        ));
    }
    if failures.len() > MAX_FAILURE_ANNOTATIONS {
        let rest = &failures[MAX_FAILURE_ANNOTATIONS..];
        out.push(command(
            "error",
            "More Zendesk failures",
            &format!(
                "{} more reasons ({} records); see the job summary and the JSON report",
                rest.len(),
                rest.iter().map(|f| f.count).sum::<usize>()
            ),
        ));
    }
    for c in summary.criteria.iter().filter(|c| !c.passed) {
        out.push(command(
            "error",
            "Acceptance criterion not satisfied",
            &format!(
                "{}: {} ({} checked)",
                c.criterion.checklist_text(),
                wording::mismatch_text(&c.mismatches),
                c.checked
            ),
        ));
    }
    let skipped = figures::skipped_rows(summary);
    if skipped > 0 {
        let reasons: Vec<String> = summary
            .row_problems
            .iter()
            .map(|(code, n)| format!("{code}: {n}"))
            .collect();
        let lines = wording::all_lines_text(summary)
            .map(|l| format!("\n{l}"))
            .unwrap_or_default();
        out.push(command(
            "warning",
            "Rows skipped in the Pages reports",
            &format!(
                "{} skipped ({}){lines}",
                plural(skipped, "row", "rows"),
                reasons.join(", ")
            ),
        ));
    }
    if summary.bulk_user_import_disabled {
        out.push(command(
            "warning",
            "Bulk user import disabled",
            "Zendesk refused bulk user import; users were written one at a time",
        ));
    }
    out
}

fn command(level: &str, title: &str, message: &str) -> String {
    format!(
        "::{level} title={}::{}",
        escape_property(title),
        escape_data(message)
    )
}

/// Escapes a workflow-command message (docs/references.md "GitHub workflow commands").
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow-command property value (docs/references.md "GitHub workflow
/// commands").
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    #[test]
    fn outputs_of_a_partly_failed_run() {
        insta::assert_snapshot!(github_outputs(
            &fixtures::partly_failed(),
            Some((
                42,
                "https://github.com/cloud-gov/pages-zendesk-sync/issues/42"
            ))
        ));
    }

    #[test]
    fn outputs_of_a_dry_run_have_no_issue() {
        let out = github_outputs(&fixtures::dry_run(), None);
        assert!(out.contains("status=dry_run\n"));
        assert!(out.contains("dry-run=true\n"));
        assert!(out.contains("changes-planned=15\n"));
        assert!(out.contains("changes-applied=0\n"));
        assert!(!out.contains("issue-"));
    }

    #[test]
    fn outputs_are_one_line_each_and_successful_runs_pass() {
        let out = github_outputs(&fixtures::successful_first_run(), Some((7, "https://x/7")));
        for line in out.lines() {
            let (name, value) = line.split_once('=').expect("name=value");
            assert!(!name.is_empty() && !value.contains('='), "{line}");
        }
        assert!(out.contains("criteria-passed=true\n"));
        assert!(out.contains("created=322\n"));
        assert!(out.contains("memberships-added=352\n"));
        assert!(out.contains("issue-number=7\n"));
    }

    #[test]
    fn outputs_of_a_stopped_run_say_failed_and_name_the_issue() {
        let summary =
            crate::report::fixtures::stopped_run("the safety guard refused the plan", true);
        let out = github_outputs(&summary, Some((7, "https://x/7")));
        assert_eq!(
            out,
            "status=failed\ndry-run=false\nmonth=2026-11\nissue-number=7\nissue-url=https://x/7\n\
             criteria-passed=false\nguard-tripped=true\n"
        );
        assert_eq!(
            annotations(&summary),
            [
                "::error title=pages-zendesk-sync stopped::the safety guard refused the plan. \
              Nothing was written."
            ]
        );
    }

    #[test]
    fn a_value_with_a_line_break_uses_a_delimiter_it_does_not_contain() {
        let value = "line one\nghadelim_7c1f3e9a2b\nstatus=succeeded";
        let out = output_line("odd", value);
        let first = out.lines().next().unwrap();
        let delimiter = first.strip_prefix("odd<<").unwrap();
        assert!(!value.contains(delimiter));
        assert_eq!(out, format!("odd<<{delimiter}\n{value}\n{delimiter}\n"));
    }

    #[test]
    fn annotations_of_a_partly_failed_run() {
        insta::assert_snapshot!(annotations(&fixtures::partly_failed()).join("\n"));
    }

    #[test]
    fn annotations_of_a_tripped_guard_and_disabled_bulk_import() {
        let mut summary = fixtures::guard_tripped();
        summary.bulk_user_import_disabled = true;
        insta::assert_snapshot!(annotations(&summary).join("\n"));
    }

    #[test]
    fn a_clean_run_has_no_annotations() {
        assert!(annotations(&fixtures::successful_first_run()).is_empty());
    }

    #[test]
    fn escaping_follows_the_workflow_command_rules() {
        assert_eq!(escape_data("50%\r\nnext::x, y"), "50%25%0D%0Anext::x, y");
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
        // Percent first, so an escape is never escaped twice.
        assert_eq!(escape_data("%0A"), "%250A");
        let cmd = command("error", "t: 1, 2", "m\nn");
        assert_eq!(cmd, "::error title=t%3A 1%2C 2::m%0An");
    }

    #[test]
    fn every_annotation_is_one_line() {
        for summary in fixtures::all() {
            for a in annotations(&summary) {
                assert!(!a.contains('\n') && !a.contains('\r'), "{a}");
                assert!(a.starts_with("::error title=") || a.starts_with("::warning title="));
                assert!(!a.contains('@'));
            }
        }
    }

    #[test]
    fn failure_annotations_are_capped() {
        let mut b = fixtures::partly_failed_builder();
        for i in 0..30 {
            b = b.failed(ChangeKind::AddMembership, &format!("code_{i}"), 2);
        }
        let list = annotations(&b.build());
        let failures = list
            .iter()
            .filter(|a| a.contains("Zendesk refused"))
            .count();
        assert_eq!(failures, MAX_FAILURE_ANNOTATIONS);
        assert!(list
            .iter()
            .any(|a| a.contains("25 more reasons (50 records)")));
    }
}
