//! Ticking the acceptance-criteria checklist of the month's issue body.
//!
//! Pure text editing. It changes only the one character between the brackets of the task
//! items it recognises (`[ ]` ↔ `[x]`) in the `Acceptance criteria` section; every other
//! byte of the body (notes people added, CRLF line ends, trailing spaces, boxes it does
//! not recognise, code blocks) stays as it was, because people edit the issue in the
//! browser between runs. It never adds or removes lines.
//!
//! Task items follow GFM, parsed by `pulldown-cmark` (CommonMark plus task lists): a list
//! item (`-`, `*`, `+`, `1.` or `1)`) whose text starts with `[ ]`, `[x]` or `[X]`
//! followed by white space; nested items count; items inside code blocks or HTML blocks
//! do not. The parser gives each box's byte range in the body, and only the byte between
//! the brackets is rewritten.

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use serde::Serialize;

use crate::verify::Criterion;

/// The result of ticking a body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ticked {
    /// The body with the recognised boxes ticked or unticked.
    pub body: String,
    /// The section exists, has at least one box, and every box in it is checked now.
    /// This is the condition for closing the issue.
    pub all_checked: bool,
    /// Boxes in the section whose text the binary does not recognise (left as they are).
    pub unrecognised: usize,
    /// Of those, the ones still unchecked: they need a person.
    pub unrecognised_unchecked: usize,
    /// Criteria with no box in the section (a person removed or reworded the line).
    pub missing: Vec<Criterion>,
    /// `body` differs from the input.
    pub changed: bool,
}

/// The heading that opens the section (compared case-insensitively, trailing `:` allowed).
const SECTION_HEADING: &str = "acceptance criteria";

/// Ticks what passed and unticks what failed. A criterion without a verdict is left as
/// it is. The parent criterion (with children) is ticked only when it and all its
/// children passed.
pub fn tick(body: &str, verdicts: &[(Criterion, bool)]) -> Ticked {
    let tasks = task_items(body);
    let mut out = body.to_string();
    let mut all_checked = true;
    let mut any_box = false;
    let mut unrecognised = 0;
    let mut unrecognised_unchecked = 0;
    let mut seen: Vec<Criterion> = Vec::new();

    for task in &tasks {
        any_box = true;
        let recognised = Criterion::ALL
            .into_iter()
            .find(|c| c.checklist_text() == task.text.trim());
        let checked_after = match recognised {
            None => {
                unrecognised += 1;
                if !task.checked {
                    unrecognised_unchecked += 1;
                }
                task.checked
            }
            Some(criterion) => {
                if !seen.contains(&criterion) {
                    seen.push(criterion);
                }
                match effective_verdict(criterion, verdicts) {
                    None => task.checked,
                    Some(passed) => {
                        if passed != task.checked {
                            let mark = if passed { "x" } else { " " };
                            // ASCII for ASCII: byte offsets stay valid.
                            out.replace_range(task.mark_at..task.mark_at + 1, mark);
                        }
                        passed
                    }
                }
            }
        };
        all_checked &= checked_after;
    }

    let missing = Criterion::ALL
        .into_iter()
        .filter(|c| !seen.contains(c))
        .collect();
    let changed = out != body;
    Ticked {
        body: out,
        all_checked: any_box && all_checked,
        unrecognised,
        unrecognised_unchecked,
        missing,
        changed,
    }
}

/// The verdict a criterion's box should show, if the run produced one.
fn effective_verdict(criterion: Criterion, verdicts: &[(Criterion, bool)]) -> Option<bool> {
    let direct = |c: Criterion| -> Option<bool> {
        let mut found = None;
        for (vc, passed) in verdicts {
            if *vc == c {
                // Several verdicts for one criterion: it passes only if all of them do.
                found = Some(found.unwrap_or(true) && *passed);
            }
        }
        found
    };
    let own = direct(criterion);
    let children = criterion.children();
    if children.is_empty() {
        return own;
    }
    // docs/design.md "Acceptance criteria": the parent box means "all three above"; never tick it on partial evidence.
    let child_verdicts: Vec<Option<bool>> = children.iter().map(|c| direct(*c)).collect();
    if own == Some(false) || child_verdicts.contains(&Some(false)) {
        return Some(false);
    }
    if child_verdicts.iter().all(|v| *v == Some(true)) {
        return Some(own.unwrap_or(true));
    }
    None
}

