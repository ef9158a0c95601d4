//! The verifier: a pure function from (desired state, a fresh Zendesk snapshot, policy) to a
//! verdict per acceptance criterion of docs/design.md "Acceptance criteria".
//!
//! Verdicts carry counts; examples (emails, organization names) are for the local report
//! and the JSON detail file only, never for public output.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::Policy;
use crate::model::{ActualState, DesiredState, ZendeskRole};
use crate::plan::matching::Matching;

/// The acceptance criteria, in the order of the issue template's checklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// "Orgs in Zendesk match current Pages orgs"
    OrgsMatch,
    /// "Org users in Zendesk match current Pages partners users, including" (all three below)
    OrgUsersMatch,
    /// "Org assignments"
    OrgAssignments,
    /// "Roles (org manager or not)"
    Roles,
    /// "Names and emails"
    NamesAndEmails,
}

impl Criterion {
    pub const ALL: [Criterion; 5] = [
        Criterion::OrgsMatch,
        Criterion::OrgUsersMatch,
        Criterion::OrgAssignments,
        Criterion::Roles,
        Criterion::NamesAndEmails,
    ];

    /// The checklist text of the issue template, as the binary recognises it.
    pub fn checklist_text(self) -> &'static str {
        match self {
            Criterion::OrgsMatch => "Orgs in Zendesk match current Pages orgs",
            Criterion::OrgUsersMatch => {
                "Org users in Zendesk match current Pages partners users, including"
            }
            Criterion::OrgAssignments => "Org assignments",
            Criterion::Roles => "Roles (org manager or not)",
            Criterion::NamesAndEmails => "Names and emails",
        }
    }

    /// The sub-criteria a parent criterion is made of.
    pub fn children(self) -> &'static [Criterion] {
        match self {
            Criterion::OrgUsersMatch => &[
                Criterion::OrgAssignments,
                Criterion::Roles,
                Criterion::NamesAndEmails,
            ],
            _ => &[],
        }
    }
}

/// What kind of mismatch was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MismatchKind {
    OrganizationMissing,
    OrganizationDetailsDiffer,
    MembershipMissing,
    MembershipExtra,
    RolesTextDiffers,
    ManagerTagDiffers,
    UserMissing,
    NameEmpty,
}

impl MismatchKind {
    pub fn label(self) -> &'static str {
        match self {
            MismatchKind::OrganizationMissing => "organizations missing",
            MismatchKind::OrganizationDetailsDiffer => "organizations with other details",
            MismatchKind::MembershipMissing => "memberships missing",
            MismatchKind::MembershipExtra => "memberships not in Pages",
            MismatchKind::RolesTextDiffers => "users with other roles text",
            MismatchKind::ManagerTagDiffers => "users with a wrong manager tag",
            MismatchKind::UserMissing => "users missing",
            MismatchKind::NameEmpty => "users without a name",
        }
    }
}

/// One mismatch, for the local report and the JSON detail file only.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Example {
    pub kind: MismatchKind,
    /// An email, an organization name, or "email in organization": never public.
    pub subject: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub criterion: Criterion,
    pub passed: bool,
    /// How many records the criterion looked at.
    pub checked: usize,
    pub mismatches: BTreeMap<MismatchKind, usize>,
    /// At most [`MAX_EXAMPLES`] per mismatch kind.
    pub examples: Vec<Example>,
}

pub const MAX_EXAMPLES: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// One verdict per criterion, in [`Criterion::ALL`] order.
    pub verdicts: Vec<Verdict>,
}

impl Verification {
    pub fn all_passed(&self) -> bool {
        self.verdicts.iter().all(|v| v.passed)
    }

    pub fn verdict(&self, criterion: Criterion) -> Option<&Verdict> {
        self.verdicts.iter().find(|v| v.criterion == criterion)
    }
}

