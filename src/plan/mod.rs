//! The planner: a pure function from (desired state, Zendesk snapshot, policy) to the list
//! of changes that brings Zendesk in step with Pages. It never performs I/O and never sees
//! a URL, token or HTTP type; `apply` (in the zendesk adapter) carries the plan out.
//!
//! Every rule of docs/design.md ("Identity", "Mapping into Zendesk", "Never lose data") is
//! enforced here, each with a one-line why.
//! Submodules: `matching` (who is who, shared with the verifier), `orgs`, `users`,
//! `memberships` (the rules per record kind), `guard` (mass-removal limits) and
//! `simulate` (a plan applied to a snapshot in memory, for tests and the demo).

pub mod guard;
pub(crate) mod matching;
mod memberships;
mod orgs;
pub mod settings;
pub mod simulate;
mod users;

#[cfg(test)]
pub(crate) mod builders;
#[cfg(test)]
mod tests;

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::config::Policy;
use crate::model::{ActualState, DesiredState, EmailKey, OrgKey};

/// A user a change refers to: one Zendesk already has, or one this plan creates.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum UserRef {
    Existing(u64),
    New(EmailKey),
}

/// An organization a change refers to: one Zendesk already has, or one this plan creates.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum OrgRef {
    Existing(u64),
    New(OrgKey),
}

/// Fields of an existing user to write. `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UserUpdate {
    /// Only ever set when the Zendesk name is empty (human-set names are kept).
    pub name: Option<String>,
    /// Only ever set when the user has no external_id yet.
    pub external_id: Option<String>,
    pub roles_text: Option<String>,
    /// The complete merged tag list: the user's tags plus or minus the manager tag only.
    pub tags: Option<Vec<String>>,
}

impl UserUpdate {
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.external_id.is_none()
            && self.roles_text.is_none()
            && self.tags.is_none()
    }
}

/// One change to Zendesk. Plans list them in dependency order: organizations, then users,
/// then identities, then memberships (additions before removals).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Change {
    CreateOrganization {
        key: OrgKey,
        name: String,
        details: String,
    },
    UpdateOrganization {
        org_id: u64,
        details: String,
    },
    CreateUser {
        email: EmailKey,
        name: String,
        /// Empty when another record already holds the user's external_id: the user is
        /// then created without one (send no `external_id`).
        external_id: String,
        roles_text: String,
        tags: Vec<String>,
    },
    UpdateUser {
        user_id: u64,
        update: UserUpdate,
    },
    /// The Pages email of a user matched by external_id differs from its primary email:
    /// make it primary, adding it as an identity first when the user does not have it.
    SetPrimaryEmail {
        user_id: u64,
        email: EmailKey,
        /// The existing secondary identity holding `email`, if any.
        identity_id: Option<u64>,
    },
    AddMembership {
        user: UserRef,
        org: OrgRef,
    },
    RemoveMembership {
        membership_id: u64,
        user_id: u64,
        org_id: u64,
    },
}

/// The kind of a change, for counting and for reasons in public output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    CreateOrganization,
    UpdateOrganization,
    CreateUser,
    UpdateUser,
    SetPrimaryEmail,
    AddMembership,
    RemoveMembership,
}

impl ChangeKind {
    pub const ALL: [ChangeKind; 7] = [
        ChangeKind::CreateOrganization,
        ChangeKind::UpdateOrganization,
        ChangeKind::CreateUser,
        ChangeKind::UpdateUser,
        ChangeKind::SetPrimaryEmail,
        ChangeKind::AddMembership,
        ChangeKind::RemoveMembership,
    ];

