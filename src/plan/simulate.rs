//! A plan applied to a Zendesk snapshot in memory, as Zendesk would apply it: new records get
//! ids above the highest existing one, a new user gets a primary email identity, tags are
//! replaced by the merged list the plan carries, memberships are added and removed by id.
//!
//! Used by tests (convergence: plan, apply, plan again → nothing) and by the demo. It never
//! decides anything itself; a change Zendesk would reject (a reference to a record that does
//! not exist) is skipped, as the real apply would report it failed and carry on.

use std::collections::{HashMap, HashSet};

use crate::model::{
    ActualState, EmailKey, OrgKey, ZendeskIdentity, ZendeskMembership, ZendeskOrg, ZendeskRole,
    ZendeskUser,
};

use super::{Change, OrgRef, Plan, UserRef};

/// Returns `actual` with every change of `plan` applied.
///
/// The snapshot's `roles_text` stands for whichever Zendesk field the adapter's mapping
/// names, so the mapping does not change how a plan applies.
pub fn apply_in_memory(actual: &ActualState, plan: &Plan) -> ActualState {
    let mut state = actual.clone();
    let mut next_org = state.orgs.keys().max().map_or(1, |m| m + 1);
    let mut next_user = state.users.keys().max().map_or(1, |m| m + 1);
    let mut next_identity = state
        .users
        .values()
        .flat_map(|u| u.identities.iter().map(|i| i.id))
        .max()
        .map_or(1, |m| m + 1);
    let mut next_membership = state.memberships.keys().max().map_or(1, |m| m + 1);
    let mut new_orgs: HashMap<OrgKey, u64> = HashMap::new();
    let mut new_users: HashMap<EmailKey, u64> = HashMap::new();
    let mut pairs: HashSet<(u64, u64)> = state
        .memberships
        .values()
        .map(|m| (m.user_id, m.org_id))
        .collect();

    for change in &plan.changes {
        match change {
            Change::CreateOrganization { key, name, details } => {
                let id = next_org;
                next_org += 1;
                state.orgs.insert(
                    id,
                    ZendeskOrg {
                        id,
                        name: name.clone(),
                        details: Some(details.clone()),
                    },
                );
                new_orgs.insert(key.clone(), id);
            }
            Change::UpdateOrganization { org_id, details } => {
                if let Some(org) = state.orgs.get_mut(org_id) {
                    org.details = Some(details.clone());
                }
            }
            Change::CreateUser {
                email,
                name,
                external_id,
                roles_text,
                tags,
            } => {
                let id = next_user;
                next_user += 1;
                let identity = ZendeskIdentity {
                    id: next_identity,
                    email: email.clone(),
                    primary: true,
                };
                next_identity += 1;
                state.users.insert(
                    id,
                    ZendeskUser {
                        id,
                        name: name.clone(),
                        role: ZendeskRole::EndUser,
                        external_id: (!external_id.is_empty()).then(|| external_id.clone()),
                        roles_text: Some(roles_text.clone()),
                        tags: tags.clone(),
                        suspended: false,
                        identities: vec![identity],
                    },
                );
                new_users.insert(email.clone(), id);
            }
            Change::UpdateUser { user_id, update } => {
                if let Some(user) = state.users.get_mut(user_id) {
                    if let Some(name) = &update.name {
                        user.name = name.clone();
                    }
                    if let Some(ext) = &update.external_id {
                        user.external_id = Some(ext.clone());
                    }
                    if let Some(text) = &update.roles_text {
                        user.roles_text = Some(text.clone());
                    }
                    if let Some(tags) = &update.tags {
                        user.tags = tags.clone();
                    }
                }
            }
            Change::SetPrimaryEmail {
                user_id,
                email,
                identity_id,
            } => {
                if let Some(user) = state.users.get_mut(user_id) {
                    let target = match identity_id {
                        Some(id) => *id,
                        None => {
                            let id = next_identity;
                            next_identity += 1;
                            user.identities.push(ZendeskIdentity {
                                id,
                                email: email.clone(),
                                primary: false,
                            });
                            id
                        }
                    };
                    for identity in &mut user.identities {
                        identity.primary = identity.id == target;
                    }
                }
            }
            Change::AddMembership { user, org } => {
                let user_id = match user {
                    UserRef::Existing(id) => Some(*id),
                    UserRef::New(email) => new_users.get(email).copied(),
                };
                let org_id = match org {
                    OrgRef::Existing(id) => Some(*id),
                    OrgRef::New(key) => new_orgs.get(key).copied(),
                };
                let (Some(user_id), Some(org_id)) = (user_id, org_id) else {
                    continue;
                };
                // Zendesk answers 422 for a membership that already exists.
                if !pairs.contains(&(user_id, org_id))
                    && state.users.contains_key(&user_id)
                    && state.orgs.contains_key(&org_id)
                {
                    pairs.insert((user_id, org_id));
                    let id = next_membership;
                    next_membership += 1;
                    state.memberships.insert(
                        id,
                        ZendeskMembership {
                            id,
                            user_id,
                            org_id,
                        },
                    );
                }
            }
            Change::RemoveMembership { membership_id, .. } => {
                if let Some(m) = state.memberships.remove(membership_id) {
                    pairs.remove(&(m.user_id, m.org_id));
                }
            }
        }
    }
    state
}