/// Judges a fresh Zendesk snapshot against the Pages reports, one verdict per criterion in
/// [`Criterion::ALL`] order. Users are matched exactly as the planner matches them.
///
/// `checked` counts Pages organizations for OrgsMatch and OrgAssignments, and Pages partner
/// users for Roles, NamesAndEmails and OrgUsersMatch. A Pages user the planner could not
/// match (its email held by another record) fails Roles and NamesAndEmails until a person
/// fixes the records.
pub fn verify(desired: &DesiredState, actual: &ActualState, policy: &Policy) -> Verification {
    let matching = Matching::new(desired, actual, &policy.external_id_prefix);
    // The criteria only read the matching: judged on two threads, each verdict on its own.
    let ((orgs, assignments), (roles, names)) = crate::threads::join(
        || {
            (
                orgs_match(desired, actual, &matching),
                org_assignments(desired, actual, &matching),
            )
        },
        || (roles(&matching, policy), names_and_emails(&matching)),
    );

    // why: "Org users in Zendesk match current Pages partners users, including" = all three.
    let mut parent = Tally::new(Criterion::OrgUsersMatch);
    parent.checked = desired.users.len();
    let mut examples = Vec::new();
    for child in [&assignments, &roles, &names] {
        for (kind, n) in &child.mismatches {
            *parent.mismatches.entry(*kind).or_default() += n;
        }
        examples.extend(child.examples.iter().cloned());
    }
    let parent = Verdict {
        criterion: Criterion::OrgUsersMatch,
        passed: parent.mismatches.is_empty(),
        checked: parent.checked,
        mismatches: parent.mismatches,
        examples,
    };

    let mut verdicts = vec![orgs, parent, assignments, roles, names];
    verdicts.sort_by_key(|v| Criterion::ALL.iter().position(|c| *c == v.criterion));
    Verification { verdicts }
}

/// Counts and capped examples of one criterion while it is being checked.
struct Tally {
    criterion: Criterion,
    checked: usize,
    mismatches: BTreeMap<MismatchKind, usize>,
    examples: Vec<Example>,
}

impl Tally {
    fn new(criterion: Criterion) -> Self {
        Tally {
            criterion,
            checked: 0,
            mismatches: BTreeMap::new(),
            examples: Vec::new(),
        }
    }

    fn mismatch(&mut self, kind: MismatchKind, subject: impl FnOnce() -> String) {
        let n = self.mismatches.entry(kind).or_default();
        *n += 1;
        if *n <= MAX_EXAMPLES {
            self.examples.push(Example {
                kind,
                subject: subject(),
            });
        }
    }

    fn verdict(self) -> Verdict {
        Verdict {
            criterion: self.criterion,
            passed: self.mismatches.is_empty(),
            checked: self.checked,
            mismatches: self.mismatches,
            examples: self.examples,
        }
    }
}

/// "every Pages org exists in Zendesk by name, with details = Agency"
fn orgs_match(desired: &DesiredState, actual: &ActualState, matching: &Matching<'_>) -> Verdict {
    let mut t = Tally::new(Criterion::OrgsMatch);
    for (key, org) in &desired.orgs {
        t.checked += 1;
        match matching.org_id(key).and_then(|id| actual.orgs.get(&id)) {
            None => t.mismatch(MismatchKind::OrganizationMissing, || org.name.clone()),
            Some(z) if z.details.as_deref().unwrap_or("") != org.details => {
                t.mismatch(MismatchKind::OrganizationDetailsDiffer, || org.name.clone())
            }
            Some(_) => {}
        }
    }
    t.verdict()
}

