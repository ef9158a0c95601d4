//! Matching: which Zendesk organization is each Pages organization, and which Zendesk user
//! is each Pages partner user. Shared by the planner and the verifier so that both judge
//! Zendesk by exactly the same rules (docs/design.md "Identity").
//!
//! Built once per run from hash indexes; never loops over one side per record of the other.
//! Must never decide what to change: it only says who is who.

use std::borrow::Cow;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::id_table::IdTable;
use crate::prefetch::{prefetch, with_ahead, AHEAD};
use crate::threads::par_map;

use crate::model::{
    ActualState, DesiredOrg, DesiredState, DesiredUser, EmailKey, OrgKey, OrgNameBuffer, Role,
    ZendeskUser,
};

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

/// Who is who, on both sides.
///
/// Pages organizations are interned as indexes into `org.orgs` (key order) once, so the hot
/// loops over a million users compare integers, not organization names.
pub(crate) struct Matching<'a> {
    /// Which Zendesk organization is each Pages organization.
    pub org: OrgSide<'a>,
    /// Every email identity → its Zendesk user (lowest user id if Zendesk ever held a duplicate).
    pub user_by_email: HashMap<&'a EmailKey, &'a ZendeskUser>,
    /// Non-empty external_id (as [`ExtId`]) → its Zendesk user.
    user_by_external_id: ExtMap<'a>,
    /// The configured external_id prefix, lower-cased: what makes an [`ExtId::Pages`].
    ext_prefix: String,
    /// Zendesk users by id, each with the Pages user matched to it (a hash index whose
    /// slots loops prefetch: the snapshot's tree is slow at a million lookups). One lookup
    /// answers both "who is Zendesk user `id`" and "which Pages user is it", which a
    /// membership needs together.
    by_id: IdTable<Held<'a>>,
    /// One entry per Pages user, in email order.
    pub users: Vec<(&'a DesiredUser, UserMatch)>,
    /// Per Pages user (as `users`): the Zendesk user it matched, so that walking the Pages
    /// users never looks a Zendesk user up again.
    matched: Vec<Option<&'a ZendeskUser>>,
    /// Per Pages user (as `users`): its roles as (organization index, role), in key order,
    /// at `role_orgs[role_start[i]..role_start[i + 1]]`. A position in `role_orgs` is a
    /// "role slot": one wanted membership. A contiguous copy of the users' `Roles`, so that
    /// a pass over a million memberships reads one array, not a user and its roles each.
    role_start: Vec<usize>,
    role_orgs: Vec<(u32, Role)>,
    /// Lower-cased protected external_ids (rows skipped by the parser).
    pub protected_external_ids: HashSet<String>,
    /// Pages ids that several Pages users share: their external_id is never matched on,
    /// never written.
    shared_pages_ids: HashSet<u64>,
}

