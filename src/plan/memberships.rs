//! Memberships: one per (Pages user, Pages organization) pair. Adds what is missing;
//! removes only end-user memberships in Pages-managed organizations that the report no
//! longer lists. Never touches organizations Pages does not manage, agents, admins, or
//! users whose report row was skipped.

use crate::model::{ActualState, DesiredState, ZendeskRole};
use crate::prefetch::{with_ahead, AHEAD};

use super::matching::{Matching, UserMatch};
use super::{Change, Note, NoteKind, OrgRef, UserRef};

pub(super) fn plan_memberships(
    desired: &DesiredState,
    actual: &ActualState,
    matching: &Matching<'_>,
    changes: &mut Vec<Change>,
    notes: &mut Vec<Note>,
) {
    // One pass over Zendesk's memberships finds both the wanted memberships that exist
    // (marked by role slot, no set of pairs needed) and the ones Pages no longer lists.
    let mut present = vec![false; matching.slot_count()];
    for (membership, ahead) in with_ahead(actual.memberships.values(), AHEAD) {
        if let Some(ahead) = ahead {
            matching.prefetch_held(ahead.user_id);
        }
        // why: "Remove a membership only in an organization that Pages manages"; the
        // organizations memberships are added to are managed ones too.
        let Some(&org) = matching.org.managed.get(&membership.org_id) else {
            continue;
        };
        // A membership of a user outside the snapshot cannot be judged: leave it.
        let Some((user, pages)) = matching.held(membership.user_id) else {
            continue;
        };
        if let Some(slot) = pages.and_then(|i| matching.slot_of(i, org)) {
            // Listed in Pages: kept. It is the wanted one unless it is in a same-named
            // duplicate organization (the sync works in the lowest id only).
            if matching.org.zendesk_org[org as usize] == Some(membership.org_id) {
                present[slot] = true;
            }
            continue;
        }
        // why: "... only for an end-user who is no longer in that Pages org" (not through
        // the Pages user matched to it, just checked, nor through any of its emails).
        if matching.email_in_pages_org(desired, user, org) {
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

    // why: "Memberships: one per (Pages user, Pages org) pair."
    for (i, &(d, m)) in matching.users.iter().enumerate() {
        let user = match m {
            UserMatch::ByExternalId(id) | UserMatch::ByEmail(id) => UserRef::Existing(id),
            UserMatch::New => UserRef::New(d.email.clone()),
            // The email belongs to a record a person must fix first.
            UserMatch::Unresolved { .. } => continue,
        };
        for (slot, org) in matching.role_slots(i) {
            let org = match matching.org.zendesk_org[org as usize] {
                Some(org_id) => OrgRef::Existing(org_id),
                None => OrgRef::New(matching.org.orgs[org as usize].0.clone()),
            };
            // An existing user in an existing organization: `present` knows.
            if matches!((&user, &org), (UserRef::Existing(_), OrgRef::Existing(_))) && present[slot]
            {
                continue;
            }
            changes.push(Change::AddMembership {
                user: user.clone(),
                org,
            });
        }
    }
}
