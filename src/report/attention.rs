//! "Needs attention" items as data: what the account's settings held back, which known
//! causes the failures Zendesk returned map to, and what needs a person. Each item says in
//! words and counts what happened, which setting or cause, and where to change it; the
//! renderers (comment, job summary, stdout) only print them. [`list`] is the whole list a
//! report shows: these items with the ones derived from the summary (a tripped guard,
//! failed records, unsatisfied criteria, skipped rows, a dry run).
//!
//! Pure. Never holds an email or a name: items are built from counts and reason codes.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::account::{Setting, MAX_ORGANIZATIONS_PER_USER};
use crate::plan::settings::{HeldBack, HoldCause};
use crate::plan::{ChangeKind, NoteKind};
use crate::report::wording::{self, plural};
use crate::report::{figures, FailureCount, JobStatus, RunSummary};

/// What an item is about; stable for machines (`--report-json`, step outputs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttentionCause {
    /// Changes held back because an account setting is off.
    SettingOff(Setting),
    /// The account's settings could not be read; nothing was held back.
    SettingsUnreadable,
    /// A user already in 300 organizations (held back, or refused by Zendesk).
    OrganizationLimit,
    /// Zendesk refused a membership that already exists.
    DuplicateMembership,
    /// Zendesk refused an email another user holds.
    EmailTaken,
    /// Zendesk refused a write to a suspended user.
    SuspendedUser,
    /// Zendesk answered 403 for one user's identity or primary email.
    ProtectedUser,
    /// A Pages email differs from an agent's or admin's primary email: not changed.
    StaffPrimaryEmail,
}

/// One thing a person should look at. `problem` names the cause, the count and where to
/// change it, in one line; `action` says what happens next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NeedsAttention {
    pub cause: AttentionCause,
    /// Records concerned (memberships, users), 0 when not about records.
    pub count: usize,
    pub problem: String,
    pub action: String,
}

/// Everything the run knows, counts only.
pub struct AttentionInputs<'a> {
    pub held_back: &'a [HeldBack],
    pub failures: &'a [FailureCount],
    pub notes: &'a BTreeMap<NoteKind, usize>,
    /// The settings were asked for and could not be read.
    pub settings_unreadable: bool,
    /// Nothing was written on purpose (plan, dry run): say "would".
    pub dry_run: bool,
}

/// The items, most specific first: held back by settings, known failure causes, people.
pub fn needs_attention(inputs: &AttentionInputs<'_>) -> Vec<NeedsAttention> {
    let mut out = Vec::new();
    let not = if inputs.dry_run {
        "would not be"
    } else {
        "not"
    };
    if inputs.settings_unreadable {
        out.push(NeedsAttention {
            cause: AttentionCause::SettingsUnreadable,
            count: 0,
            problem: "The Zendesk account settings could not be read (GET \
                      /api/v2/account/settings was refused), so writes a setting forbids \
                      were not held back."
                .into(),
            action: "Use an API token of a Zendesk admin; `pages-zendesk-sync doctor` checks it."
                .into(),
        });
    }

    let mut held: BTreeMap<HoldCause, usize> = BTreeMap::new();
    for h in inputs.held_back {
        *held.entry(h.cause).or_default() += 1;
    }
    let mut organization_limit = held
        .get(&HoldCause::OrganizationLimit)
        .copied()
        .unwrap_or(0);
    for (cause, n) in &held {
        let HoldCause::SettingOff(setting) = *cause else {
            continue;
        };
        let (records, fix) = match setting {
            Setting::MultipleOrganizations => (
                plural(*n, "membership", "memberships") + &format!(" {not} added"),
                "the next run adds them",
            ),
            Setting::Tagging => (
                plural(*n, "manager tag", "manager tags") + &format!(" {not} set"),
                "the next run sets them",
            ),
            Setting::AgentCreatedWelcomeEmails => continue,
        };
        out.push(NeedsAttention {
            cause: AttentionCause::SettingOff(setting),
            count: *n,
            problem: format!(
                "{records}: blocked by the Zendesk setting `{}` (off); turn on \"{}\" in {}.",
                setting.key(),
                setting.title(),
                crate::account::END_USER_SETTINGS
            ),
            action: format!(
                "Once the setting is on, {fix} and the acceptance criterion can be ticked; \
                 until then it stays open."
            ),
        });
    }

    let mut known: BTreeMap<AttentionCause, usize> = BTreeMap::new();
    for f in inputs.failures {
        if let Some(cause) = known_cause(f.kind, f.reason.as_str()) {
            if cause == AttentionCause::OrganizationLimit {
                organization_limit += f.count;
            } else {
                *known.entry(cause).or_default() += f.count;
            }
        }
    }
    if organization_limit > 0 {
        out.push(NeedsAttention {
            cause: AttentionCause::OrganizationLimit,
            count: organization_limit,
            problem: format!(
                "{} {not} added: the users already belong to {MAX_ORGANIZATIONS_PER_USER} \
                 organizations, the most Zendesk allows.",
                plural(organization_limit, "membership", "memberships")
            ),
            action: "Remove organizations those users no longer need (in Pages or Zendesk); \
                     the JSON report names them."
                .into(),
        });
    }
    for (cause, n) in known {
        let (problem, action) = match cause {
            AttentionCause::DuplicateMembership => (
                format!(
                    "{} refused by Zendesk as already existing (duplicate membership).",
                    plural(n, "membership", "memberships")
                ),
                "Usually another change raced this run; the next run re-reads Zendesk and \
                 settles it.",
            ),
            AttentionCause::EmailTaken => (
                format!(
                    "{} refused because another Zendesk user already has the email.",
                    plural(n, "user change", "user changes")
                ),
                "Merge or fix the two Zendesk users by hand (ids in the JSON report), then \
                 run again.",
            ),
            AttentionCause::SuspendedUser => (
                format!(
                    "{} refused because the Zendesk user is suspended.",
                    plural(n, "change", "changes")
                ),
                "Unsuspend the user in Zendesk if they should have access, or remove them \
                 from the Pages organization.",
            ),
            AttentionCause::ProtectedUser => (
                format!(
                    "{} refused with 403 (a protected user, e.g. the account owner or one the \
                     token may not edit); the rest of the run went on.",
                    plural(n, "email change", "email changes")
                ),
                "A Zendesk admin makes the change by hand, or the email is fixed in Pages.",
            ),
            _ => continue,
        };
        out.push(NeedsAttention {
            cause,
            count: n,
            problem,
            action: action.into(),
        });
    }

    let staff = inputs
        .notes
        .get(&NoteKind::StaffPrimaryEmailKept)
        .copied()
        .unwrap_or(0);
    if staff > 0 {
        out.push(NeedsAttention {
            cause: AttentionCause::StaffPrimaryEmail,
            count: staff,
            problem: format!(
                "{}: the Pages email differs from a Zendesk agent's or admin's primary email; \
                 staff sign-in addresses are never changed by the sync.",
                plural(staff, "staff login", "staff logins")
            ),
            action: "A person decides: change the staff member's primary email in Zendesk by \
                     hand, or correct the email in Pages (Zendesk ids in the JSON report)."
                .into(),
        });
    }
    out
}