impl<'a> Matching<'a> {
    /// `ext_prefix`: the configured external_id prefix (`Policy::external_id_prefix`).
    pub(crate) fn new(
        desired: &'a DesiredState,
        actual: &'a ActualState,
        ext_prefix: &str,
    ) -> Self {
        let ext_prefix = lower(ext_prefix).into_owned();
        let prefix = ext_prefix.as_str();

        // The indexes do not depend on each other: built on two threads, the Pages side,
        // the Zendesk external_ids and the organizations on one, the Zendesk emails and ids
        // on the other (about the same time each at Pages scale: 75 + 90 + 25 ms and
        // 120 + 55 ms at 1M users, by timers on this machine).
        let ((mut users, desired_side, user_by_external_id, org), (user_by_email, mut by_id)) =
            crate::threads::join(
                || {
                    // The Pages users in email order, each with its match once known.
                    let users: Vec<(&DesiredUser, Option<UserMatch>)> =
                        desired.users.values().map(|d| (d, None)).collect();
                    let desired_side = desired_indexes(&users);
                    let user_by_external_id = external_id_index(actual, prefix);
                    let org = OrgSide::new(desired, actual);
                    (users, desired_side, user_by_external_id, org)
                },
                || (email_index(actual), id_index(actual)),
            );
        let DesiredIndexes {
            stamps,
            shared: shared_pages_ids,
            role_start,
            role_orgs,
        } = desired_side;

        // Phase 1, external_id first (docs/design.md "Identity": an email change in Pages
        // moves the same Zendesk user to the new address instead of creating a duplicate).
        // Pages stamps on both sides are sorted by number: one merge of the two lists
        // instead of a million hash lookups. The claims follow in user order.
        let mut matched: Vec<Option<&ZendeskUser>> = vec![None; users.len()];
        let zendesk = &user_by_external_id.pages;
        let mut at = 0;
        for &(n, i) in &stamps {
            while zendesk.get(at).is_some_and(|&(m, _)| m < n) {
                at += 1;
            }
            if let Some(&(m, user)) = zendesk.get(at) {
                if m == n && !shared_pages_ids.contains(&n) {
                    matched[i as usize] = Some(user);
                }
            }
        }
        drop(stamps);
        for (i, ((_, m), hit)) in users.iter_mut().zip(&matched).enumerate() {
            // Two steps ahead: the Zendesk user (for its id), then its slot by id.
            if let Some(Some(user)) = matched.get(i + 2 * AHEAD) {
                prefetch(*user);
            }
            if let Some(Some(user)) = matched.get(i + AHEAD) {
                by_id.prefetch(user.id);
            }
            if let Some(user) = hit {
                // Never refused: a Zendesk user has one external_id, so one Pages user.
                let _ = claim(&mut by_id, user, i);
                *m = Some(UserMatch::ByExternalId(user.id));
            }
        }

        // Phase 2, email over all identities ("never create a duplicate"), for the Pages
        // users phase 1 left (about one in ten). When two Pages emails are identities of
        // one Zendesk user, the one that is its primary wins, then the first in email
        // order; the others need a person. The lookups (holder, and whether the email is
        // the holder's primary) run on two threads, as above.
        let pending: Vec<usize> = (0..users.len()).filter(|&i| users[i].1.is_none()).collect();
        let email_hits = par_map(&pending, |&i| {
            let d = users[i].0;
            let &user = user_by_email.get(&d.email)?;
            Some((user, user.primary_email() == Some(&d.email)))
        });
        for (&i, hit) in pending.iter().zip(&email_hits) {
            if let Some((user, true)) = *hit {
                if claim(&mut by_id, user, i).is_ok() {
                    matched[i] = Some(user);
                    users[i].1 = Some(UserMatch::ByEmail(user.id));
                }
            }
        }
        for (&i, hit) in pending.iter().zip(&email_hits) {
            if users[i].1.is_some() {
                continue;
            }
            users[i].1 = Some(match *hit {
                None => UserMatch::New,
                Some((user, _)) => match claim(&mut by_id, user, i) {
                    Err(()) => UserMatch::Unresolved { holder: user.id },
                    Ok(()) => {
                        matched[i] = Some(user);
                        UserMatch::ByEmail(user.id)
                    }
                },
            });
        }
        drop((pending, email_hits));
        // Every user has its match now (phase 1 or the passes above); `New` is never
        // taken. Same layout: the vector is reused, not copied.
        let users: Vec<(&DesiredUser, UserMatch)> = users
            .into_iter()
            .map(|(d, m)| (d, m.unwrap_or(UserMatch::New)))
            .collect();

        let protected_external_ids = desired
            .protected_external_ids
            .iter()
            .map(|e| e.trim().to_lowercase())
            .collect();

        Matching {
            org,
            user_by_email,
            user_by_external_id,
            ext_prefix,
            by_id,
            users,
            matched,
            role_start,
            role_orgs,
            protected_external_ids,
            shared_pages_ids,
        }
    }

    /// Zendesk user `id` of the snapshot with the index (in `users`) of the Pages user
    /// matched to it, if any: one lookup for both.
    pub(crate) fn held(&self, id: u64) -> Option<(&'a ZendeskUser, Option<usize>)> {
        let held = self.by_id.get(id)?;
        let pages = (held.pages != NO_PAGES_USER).then_some(held.pages as usize);
        Some((held.user, pages))
    }

