//! The domain model shared by every part of the sync: keys normalised once, the desired
//! state derived from the Pages reports, and the snapshot of what Zendesk holds.
//!
//! Nothing here does I/O. Keys compare by the rules of docs/design.md ("Identity"): emails and
//! organization names are trimmed and compared case-insensitively, so two keys built from
//! differently written inputs are equal exactly when the sync must treat them as one record.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use crate::sorted_map::SortedMap;

/// An email address normalised for comparison: trimmed and lower-cased.
///
/// `Debug` and `Display` print the address; never put an `EmailKey` in public output
/// (GitHub comments, job summaries). Public report types hold counts only.
///
/// Shared, immutable text: a clone (the desired state keeps each email as map key and in
/// the user, the plan copies it into changes) costs a counter increment, not an
/// allocation. Equality, order and hash are those of the text, as with a `String`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EmailKey(Arc<str>);

/// Why a string is not an email address the sync will write to Zendesk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InvalidEmail {
    Empty,
    NoAt,
    EmptyLocalPart,
    BadDomain,
    Whitespace,
    TooLong,
}

impl fmt::Display for InvalidEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvalidEmail::Empty => "email is empty",
            InvalidEmail::NoAt => "email has no single @",
            InvalidEmail::EmptyLocalPart => "email has nothing before @",
            InvalidEmail::BadDomain => "email domain is not a dotted host name",
            InvalidEmail::Whitespace => "email contains white space or control characters",
            InvalidEmail::TooLong => "email is longer than 254 characters",
        })
    }
}

impl EmailKey {
    /// Trims, lower-cases and checks the shape `local@domain.tld`.
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let s = raw.trim();
        if s.is_ascii() {
            Self::parse_ascii(s)
        } else {
            Self::parse_general(s)
        }
    }

    /// `parse` for any trimmed text.
    fn parse_general(s: &str) -> Result<Self, InvalidEmail> {
        if s.is_empty() {
            return Err(InvalidEmail::Empty);
        }
        if s.chars().count() > 254 {
            return Err(InvalidEmail::TooLong);
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(InvalidEmail::Whitespace);
        }
        let mut parts = s.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(InvalidEmail::NoAt);
        };
        if local.is_empty() {
            return Err(InvalidEmail::EmptyLocalPart);
        }
        let labels_ok = domain
            .split('.')
            .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
        if !domain.contains('.') || !labels_ok {
            return Err(InvalidEmail::BadDomain);
        }
        Ok(EmailKey(s.to_lowercase().into()))
    }

    /// `parse` of a trimmed ASCII string (nearly every address): the same checks on bytes,
    /// one allocation, no Unicode tables. A unit test and a property test keep it equal to
    /// the general path.
    fn parse_ascii(s: &str) -> Result<Self, InvalidEmail> {
        let bytes = s.as_bytes();
        if bytes.is_empty() {
            return Err(InvalidEmail::Empty);
        }
        if bytes.len() > 254 {
            return Err(InvalidEmail::TooLong);
        }
        // ASCII white space (`char::is_whitespace`) is 9..=13 and 32; control is 0..=31, 127.
        if bytes.iter().any(|&b| b <= b' ' || b == 0x7f) {
            return Err(InvalidEmail::Whitespace);
        }
        let Some(at) = bytes.iter().position(|&b| b == b'@') else {
            return Err(InvalidEmail::NoAt);
        };
        let (local, domain) = (&s[..at], &s[at + 1..]);
        if domain.as_bytes().contains(&b'@') {
            return Err(InvalidEmail::NoAt);
        }
        if local.is_empty() {
            return Err(InvalidEmail::EmptyLocalPart);
        }
        let labels_ok = domain
            .split('.')
            .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
        if !domain.contains('.') || !labels_ok {
            return Err(InvalidEmail::BadDomain);
        }
        Ok(EmailKey(ascii_lowercase(s)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or_default()
    }
}

impl fmt::Debug for EmailKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl fmt::Display for EmailKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// Serialized as the bare string, like the `String` it used to wrap (`serde(transparent)`).
impl Serialize for EmailKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for EmailKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|s| EmailKey(s.into()))
    }
}