/// The known cause of a failure reason Zendesk returned (codes and field keys only; the
/// description text is localized and never matched).
pub fn known_cause(kind: ChangeKind, reason: &str) -> Option<AttentionCause> {
    let lower = reason.to_ascii_lowercase();
    if lower.contains("suspend") {
        return Some(AttentionCause::SuspendedUser);
    }
    match kind {
        ChangeKind::AddMembership if lower.contains("duplicatevalue") => {
            Some(AttentionCause::DuplicateMembership)
        }
        // The 300 ceiling's code is unrecorded: a limit-like code on a membership.
        ChangeKind::AddMembership
            if lower.contains("limit")
                || lower.contains("toomany")
                || lower.contains("maximum") =>
        {
            Some(AttentionCause::OrganizationLimit)
        }
        ChangeKind::CreateUser | ChangeKind::UpdateUser | ChangeKind::SetPrimaryEmail
            if lower.contains("email/duplicatevalue") || lower.contains("value/duplicatevalue") =>
        {
            Some(AttentionCause::EmailTaken)
        }
        ChangeKind::SetPrimaryEmail if lower == "forbidden" || lower == "http_403" => {
            Some(AttentionCause::ProtectedUser)
        }
        _ => None,
    }
}

/// One thing a person should look at, and what to do about it. Text may contain
/// `backticks` (rendered as code in markdown, kept as is in plain text).
pub struct Attention {
    pub problem: String,
    pub action: String,
}