    /// Starts loading what [`Self::held`] of `id` reads first: for a loop a few ids ahead.
    pub(crate) fn prefetch_held(&self, id: u64) {
        self.by_id.prefetch(id);
    }

    /// Starts loading the record of the Zendesk user matched to Pages user `i`, if any: a
    /// loop over the users, some users ahead; then [`Self::prefetch_fields`] nearer.
    pub(crate) fn prefetch_record(&self, i: usize) {
        if let Some(Some(user)) = self.matched.get(i) {
            prefetch(*user);
            prefetch(&user.identities);
        }
    }

    /// Starts loading what planning Pages user `i` reads beyond the matched record (its
    /// strings and lists, the names of its organizations); the record itself should be in
    /// cache already ([`Self::prefetch_record`]).
    pub(crate) fn prefetch_fields(&self, i: usize) {
        let Some(Some(user)) = self.matched.get(i) else {
            return;
        };
        if let Some(identity) = user.identities.first() {
            prefetch(identity);
        }
        if let Some(tag) = user.tags.first() {
            prefetch(tag);
        }
        if let Some(text) = user.roles_text.as_deref() {
            prefetch(text);
        }
        prefetch(user.name.as_str());
        for (org, _) in self.roles(i) {
            prefetch(self.name(org));
        }
    }

    /// The Zendesk user Pages user `i` (index in `users`) matched, if it matched one.
    pub(crate) fn matched(&self, i: usize) -> Option<&'a ZendeskUser> {
        self.matched[i]
    }

    /// `ext` as the matching compares external_ids.
    pub(crate) fn ext_id<'s>(&self, ext: &'s str) -> ExtId<'s> {
        ExtId::new(ext, &self.ext_prefix)
    }

    /// The Zendesk user holding external_id `ext`, compared case-insensitively.
    pub(crate) fn user_by_external_id(&self, ext: &ExtId<'_>) -> Option<&'a ZendeskUser> {
        self.user_by_external_id.get(ext)
    }

    /// Whether several Pages users share Pages id `pages_id`, hence its external_id.
    pub(crate) fn is_shared(&self, pages_id: u64) -> bool {
        self.shared_pages_ids.contains(&pages_id)
    }

    /// The Zendesk organization of a Pages organization, by key.
    pub(crate) fn org_id(&self, key: &OrgKey) -> Option<u64> {
        self.org
            .org_index
            .get(key)
            .and_then(|&i| self.org.zendesk_org[i as usize])
    }

    /// The organization indexes of the roles of Pages user `i` (index in `users`), paired
    /// with the roles, in key order.
    pub(crate) fn roles(&self, i: usize) -> impl Iterator<Item = (u32, Role)> + '_ {
        self.role_orgs[self.role_start[i]..self.role_start[i + 1]]
            .iter()
            .copied()
    }

    /// Like [`Self::roles`], each with its role slot (see `role_orgs`).
    pub(crate) fn role_slots(&self, i: usize) -> impl Iterator<Item = (usize, u32)> + '_ {
        (self.role_start[i]..self.role_start[i + 1]).map(|slot| (slot, self.role_orgs[slot].0))
    }

    /// How many role slots there are (all Pages users' roles together).
    pub(crate) fn slot_count(&self) -> usize {
        self.role_orgs.len()
    }

    /// The role slot of Pages user `i` (index in `users`) in the organization of index
    /// `org`, when the report lists the pair.
    pub(crate) fn slot_of(&self, i: usize, org: u32) -> Option<usize> {
        (self.role_start[i]..self.role_start[i + 1]).find(|&slot| self.role_orgs[slot].0 == org)
    }

    /// The name of the Pages organization of index `org`, as Pages writes it.
    pub(crate) fn name(&self, org: u32) -> &str {
        self.org.names.get(org as usize)
    }

    /// The canonical roles text of Pages user `i`, exactly [`DesiredState::roles_text`].
    pub(crate) fn roles_text(&self, i: usize) -> String {
        let mut text = String::with_capacity(64);
        for (n, (org, role)) in self.roles(i).enumerate() {
            if n > 0 {
                text.push_str(", ");
            }
            text.push_str(self.name(org));
            text.push_str(": ");
            text.push_str(role.as_str());
        }
        text
    }

    /// Whether `text` is the canonical roles text of Pages user `i`, without building it.
    pub(crate) fn roles_text_is(&self, i: usize, text: &str) -> bool {
        let mut rest = text;
        for (n, (org, role)) in self.roles(i).enumerate() {
            let next = if n > 0 {
                rest.strip_prefix(", ")
            } else {
                Some(rest)
            }
            .and_then(|r| r.strip_prefix(self.name(org)))
            .and_then(|r| r.strip_prefix(": "))
            .and_then(|r| r.strip_prefix(role.as_str()));
            match next {
                Some(r) => rest = r,
                None => return false,
            }
        }
        rest.is_empty()
    }

    /// Whether any Pages email among the identities of Zendesk user `user` is in the Pages
    /// organization of index `org` (a user whose record needs a person keeps the
    /// memberships its email has in Pages). The Pages user matched to `user` is the
    /// caller's to check, by its role slots ([`Self::slot_of`]).
    pub(crate) fn email_in_pages_org(
        &self,
        desired: &DesiredState,
        user: &ZendeskUser,
        org: u32,
    ) -> bool {
        // Matching's organization indexes are positions in `desired.orgs`, as roles' are.
        user.identities.iter().any(|i| {
            desired
                .users
                .get(&i.email)
                .is_some_and(|d| d.roles.contains(org))
        })
    }

    /// Users whose report row was skipped: their memberships are never removed.
    pub(crate) fn is_protected(&self, desired: &DesiredState, user: &ZendeskUser) -> bool {
        user.identities
            .iter()
            .any(|i| desired.protected_emails.contains(&i.email))
            || non_empty(user.external_id.as_deref())
                .is_some_and(|e| self.protected_external_ids.contains(lower(e).as_ref()))
    }
}