/// "for every Pages org, its Zendesk end-user members = its Pages users". Pages users who
/// are agents or admins in Zendesk are left out of both sides (the sync never judges them);
/// protected users are left out of the extra side (their rows were skipped).
fn org_assignments(
    desired: &DesiredState,
    actual: &ActualState,
    matching: &Matching<'_>,
) -> Verdict {
    let mut t = Tally::new(Criterion::OrgAssignments);
    t.checked = desired.orgs.len();
    // The wanted memberships that exist, marked by role slot (as the planner does): a
    // membership of the Zendesk user matched to a Pages user, in the lowest-id Zendesk
    // organization of one of that user's Pages organizations, is exactly that role slot.
    let mut present = vec![false; matching.slot_count()];

    // Extra side: end-user members of each Pages org's Zendesk org that Pages does not list.
    for m in actual.memberships.values() {
        let Some(&org) = matching.org.managed.get(&m.org_id) else {
            continue;
        };
        if matching.org.zendesk_org[org as usize] != Some(m.org_id) {
            continue; // a same-named duplicate: the sync works in the lowest id only
        }
        let Some((user, pages)) = matching.held(m.user_id) else {
            continue;
        };
        let slot = pages.and_then(|i| matching.slot_of(i, org));
        if let Some(slot) = slot {
            present[slot] = true;
        }
        if user.role != ZendeskRole::EndUser {
            continue;
        }
        let listed = slot.is_some();
        if !listed && !matching.is_protected(desired, user) {
            t.mismatch(MismatchKind::MembershipExtra, || {
                let who = user
                    .primary_email()
                    .map_or_else(|| format!("Zendesk user {}", user.id), |e| e.to_string());
                format!("{who} in {}", matching.name(org))
            });
        }
    }

    // Missing side: every Pages (user, org) pair whose Zendesk membership is absent.
    for (i, &(d, _)) in matching.users.iter().enumerate() {
        if matching
            .matched(i)
            .is_some_and(|u| u.role != ZendeskRole::EndUser)
        {
            continue;
        }
        for (slot, org) in matching.role_slots(i) {
            // A slot is only ever marked for a matched user in an existing organization.
            if !present[slot] {
                t.mismatch(MismatchKind::MembershipMissing, || {
                    format!("{} in {}", d.email, matching.name(org))
                });
            }
        }
    }
    t.verdict()
}

/// "every partner user's roles field and manager tag match Pages"
fn roles(matching: &Matching<'_>, policy: &Policy) -> Verdict {
    let mut t = Tally::new(Criterion::Roles);
    for (i, &(d, _)) in matching.users.iter().enumerate() {
        t.checked += 1;
        let Some(user) = matching.matched(i) else {
            // Not in Zendesk (or held by another record): its roles cannot be there either.
            t.mismatch(MismatchKind::RolesTextDiffers, || d.email.to_string());
            continue;
        };
        if !matching.roles_text_is(i, user.roles_text.as_deref().unwrap_or("")) {
            t.mismatch(MismatchKind::RolesTextDiffers, || d.email.to_string());
        }
        if user.tags.contains(&policy.manager_tag) != d.is_manager() {
            t.mismatch(MismatchKind::ManagerTagDiffers, || d.email.to_string());
        }
    }
    t.verdict()
}

