//! Users: create the Pages partner users Zendesk lacks, and keep the fields the sync owns
//! (roles text, manager tag, external_id once, name only when empty, primary email after a
//! Pages email change) on the ones it has. Never touches role or suspension, never renames
//! a named user, never changes anything but the tags of agents and admins it owns.

use crate::config::Policy;
use crate::model::{DesiredUser, ZendeskRole, ZendeskUser};
use crate::prefetch::AHEAD;

use super::matching::{non_empty, ExtId, Matching, UserMatch};
use super::{Change, Note, NoteKind, UserUpdate};

/// Plans the Pages users of indexes `range` (in `matching.users`).
pub(super) fn plan_users(
    matching: &Matching<'_>,
    range: std::ops::Range<usize>,
    policy: &Policy,
    changes: &mut Vec<Change>,
    notes: &mut Vec<Note>,
) {
    // why: "never overwriting an external_id that someone else set": an id that another
    // record holds, or that two Pages users share, is not written. `Err` names the holder.
    let ext_id_free = |d: &DesiredUser, user_id: Option<u64>| -> Result<(), Option<u64>> {
        let ext = ExtId::Pages(d.pages_id);
        match matching.user_by_external_id(&ext) {
            Some(holder) if Some(holder.id) != user_id => Err(Some(holder.id)),
            _ if matching.is_shared(d.pages_id) => Err(None),
            _ => Ok(()),
        }
    };

    for (i, &(d, m)) in range.clone().zip(&matching.users[range]) {
        // A user's plan is long: half as far ahead as the quicker loops.
        matching.prefetch_record(i + AHEAD);
        matching.prefetch_fields(i + AHEAD / 2);
        match m {
            UserMatch::New => {
                // why: "never overwriting an external_id that someone else set": an id
                // another record holds is left off the new user (empty = none).
                let external_id = match ext_id_free(d, None) {
                    Ok(()) => policy.external_id(d.pages_id),
                    Err(holder) => {
                        if let Some(holder) = holder {
                            notes.push(note(NoteKind::ExternalIdOwnedByAnotherUser, holder));
                        }
                        String::new()
                    }
                };
                // why: "role end-user for new users; name derived from the email".
                changes.push(Change::CreateUser {
                    email: d.email.clone(),
                    name: d.name(),
                    external_id,
                    roles_text: matching.roles_text(i),
                    tags: if d.is_manager() {
                        vec![policy.manager_tag.clone()]
                    } else {
                        Vec::new()
                    },
                });
            }
            // why: "never create a duplicate": the email is taken, a person must merge.
            UserMatch::Unresolved { holder } => {
                notes.push(note(NoteKind::EmailOwnedByAnotherUser, holder));
            }
            UserMatch::ByExternalId(_) | UserMatch::ByEmail(_) => {
                // Invariant: matching only names users of this snapshot.
                let Some(user) = matching.matched(i) else {
                    continue;
                };
                let mut update = UserUpdate::default();
                if matches!(m, UserMatch::ByExternalId(_)) {
                    // Matched on the Pages id: the Pages email follows below.
                } else if let Some(own) = non_empty(user.external_id.as_deref()) {
                    // why: "never overwriting an external_id that someone else set".
                    if matching.ext_id(own) != ExtId::Pages(d.pages_id) {
                        notes.push(note(NoteKind::ExternalIdKept, user.id));
                    }
                } else {
                    // why: "stamped on first match", unless another record already holds it.
                    match ext_id_free(d, Some(user.id)) {
                        Ok(()) => update.external_id = Some(policy.external_id(d.pages_id)),
                        Err(Some(_)) => {
                            notes.push(note(NoteKind::ExternalIdOwnedByAnotherUser, user.id))
                        }
                        Err(None) => {}
                    }
                }
                // A user that carries (or now gets) the Pages id takes the Pages email as
                // primary; deciding it in the same run as the stamp keeps one run enough.
                if matches!(m, UserMatch::ByExternalId(_)) || update.external_id.is_some() {
                    if let Some(change) = primary_email(d, user, matching, notes) {
                        changes.push(change);
                    }
                }
                fill_update(matching, i, user, policy, &mut update, notes);
                if !update.is_empty() {
                    changes.push(Change::UpdateUser {
                        user_id: user.id,
                        update,
                    });
                }
            }
        }
    }
}

/// The user carries the Pages id but Pages has another email for it: make the Pages email
/// primary (docs/design.md "Identity": the same Zendesk user gets the new address).
fn primary_email(
    d: &DesiredUser,
    user: &ZendeskUser,
    matching: &Matching<'_>,
    notes: &mut Vec<Note>,
) -> Option<Change> {
    if user.primary_email() == Some(&d.email) {
        return None;
    }
    // why: "Never change the role, name, suspension or primary email of a Zendesk agent or
    // admin": it is their sign-in address; a person decides.
    if user.role != ZendeskRole::EndUser {
        notes.push(note(NoteKind::StaffPrimaryEmailKept, user.id));
        return None;
    }
    match matching.user_by_email.get(&d.email) {
        None => Some(Change::SetPrimaryEmail {
            user_id: user.id,
            email: d.email.clone(),
            identity_id: None,
        }),
        Some(&holder) if holder.id == user.id => {
            let identity = user.identities.iter().find(|i| i.email == d.email)?;
            Some(Change::SetPrimaryEmail {
                user_id: user.id,
                email: d.email.clone(),
                identity_id: Some(identity.id),
            })
        }
        // why: identities are unique per account; moving one between users needs a person.
        Some(&holder) => {
            notes.push(note(NoteKind::EmailOwnedByAnotherUser, holder.id));
            None
        }
    }
}

/// Name, roles text and tags of an existing user.
fn fill_update(
    matching: &Matching<'_>,
    i: usize,
    user: &ZendeskUser,
    policy: &Policy,
    update: &mut UserUpdate,
    notes: &mut Vec<Note>,
) {
    let d = matching.users[i].0;
    let end_user = user.role == ZendeskRole::EndUser;
    if !end_user {
        // why: "Never change the role, name or suspension of a Zendesk agent or admin."
        notes.push(note(NoteKind::AgentOrAdminLeftAlone, user.id));
    }
    // why: "an existing non-empty name is never overwritten".
    if end_user && user.name.trim().is_empty() && !d.name().trim().is_empty() {
        update.name = Some(d.name());
    }
    // why: "the user's Pages roles are written as canonical text into the configured field".
    if !matching.roles_text_is(i, user.roles_text.as_deref().unwrap_or("")) {
        update.roles_text = Some(matching.roles_text(i));
    }
    // why: "Tags the sync does not manage are never removed: tag lists are merged".
    if let Some(tags) = merged_tags(&user.tags, &policy.manager_tag, d.is_manager()) {
        update.tags = Some(tags);
    }
}

/// The user's tags with the manager tag added or removed; `None` when nothing changes.
pub(crate) fn merged_tags(
    tags: &[String],
    manager_tag: &str,
    manager: bool,
) -> Option<Vec<String>> {
    let has = tags.iter().any(|t| t == manager_tag);
    match (manager, has) {
        (true, false) => {
            let mut merged = tags.to_vec();
            merged.push(manager_tag.to_string());
            Some(merged)
        }
        (false, true) => Some(tags.iter().filter(|t| *t != manager_tag).cloned().collect()),
        _ => None,
    }
}

fn note(kind: NoteKind, zendesk_id: u64) -> Note {
    Note { kind, zendesk_id }
}