/// Which Zendesk organization is each Pages organization.
pub(crate) struct OrgSide<'a> {
    /// Pages organizations in key order; an organization's index is its position here.
    pub orgs: Vec<(&'a OrgKey, &'a DesiredOrg)>,
    /// Pages organization key → index in `orgs`.
    pub org_index: HashMap<&'a OrgKey, u32>,
    /// The organizations' names (as Pages writes them) in `orgs` order. Comparing a
    /// million users' roles texts reads these few compact megabytes instead of a tree node
    /// and a heap string per role.
    names: OrgNameBuffer,
    /// Per Pages organization index: the Zendesk organization with that name (lowest id).
    pub zendesk_org: Vec<Option<u64>>,
    /// Zendesk organizations Pages manages (name matches a Pages org) → that org's index.
    /// Duplicate-named Zendesk organizations are all managed.
    pub managed: HashMap<u64, u32>,
    /// Zendesk organizations whose name matches no Pages organization, by id.
    pub unmanaged_org_ids: Vec<u64>,
}

impl<'a> OrgSide<'a> {
    fn new(desired: &'a DesiredState, actual: &'a ActualState) -> Self {
        let orgs: Vec<(&OrgKey, &DesiredOrg)> = desired.orgs.iter().collect();
        let names = OrgNameBuffer::new(desired.orgs.values());
        let org_index: HashMap<&OrgKey, u32> =
            orgs.iter().zip(0u32..).map(|((k, _), i)| (*k, i)).collect();
        // `actual.orgs` iterates by id, so the first seen per key is the lowest.
        let mut zendesk_org = vec![None; orgs.len()];
        let mut managed = HashMap::default();
        let mut unmanaged_org_ids = Vec::new();
        for org in actual.orgs.values() {
            match OrgKey::new(&org.name).and_then(|k| org_index.get(&k).copied()) {
                Some(i) => {
                    zendesk_org[i as usize].get_or_insert(org.id);
                    managed.insert(org.id, i);
                }
                None => unmanaged_org_ids.push(org.id),
            }
        }
        OrgSide {
            orgs,
            org_index,
            names,
            zendesk_org,
            managed,
            unmanaged_org_ids,
        }
    }
}