/// `s` lower-cased into a shared string with a single allocation (ASCII input only).
fn ascii_lowercase(s: &str) -> Arc<str> {
    if !s.bytes().any(|b| b.is_ascii_uppercase()) {
        return Arc::from(s);
    }
    // Keys are short (emails at most 254 bytes); longer ones take the heap path.
    let mut buffer = [0u8; 256];
    match buffer.get_mut(..s.len()) {
        Some(out) => {
            out.copy_from_slice(s.as_bytes());
            out.make_ascii_lowercase();
            // Lower-casing ASCII keeps it ASCII, hence UTF-8.
            Arc::from(std::str::from_utf8(out).unwrap_or(s))
        }
        None => Arc::from(s.to_ascii_lowercase()),
    }
}

/// An organization name normalised for comparison: trimmed, compared case-insensitively.
/// The key holds the lower-cased form; the name as Pages writes it lives next to it.
///
/// Shared like [`EmailKey`]: every user's roles name their organizations by key, and a
/// million users must not mean a million and a half copies of the names.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrgKey(Arc<str>);

impl OrgKey {
    /// `None` when the name is empty after trimming.
    pub fn new(name: &str) -> Option<Self> {
        let t = name.trim();
        if t.is_empty() {
            None
        } else if t.is_ascii() {
            Some(OrgKey(ascii_lowercase(t)))
        } else {
            Some(OrgKey(t.to_lowercase().into()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OrgKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl Serialize for OrgKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for OrgKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|s| OrgKey(s.into()))
    }
}

/// A user's role in one Pages organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Manager,
    User,
}

impl Role {
    /// Parses the role word of the users report (`manager`, `user`), case-insensitively.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "manager" => Some(Role::Manager),
            "user" => Some(Role::User),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Manager => "manager",
            Role::User => "user",
        }
    }
}

/// A Pages organization as Zendesk should hold it: `name` = Pages name, `details` = Agency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DesiredOrg {
    /// The name as Pages writes it, trimmed.
    pub name: String,
    /// The agency; empty when Pages has none.
    pub details: String,
}

/// A Pages partner user as Zendesk should hold it.
///
/// Its name is not stored: it is derived from the email (`name()`) when a change needs it,
/// which saves a million allocations at Pages scale. It still prints and serializes as a
/// field, between `email` and `roles`. Nor is its external_id: that is configuration and
/// the Pages id together, [`crate::config::Policy::external_id`] of `pages_id`.
#[derive(Clone, PartialEq, Eq)]
pub struct DesiredUser {
    pub pages_id: u64,
    pub email: EmailKey,
    /// Role per organization, by the organization's position in `DesiredState::orgs`.
    pub roles: Roles,
    /// 1-based line in users.csv where the user's (first) row starts.
    pub line: u64,
}

impl DesiredUser {
    pub fn is_manager(&self) -> bool {
        self.roles.values().any(|r| r == Role::Manager)
    }

    /// Name for a new user (or one whose Zendesk name is empty): [`name_from_email`].
    pub fn name(&self) -> String {
        name_from_email(&self.email)
    }
}

impl fmt::Debug for DesiredUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DesiredUser")
            .field("pages_id", &self.pages_id)
            .field("email", &self.email)
            .field("name", &self.name())
            .field("roles", &self.roles)
            .field("line", &self.line)
            .finish()
    }
}

/// A user's role per organization, each organization by its position in
/// [`DesiredState::orgs`] (key order), sorted by that position (up to two held in place,
/// more on the heap).
/// A million users mostly have one or two roles each: 8 bytes a role, and building or
/// dropping one touches no shared organization key (a reference-counted key per role
/// cost a locked increment on one of 100,000 scattered counters, measured as nearly half
/// of resolving a big report's users). [`DesiredState::roles_of`] gives the keys.
///
/// Built with `collect` (a later duplicate organization replaces an earlier one, as a map
/// insert would) or [`DesiredState::roles_by_key`].
#[derive(Clone)]
pub struct Roles(RoleList);

/// A user's roles: up to [`INLINE_ROLES`] in place (nearly every user: one or two
/// organizations), more on the heap. A million users then cost no allocation each for
/// their roles: 23 MiB less at 1M users (measured; the parse was no faster).
#[derive(Clone)]
enum RoleList {
    Inline {
        len: u8,
        pairs: [(u32, Role); INLINE_ROLES],
    },
    Heap(Box<[(u32, Role)]>),
}

const INLINE_ROLES: usize = 2;

impl Default for Roles {
    fn default() -> Self {
        Roles::from_sorted(&[])
    }
}

impl PartialEq for Roles {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Roles {}

impl std::hash::Hash for Roles {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl fmt::Debug for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Roles").field(&self.as_slice()).finish()
    }
}

