//! The results comment posted on the monthly issue, and the hidden blocks it ends with:
//! the run marker (so a re-run finds and updates its own comment) and the carry block
//! (machine-readable totals, read back next month for "Change since last month").
//!
//! Pure: takes the public [`RunSummary`] and returns a string. It must never exceed
//! GitHub's comment size limit (65,536 characters): detail is dropped first, the status,
//! the criteria and the hidden blocks always stay.

use crate::month::{CARRY_TAG, RUN_TAG};
use crate::report::history::{self, HistoryPoint};
use crate::report::view;
use crate::report::{Carry, JobStatus, RunSummary};

/// Comment bodies stay under this many characters (GitHub refuses more than 65,536;
/// the margin leaves room for anything a later step appends).
pub const COMMENT_CHAR_CAP: usize = 60_000;

/// The version of the carry block this build writes and reads.
pub const CARRY_VERSION: u32 = 1;

/// How much detail a rendering keeps; each step drops more to fit the size cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Full,
    /// No line lists, no notes, at most [`TRIMMED_FAILURE_ROWS`] failure rows.
    Trimmed,
    /// Also no failure table.
    Minimal,
}

const TRIMMED_FAILURE_ROWS: usize = 50;

/// Renders the results comment. `run_marker` identifies the run (e.g. the workflow run id
/// or `2025-03`); it is written as `<!-- pages-zendesk-sync:run=MARKER -->` — see
/// [`run_marker_line`] to look for it.
pub fn render_comment(summary: &RunSummary, previous: Option<&Carry>, run_marker: &str) -> String {
    let hidden = hidden_blocks(summary, previous, run_marker);
    let hidden_len = hidden.chars().count();
    for level in [Level::Full, Level::Trimmed, Level::Minimal] {
        let visible = visible(summary, previous, level);
        if visible.chars().count() + hidden_len <= COMMENT_CHAR_CAP {
            return visible + &hidden;
        }
    }
    // Only reachable with absurd inputs (e.g. a month string of many kilobytes): cut the
    // visible part hard, and as a last resort the whole body, so GitHub never refuses it.
    let note = "\n\n_…cut to fit GitHub's comment size limit; the full detail is in the JSON report and the job log._\n";
    let room = COMMENT_CHAR_CAP
        .saturating_sub(hidden_len)
        .saturating_sub(note.chars().count());
    let visible: String = visible(summary, previous, Level::Minimal)
        .chars()
        .take(room)
        .collect();
    let body = visible + note + &hidden;
    body.chars().take(COMMENT_CHAR_CAP).collect()
}

/// The exact hidden line that marks a comment as this run's, for finding it again.
pub fn run_marker_line(run_marker: &str) -> String {
    format!("<!-- {RUN_TAG}{} -->", clean_marker(run_marker))
}

/// The run marker a comment carries, if any.
pub fn find_run_marker(comment_body: &str) -> Option<&str> {
    let start = comment_body.find(RUN_TAG)? + RUN_TAG.len();
    let rest = &comment_body[start..];
    let end = rest.find("-->")?;
    Some(rest[..end].trim())
}

/// Reads the carry block back from a results comment. Tolerates any text around it;
/// `None` when there is no block, its JSON is malformed, or its version is unknown.
pub fn parse_carry(comment_body: &str) -> Option<Carry> {
    let mut rest = comment_body;
    while let Some(i) = rest.find(CARRY_TAG) {
        let after = &rest[i + CARRY_TAG.len()..];
        if let Some(end) = after.find("-->") {
            if let Ok(carry) = serde_json::from_str::<Carry>(after[..end].trim()) {
                if carry.version == CARRY_VERSION {
                    return Some(carry);
                }
            }
        }
        rest = after;
    }
    None
}

/// The marker keeps only characters that cannot end an HTML comment or start markup.
fn clean_marker(run_marker: &str) -> String {
    let mut marker: String = run_marker
        .chars()
        .filter(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '/' | '=' | '+' | '-')
        })
        .take(200)
        .collect();
    // "--" is not allowed inside an HTML comment by older parsers.
    while marker.contains("--") {
        marker = marker.replace("--", "-");
    }
    marker
}

