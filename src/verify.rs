//! The verifier: a pure function from (desired state, a fresh Zendesk snapshot, policy) to a
//! verdict per acceptance criterion of DESIGN.md "Acceptance criteria → checks".
//!
//! Verdicts carry counts; examples (emails, organization names) are for the local report
//! and the JSON detail file only, never for public output.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::Policy;
use crate::model::{ActualState, DesiredState};

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

pub fn verify(desired: &DesiredState, actual: &ActualState, policy: &Policy) -> Verification {
    let _ = (desired, actual, policy);
    unimplemented!("verifier: being written")
}