    /// Words for people: "organizations created", "memberships removed", ...
    pub fn label(self) -> &'static str {
        match self {
            ChangeKind::CreateOrganization => "organizations created",
            ChangeKind::UpdateOrganization => "organizations updated",
            ChangeKind::CreateUser => "users created",
            ChangeKind::UpdateUser => "users updated",
            ChangeKind::SetPrimaryEmail => "primary emails changed",
            ChangeKind::AddMembership => "memberships added",
            ChangeKind::RemoveMembership => "memberships removed",
        }
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl Change {
    pub fn kind(&self) -> ChangeKind {
        match self {
            Change::CreateOrganization { .. } => ChangeKind::CreateOrganization,
            Change::UpdateOrganization { .. } => ChangeKind::UpdateOrganization,
            Change::CreateUser { .. } => ChangeKind::CreateUser,
            Change::UpdateUser { .. } => ChangeKind::UpdateUser,
            Change::SetPrimaryEmail { .. } => ChangeKind::SetPrimaryEmail,
            Change::AddMembership { .. } => ChangeKind::AddMembership,
            Change::RemoveMembership { .. } => ChangeKind::RemoveMembership,
        }
    }
}

/// Something the plan reports but does not change. Carries Zendesk ids only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// A Zendesk organization with no Pages counterpart: reported, never deleted.
    OrganizationNotInPages,
    /// A Pages user who is an agent or admin in Zendesk: role, name and suspension untouched.
    AgentOrAdminLeftAlone,
    /// The matched user carries an external_id someone else set: kept as it is.
    ExternalIdKept,
    /// The Pages email belongs to a different Zendesk user than the one matched by
    /// external_id: no email change, a person must merge or fix the records.
    EmailOwnedByAnotherUser,
    /// The desired external_id is already held by another Zendesk user.
    ExternalIdOwnedByAnotherUser,
    /// A membership of an agent or admin in a Pages organization, not in Pages: kept.
    NonEndUserMembershipKept,
    /// A membership of a protected user (their row was skipped): kept.
    ProtectedMembershipKept,
    /// The Pages email differs from an agent's or admin's primary email: a staff login is
    /// never changed by the sync, a person decides.
    StaffPrimaryEmailKept,
}