fn hidden_blocks(summary: &RunSummary, previous: Option<&Carry>, run_marker: &str) -> String {
    let mut out = String::from("\n");
    out.push_str(&run_marker_line(run_marker));
    out.push('\n');
    if let Some(mut carry) = summary.carry() {
        // The months before this one; this month's own totals are the carry's totals.
        carry.history = history::roll(previous, &carry.month, None);
        // Serialising plain fields cannot fail; if it ever did, the comment is still
        // worth posting without the carry block (next month just shows no deltas).
        if let Ok(json) = serde_json::to_string(&carry) {
            out.push_str(&format!(
                "<!-- {CARRY_TAG} {} -->\n",
                comment_safe_json(&json)
            ));
        }
    }
    out
}

/// The twelve months to draw: last month's carried history, last month, and this run
/// (unless it stopped before reading anything).
pub fn chart_history(summary: &RunSummary, previous: Option<&Carry>) -> Vec<HistoryPoint> {
    match summary.month.as_deref() {
        Some(month) => history::roll(previous, month, Some(&summary.totals)),
        None => Vec::new(),
    }
}

/// Makes JSON safe inside an HTML comment without changing its meaning: inside strings,
/// `<`, `>` and `&` become `\u003c`, `\u003e`, `\u0026`, and a `-` followed by another `-`
/// becomes `\u002d`, so neither `-->` nor `--` can appear. Outside strings valid JSON has
/// none of these characters except a single `-` sign, so nothing else needs touching.
fn comment_safe_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = json.chars().peekable();
    while let Some(c) = chars.next() {
        if !in_string {
            if c == '"' {
                in_string = true;
            }
            out.push(c);
            continue;
        }
        if escaped {
            escaped = false;
            out.push(c);
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                out.push(c);
            }
            '"' => {
                in_string = false;
                out.push(c);
            }
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '-' if chars.peek() == Some(&'-') => out.push_str("\\u002d"),
            c => out.push(c),
        }
    }
    out
}

/// Whether the run changed nothing, satisfied every criterion and needs nobody: then the
/// comment is a short one.
fn quiet(summary: &RunSummary) -> bool {
    summary.status == JobStatus::Succeeded
        && !summary.criteria.is_empty()
        && summary.all_criteria_passed()
        && view::change_rows(summary).is_empty()
        && view::attention(summary).is_empty()
}

/// The top of the comment: "is Zendesk in step, and what do I need to do?" in at most
/// ten non-empty lines: heading, status, one line per criterion, the changes in one line
/// of counts, what needs attention in one line.
fn top(summary: &RunSummary) -> String {
    let mut out = view::md_heading(summary);
    let (lead, rest) = view::status_parts(summary);
    let quiet = quiet(summary);
    if quiet {
        out.push_str(&format!(
            "**{lead}** Nothing needed changing and nothing needs attention; all {} \
             acceptance criteria are satisfied.",
            summary.criteria.len()
        ));
    } else {
        out.push_str(&format!("**{lead}** {rest}"));
    }
    if let Some(url) = summary.run_url.as_deref().and_then(view::link_target) {
        out.push_str(&format!(" [Workflow run]({url})"));
    }
    out.push('\n');
    if quiet {
        return out;
    }
    out.push('\n');
    if summary.criteria.is_empty() {
        out.push_str("- Acceptance criteria were not checked in this run.\n");
    }
    for c in &summary.criteria {
        let mark = if c.passed { "✅" } else { "❌" };
        let arrow = if view::is_child(c.criterion) {
            "↳ "
        } else {
            ""
        };
        let mismatches = if c.passed {
            String::new()
        } else {
            format!(" ({})", view::mismatch_text(&c.mismatches))
        };
        out.push_str(&format!(
            "- {mark} {arrow}{}{mismatches}\n",
            c.criterion.checklist_text()
        ));
    }
    out.push('\n');
    out.push_str(&changes_line(summary));
    out.push('\n');
    out.push_str(&attention_line(summary));
    out
}

/// The changes in one line of counts.
fn changes_line(summary: &RunSummary) -> String {
    let would = view::would(summary);
    let rows = view::change_rows(summary);
    let label = if would || summary.guard_tripped {
        "**Changes that would be made:**"
    } else {
        "**Changes:**"
    };
    if rows.is_empty() {
        return format!(
            "{label} {}\n",
            if summary.status == JobStatus::Failed {
                "none made."
            } else {
                "none needed."
            }
        );
    }
    let counts: Vec<String> = rows
        .iter()
        .map(|r| {
            let n = if would || summary.guard_tripped {
                r.planned
            } else {
                r.applied
            };
            format!("{} {n}", r.kind.label())
        })
        .collect();
    let total = view::change_total(&rows);
    let mut line = format!("{label} {}", counts.join(", "));
    if !would && !summary.guard_tripped && (total.failed > 0 || total.skipped > 0) {
        line.push_str(&format!(
            "; failed {}, skipped {}",
            total.failed, total.skipped
        ));
    }
    line.push_str(".\n");
    line
}

