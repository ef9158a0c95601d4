//! Memberships: one per (Pages user, Pages organization) pair. Adds what is missing;
//! removes only end-user memberships in Pages-managed organizations that the report no
//! longer lists. Never touches organizations Pages does not manage, agents, admins, or
//! users whose report row was skipped.

use rustc_hash::FxHashSet as HashSet;

use crate::model::{ActualState, DesiredState, ZendeskRole};

use super::matching::{Matching, UserMatch};
use super::{Change, Note, NoteKind, OrgRef, UserRef};

pub(super) fn plan_memberships(
    desired: &DesiredState,
    actual: &ActualState,
    matching: &Matching<'_>,
    changes: &mut Vec<Change>,
    notes: &mut Vec<Note>,
) {
    let existing: HashSet<(u64, u64)> = actual
        .memberships
        .values()
        .map(|m| (m.user_id, m.org_id))
        .collect();

    // why: "Memberships: one per (Pages user, Pages org) pair."
    for (i, &(d, m)) in matching.users.iter().enumerate() {
        let user = match m {
            UserMatch::ByExternalId(id) | UserMatch::ByEmail(id) => UserRef::Existing(id),
            UserMatch::New => UserRef::New(d.email.clone()),
            // The email belongs to a record a person must fix first.
            UserMatch::Unresolved { .. } => continue,
        };
        for (org, _) in matching.roles(i) {
            let org = match matching.zendesk_org[org as usize] {
                Some(org_id) => OrgRef::Existing(org_id),
                None => OrgRef::New(matching.orgs[org as usize].0.clone()),
            };
            if let (UserRef::Existing(u), OrgRef::Existing(o)) = (&user, &org) {
                if existing.contains(&(*u, *o)) {
                    continue;
                }
            }
            changes.push(Change::AddMembership {
                user: user.clone(),
                org,
            });
        }
    }

    for membership in actual.memberships.values() {
        // why: "Remove a membership only in an organization that Pages manages".
        let Some(&org) = matching.managed.get(&membership.org_id) else {
            continue;
        };
        // A membership of a user outside the snapshot cannot be judged: leave it.
        let Some(user) = matching.user(membership.user_id) else {
            continue;
        };
        // why: "... only for an end-user who is no longer in that Pages org".
        if matching.in_pages_org(desired, user, org) {
            continue;
        }
        if user.role != ZendeskRole::EndUser {
            // why: "Never change ... a Zendesk agent or admin."
            notes.push(Note {
                kind: NoteKind::NonEndUserMembershipKept,
                zendesk_id: user.id,
            });
        } else if matching.is_protected(desired, user) {
            // why: a skipped report row must not cost data (DesiredState::protected_*).
            notes.push(Note {
                kind: NoteKind::ProtectedMembershipKept,
                zendesk_id: user.id,
            });
        } else {
            changes.push(Change::RemoveMembership {
                membership_id: membership.id,
                user_id: membership.user_id,
                org_id: membership.org_id,
            });
        }
    }
}