impl NoteKind {
    pub fn label(self) -> &'static str {
        match self {
            NoteKind::OrganizationNotInPages => "Zendesk organizations not in Pages (kept)",
            NoteKind::AgentOrAdminLeftAlone => {
                "Pages users who are Zendesk agents or admins (role, name, suspension untouched)"
            }
            NoteKind::ExternalIdKept => "users whose external_id was set by someone else (kept)",
            NoteKind::EmailOwnedByAnotherUser => {
                "Pages emails held by a different Zendesk user (needs a person)"
            }
            NoteKind::ExternalIdOwnedByAnotherUser => {
                "Pages ids already used as external_id by another Zendesk user (needs a person)"
            }
            NoteKind::NonEndUserMembershipKept => {
                "agent or admin memberships in Pages organizations (kept)"
            }
            NoteKind::ProtectedMembershipKept => {
                "memberships of users whose report row was skipped (kept)"
            }
            NoteKind::StaffPrimaryEmailKept => {
                "agent or admin primary emails that differ from Pages (needs a person)"
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Note {
    pub kind: NoteKind,
    /// The Zendesk user or organization id the note is about.
    pub zendesk_id: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub notes: Vec<Note>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Number of changes of each kind; every kind is present, zero included.
    pub fn counts(&self) -> BTreeMap<ChangeKind, usize> {
        let mut counts: BTreeMap<ChangeKind, usize> =
            ChangeKind::ALL.iter().map(|k| (*k, 0)).collect();
        for change in &self.changes {
            *counts.entry(change.kind()).or_default() += 1;
        }
        counts
    }

    pub fn note_counts(&self) -> BTreeMap<NoteKind, usize> {
        let mut counts = BTreeMap::new();
        for note in &self.notes {
            *counts.entry(note.kind).or_default() += 1;
        }
        counts
    }
}

/// Zendesk organizations that Pages manages: those whose name matches a Pages organization.
/// Memberships are only ever removed inside these.
pub fn managed_org_ids(desired: &DesiredState, actual: &ActualState) -> BTreeSet<u64> {
    actual
        .orgs
        .values()
        .filter(|o| OrgKey::new(&o.name).is_some_and(|k| desired.orgs.contains_key(&k)))
        .map(|o| o.id)
        .collect()
}

/// Computes the changes that bring `actual` in step with `desired`.
///
/// Pure and deterministic: the same inputs give the same plan, changes in dependency order
/// (organizations, users, identities, memberships added, memberships removed) and sorted by
/// key within each kind. Cost is linear in the size of both sides (hash indexes built once).
pub fn plan(desired: &DesiredState, actual: &ActualState, policy: &Policy) -> Plan {
    plan_in_parts(desired, actual, policy, USER_PART)
}

/// How many Pages users make a part of [`plan`]'s users' work: small enough that the
/// thread that finishes its other work first takes the rest, big enough that taking one
/// costs nothing.
const USER_PART: usize = 16_384;

/// [`plan`], with the users' work in parts of `part` users (tests compare part sizes).
fn plan_in_parts(
    desired: &DesiredState,
    actual: &ActualState,
    policy: &Policy,
    part: usize,
) -> Plan {
    let matching = matching::Matching::new(desired, actual, &policy.external_id_prefix);
    // Organizations are planned here while memberships, which only read the matching too,
    // are planned on a second thread; then both threads plan the users (the most work), a
    // part at a time, so that both end together whichever finished its first task first.
    // Each part is sorted on its own: the parts make disjoint kinds in dependency order
    // (organizations < users and identities < memberships), and the users' parts, each
    // sorted and put back in user order, sort stably into exactly the stable sort of all
    // users' changes (the sort merges the sorted runs).
    let users = user_parts(matching.users.len(), part);
    let ((mut changes, mut notes), (mut membership_changes, membership_notes), user_changes) =
        crate::threads::join_then_share(
            || {
                let (mut changes, mut notes) = (Vec::new(), Vec::new());
                orgs::plan_orgs(desired, actual, &matching, &mut changes, &mut notes);
                changes.sort_by(change_order);
                (changes, notes)
            },
            || {
                let (mut changes, mut notes) = (Vec::new(), Vec::new());
                memberships::plan_memberships(desired, actual, &matching, &mut changes, &mut notes);
                changes.sort_by(change_order);
                (changes, notes)
            },
            users.len(),
            |k| {
                let (mut changes, mut notes) = (Vec::new(), Vec::new());
                users::plan_users(
                    &matching,
                    users[k].clone(),
                    policy,
                    &mut changes,
                    &mut notes,
                );
                changes.sort_by(change_order);
                (changes, notes)
            },
        );
    let org_count = changes.len();
    // Room for every change at once: the users' and then the memberships' are moved in
    // without the vector growing (and copying) on the way.
    let user_count: usize = user_changes.iter().map(|(c, _)| c.len()).sum();
    changes.reserve(user_count + membership_changes.len());
    for (part_changes, part_notes) in user_changes {
        changes.extend(part_changes);
        notes.extend(part_notes);
    }
    changes[org_count..].sort_by(change_order);
    // why: apply must create organizations and users before memberships can name them,
    // and adds go before removals so a user moving between orgs is never orgless.
    changes.append(&mut membership_changes);
    drop(membership_changes);
    debug_assert!(changes
        .windows(2)
        .all(|w| change_order(&w[0], &w[1]) != Ordering::Greater));
    notes.extend(membership_notes);
    // Notes are plain values ordered on every field: equal ones are identical.
    notes.sort_unstable();
    Plan { changes, notes }
}

/// The Pages users (indexes in `Matching::users`) split in parts of `part` users.
fn user_parts(users: usize, part: usize) -> Vec<std::ops::Range<usize>> {
    let part = part.max(1);
    (0..users.div_ceil(part))
        .map(|k| k * part..((k + 1) * part).min(users))
        .collect()
}

/// Dependency order by kind (the declaration order of [`ChangeKind`]), then by key.
fn change_order(a: &Change, b: &Change) -> Ordering {
    use Change::*;
    a.kind().cmp(&b.kind()).then_with(|| match (a, b) {
        (CreateOrganization { key: x, .. }, CreateOrganization { key: y, .. }) => x.cmp(y),
        (UpdateOrganization { org_id: x, .. }, UpdateOrganization { org_id: y, .. }) => x.cmp(y),
        (CreateUser { email: x, .. }, CreateUser { email: y, .. }) => x.cmp(y),
        (UpdateUser { user_id: x, .. }, UpdateUser { user_id: y, .. }) => x.cmp(y),
        (SetPrimaryEmail { user_id: x, .. }, SetPrimaryEmail { user_id: y, .. }) => x.cmp(y),
        (AddMembership { user: u1, org: o1 }, AddMembership { user: u2, org: o2 }) => {
            (u1, o1).cmp(&(u2, o2))
        }
        (
            RemoveMembership {
                membership_id: x, ..
            },
            RemoveMembership {
                membership_id: y, ..
            },
        ) => x.cmp(y),
        _ => Ordering::Equal,
    })
}