/// What needs attention in one line (the generic list from the summary, one sentence per
/// item); the actions are in the "What to do" section below.
fn attention_line(summary: &RunSummary) -> String {
    let items = view::attention(summary);
    if items.is_empty() {
        return "**Needs attention:** nothing.\n".into();
    }
    let problems: Vec<String> = items.iter().map(|i| i.problem.clone()).collect();
    format!(
        "**Needs attention ({}):** {} See _What to do_ below.\n",
        items.len(),
        problems.join(" ")
    )
}

/// A collapsed section; GitHub needs the blank lines to render markdown inside.
fn details(out: &mut String, summary_text: &str, body: &str) {
    out.push_str(&format!(
        "\n<details><summary>{summary_text}</summary>\n\n{}\n</details>\n",
        body.trim_end()
    ));
}

fn visible(summary: &RunSummary, previous: Option<&Carry>, level: Level) -> String {
    let would = view::would(summary);
    let mut out = top(summary);
    let charts = summary
        .month
        .as_deref()
        .map(|m| history::render_charts(&chart_history(summary, previous), m))
        .unwrap_or_default();

    if quiet(summary) {
        if !charts.is_empty() {
            details(&mut out, "Last 12 months", &charts);
        }
        return out;
    }

    let items = view::attention(summary);
    if !items.is_empty() {
        details(&mut out, "What to do", &view::md_attention(summary));
    }
    if !charts.is_empty() {
        details(&mut out, "Last 12 months", &charts);
    }

    let mut criteria = String::new();
    if would && !summary.criteria.is_empty() {
        criteria.push_str("_Checked against Zendesk as it is now; nothing was written._\n\n");
    }
    criteria.push_str(&view::md_criteria_table(summary));
    details(&mut out, "Acceptance criteria: figures", &criteria);

    if view::shows_changes(summary) {
        let mut changes = view::md_changes_table(summary);
        if !would && view::change_rows(summary).iter().any(|r| r.skipped > 0) {
            changes.push_str(
                "\n_Skipped: not attempted because a change they depend on failed \
                 (e.g. memberships of a user whose creation failed)._\n",
            );
        }
        details(
            &mut out,
            if would {
                "Changes that would be made"
            } else {
                "Changes"
            },
            &changes,
        );
    }

    if !summary.failures.is_empty() {
        let failures = match level {
            Level::Full => view::md_failures_table(summary, usize::MAX),
            Level::Trimmed => view::md_failures_table(summary, TRIMMED_FAILURE_ROWS),
            Level::Minimal => format!(
                "{} failed; the reasons are in the JSON report and the job log.\n",
                view::plural(summary.failed_records(), "record", "records")
            ),
        };
        details(&mut out, "Failures by reason", &failures);
    }

    let mut source = source_section(summary, level);
    if level == Level::Full && !summary.notes.is_empty() {
        source.push_str("\n**Notes**\n\n");
        let rows: Vec<Vec<String>> = summary
            .notes
            .iter()
            .map(|(k, n)| vec![k.label().to_string(), n.to_string()])
            .collect();
        source.push_str(&view::md_table(&["Note", "Count"], &[false, true], &rows));
    }
    details(&mut out, "Pages reports", &source);

    if let Some(previous) = previous {
        let mut deltas = view::md_deltas(summary, previous);
        if previous.status != JobStatus::Succeeded {
            deltas.push_str(&format!(
                "\n_That run {}._\n",
                match previous.status {
                    JobStatus::PartlyFailed => "partly failed",
                    JobStatus::Failed => "failed",
                    JobStatus::DryRun => "was a dry run",
                    JobStatus::Succeeded => "succeeded",
                }
            ));
        }
        let last_month = summary
            .month
            .as_deref()
            .is_some_and(|m| history::is_month_before(&previous.month, m));
        details(
            &mut out,
            &format!(
                "Change since {} ({})",
                if last_month {
                    "last month"
                } else {
                    "the last results"
                },
                view::previous_month(previous)
            ),
            &deltas,
        );
    }

    let mut guard = String::from(if summary.guard_tripped {
        "**Tripped: the plan was refused and nothing was written.**\n\n"
    } else {
        "Within limits.\n\n"
    });
    guard.push_str(&view::md_table(
        &["Figure", "Value"],
        &[false, false],
        &[
            vec![
                "Membership removals".into(),
                view::guard_removals_text(summary),
            ],
            vec!["Users report size".into(), view::guard_users_text(summary)],
        ],
    ));
    details(&mut out, "Safety guard", &guard);

    let mut zendesk = format!("- API: {}\n", view::requests_text(summary));
    zendesk.push_str(&format!(
        "- {}: {}, {}, {}\n",
        if would || summary.guard_tripped {
            "As read (nothing written)"
        } else if summary.status == JobStatus::Failed {
            "Last read"
        } else {
            "After the sync"
        },
        view::plural(
            summary.totals.zendesk_organizations,
            "organization",
            "organizations"
        ),
        view::plural(summary.totals.zendesk_users, "end user", "end users"),
        view::plural(
            summary.totals.zendesk_memberships,
            "end-user membership",
            "end-user memberships"
        )
    ));
    if summary.bulk_user_import_disabled {
        zendesk.push_str(
            "- **Bulk user import is disabled** in this Zendesk account: users were written \
             one at a time.\n",
        );
    }
    details(&mut out, "Zendesk", &zendesk);

    if level > Level::Full {
        out.push_str(
            "\n_Some detail (row lines, notes, failure reasons) was left out to fit GitHub's \
             comment size limit; the full detail is in the JSON report (`--report-json`) and \
             the job log._\n",
        );
    }
    out
}