/// A Zendesk user of the snapshot and the Pages user matched to it.
#[derive(Clone, Copy)]
struct Held<'a> {
    user: &'a ZendeskUser,
    /// Index in `Matching::users`, or [`NO_PAGES_USER`].
    pages: u32,
}

/// `Held::pages` of a Zendesk user no Pages user matched.
const NO_PAGES_USER: u32 = u32::MAX;

/// Matches Zendesk user `user` to Pages user `i`, unless another Pages user has it.
fn claim(by_id: &mut IdTable<Held<'_>>, user: &ZendeskUser, i: usize) -> Result<(), ()> {
    let Some(held) = by_id.get_mut(user.id) else {
        return Ok(()); // not in the snapshot: nothing to mark (indexes hold only its users)
    };
    if held.pages != NO_PAGES_USER && held.pages != index(i) {
        return Err(());
    }
    held.pages = index(i);
    Ok(())
}

/// A Pages user's position as a `u32` (reports are capped far below 2^32 rows).
fn index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// Zendesk users by id, none matched yet.
fn id_index(actual: &ActualState) -> IdTable<Held<'_>> {
    let mut by_id = IdTable::with_capacity(actual.users.len());
    for ((&id, user), ahead) in with_ahead(actual.users.iter(), AHEAD) {
        if let Some((&ahead, _)) = ahead {
            by_id.prefetch(ahead);
        }
        let pages = NO_PAGES_USER;
        by_id.insert(id, Held { user, pages });
    }
    by_id
}

/// Zendesk users by every email identity (lowest user id if Zendesk ever held a
/// duplicate).
fn email_index(actual: &ActualState) -> HashMap<&EmailKey, &ZendeskUser> {
    let n = actual.users.len();
    let mut user_by_email: HashMap<&EmailKey, &ZendeskUser> = HashMap::default();
    user_by_email.reserve(n + n / 4);
    // Two steps ahead: a user's identities, then (once they are in) its first email.
    let mut near = actual.users.values().skip(AHEAD);
    for (user, far) in with_ahead(actual.users.values(), 2 * AHEAD) {
        if let Some(far) = far {
            prefetch(far.identities.as_slice());
        }
        if let Some(identity) = near.next().and_then(|u| u.identities.first()) {
            prefetch(identity.email.as_str());
        }
        for identity in &user.identities {
            user_by_email.entry(&identity.email).or_insert(user);
        }
    }
    user_by_email
}

/// Zendesk users by non-empty external_id.
fn external_id_index<'a>(actual: &'a ActualState, prefix: &str) -> ExtMap<'a> {
    let mut user_by_external_id = ExtMap::default();
    user_by_external_id.pages.reserve(actual.users.len());
    for (user, ahead) in with_ahead(actual.users.values(), AHEAD) {
        if let Some(ext) = ahead.and_then(|u| u.external_id.as_deref()) {
            prefetch(ext);
        }
        if let Some(ext) = non_empty(user.external_id.as_deref()) {
            user_by_external_id.insert(ExtId::new(ext, prefix), user);
        }
    }
    // Stable: of the users with one number, the lowest id stays first, as the snapshot
    // iterates by id.
    user_by_external_id.pages.sort_by_key(|&(n, _)| n);
    user_by_external_id
}

/// An external_id as the matching compares them: lower-cased (Zendesk's external_id is
/// case-insensitive), and a Pages stamp (the configured prefix followed by a number
/// written as Pages writes it: digits, no leading zero) held as its number. Two
/// external_ids are the same exactly when their `ExtId`s are equal; a million lookups of
/// Pages stamps then hash and compare a number instead of reading the text again.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ExtId<'a> {
    Pages(u64),
    Other(Cow<'a, str>),
}