impl Roles {
    /// From pairs already sorted by organization without repeats (the parser's own
    /// order). Not checked outside debug builds.
    pub(crate) fn from_sorted(pairs: &[(u32, Role)]) -> Self {
        debug_assert!(pairs.windows(2).all(|w| w[0].0 < w[1].0));
        let mut inline = [(0, Role::User); INLINE_ROLES];
        match (inline.get_mut(..pairs.len()), u8::try_from(pairs.len())) {
            (Some(head), Ok(len)) => {
                head.copy_from_slice(pairs);
                Roles(RoleList::Inline { len, pairs: inline })
            }
            _ => Roles(RoleList::Heap(pairs.into())),
        }
    }

    fn as_slice(&self) -> &[(u32, Role)] {
        match &self.0 {
            RoleList::Inline { len, pairs } => &pairs[..usize::from(*len)],
            RoleList::Heap(pairs) => pairs,
        }
    }

    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    /// The role in the organization at position `org` of [`DesiredState::orgs`].
    pub fn get(&self, org: u32) -> Option<Role> {
        let pairs = self.as_slice();
        pairs
            .binary_search_by_key(&org, |&(o, _)| o)
            .ok()
            .map(|at| pairs[at].1)
    }

    pub fn contains(&self, org: u32) -> bool {
        self.get(org).is_some()
    }

    /// (organization position, role), in key order of the organizations.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (u32, Role)> + ExactSizeIterator + '_ {
        self.as_slice().iter().copied()
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = Role> + ExactSizeIterator + '_ {
        self.as_slice().iter().map(|&(_, r)| r)
    }
}

impl FromIterator<(u32, Role)> for Roles {
    fn from_iter<I: IntoIterator<Item = (u32, Role)>>(iter: I) -> Self {
        let pairs = crate::sorted_map::sorted_by_key_last_wins(iter.into_iter().collect());
        Roles::from_sorted(&pairs)
    }
}

/// The names of a desired state's organizations as Pages writes them, side by side in one
/// buffer in key order: the name of the `i`th organization is `get(i)`. A million users'
/// lookups and comparisons of names then read a few compact megabytes, not a heap string
/// per organization scattered between a tree's nodes (measured in the parser and the
/// planner: mostly cache misses before).
pub(crate) struct OrgNameBuffer {
    text: String,
    /// End of each name in `text`.
    ends: Vec<usize>,
}

impl OrgNameBuffer {
    /// `orgs`: the organizations in key order.
    pub(crate) fn new<'a>(orgs: impl IntoIterator<Item = &'a DesiredOrg>) -> Self {
        let mut text = String::new();
        let ends = orgs
            .into_iter()
            .map(|o| {
                text.push_str(&o.name);
                text.len()
            })
            .collect();
        OrgNameBuffer { text, ends }
    }

    /// The name of the organization at position `i` in key order. Panics past the end.
    pub(crate) fn get(&self, i: usize) -> &str {
        let start = i.checked_sub(1).map_or(0, |before| self.ends[before]);
        &self.text[start..self.ends[i]]
    }
}

/// What Zendesk should hold, derived from the Pages reports.
///
/// Users name their organizations by position in `orgs`: once users are in, `orgs` must
/// not gain or lose an organization (changing one's name or details is fine).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesiredState {
    /// In key order (a sorted vector: an organization's position is its index).
    pub orgs: SortedMap<OrgKey, DesiredOrg>,
    /// In email order (a sorted vector: read far more than changed).
    pub users: SortedMap<EmailKey, DesiredUser>,
    /// Users whose row was skipped for a row-level problem but who can still be
    /// identified. Their memberships are never removed: a bad row must not cost data.
    pub protected_emails: BTreeSet<EmailKey>,
    /// `external_id`s (prefixed Pages ids) of skipped rows, protected as above.
    pub protected_external_ids: BTreeSet<String>,
}

impl DesiredState {
    /// Canonical roles text, e.g. `Org A: manager, Org B: user`, organizations in key order.
    pub fn roles_text(&self, user: &DesiredUser) -> String {
        let mut parts = Vec::with_capacity(user.roles.len());
        for (org, role) in user.roles.iter() {
            let name = self.org(org).map_or("", |(_, o)| o.name.as_str());
            parts.push(format!("{name}: {}", role.as_str()));
        }
        parts.join(", ")
    }