fn source_section(summary: &RunSummary, level: Level) -> String {
    let s = &summary.source;
    let (org_rows, user_rows) = view::source_row_labels(s);
    let mut out = view::md_table(
        &["Figure", "Count"],
        &[false, true],
        &[
            vec![org_rows.into(), s.organization_rows.to_string()],
            vec![user_rows.into(), s.user_rows.to_string()],
            vec!["Partner users".into(), s.partner_users.to_string()],
            vec!["Memberships".into(), s.memberships.to_string()],
            vec!["Org managers".into(), s.managers.to_string()],
            vec![
                "Users without an organization (not partners, skipped)".into(),
                s.users_without_organization.to_string(),
            ],
        ],
    );
    for note in view::source_notes(s) {
        out.push_str(&format!("\n{note}\n"));
    }
    if !summary.row_problems.is_empty() {
        out.push_str("\nRows skipped or merged, by reason:\n\n");
        let rows: Vec<Vec<String>> = summary
            .row_problems
            .iter()
            .map(|(code, n)| {
                vec![
                    format!("`{}`", view::plain(code, 60)),
                    view::row_problem_text(code).to_string(),
                    n.to_string(),
                ]
            })
            .collect();
        out.push_str(&view::md_table(
            &["Reason", "Meaning", "Rows"],
            &[false, false, true],
            &rows,
        ));
        if level == Level::Full {
            if let Some(lines) = view::all_lines_text(summary) {
                out.push_str(&format!("\nWhere: {lines}.\n"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ChangeKind;
    use crate::report::view::fixtures::{self, run};
    use crate::report::Totals;
    use crate::source::ReportKind;
    use crate::verify::Criterion;

    const MARKER: &str = "run-123";

    #[test]
    fn the_database_source_and_its_notes_are_stated_with_counts_only() {
        let mut summary = run().build();
        summary.source.from_database = true;
        summary.source.users_without_identity = 69;
        summary.source.sandbox_organizations_left_out = Some(4);
        let body = render_comment(&summary, None, MARKER);
        assert!(body.contains("Pages users (database)"), "{body}");
        assert!(
            body.contains("69 Pages users have organizations but no sign-in identity; not synced."),
            "{body}"
        );
        assert!(
            body.contains("4 sandbox organization(s) left out"),
            "{body}"
        );
        assert!(body.contains("pages.include_sandbox_organizations: false"));
        assert!(!body.contains("inactive organization(s) left out"));
        assert!(!body.contains("missing_email"), "not a row problem");

        summary.source.users_without_identity = 1;
        let text = crate::report::text::render_text(&summary);
        assert!(text.contains("Pages database\n"), "{text}");
        assert!(
            text.contains("1 Pages user has organizations but no sign-in identity; not synced."),
            "{text}"
        );
    }

    fn render(summary: &RunSummary) -> String {
        render_comment(summary, None, MARKER)
    }

    #[test]
    fn successful_first_run() {
        insta::assert_snapshot!(render(&fixtures::successful_first_run()));
    }

    #[test]
    fn partly_failed_run() {
        insta::assert_snapshot!(render(&fixtures::partly_failed()));
    }

    #[test]
    fn dry_run() {
        insta::assert_snapshot!(render(&fixtures::dry_run()));
    }

    #[test]
    fn plan() {
        insta::assert_snapshot!(render(&fixtures::plan()));
    }

    #[test]
    fn run_with_previous_totals_shows_deltas() {
        let previous = fixtures::previous();
        let comment = render_comment(&fixtures::with_previous(), Some(&previous), MARKER);
        insta::assert_snapshot!(comment);
    }

    #[test]
    fn bulk_import_disabled() {
        insta::assert_snapshot!(render(&fixtures::bulk_disabled()));
    }

    #[test]
    fn tripped_guard() {
        insta::assert_snapshot!(render(&fixtures::guard_tripped()));
    }

    #[test]
    fn deltas_have_signs_and_the_previous_month() {
        let previous = fixtures::previous();
        let comment = render_comment(&fixtures::with_previous(), Some(&previous), MARKER);
        assert!(comment.contains("<summary>Change since last month (2025-02)</summary>"));
        // 40 → 42 organizations, 310 → 305 partner users, 57 → 57 managers.
        assert!(comment.contains("| Pages organizations | 40 | 42 | +2 |"));
        assert!(comment.contains("| Pages partner users | 310 | 305 | −5 |"));
        assert!(comment.contains("| Pages managers | 57 | 57 | 0 |"));
        assert!(!render(&fixtures::with_previous()).contains("Change since last month"));
    }

    #[test]
    fn ends_with_the_run_marker_and_a_carry_block_that_reads_back() {
        let summary = fixtures::successful_first_run();
        let comment = render(&summary);
        assert!(comment.contains("<!-- pages-zendesk-sync:run=run-123 -->"));
        assert_eq!(find_run_marker(&comment), Some("run-123"));
        assert!(comment.contains(&run_marker_line(MARKER)));
        assert_eq!(parse_carry(&comment), summary.carry());
        assert!(comment.trim_end().ends_with("-->"));
    }

    #[test]
    fn no_carry_block_without_a_month() {
        let comment = render(&run().month(None).build());
        assert!(!comment.contains(CARRY_TAG));
        assert_eq!(parse_carry(&comment), None);
    }

    #[test]
    fn carry_round_trips_through_hostile_month_text() {
        for month in ["2025-03", "--> <b>x</b> -- ---", "a\"b\\c<!--", "ünï--cödé"] {
            let summary = run().month(Some(month)).build();
            let comment = render(&summary);
            let carry_line = comment
                .lines()
                .find(|l| l.contains(CARRY_TAG))
                .expect("carry line");
            // The only "-->" is the one closing the block, and no "--" appears in the JSON.
            assert_eq!(carry_line.matches("-->").count(), 1, "{carry_line}");
            let json_part =
                &carry_line[carry_line.find('{').unwrap()..carry_line.rfind('}').unwrap()];
            assert!(!json_part.contains("--"), "{json_part}");
            assert!(!json_part.contains('<') && !json_part.contains('>'));
            let back = parse_carry(&comment).expect("parses");
            assert_eq!(back.month, month);
            assert_eq!(Some(back), summary.carry());
        }
    }

    #[test]
    fn parse_carry_tolerates_surrounding_text() {
        let body = "Some words\n> quoted\n<!--   pages-zendesk-sync:carry   {\"version\":1,\"month\":\"2024-12\",\"status\":\"partly_failed\",\"totals\":{\"pages_organizations\":1,\"pages_users\":2,\"pages_memberships\":3,\"pages_managers\":4,\"zendesk_organizations\":5,\"zendesk_memberships\":6}}-->trailing";
        let carry = parse_carry(body).expect("parses");
        assert_eq!(carry.month, "2024-12");
        assert_eq!(carry.status, JobStatus::PartlyFailed);
        assert_eq!(
            carry.totals,
            Totals {
                pages_organizations: 1,
                pages_users: 2,
                pages_memberships: 3,
                pages_managers: 4,
                zendesk_organizations: 5,
                zendesk_memberships: 6,
                zendesk_users: 0,
            }
        );
    }

    #[test]
    fn parse_carry_refuses_malformed_or_unknown_blocks() {
        let good_totals = "\"totals\":{\"pages_organizations\":1,\"pages_users\":2,\"pages_memberships\":3,\"pages_managers\":4,\"zendesk_organizations\":5,\"zendesk_memberships\":6}";
        let cases = [
            String::new(),
            "no block here".to_string(),
            "<!-- pages-zendesk-sync:carry {not json} -->".to_string(),
            "<!-- pages-zendesk-sync:carry {\"version\":1,\"month\":\"2025-01\"".to_string(),
            format!("<!-- pages-zendesk-sync:carry {{\"version\":2,\"month\":\"2025-01\",\"status\":\"succeeded\",{good_totals}}} -->"),
            format!("<!-- pages-zendesk-sync:carry {{\"version\":1,\"month\":\"2025-01\",\"status\":\"exploded\",{good_totals}}} -->"),
            "<!-- pages-zendesk-sync:carry {\"version\":1,\"month\":\"2025-01\",\"status\":\"succeeded\"} -->".to_string(),
            format!("<!-- pages-zendesk-sync:carry {{\"version\":1,\"month\":\"2025-01\",\"status\":\"succeeded\",{good_totals}}}"),
        ];
        for body in &cases {
            assert_eq!(parse_carry(body), None, "{body}");
        }
        // A malformed block does not hide a good one after it.
        let both = format!("{}\n{}", cases[2], render(&fixtures::partly_failed()));
        assert_eq!(
            parse_carry(&both).map(|c| c.status),
            Some(JobStatus::PartlyFailed)
        );
    }

    #[test]
    fn run_marker_cannot_close_the_comment_early() {
        let line = run_marker_line("abc --> <script> --- x");
        assert_eq!(line, "<!-- pages-zendesk-sync:run=abc-script-x -->");
        assert_eq!(find_run_marker(&line), Some("abc-script-x"));
    }

    fn enormous() -> RunSummary {
        let mut b = fixtures::partly_failed_builder();
        for i in 0..4_000 {
            b = b.failed(
                ChangeKind::ALL[i % ChangeKind::ALL.len()],
                &format!("RecordInvalid/field_{i:05}/SomethingRatherLongToMakeItHurt"),
                i % 7 + 1,
            );
        }
        let lines: Vec<u64> = (2..8_000).collect();
        b.row_lines(ReportKind::Users, &lines)
            .row_lines(ReportKind::Organizations, &lines)
            .build()
    }

    #[test]
    fn an_enormous_summary_stays_under_the_cap_and_keeps_what_matters() {
        let summary = enormous();
        let previous = fixtures::previous();
        let comment = render_comment(&summary, Some(&previous), MARKER);
        assert!(
            comment.chars().count() <= COMMENT_CHAR_CAP,
            "{}",
            comment.chars().count()
        );
        assert!(comment.starts_with("## ⚠️ Pages/Zendesk sync 2025-03: partly failed"));
        for c in Criterion::ALL {
            assert!(comment.contains(c.checklist_text()), "{c:?}");
        }
        assert!(comment.contains("❌ fail"));
        assert!(comment.contains("left out to fit GitHub's comment size limit"));
        assert!(comment.contains(&run_marker_line(MARKER)));
        let carry = parse_carry(&comment).expect("carry");
        assert_eq!(Some(carry.totals), summary.carry().map(|c| c.totals));
        assert_eq!(carry.history.len(), 1, "last month is carried on");
        // The full line lists went first (the attention item keeps its bounded excerpt);
        // the failure table was cut with a count of the rest.
        assert!(!comment.contains("Where: users.csv"));
        assert!(!comment.contains("**Notes**"));
        assert!(comment.contains("more reasons ("));
    }

    #[test]
    fn absurd_month_text_still_fits() {
        let month = "9".repeat(200_000);
        let summary = run().month(Some(&month)).build();
        let comment = render_comment(&summary, None, &"m".repeat(10_000));
        assert!(comment.chars().count() <= COMMENT_CHAR_CAP);
    }

    #[test]
    fn a_normal_summary_keeps_full_detail() {
        let comment = render(&fixtures::partly_failed());
        assert!(comment.contains("Where: users.csv lines 14, 88, 120, 203."));
        assert!(comment.contains("**Notes**"));
        assert!(!comment.contains("left out to fit"));
    }

    #[test]
    fn rendering_adds_no_at_sign() {
        let previous = fixtures::previous();
        for summary in fixtures::all() {
            let comment = render_comment(&summary, Some(&previous), MARKER);
            assert!(!comment.contains('@'), "{comment}");
        }
    }

    /// The part before the first collapsed section.
    fn top_part(comment: &str) -> &str {
        let end = comment
            .find("\n<details>")
            .or_else(|| comment.find("\n<!-- pages-zendesk-sync:run="))
            .unwrap();
        &comment[..end]
    }

    #[test]
    fn the_top_answers_in_at_most_ten_lines_and_everything_else_is_collapsed() {
        let previous = fixtures::previous();
        for summary in fixtures::all().into_iter().chain([nothing_to_do()]) {
            for prev in [None, Some(&previous)] {
                let comment = render_comment(&summary, prev, MARKER);
                let top = top_part(&comment);
                let lines = top.lines().filter(|l| !l.trim().is_empty()).count();
                assert!(lines <= 10, "{lines} lines:\n{top}");
                assert!(!top.contains("| ---"), "no table on top:\n{top}");
                // Every heading-level section is collapsed: no `###` outside <details>.
                assert!(!comment.contains("\n### "), "{comment}");
                assert_eq!(
                    comment.matches("<details>").count(),
                    comment.matches("</details>").count()
                );
            }
        }
    }

    fn nothing_to_do() -> RunSummary {
        run()
            .all_criteria_pass()
            .guard(0, 350)
            .guard_users(305, 305)
            .requests(12, 0, 0, 0)
            .build()
    }

    #[test]
    fn a_month_with_nothing_to_do_gets_a_short_comment() {
        let previous = fixtures::previous();
        let comment = render_comment(&nothing_to_do(), Some(&previous), MARKER);
        let visible = &comment[..comment.find("\n<!-- pages-zendesk-sync:run=").unwrap()];
        assert_eq!(visible.matches("<details>").count(), 1, "only the chart");
        assert!(visible.contains("Nothing needed changing and nothing needs attention;"));
        assert!(visible.lines().filter(|l| !l.trim().is_empty()).count() < 50);
        insta::assert_snapshot!(comment);
    }

    #[test]
    fn a_failing_month() {
        let previous = fixtures::previous();
        insta::assert_snapshot!(render_comment(
            &fixtures::guard_tripped(),
            Some(&previous),
            MARKER
        ));
    }

    /// Last month's carry with ten months behind it, three of them missing.
    fn year_with_gaps() -> Carry {
        let mut previous = fixtures::previous();
        previous.history = [
            "2024-03", "2024-04", "2024-05", "2024-07", "2024-08", "2024-09", "2024-12", "2025-01",
        ]
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut t = previous.totals;
            t.pages_users = 250 + 7 * i;
            t.zendesk_users = 240 + 8 * i;
            t.pages_organizations = 30 + i;
            t.zendesk_organizations = 31 + i;
            t.pages_memberships = 300 + 5 * i;
            t.zendesk_memberships = 290 + 6 * i;
            HistoryPoint::new(m, &t)
        })
        .collect();
        previous
    }

    #[test]
    fn twelve_months_of_history_with_gaps() {
        let previous = year_with_gaps();
        let comment = render_comment(&fixtures::with_previous(), Some(&previous), MARKER);
        assert!(comment.contains("No results for 2024-06, 2024-10, 2024-11."));
        assert!(!comment.contains("\"2024-03\""), "older than twelve months");
        let carry = parse_carry(&comment).unwrap();
        let months: Vec<&str> = carry.history.iter().map(HistoryPoint::month).collect();
        assert_eq!(
            months,
            [
                "2024-04", "2024-05", "2024-07", "2024-08", "2024-09", "2024-12", "2025-01",
                "2025-02"
            ]
        );
        insta::assert_snapshot!(comment);
    }
}