impl<'a> ExtId<'a> {
    /// `prefix` is lower-cased.
    fn new(ext: &'a str, prefix: &str) -> Self {
        let text = lower(ext);
        match text.strip_prefix(prefix).and_then(pages_number) {
            Some(n) => ExtId::Pages(n),
            None => ExtId::Other(text),
        }
    }
}

/// The number `digits` writes, if written as Pages writes numbers (`itoa`): ASCII digits
/// only, no sign, no leading zero, within `u64`. Any other spelling is not the same text
/// as a stamp and must stay apart from it.
fn pages_number(digits: &str) -> Option<u64> {
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    canonical.then(|| digits.parse().ok()).flatten()
}

/// Zendesk users by [`ExtId`]; of several users with one, the first inserted is found.
#[derive(Default)]
struct ExtMap<'a> {
    /// Pages stamps as (number, user), sorted by number once every user is in (by
    /// `external_id_index`), in insertion order within a number.
    pages: Vec<(u64, &'a ZendeskUser)>,
    other: HashMap<Cow<'a, str>, &'a ZendeskUser>,
}

impl<'a> ExtMap<'a> {
    fn insert(&mut self, ext: ExtId<'a>, user: &'a ZendeskUser) {
        match ext {
            ExtId::Pages(n) => self.pages.push((n, user)),
            ExtId::Other(text) => {
                self.other.entry(text).or_insert(user);
            }
        }
    }

