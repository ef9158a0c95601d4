//! Matching: which Zendesk organization is each Pages organization, and which Zendesk user
//! is each Pages partner user. Shared by the planner and the verifier so that both judge
//! Zendesk by exactly the same rules (DESIGN.md "Identity").
//!
//! Built once per run from hash indexes; never loops over one side per record of the other.
//! Must never decide what to change: it only says who is who.

use std::collections::{HashMap, HashSet};

use crate::model::{ActualState, DesiredState, DesiredUser, EmailKey, OrgKey, ZendeskUser};

/// How a Pages user was matched to Zendesk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UserMatch {
    /// The Zendesk user carrying the Pages external_id (compared case-insensitively).
    ByExternalId(u64),
    /// The Zendesk user holding the Pages email as any identity, primary or secondary.
    ByEmail(u64),
    /// No Zendesk user has the external_id or the email: the user is to be created.
    New,
    /// The email belongs to a Zendesk user already matched to another Pages user; a person
    /// must merge or split the records. `holder` is that Zendesk user.
    Unresolved { holder: u64 },
}

impl UserMatch {
    pub(crate) fn user_id(self) -> Option<u64> {
        match self {
            UserMatch::ByExternalId(id) | UserMatch::ByEmail(id) => Some(id),
            UserMatch::New | UserMatch::Unresolved { .. } => None,
        }
    }
}

/// Who is who, on both sides.
pub(crate) struct Matching<'a> {
    /// Pages organization → the Zendesk organization with that name (lowest id on ties).
    pub org_by_key: HashMap<&'a OrgKey, u64>,
    /// Zendesk organizations Pages manages (name matches a Pages org) → that Pages org's key.
    /// Duplicate-named Zendesk organizations are all managed.
    pub managed: HashMap<u64, &'a OrgKey>,
    /// Zendesk organizations whose name matches no Pages organization, by id.
    pub unmanaged_org_ids: Vec<u64>,
    /// Every email identity → its Zendesk user (lowest user id if Zendesk ever held a duplicate).
    pub user_by_email: HashMap<&'a EmailKey, u64>,
    /// Lower-cased non-empty external_id → its Zendesk user.
    pub user_by_external_id: HashMap<String, u64>,
    /// One entry per Pages user, in email order.
    pub users: Vec<(&'a DesiredUser, UserMatch)>,
    /// Zendesk user id → the Pages user matched to it.
    pub desired_of: HashMap<u64, &'a DesiredUser>,
    /// Lower-cased protected external_ids (rows skipped by the parser).
    pub protected_external_ids: HashSet<String>,
    /// Lower-cased external_ids shared by several Pages users (or empty): never matched on,
    /// never written.
    pub ambiguous_external_ids: HashSet<String>,
}