    /// The organization at position `org` (as users' roles name it).
    pub fn org(&self, org: u32) -> Option<(&OrgKey, &DesiredOrg)> {
        self.orgs.get_index(org as usize)
    }

    /// The position in `orgs` of the organization with this key.
    pub fn org_position(&self, key: &OrgKey) -> Option<u32> {
        self.orgs
            .index_of(key)
            .map(|at| u32::try_from(at).unwrap_or(u32::MAX))
    }

    /// A user's roles by organization key, in key order.
    pub fn roles_of<'a>(
        &'a self,
        user: &'a DesiredUser,
    ) -> impl DoubleEndedIterator<Item = (&'a OrgKey, Role)> + 'a {
        user.roles
            .iter()
            .filter_map(|(org, role)| self.org(org).map(|(key, _)| (key, role)))
    }

    /// A user's role in the organization with this key.
    pub fn role(&self, user: &DesiredUser, key: &OrgKey) -> Option<Role> {
        self.org_position(key).and_then(|org| user.roles.get(org))
    }

    /// Roles naming organizations by key (tests and generators); a later duplicate key
    /// replaces an earlier one. Panics on a key that is not one of `orgs`: every role
    /// names one of the state's organizations.
    pub fn roles_by_key(&self, pairs: impl IntoIterator<Item = (OrgKey, Role)>) -> Roles {
        pairs
            .into_iter()
            .map(|(key, role)| match self.org_position(&key) {
                Some(org) => (org, role),
                None => panic!("no organization {key:?} for a role"),
            })
            .collect()
    }
}

/// Serialized as it always was: users' roles as a map from organization key to role.
impl Serialize for DesiredState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap as _, SerializeStruct as _};

        struct Users<'a>(&'a DesiredState);
        struct User<'a>(&'a DesiredState, &'a DesiredUser);
        struct UserRoles<'a>(&'a DesiredState, &'a DesiredUser);

        impl Serialize for Users<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(Some(self.0.users.len()))?;
                for (email, user) in self.0.users.iter() {
                    map.serialize_entry(email, &User(self.0, user))?;
                }
                map.end()
            }
        }
        impl Serialize for User<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let User(state, user) = *self;
                let mut s = serializer.serialize_struct("DesiredUser", 5)?;
                s.serialize_field("pages_id", &user.pages_id)?;
                s.serialize_field("email", &user.email)?;
                s.serialize_field("name", &user.name())?;
                s.serialize_field("roles", &UserRoles(state, user))?;
                s.serialize_field("line", &user.line)?;
                s.end()
            }
        }
        impl Serialize for UserRoles<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_map(self.0.roles_of(self.1))
            }
        }

        let mut s = serializer.serialize_struct("DesiredState", 4)?;
        s.serialize_field("orgs", &self.orgs)?;
        s.serialize_field("users", &Users(self))?;
        s.serialize_field("protected_emails", &self.protected_emails)?;
        s.serialize_field("protected_external_ids", &self.protected_external_ids)?;
        s.end()
    }
}

/// Derives a display name from an email's local part: `jane.doe` → `Jane Doe`.
/// Separators `.`, `_`, `-` and `+` become spaces; a `+tag` suffix is dropped.
pub fn name_from_email(email: &EmailKey) -> String {
    // One string per user, no per-word strings or vector: called for every user a run
    // creates or names. A property test keeps it equal to the word-by-word definition.
    let local = email.local_part();
    let local = local.split('+').next().unwrap_or(local);
    let mut name = String::with_capacity(local.len());
    for word in local.split(['.', '_', '-']).filter(|w| !w.is_empty()) {
        if !name.is_empty() {
            name.push(' ');
        }
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            name.extend(first.to_uppercase());
            name.push_str(chars.as_str());
        }
    }
    if name.is_empty() {
        local.to_string()
    } else {
        name
    }
}

// ---------------------------------------------------------------------------------------
// The Zendesk side: a snapshot read before planning and again before verifying.
// ---------------------------------------------------------------------------------------

/// Zendesk's user roles. Only `EndUser` records may have role, name or memberships
/// changed in ways that could lose data; agents and admins are left as people set them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ZendeskRole {
    EndUser,
    Agent,
    Admin,
}