/// One task item in the acceptance-criteria section.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TaskItem<'a> {
    /// Byte offset of the character between the brackets.
    mark_at: usize,
    checked: bool,
    /// The text after the box, as written (untrimmed).
    text: &'a str,
}

/// The task items of the acceptance-criteria section, in order.
///
/// CommonMark with GFM task lists, as GitHub renders the issue: a box inside a fenced or
/// indented code block, an HTML block (such as a commented-out line) or a paragraph is not
/// a task. The section runs from its heading (ATX or setext) to the next heading of the
/// same or a higher level.
fn task_items(body: &str) -> Vec<TaskItem<'_>> {
    let mut items = Vec::new();
    let mut section: Option<HeadingLevel> = None;
    // The heading being read: its level and its text so far (inline markup dropped).
    let mut heading: Option<(HeadingLevel, String)> = None;

    let parser = Parser::new_ext(body, Options::ENABLE_TASKLISTS);
    for (event, range) in parser.into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, .. }) => heading = Some((level, String::new())),
            Event::Text(text) | Event::Code(text) => {
                if let Some((_, name)) = heading.as_mut() {
                    name.push_str(&text);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                let Some((level, name)) = heading.take() else {
                    continue;
                };
                if section.is_some_and(|open| level <= open) {
                    section = None;
                }
                let name = name.trim().trim_end_matches(':').trim_end();
                if name.eq_ignore_ascii_case(SECTION_HEADING) {
                    section = Some(level);
                }
            }
            Event::TaskListMarker(checked) if section.is_some() => {
                // `range` is the box itself, `[ ]`, `[x]` or `[X]`.
                let rest = &body[range.end..];
                let line = rest.split('\n').next().unwrap_or_default();
                items.push(TaskItem {
                    mark_at: range.start + 1,
                    checked,
                    text: line.strip_suffix('\r').unwrap_or(line),
                });
            }
            _ => {}
        }
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use Criterion::*;

    const TEMPLATE_SECTION: &str = "Intro\n\n## Acceptance criteria\n\n- [ ] Orgs in Zendesk match current Pages orgs\n- [ ] Org users in Zendesk match current Pages partners users, including\n  - [ ] Org assignments\n  - [ ] Roles (org manager or not)\n  - [ ] Names and emails \n";

    fn all(passed: bool) -> Vec<(Criterion, bool)> {
        Criterion::ALL.iter().map(|c| (*c, passed)).collect()
    }

    fn boxes(body: &str) -> Vec<(bool, String)> {
        task_items(body)
            .into_iter()
            .map(|t| (t.checked, t.text.trim().to_string()))
            .collect()
    }

    #[test]
    fn no_verdicts_change_nothing() {
        let t = tick(TEMPLATE_SECTION, &[]);
        assert_eq!(t.body, TEMPLATE_SECTION);
        assert!(!t.changed);
        assert!(!t.all_checked);
        assert_eq!(t.unrecognised, 0);
        assert!(t.missing.is_empty());
    }

    #[test]
    fn all_passing_ticks_every_box_and_keeps_the_trailing_space() {
        let t = tick(TEMPLATE_SECTION, &all(true));
        assert!(t.all_checked);
        assert!(t.changed);
        assert_eq!(t.body, TEMPLATE_SECTION.replace("[ ]", "[x]"));
        assert!(t.body.contains("  - [x] Names and emails \n"));
    }

    #[test]
    fn a_failing_child_keeps_the_parent_unticked() {
        let mut v = all(true);
        v.retain(|(c, _)| *c != Roles);
        v.push((Roles, false));
        let t = tick(TEMPLATE_SECTION, &v);
        assert!(!t.all_checked);
        assert_eq!(
            boxes(&t.body),
            [
                (true, "Orgs in Zendesk match current Pages orgs".into()),
                (
                    false,
                    "Org users in Zendesk match current Pages partners users, including".into()
                ),
                (true, "Org assignments".into()),
                (false, "Roles (org manager or not)".into()),
                (true, "Names and emails".into()),
            ]
        );
    }

    #[test]
    fn failing_criteria_untick_boxes_ticked_earlier() {
        let ticked = TEMPLATE_SECTION.replace("[ ]", "[X]");
        let t = tick(&ticked, &[(OrgsMatch, false)]);
        assert!(t.body.contains("- [ ] Orgs in Zendesk"));
        // Upper-case X counts as ticked and is left as written when it stays ticked.
        let t = tick(&ticked, &all(true));
        assert!(!t.changed);
        assert!(t.all_checked);
    }

    #[test]
    fn the_parent_is_not_ticked_on_partial_evidence() {
        let t = tick(TEMPLATE_SECTION, &[(OrgUsersMatch, true), (Roles, true)]);
        assert!(t.body.contains("- [ ] Org users in Zendesk"));
        assert!(t.body.contains("- [x] Roles"));
    }

    #[test]
    fn crlf_bodies_keep_their_line_ends() {
        let crlf = TEMPLATE_SECTION.replace('\n', "\r\n");
        let t = tick(&crlf, &all(true));
        assert_eq!(t.body, crlf.replace("[ ]", "[x]"));
        assert!(t.all_checked);
    }

    #[test]
    fn a_missing_section_ticks_nothing() {
        let body = "- [ ] Orgs in Zendesk match current Pages orgs\n";
        let t = tick(body, &all(true));
        assert_eq!(t.body, body);
        assert!(!t.all_checked);
        assert_eq!(t.missing.len(), 5);
    }

    #[test]
    fn boxes_after_the_section_are_not_touched() {
        let body = format!("{TEMPLATE_SECTION}\n## Notes\n\n- [ ] Org assignments\n");
        let t = tick(&body, &all(true));
        assert!(t.body.ends_with("## Notes\n\n- [ ] Org assignments\n"));
        assert!(t.all_checked);
        // A deeper heading stays inside the section.
        let body = format!("{TEMPLATE_SECTION}\n### More\n\n- [ ] Something else\n");
        let t = tick(&body, &all(true));
        assert_eq!(t.unrecognised, 1);
        assert!(!t.all_checked);
    }

    #[test]
    fn gfm_bullets_and_non_tasks() {
        let body = "## Acceptance Criteria:\n\n* [ ] Org assignments\n+ [ ] Roles (org manager or not)\n1. [ ] Names and emails\n2) [ ]Orgs in Zendesk match current Pages orgs\n- [y] Orgs in Zendesk match current Pages orgs\n-[ ] Orgs in Zendesk match current Pages orgs\n";
        let found = boxes(body);
        assert_eq!(
            found,
            [
                (false, "Org assignments".into()),
                (false, "Roles (org manager or not)".into()),
                (false, "Names and emails".into()),
            ]
        );
        let t = tick(body, &all(true));
        assert!(t.all_checked);
        assert!(t.body.contains("2) [ ]Orgs"));
        assert!(t.body.contains("- [y] Orgs"));
    }

    #[test]
    fn fenced_and_indented_code_is_not_a_task() {
        let body = "## Acceptance criteria\n\n```md\n- [ ] Org assignments\n```\n~~~~\n- [ ] Roles (org manager or not)\n~~~\nstill code\n~~~~\n\n    - [ ] Names and emails\n\n- [ ] Orgs in Zendesk match current Pages orgs\n";
        assert_eq!(
            boxes(body),
            [(false, "Orgs in Zendesk match current Pages orgs".into())]
        );
        let t = tick(body, &all(true));
        assert!(t.body.contains("```md\n- [ ] Org assignments\n```"));
        assert!(t.body.contains("\n    - [ ] Names and emails\n"));
        assert!(t.all_checked);
    }

    #[test]
    fn a_box_in_an_html_comment_is_not_a_task() {
        // People comment out a criterion in the browser; GitHub shows no box for it.
        // The former line-by-line parser took the commented line for a task and ticked it.
        let body = "## Acceptance criteria\n\n<!--\n- [ ] Org assignments\n-->\n\n- [ ] Orgs in Zendesk match current Pages orgs\n";
        assert_eq!(
            boxes(body),
            [(false, "Orgs in Zendesk match current Pages orgs".into())]
        );
        let t = tick(body, &all(true));
        assert!(t.body.contains("<!--\n- [ ] Org assignments\n-->"));
        assert!(t.body.contains("- [x] Orgs in Zendesk"));
    }

    #[test]
    fn a_setext_heading_opens_the_section_too() {
        // GitHub renders `Title` over a line of `-` or `=` as a heading; the former parser
        // knew only `#` headings and found no section here.
        let body = "Acceptance criteria\n-------------------\n\n- [ ] Orgs in Zendesk match current Pages orgs\n\nNotes\n=====\n\n- [ ] Org assignments\n";
        assert_eq!(
            boxes(body),
            [(false, "Orgs in Zendesk match current Pages orgs".into())]
        );
        let t = tick(body, &all(true));
        assert!(t
            .body
            .starts_with("Acceptance criteria\n-------------------\n\n- [x] Orgs"));
        assert!(t.body.ends_with("- [ ] Org assignments\n"));
    }

    #[test]
    fn deeper_nesting_is_still_a_task() {
        let body = "## Acceptance criteria\n- [ ] Org users in Zendesk match current Pages partners users, including\n  - [ ] Org assignments\n      - [ ] A note someone nested\n";
        assert_eq!(boxes(body).len(), 3);
    }

    #[test]
    fn unrecognised_boxes_count_unless_ticked() {
        let body = format!("{TEMPLATE_SECTION}- [ ] Spot-checked three users by hand\n");
        let t = tick(&body, &all(true));
        assert_eq!((t.unrecognised, t.unrecognised_unchecked), (1, 1));
        assert!(!t.all_checked);
        assert!(t.body.ends_with("- [ ] Spot-checked three users by hand\n"));
        let t = tick(&t.body.replace("[ ] Spot", "[x] Spot"), &all(true));
        assert_eq!((t.unrecognised, t.unrecognised_unchecked), (1, 0));
        assert!(t.all_checked);
    }

    #[test]
    fn a_section_without_boxes_is_not_all_checked() {
        let t = tick("## Acceptance criteria\n\nnothing here\n", &all(true));
        assert!(!t.all_checked);
    }

    #[test]
    fn snapshot_the_template_after_a_partly_failed_run() {
        let t = tick(
            TEMPLATE_SECTION,
            &[
                (OrgsMatch, true),
                (OrgUsersMatch, false),
                (OrgAssignments, false),
                (Roles, true),
                (NamesAndEmails, true),
            ],
        );
        insta::assert_snapshot!(t.body);
        insta::assert_debug_snapshot!((t.all_checked, t.unrecognised, t.missing, t.changed));
    }

    #[test]
    fn snapshot_a_body_a_person_edited() {
        let body = "Monthly review.\r\n\r\n## Acceptance criteria\r\n\r\nNote from Sam: Roles were fixed by hand on the 3rd.\r\n\r\n- [X] Org users in Zendesk match current Pages partners users, including\r\n  - [ ] Roles (org manager or not)\r\n  - [x] Org assignments\r\n  - [ ] Names and emails   \r\n- [ ] Orgs in Zendesk match current Pages orgs\r\n- [ ] Checked the agency names with the Pages team\r\n\r\n```\r\n- [ ] Org assignments\r\n```\r\n\r\n<!-- pages-zendesk-sync:month=2026-11 -->\r\n";
        let t = tick(
            body,
            &[
                (OrgsMatch, true),
                (OrgUsersMatch, true),
                (OrgAssignments, true),
                (Roles, false),
                (NamesAndEmails, true),
            ],
        );
        // The box in the code block would be ticked if it were taken for a task.
        assert!(t.body.contains("```\r\n- [ ] Org assignments\r\n```"));
        // Only the mark characters may differ.
        assert_eq!(t.body.len(), body.len());
        let differing: Vec<usize> = body
            .bytes()
            .zip(t.body.bytes())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(differing.len(), 3, "parent, names, orgs");
        insta::assert_snapshot!(t.body.replace('\r', "␍"));
        insta::assert_debug_snapshot!((
            t.all_checked,
            t.unrecognised,
            t.unrecognised_unchecked,
            t.changed
        ));
    }
}