/// "every partner user exists in Zendesk by that email, with a non-empty name": the user
/// matched to the Pages user holds the Pages email as an identity and has a name.
fn names_and_emails(matching: &Matching<'_>) -> Verdict {
    let mut t = Tally::new(Criterion::NamesAndEmails);
    for (i, &(d, _)) in matching.users.iter().enumerate() {
        t.checked += 1;
        match matching.matched(i) {
            Some(u) if u.identities.iter().any(|e| e.email == d.email) => {
                if u.name.trim().is_empty() {
                    t.mismatch(MismatchKind::NameEmpty, || d.email.to_string());
                }
            }
            _ => t.mismatch(MismatchKind::UserMissing, || d.email.to_string()),
        }
    }
    t.verdict()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::builders::{
        actual, desired, policy, ActualBuilder, DesiredBuilder, Manager, User,
    };

    fn in_step() -> (DesiredBuilder, ActualBuilder) {
        (
            desired()
                .org("Agency A", "A")
                .org("Agency B", "B")
                .user("jane@x.gov", 1, &[("Agency A", Manager)])
                .user("sam@x.gov", 2, &[("Agency A", User), ("Agency B", User)]),
            actual()
                .org(10, "Agency A", Some("A"))
                .org(11, "Agency B", Some("B"))
                .user(20, "Jane", "jane@x.gov")
                .roles_text(20, "Agency A: manager")
                .tags(20, &["pages_org_manager"])
                .member(20, 10)
                .user(21, "Sam", "sam@x.gov")
                .roles_text(21, "Agency A: user, Agency B: user")
                .member(21, 10)
                .member(21, 11),
        )
    }

    fn verify_of(d: DesiredBuilder, a: ActualBuilder) -> Verification {
        verify(&d.build(), &a.build(), &policy())
    }

    #[test]
    fn a_zendesk_in_step_passes_every_criterion_in_checklist_order() {
        let (d, a) = in_step();
        let v = verify_of(d, a);
        assert!(v.all_passed(), "{v:#?}");
        let order: Vec<Criterion> = v.verdicts.iter().map(|v| v.criterion).collect();
        assert_eq!(order, Criterion::ALL);
        let checked: Vec<usize> = v.verdicts.iter().map(|v| v.checked).collect();
        assert_eq!(checked, [2, 2, 2, 2, 2]);
    }

    #[test]
    fn each_kind_of_drift_fails_its_criterion_and_the_parent() {
        let (d, _) = in_step();
        let d = d.org("Agency C", "C");
        let a = actual()
            .org(10, "Agency A", Some("Other"))
            .org(11, "Agency B", Some("B"))
            .user(20, "  ", "jane@x.gov")
            .roles_text(20, "Agency A: user")
            .member(20, 10)
            .member(20, 11)
            .user(30, "Ex", "ex@x.gov")
            .member(30, 10);
        insta::assert_debug_snapshot!(verify_of(d, a));
    }

    #[test]
    fn agents_are_left_out_of_assignments_and_protected_users_out_of_extras() {
        let (d, a) = in_step();
        let d = d
            .user("agent@x.gov", 3, &[("Agency B", User)])
            .protected_email("skipped@x.gov");
        let a = a
            .agent(40, "Agent", "agent@x.gov")
            .roles_text(40, "Agency B: user")
            .member(40, 10)
            .user(41, "Skipped", "skipped@x.gov")
            .member(41, 11);
        let v = verify_of(d, a);
        assert!(v.all_passed(), "{v:#?}");
    }

    #[test]
    fn a_pages_user_found_by_external_id_without_the_pages_email_is_missing() {
        let (d, a) = in_step();
        let a = a
            .user(50, "Old Jane", "jane@old.gov")
            .external_id(50, "pages-user-1");
        let v = verify_of(d, a);
        let names = v.verdict(Criterion::NamesAndEmails).unwrap();
        assert_eq!(names.mismatches.get(&MismatchKind::UserMissing), Some(&1));
        assert!(!v.verdict(Criterion::OrgUsersMatch).unwrap().passed);
        assert!(v.verdict(Criterion::OrgsMatch).unwrap().passed);
    }

    #[test]
    fn examples_are_capped_per_kind_while_counts_are_not() {
        let mut d = desired().org("Agency A", "A");
        for i in 0..(MAX_EXAMPLES as u64 + 5) {
            d = d.user(&format!("u{i}@x.gov"), i, &[("Agency A", User)]);
        }
        let v = verify_of(d, actual().org(10, "Agency A", Some("A")));
        let names = v.verdict(Criterion::NamesAndEmails).unwrap();
        assert_eq!(
            names.mismatches[&MismatchKind::UserMissing],
            MAX_EXAMPLES + 5
        );
        assert_eq!(names.examples.len(), MAX_EXAMPLES);
        let parent = v.verdict(Criterion::OrgUsersMatch).unwrap();
        assert_eq!(
            parent.mismatches.values().sum::<usize>(),
            3 * (MAX_EXAMPLES + 5)
        );
    }
}