impl<'a> Matching<'a> {
    pub(crate) fn new(desired: &'a DesiredState, actual: &'a ActualState) -> Self {
        // Organizations: `actual.orgs` iterates by id, so the first seen per key is the lowest.
        let mut org_by_key: HashMap<&OrgKey, u64> = HashMap::with_capacity(desired.orgs.len());
        let mut managed = HashMap::with_capacity(desired.orgs.len());
        let mut unmanaged_org_ids = Vec::new();
        for org in actual.orgs.values() {
            let desired_key = OrgKey::new(&org.name)
                .and_then(|k| desired.orgs.get_key_value(&k).map(|(key, _)| key));
            match desired_key {
                Some(key) => {
                    org_by_key.entry(key).or_insert(org.id);
                    managed.insert(org.id, key);
                }
                None => unmanaged_org_ids.push(org.id),
            }
        }

        let mut user_by_email: HashMap<&EmailKey, u64> =
            HashMap::with_capacity(actual.users.len() + actual.users.len() / 4);
        let mut user_by_external_id: HashMap<String, u64> =
            HashMap::with_capacity(actual.users.len());
        for user in actual.users.values() {
            for identity in &user.identities {
                user_by_email.entry(&identity.email).or_insert(user.id);
            }
            if let Some(ext) = non_empty(user.external_id.as_deref()) {
                user_by_external_id
                    .entry(ext.to_lowercase())
                    .or_insert(user.id);
            }
        }

        // An external_id that two Pages users share (a report with a repeated ID) identifies
        // neither: it is neither matched on nor written.
        let mut seen = HashSet::with_capacity(desired.users.len());
        let mut ambiguous_external_ids = HashSet::new();
        for d in desired.users.values() {
            let lower = d.external_id.to_lowercase();
            if lower.trim().is_empty() || !seen.insert(lower.clone()) {
                ambiguous_external_ids.insert(lower);
            }
        }
        drop(seen);

        // Phase 1, external_id first (DESIGN "Identity": an email change in Pages moves the
        // same Zendesk user to the new address instead of creating a duplicate).
        let mut claimed: HashMap<u64, usize> = HashMap::with_capacity(desired.users.len());
        let mut users: Vec<(&DesiredUser, Option<UserMatch>)> = desired
            .users
            .values()
            .enumerate()
            .map(|(i, d)| {
                let lower = d.external_id.to_lowercase();
                let by_ext = user_by_external_id
                    .get(&lower)
                    .copied()
                    .filter(|_| !ambiguous_external_ids.contains(&lower));
                match by_ext {
                    Some(id) => {
                        claimed.insert(id, i);
                        (d, Some(UserMatch::ByExternalId(id)))
                    }
                    None => (d, None),
                }
            })
            .collect();

        // Phase 2, email over all identities ("never create a duplicate"). When two Pages
        // emails are identities of one Zendesk user, the one that is its primary wins, then
        // the first in email order; the others need a person.
        for (i, (d, m)) in users.iter_mut().enumerate() {
            if m.is_some() {
                continue;
            }
            if let Some(&id) = user_by_email.get(&d.email) {
                let is_primary =
                    actual.users.get(&id).and_then(ZendeskUser::primary_email) == Some(&d.email);
                if is_primary && !claimed.contains_key(&id) {
                    claimed.insert(id, i);
                    *m = Some(UserMatch::ByEmail(id));
                }
            }
        }
        let users: Vec<(&DesiredUser, UserMatch)> = users
            .into_iter()
            .enumerate()
            .map(|(i, (d, m))| {
                let m = m.unwrap_or_else(|| match user_by_email.get(&d.email) {
                    None => UserMatch::New,
                    Some(&id) => match claimed.get(&id) {
                        Some(&owner) if owner != i => UserMatch::Unresolved { holder: id },
                        _ => {
                            claimed.insert(id, i);
                            UserMatch::ByEmail(id)
                        }
                    },
                });
                (d, m)
            })
            .collect();

        let desired_of = users
            .iter()
            .filter_map(|(d, m)| m.user_id().map(|id| (id, *d)))
            .collect();
        let protected_external_ids = desired
            .protected_external_ids
            .iter()
            .map(|e| e.trim().to_lowercase())
            .collect();

        Matching {
            org_by_key,
            managed,
            unmanaged_org_ids,
            user_by_email,
            user_by_external_id,
            users,
            desired_of,
            protected_external_ids,
            ambiguous_external_ids,
        }
    }

    /// Whether the report puts Zendesk user `user` in the Pages organization `key`: through
    /// the Pages user matched to it, or through any Pages email among its identities (a
    /// user whose record needs a person keeps the memberships its email has in Pages).
    pub(crate) fn in_pages_org(
        &self,
        desired: &DesiredState,
        user: &ZendeskUser,
        key: &OrgKey,
    ) -> bool {
        if self
            .desired_of
            .get(&user.id)
            .is_some_and(|d| d.roles.contains_key(key))
        {
            return true;
        }
        user.identities.iter().any(|i| {
            desired
                .users
                .get(&i.email)
                .is_some_and(|d| d.roles.contains_key(key))
        })
    }

    /// Users whose report row was skipped: their memberships are never removed.
    pub(crate) fn is_protected(&self, desired: &DesiredState, user: &ZendeskUser) -> bool {
        user.identities
            .iter()
            .any(|i| desired.protected_emails.contains(&i.email))
            || non_empty(user.external_id.as_deref())
                .is_some_and(|e| self.protected_external_ids.contains(&e.to_lowercase()))
    }
}

/// `Some(s)` when `s` has something other than white space.
pub(crate) fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.trim().is_empty())
}