    fn get(&self, ext: &ExtId<'_>) -> Option<&'a ZendeskUser> {
        match ext {
            ExtId::Pages(n) => {
                let at = self.pages.partition_point(|&(m, _)| m < *n);
                self.pages
                    .get(at)
                    .filter(|&&(m, _)| m == *n)
                    .map(|&(_, u)| u)
            }
            ExtId::Other(text) => self.other.get(text.as_ref()).copied(),
        }
    }
}

/// The Pages side of the matching (see [`desired_indexes`]).
struct DesiredIndexes {
    /// Every Pages user's external_id as (Pages id, index in `Matching::users`), sorted.
    stamps: Vec<(u64, u32)>,
    /// Pages ids (hence external_ids) that several Pages users share: they identify no one.
    shared: HashSet<u64>,
    role_start: Vec<usize>,
    role_orgs: Vec<(u32, Role)>,
}

/// Per Pages user (in email order): the external_id and the roles as organization
/// indexes; and the external_ids that identify no one.
fn desired_indexes(users: &[(&DesiredUser, Option<UserMatch>)]) -> DesiredIndexes {
    // A Pages user's external_id is the configured prefix and its Pages id
    // (`Policy::external_id`): always a stamp, whose number is the Pages id.
    let mut stamps: Vec<(u64, u32)> = users
        .iter()
        .zip(0u32..)
        .map(|((d, _), i)| (d.pages_id, i))
        .collect();
    // An external_id that two Pages users share (a report with a repeated ID) identifies
    // neither: it is neither matched on nor written. Sorted, sharers are neighbours.
    stamps.sort_unstable();
    let shared = stamps
        .windows(2)
        .filter(|pair| pair[0].0 == pair[1].0)
        .map(|pair| pair[0].0)
        .collect();

    // Roles name organizations by position in `desired.orgs`, which is `orgs`' order.
    let mut role_start = Vec::with_capacity(users.len() + 1);
    let mut role_orgs = Vec::with_capacity(users.len() * 2);
    for (d, _) in users {
        role_start.push(role_orgs.len());
        role_orgs.extend(d.roles.iter());
    }
    role_start.push(role_orgs.len());
    DesiredIndexes {
        stamps,
        shared,
        role_start,
        role_orgs,
    }
}

/// Lower-cased for comparison, without a copy when it already is (external ids usually are).
pub(crate) fn lower(s: &str) -> Cow<'_, str> {
    if s.is_ascii() && !s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

/// Whether `s` is empty or only white space; external ids start with a letter, so
/// nearly every call returns at the first byte.
fn is_blank(s: &str) -> bool {
    match s.as_bytes().first() {
        None => true,
        Some(b) if b.is_ascii_alphanumeric() => false,
        Some(_) => s.trim().is_empty(),
    }
}

/// `Some(s)` when `s` has something other than white space.
pub(crate) fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !is_blank(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX: &str = "pages-user-";

    #[test]
    fn a_pages_stamp_is_its_number_in_any_case_and_any_other_spelling_is_text() {
        let id = |ext| ExtId::new(ext, PREFIX);
        assert_eq!(id("pages-user-7"), ExtId::Pages(7));
        assert_eq!(id("PAGES-User-7"), ExtId::Pages(7));
        assert_eq!(id("pages-user-0"), ExtId::Pages(0));
        for other in [
            "pages-user-07",
            "pages-user-+7",
            "pages-user-",
            "pages-user-7 ",
            "pages-user-18446744073709551616",
            "pages-7",
            "7",
        ] {
            assert_eq!(id(other), ExtId::Other(lower(other)), "{other:?}");
        }
    }

    /// Zendesk does not promise one user per external_id ignoring case; of the users
    /// sharing a Pages stamp, the lowest id is the match, whatever the order read.
    #[test]
    fn of_zendesk_users_sharing_a_stamp_the_lowest_id_is_matched() {
        use crate::plan::builders::{actual, desired, policy};
        let policy = policy();
        let d = desired()
            .user("a@agency.gov", 7, &[])
            .user("b@agency.gov", 8, &[])
            .build();
        let prefix = &policy.external_id_prefix;
        let a = actual()
            .user(30, "Thirty", "other30@agency.gov")
            .external_id(30, &format!("{}7", prefix.to_uppercase()))
            .user(20, "Twenty", "other20@agency.gov")
            .external_id(20, &format!("{prefix}7"))
            .user(40, "Forty", "other40@agency.gov")
            .external_id(40, &format!("{prefix}8"))
            .user(10, "Ten", "other10@agency.gov")
            .external_id(10, &format!("{prefix}8"))
            .build();
        let m = Matching::new(&d, &a, prefix);
        let ids: Vec<UserMatch> = m.users.iter().map(|&(_, m)| m).collect();
        assert_eq!(
            ids,
            [UserMatch::ByExternalId(20), UserMatch::ByExternalId(10)]
        );
        let seven = format!("{prefix}7");
        assert_eq!(
            m.user_by_external_id(&m.ext_id(&seven)).map(|u| u.id),
            Some(20)
        );
    }

    proptest::proptest! {
        /// The matching takes a Pages user's external_id to be the stamp of its Pages id
        /// without writing it out: true for any configured prefix, in any case.
        #[test]
        fn a_pages_users_external_id_is_the_stamp_of_its_id(
            prefix in "[a-zA-ZÉéΣİ_-]{0,10}[0-9]?",
            id in proptest::num::u64::ANY,
        ) {
            let policy = crate::config::Policy {
                external_id_prefix: prefix.clone(),
                ..crate::config::Policy::default()
            };
            let written = policy.external_id(id);
            proptest::prop_assert_eq!(ExtId::new(&written, &lower(&prefix)), ExtId::Pages(id));
        }

        /// Two external_ids are the same `ExtId` exactly when they are the same text
        /// ignoring case: the stamp's number never merges or splits external_ids.
        #[test]
        fn ext_ids_are_equal_exactly_when_the_lower_cased_texts_are(
            a in "(PAGES-user-|pages-USER-|pages-|)(0|00|7|07|\\+7|18446744073709551615|18446744073709551616|x)",
            b in "(PAGES-user-|pages-USER-|pages-|)(0|00|7|07|\\+7|18446744073709551615|18446744073709551616|x)",
        ) {
            let same_text = lower(&a) == lower(&b);
            proptest::prop_assert_eq!(ExtId::new(&a, PREFIX) == ExtId::new(&b, PREFIX), same_text);
        }
    }
}