/// What needs attention, most serious first. Empty when nothing does.
pub fn list(summary: &RunSummary) -> Vec<Attention> {
    let mut out = Vec::new();
    let would = summary.would();
    if summary.guard_tripped {
        out.push(Attention {
            problem: format!(
                "The safety guard refused the plan, so {}: removals {}; {}.",
                wording::NOTHING_WRITTEN,
                wording::guard_removals_text(summary),
                wording::guard_users_text(summary)
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
        let kinds: Vec<String> = figures::failed_by_kind(summary)
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        out.push(Attention {
            problem: format!(
                "{} failed ({}).",
                wording::plural(failed, "record", "records"),
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
                format!(
                    "{} in this dry run; the mismatches are what a real run would fix.",
                    wording::capitalised(wording::NOTHING_WRITTEN)
                )
            } else {
                "The mismatches (with examples) are in the JSON report's verification. \
                 Fix what the sync cannot, then run again or tick the box by hand; \
                 the issue stays open until every box is ticked."
                    .into()
            },
        });
    }
    let skipped = figures::skipped_rows(summary);
    if skipped > 0 {
        let lines = wording::all_lines_text(summary)
            .map(|l| format!(" (rows with problems: {l})"))
            .unwrap_or_default();
        out.push(Attention {
            problem: format!(
                "{} of the Pages reports {} skipped{lines}.",
                wording::plural(skipped, "row", "rows"),
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
        .filter(|(k, _)| figures::note_needs_person(**k))
        .map(|(_, n)| n)
        .sum();
    if person_notes > 0 {
        out.push(Attention {
            problem: format!(
                "{} where the Pages user and the Zendesk user do not line up.",
                wording::plural(person_notes, "case", "cases")
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
    if would && summary.status != JobStatus::Failed && summary.mode.plans() {
        out.push(Attention {
            problem: format!("This was a dry run: {}.", wording::NOTHING_WRITTEN),
            action: "Run without `--dry-run` to apply the changes.".into(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EmailKey;
    use crate::outcome::Reason;
    use crate::plan::UserRef;

    fn held(cause: HoldCause, n: usize) -> Vec<HeldBack> {
        (0..n)
            .map(|i| HeldBack {
                cause,
                kind: ChangeKind::AddMembership,
                user: UserRef::Existing(i as u64),
            })
            .collect()
    }

    fn inputs<'a>(
        held_back: &'a [HeldBack],
        failures: &'a [FailureCount],
        notes: &'a BTreeMap<NoteKind, usize>,
    ) -> AttentionInputs<'a> {
        AttentionInputs {
            held_back,
            failures,
            notes,
            settings_unreadable: false,
            dry_run: false,
        }
    }

    #[test]
    fn nothing_held_and_nothing_failed_needs_no_attention() {
        let notes = BTreeMap::new();
        assert!(needs_attention(&inputs(&[], &[], &notes)).is_empty());
    }

    #[test]
    fn a_setting_is_named_with_its_count_and_where_to_change_it_in_one_line() {
        let h = held(HoldCause::SettingOff(Setting::MultipleOrganizations), 14);
        let notes = BTreeMap::new();
        let items = needs_attention(&inputs(&h, &[], &notes));
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].count, 14);
        assert_eq!(
            items[0].problem,
            "14 memberships not added: blocked by the Zendesk setting \
             `user.multiple_organizations` (off); turn on \"Allow users to belong to multiple \
             organizations\" in Admin Center > People > Configuration > End users."
        );
        assert!(!items[0].problem.contains('\n'));
    }

    #[test]
    fn known_failure_reasons_are_explained_in_words_and_counts() {
        let failures = vec![
            FailureCount {
                kind: ChangeKind::AddMembership,
                reason: Reason::new("RecordInvalid/user_id/DuplicateValue"),
                count: 2,
            },
            FailureCount {
                kind: ChangeKind::CreateUser,
                reason: Reason::new("RecordInvalid/email/DuplicateValue"),
                count: 1,
            },
            FailureCount {
                kind: ChangeKind::SetPrimaryEmail,
                reason: Reason::new("forbidden"),
                count: 3,
            },
            FailureCount {
                kind: ChangeKind::UpdateUser,
                reason: Reason::new("http_500"),
                count: 5,
            },
        ];
        let notes = BTreeMap::new();
        let items = needs_attention(&inputs(&[], &failures, &notes));
        let causes: Vec<(AttentionCause, usize)> =
            items.iter().map(|i| (i.cause, i.count)).collect();
        assert_eq!(
            causes,
            vec![
                (AttentionCause::DuplicateMembership, 2),
                (AttentionCause::EmailTaken, 1),
                (AttentionCause::ProtectedUser, 3),
            ]
        );
    }

    #[test]
    fn a_dry_run_says_would() {
        let h = held(HoldCause::SettingOff(Setting::Tagging), 1);
        let notes = BTreeMap::new();
        let mut i = inputs(&h, &[], &notes);
        i.dry_run = true;
        assert!(needs_attention(&i)[0].problem.starts_with(
            "1 manager tag would not be set: blocked by the Zendesk setting `user.tagging`"
        ));
    }

    #[test]
    fn no_item_carries_an_email() {
        let email = EmailKey::parse("someone@example.gov").unwrap();
        let h = vec![HeldBack {
            cause: HoldCause::SettingOff(Setting::Tagging),
            kind: ChangeKind::CreateUser,
            user: UserRef::New(email),
        }];
        let mut notes = BTreeMap::new();
        notes.insert(NoteKind::StaffPrimaryEmailKept, 1);
        for item in needs_attention(&inputs(&h, &[], &notes)) {
            assert!(!item.problem.contains('@') && !item.action.contains('@'));
        }
    }
}