impl ZendeskRole {
    /// Unknown role strings are read as `Agent`: the most protected kind that is not admin.
    pub fn parse(raw: &str) -> Self {
        match raw {
            "end-user" => ZendeskRole::EndUser,
            "admin" => ZendeskRole::Admin,
            _ => ZendeskRole::Agent,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZendeskOrg {
    pub id: u64,
    pub name: String,
    pub details: Option<String>,
}

/// One email identity of a Zendesk user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZendeskIdentity {
    pub id: u64,
    pub email: EmailKey,
    pub primary: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZendeskUser {
    pub id: u64,
    pub name: String,
    pub role: ZendeskRole,
    pub external_id: Option<String>,
    /// The current value of the configured roles field (`details`, `notes` or a user field).
    pub roles_text: Option<String>,
    pub tags: Vec<String>,
    pub suspended: bool,
    /// Email identities, the primary one included. Users without email have none.
    pub identities: Vec<ZendeskIdentity>,
}

impl ZendeskUser {
    pub fn primary_email(&self) -> Option<&EmailKey> {
        self.identities
            .iter()
            .find(|i| i.primary)
            .or_else(|| self.identities.first())
            .map(|i| &i.email)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ZendeskMembership {
    pub id: u64,
    pub user_id: u64,
    pub org_id: u64,
}

/// What Zendesk holds, keyed by Zendesk id. Readers fill it; the core never mutates it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ActualState {
    pub orgs: BTreeMap<u64, ZendeskOrg>,
    pub users: BTreeMap<u64, ZendeskUser>,
    pub memberships: BTreeMap<u64, ZendeskMembership>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        let a = EmailKey::parse("  Jane.Doe@Agency.GOV ").unwrap();
        assert_eq!(a, EmailKey::parse("jane.doe@agency.gov").unwrap());
        assert_eq!(a.as_str(), "jane.doe@agency.gov");
    }

    #[test]
    fn malformed_emails_are_rejected_with_a_reason() {
        assert_eq!(EmailKey::parse(""), Err(InvalidEmail::Empty));
        assert_eq!(EmailKey::parse("jane"), Err(InvalidEmail::NoAt));
        assert_eq!(EmailKey::parse("a@b@c.gov"), Err(InvalidEmail::NoAt));
        assert_eq!(
            EmailKey::parse("@agency.gov"),
            Err(InvalidEmail::EmptyLocalPart)
        );
        assert_eq!(
            EmailKey::parse("jane@localhost"),
            Err(InvalidEmail::BadDomain)
        );
        assert_eq!(
            EmailKey::parse("jane@agency..gov"),
            Err(InvalidEmail::BadDomain)
        );
        assert_eq!(
            EmailKey::parse("ja ne@agency.gov"),
            Err(InvalidEmail::Whitespace)
        );
    }

    proptest::proptest! {
        #[test]
        fn the_ascii_email_path_agrees_with_the_general_one(
            s in "[ -~\t]{0,12}(@[ -~]{0,12})?(@?[a-zA-Z.-]{0,8})",
        ) {
            let s = s.trim();
            proptest::prop_assert_eq!(EmailKey::parse_ascii(s), EmailKey::parse_general(s));
        }
    }

    #[test]
    fn the_ascii_email_path_agrees_on_each_rejection() {
        let long = format!("{}@x.gov", "a".repeat(250));
        for s in [
            "",
            "Jane",
            "a@b@c.gov",
            "@agency.gov",
            "jane@localhost",
            "jane@agency..gov",
            "ja ne@agency.gov",
            "ja\x7fne@x.gov",
            "j\u{b}@x.gov",
            "j@-x.gov",
            "j@x-.gov",
            "J@X.GOV",
            &long,
        ] {
            assert_eq!(
                EmailKey::parse_ascii(s),
                EmailKey::parse_general(s),
                "{s:?}"
            );
        }
    }

    #[test]
    fn keys_serialize_as_their_text() {
        let key = OrgKey::new(" Agency A ").unwrap();
        assert_eq!(serde_json::to_string(&key).unwrap(), "\"agency a\"");
        let email: EmailKey = serde_json::from_str("\"j@x.gov\"").unwrap();
        assert_eq!(email.as_str(), "j@x.gov");
        assert_eq!(serde_json::to_string(&email).unwrap(), "\"j@x.gov\"");
    }

    #[test]
    fn org_keys_ignore_case_and_surrounding_space() {
        assert_eq!(OrgKey::new(" Agency A "), OrgKey::new("agency a"));
        assert_eq!(OrgKey::new("   "), None);
    }

    /// The word-by-word definition `name_from_email` must agree with.
    fn name_by_words(email: &EmailKey) -> String {
        let local = email.local_part();
        let local = local.split('+').next().unwrap_or(local);
        let words: Vec<String> = local
            .split(['.', '_', '-'])
            .filter(|w| !w.is_empty())
            .map(|w| {
                let mut chars = w.chars();
                match chars.next() {
                    Some(first) => first.to_uppercase().chain(chars).collect(),
                    None => String::new(),
                }
            })
            .collect();
        if words.is_empty() {
            local.to_string()
        } else {
            words.join(" ")
        }
    }

    proptest::proptest! {
        #[test]
        fn name_from_email_matches_the_word_by_word_definition(
            local in "[a-zA-Z0-9._+\\-éß]{1,20}",
        ) {
            if let Ok(email) = EmailKey::parse(&format!("{local}@example.gov")) {
                proptest::prop_assert_eq!(name_from_email(&email), name_by_words(&email));
            }
        }
    }

    #[test]
    fn names_are_derived_from_the_local_part() {
        let name = |e: &str| name_from_email(&EmailKey::parse(e).unwrap());
        assert_eq!(name("jane.doe@agency.gov"), "Jane Doe");
        assert_eq!(name("sam_o-neil+pages@x.gov"), "Sam O Neil");
        assert_eq!(name("x@x.gov"), "X");
        assert_eq!(name("...@x.gov"), "...");
    }

    #[test]
    fn the_name_buffer_gives_each_organization_its_pages_name_in_key_order() {
        let orgs: BTreeMap<OrgKey, DesiredOrg> = ["Zeta, Office", "alpha", "Mid & Co"]
            .into_iter()
            .map(|n| {
                let org = DesiredOrg {
                    name: n.into(),
                    details: String::new(),
                };
                (OrgKey::new(n).unwrap(), org)
            })
            .collect();
        let names = OrgNameBuffer::new(orgs.values());
        let got: Vec<&str> = (0..orgs.len()).map(|i| names.get(i)).collect();
        assert_eq!(got, ["alpha", "Mid & Co", "Zeta, Office"]);
    }

    #[test]
    fn roles_text_is_sorted_by_organization_and_uses_pages_names() {
        let mut desired = DesiredState::default();
        for (n, d) in [("Org B", ""), ("org a", "Agency")] {
            desired.orgs.insert(
                OrgKey::new(n).unwrap(),
                DesiredOrg {
                    name: n.into(),
                    details: d.into(),
                },
            );
        }
        let email = EmailKey::parse("j@x.gov").unwrap();
        let user = DesiredUser {
            pages_id: 1,
            email: email.clone(),
            roles: desired.roles_by_key([
                (OrgKey::new("Org B").unwrap(), Role::User),
                (OrgKey::new("ORG A").unwrap(), Role::Manager),
            ]),
            line: 2,
        };
        assert_eq!(desired.roles_text(&user), "org a: manager, Org B: user");
        assert_eq!(user.name(), "J");
        assert!(user.is_manager());
    }

    /// Two roles are held in place, more on the heap: the same answers either way.
    #[test]
    fn roles_answer_alike_in_place_and_on_the_heap() {
        use std::hash::BuildHasher;
        for n in 0..=5u32 {
            let pairs: Vec<(u32, Role)> = (0..n)
                .map(|i| {
                    (
                        i * 3,
                        if i % 2 == 0 {
                            Role::User
                        } else {
                            Role::Manager
                        },
                    )
                })
                .collect();
            let roles = Roles::from_sorted(&pairs);
            let collected: Roles = pairs.iter().rev().copied().collect();
            assert_eq!(roles, collected, "{n} roles");
            assert_eq!(roles.len(), pairs.len());
            assert_eq!(roles.is_empty(), n == 0);
            assert_eq!(roles.iter().collect::<Vec<_>>(), pairs);
            assert_eq!(format!("{roles:?}"), format!("Roles({pairs:?})"));
            for (org, role) in &pairs {
                assert_eq!(roles.get(*org), Some(*role));
                assert!(!roles.contains(org + 1));
            }
            let state = std::hash::RandomState::new();
            assert_eq!(state.hash_one(&roles), state.hash_one(&collected));
        }
        assert_ne!(
            Roles::from_sorted(&[(1, Role::User)]),
            Roles::from_sorted(&[(1, Role::User), (2, Role::User)])
        );
        assert_eq!(Roles::default(), Roles::from_sorted(&[]));
    }
}
