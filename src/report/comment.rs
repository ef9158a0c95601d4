//! The results comment posted on the monthly issue, and the hidden blocks it ends with:
//! the run marker (so a re-run finds and updates its own comment) and the carry block
//! (machine-readable totals, read back next month for "Change since last month").
//!
//! Pure: takes the public [`RunSummary`] and returns a string. It must never exceed
//! GitHub's comment size limit (65,536 characters): detail is dropped first, the status,
//! the criteria and the hidden blocks always stay.

use crate::month;
use crate::report::document::{Align, Block, Document, Item, Table, Text};
use crate::report::history::{self, HistoryPoint};
use crate::report::wording::{self, plural, NOTHING_WRITTEN};
use crate::report::{attention, figures, markdown, sections, Carry, JobStatus, RunSummary};

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

/// Renders the results comment (or, for a run that stopped, the short comment saying why).
/// `run_marker` identifies the run (e.g. the workflow run id or `2025-03`); the comment ends
/// with its hidden line, [`month::run_marker_line`], and the carry block,
/// [`month::carry_marker`].
pub fn render_comment(summary: &RunSummary, previous: Option<&Carry>, run_marker: &str) -> String {
    let hidden = format!(
        "\n{}",
        markdown::render(&[hidden_blocks(summary, previous, run_marker)])
    );
    let hidden_len = hidden.chars().count();
    for level in [Level::Full, Level::Trimmed, Level::Minimal] {
        let visible = visible(summary, previous, level).markdown();
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
        .markdown()
        .chars()
        .take(room)
        .collect();
    let body = visible + note + &hidden;
    body.chars().take(COMMENT_CHAR_CAP).collect()
}

/// Reads the carry block back from a results comment. Tolerates any text around it;
/// `None` when there is no block, its JSON is malformed, or its version is unknown.
pub fn parse_carry(comment_body: &str) -> Option<Carry> {
    month::carry_blocks(comment_body)
        .filter_map(|json| serde_json::from_str::<Carry>(json).ok())
        .find(|carry| carry.version == CARRY_VERSION)
}

fn hidden_blocks(summary: &RunSummary, previous: Option<&Carry>, run_marker: &str) -> Block {
    let mut lines = vec![Block::Hidden(month::run_marker_line(run_marker))];
    if let Some(mut carry) = summary.carry() {
        // The months before this one; this month's own totals are the carry's totals.
        carry.history = history::roll(previous, &carry.month, None);
        // Serialising plain fields cannot fail; if it ever did, the comment is still
        // worth posting without the carry block (next month just shows no deltas).
        if let Ok(json) = serde_json::to_string(&carry) {
            lines.push(Block::Hidden(month::carry_marker(&json)));
        }
    }
    Block::Tight(lines)
}

/// The twelve months to draw: last month's carried history, last month, and this run
/// (unless it stopped before reading anything).
pub fn chart_history(summary: &RunSummary, previous: Option<&Carry>) -> Vec<HistoryPoint> {
    match summary.month.as_deref() {
        Some(month) => history::roll(previous, month, Some(&summary.totals)),
        None => Vec::new(),
    }
}

/// Whether the run changed nothing, satisfied every criterion and needs nobody: then the
/// comment is a short one.
fn quiet(summary: &RunSummary) -> bool {
    summary.status == JobStatus::Succeeded
        && !summary.criteria.is_empty()
        && summary.all_criteria_passed()
        && figures::change_rows(summary).is_empty()
        && attention::list(summary).is_empty()
}

/// " [Workflow run](url)" after the status, when there is a usable link.
fn with_run_link(text: Text, summary: &RunSummary) -> Text {
    match summary.run_url.as_deref() {
        Some(url) if markdown::link_target(url).is_some() => {
            text.text(" ").link("Workflow run", url)
        }
        _ => text,
    }
}

/// The top of the comment: "is Zendesk in step, and what do I need to do?" in at most
/// ten non-empty lines: heading, status, one line per criterion, the changes in one line
/// of counts, what needs attention in one line.
fn top(summary: &RunSummary, quiet: bool) -> Vec<Block> {
    let status = if quiet {
        let (lead, _) = wording::status_parts(summary);
        Text::new().strong(lead).text(format!(
            " Nothing needed changing and nothing needs attention; all {} \
             acceptance criteria are satisfied.",
            summary.criteria.len()
        ))
    } else {
        sections::status(summary)
    };
    let mut out = vec![Block::Tight(vec![
        Block::Title(sections::title(summary)),
        Block::Paragraph(with_run_link(status, summary)),
    ])];
    if quiet {
        return out;
    }
    let mut criteria = Vec::new();
    if summary.criteria.is_empty() {
        criteria.push(Item::new(
            "Acceptance criteria were not checked in this run.",
        ));
    }
    for c in &summary.criteria {
        let mark = if c.passed { "✅" } else { "❌" };
        let arrow = if figures::is_child(c.criterion) {
            "↳ "
        } else {
            ""
        };
        let mismatches = if c.passed {
            String::new()
        } else {
            format!(" ({})", wording::mismatch_text(&c.mismatches))
        };
        criteria.push(Item::new(format!(
            "{mark} {arrow}{}{mismatches}",
            c.criterion.checklist_text()
        )));
    }
    out.push(Block::List(criteria));
    out.push(Block::Paragraph(changes_line(summary)));
    out.push(Block::Paragraph(attention_line(summary)));
    out
}

/// The changes in one line of counts.
fn changes_line(summary: &RunSummary) -> Text {
    let would = summary.would() || summary.guard_tripped;
    let rows = figures::change_rows(summary);
    let label = Text::new().strong(if would {
        "Changes that would be made:"
    } else {
        "Changes:"
    });
    if rows.is_empty() {
        return label.text(if summary.status == JobStatus::Failed {
            " none made."
        } else {
            " none needed."
        });
    }
    let counts: Vec<String> = rows
        .iter()
        .map(|r| {
            let n = if would { r.planned } else { r.applied };
            format!("{} {n}", r.kind.label())
        })
        .collect();
    let total = figures::change_total(&rows);
    let mut line = format!(" {}", counts.join(", "));
    if !would && (total.failed > 0 || total.skipped > 0) {
        line.push_str(&format!(
            "; failed {}, skipped {}",
            total.failed, total.skipped
        ));
    }
    line.push('.');
    label.text(line)
}

/// What needs attention in one line (the generic list from the summary, one sentence per
/// item); the actions are in the "What to do" section below.
fn attention_line(summary: &RunSummary) -> Text {
    let items = attention::list(summary);
    if items.is_empty() {
        return Text::new().strong("Needs attention:").text(" nothing.");
    }
    let problems: Vec<String> = items.iter().map(|i| i.problem.clone()).collect();
    Text::new()
        .strong(format!("Needs attention ({}):", items.len()))
        .coded(format!(" {}", problems.join(" ")))
        .text(" See ")
        .emphasis("What to do")
        .text(" below.")
}

fn details(doc: &mut Document, summary: &str, body: Vec<Block>) {
    doc.push(Block::Details {
        summary: summary.to_string(),
        body,
    });
}

/// The comment of a run that stopped before a result: why, and the link to the run.
fn stopped(summary: &RunSummary, stopped: &crate::report::Stopped) -> Document {
    let mut doc = Document::new();
    doc.push(Block::Title(sections::title(summary)));
    doc.paragraph(format!("The run stopped: {}", stopped.sentence()));
    if let Some(url) = &summary.run_url {
        doc.paragraph(Text::new().link("Workflow run", url));
    }
    doc
}

fn visible(summary: &RunSummary, previous: Option<&Carry>, level: Level) -> Document {
    if let Some(s) = &summary.stopped {
        return stopped(summary, s);
    }
    let would = summary.would();
    let quiet = quiet(summary);
    let mut doc = Document {
        blocks: top(summary, quiet),
    };
    let charts = summary
        .month
        .as_deref()
        .map(|m| history::render_charts(&chart_history(summary, previous), m))
        .unwrap_or_default();

    if quiet {
        if !charts.is_empty() {
            details(&mut doc, "Last 12 months", vec![Block::Chart(charts)]);
        }
        return doc;
    }

    if !attention::list(summary).is_empty() {
        details(&mut doc, "What to do", vec![sections::attention(summary)]);
    }
    if !charts.is_empty() {
        details(&mut doc, "Last 12 months", vec![Block::Chart(charts)]);
    }

    let mut criteria = Vec::new();
    if would && !summary.criteria.is_empty() {
        criteria.push(Block::Paragraph(Text::new().emphasis(format!(
            "Checked against Zendesk as it is now; {NOTHING_WRITTEN}."
        ))));
    }
    criteria.push(sections::criteria(summary));
    details(&mut doc, "Acceptance criteria: figures", criteria);

    if summary.mode.plans() {
        let mut changes = vec![sections::changes(summary)];
        if !would && figures::change_rows(summary).iter().any(|r| r.skipped > 0) {
            changes.push(Block::Paragraph(Text::new().emphasis(
                "Skipped: not attempted because a change they depend on failed \
                 (e.g. memberships of a user whose creation failed).",
            )));
        }
        details(
            &mut doc,
            if would {
                "Changes that would be made"
            } else {
                "Changes"
            },
            changes,
        );
    }

    if !summary.failures.is_empty() {
        let failures = match level {
            Level::Full => sections::failures(summary, usize::MAX),
            Level::Trimmed => sections::failures(summary, TRIMMED_FAILURE_ROWS),
            Level::Minimal => vec![sections::failures_in_brief(summary)],
        };
        details(&mut doc, "Failures by reason", failures);
    }

    let mut source = source_section(summary, level);
    if level == Level::Full && !summary.notes.is_empty() {
        source.push(Block::Paragraph(Text::new().strong("Notes")));
        let mut notes = Table::new(&["Note", "Count"], &[Align::Left, Align::Right]);
        for (k, n) in &summary.notes {
            notes.push([k.label().to_string(), n.to_string()]);
        }
        source.push(Block::Table(notes));
    }
    details(&mut doc, "Pages reports", source);

    if let Some(previous) = previous {
        let mut deltas = vec![sections::deltas(summary, previous)];
        if previous.status != JobStatus::Succeeded {
            deltas.push(Block::Paragraph(Text::new().emphasis(format!(
                "That run {}.",
                match previous.status {
                    JobStatus::PartlyFailed => "partly failed",
                    JobStatus::Failed => "failed",
                    JobStatus::DryRun => "was a dry run",
                    JobStatus::Succeeded => "succeeded",
                }
            ))));
        }
        let last_month = summary
            .month
            .as_deref()
            .is_some_and(|m| history::is_month_before(&previous.month, m));
        details(
            &mut doc,
            &format!(
                "Change since {} ({})",
                if last_month {
                    "last month"
                } else {
                    "the last results"
                },
                wording::previous_month(previous)
            ),
            deltas,
        );
    }

    let verdict = if summary.guard_tripped {
        Text::new().strong(format!(
            "Tripped: the plan was refused and {NOTHING_WRITTEN}."
        ))
    } else {
        Text::plain("Within limits.")
    };
    let figures = Table::new(&["Figure", "Value"], &[Align::Left, Align::Left])
        .row([
            "Membership removals".to_string(),
            wording::guard_removals_text(summary),
        ])
        .row([
            "Users report size".to_string(),
            wording::guard_users_text(summary),
        ]);
    details(
        &mut doc,
        "Safety guard",
        vec![Block::Paragraph(verdict), Block::Table(figures)],
    );

    let mut zendesk = vec![Item::new(format!(
        "API: {}",
        wording::requests_text(summary)
    ))];
    zendesk.push(Item::new(format!(
        "{}: {}, {}, {}",
        if would || summary.guard_tripped {
            format!("As read ({NOTHING_WRITTEN})")
        } else if summary.status == JobStatus::Failed {
            "Last read".into()
        } else {
            "After the sync".into()
        },
        plural(
            summary.totals.zendesk_organizations,
            "organization",
            "organizations"
        ),
        plural(summary.totals.zendesk_users, "end user", "end users"),
        plural(
            summary.totals.zendesk_memberships,
            "end-user membership",
            "end-user memberships"
        )
    )));
    if summary.bulk_user_import_disabled {
        zendesk.push(Item::new(
            Text::new()
                .strong("Bulk user import is disabled")
                .text(" in this Zendesk account: users were written one at a time."),
        ));
    }
    details(&mut doc, "Zendesk", vec![Block::List(zendesk)]);

    if level > Level::Full {
        doc.paragraph(Text::new().emphasis(
            "Some detail (row lines, notes, failure reasons) was left out to fit GitHub's \
             comment size limit; the full detail is in the JSON report (`--report-json`) and \
             the job log.",
        ));
    }
    doc
}

fn source_section(summary: &RunSummary, level: Level) -> Vec<Block> {
    let s = &summary.source;
    let (org_rows, user_rows) = wording::source_row_labels(s);
    let table = Table::new(&["Figure", "Count"], &[Align::Left, Align::Right])
        .row([org_rows.to_string(), s.organization_rows.to_string()])
        .row([user_rows.to_string(), s.user_rows.to_string()])
        .row(["Partner users".to_string(), s.partner_users.to_string()])
        .row(["Memberships".to_string(), s.memberships.to_string()])
        .row(["Org managers".to_string(), s.managers.to_string()])
        .row([
            "Users without an organization (not partners, skipped)".to_string(),
            s.users_without_organization.to_string(),
        ]);
    let mut out = vec![Block::Table(table)];
    for note in wording::source_notes(s) {
        out.push(Block::Paragraph(Text::plain(note)));
    }
    if !summary.row_problems.is_empty() {
        out.push(Block::Paragraph(Text::plain(
            "Rows skipped or merged, by reason:",
        )));
        let mut reasons = Table::new(
            &["Reason", "Meaning", "Rows"],
            &[Align::Left, Align::Left, Align::Right],
        );
        for (code, n) in &summary.row_problems {
            reasons.rows.push(vec![
                Text::new().code(wording::plain(code, 60)),
                Text::plain(wording::row_problem_text(code)),
                Text::plain(n.to_string()),
            ]);
        }
        out.push(Block::Table(reasons));
        if level == Level::Full {
            if let Some(lines) = wording::all_lines_text(summary) {
                out.push(Block::Paragraph(Text::plain(format!("Where: {lines}."))));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::month::{run_marker_line, CARRY_TAG};
    use crate::plan::ChangeKind;
    use crate::report::fixtures::{self, run};
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
        let text = crate::report::terminal::render_text(&summary);
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

    #[test]
    fn a_stopped_run_says_why_with_an_escaped_link_and_no_carry() {
        let mut summary = crate::report::fixtures::stopped_run(
            "bad input or configuration (see the job log)",
            false,
        );
        summary.run_url = Some("https://github.example/o/r/actions/runs/7) [x](y".into());
        let comment = render_comment(&summary, Some(&fixtures::previous()), MARKER);
        assert_eq!(
            comment,
            "## ❌ Pages/Zendesk sync 2026-11: failed\n\nThe run stopped: bad input or \
             configuration (see the job log). Nothing was written.\n\n[Workflow run]\
             (https://github.example/o/r/actions/runs/7%29%20%5Bx%5D%28y)\n\n\
             <!-- pages-zendesk-sync:run=run-123 -->\n"
        );
        assert_eq!(parse_carry(&comment), None);
    }
}
