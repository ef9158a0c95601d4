//! The stand-in's account state: organizations, users with their identities, memberships
//! and background jobs, plus the validation rules Zendesk applies to writes and the JSON
//! the real API renders for each record.
//!
//! Owns: every rule that decides whether a write is accepted (uniqueness, required fields,
//! existence) so single endpoints and bulk jobs share one implementation. Must never know
//! about HTTP: routes turn an [`Invalid`] into a 422/404 or a failed job item.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use anyhow::{bail, Result};
use serde_json::{json, Map, Value};

use super::wire::{write_object, Field};

/// First id handed out; Zendesk ids are large integers, and tests should not be able to
/// confuse an id with a row number or an index.
pub const FIRST_ID: u64 = 36_000_000_000_000;
/// Gap between consecutive ids (Zendesk's ids are sparse too).
const ID_STEP: u64 = 384;

/// The roles Zendesk accepts in a user's `role`.
pub const ROLES: [&str; 3] = ["end-user", "agent", "admin"];

/// A Zendesk organization.
#[derive(Debug, Clone, PartialEq)]
pub struct Organization {
    pub id: u64,
    pub name: String,
    pub external_id: Option<String>,
    pub details: Option<String>,
    pub notes: Option<String>,
    pub tags: Vec<String>,
    pub organization_fields: Map<String, Value>,
    pub created_at: String,
    pub updated_at: String,
}

/// An email identity of a user. Exactly one identity of a user with identities is primary.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub id: u64,
    pub value: String,
    pub verified: bool,
    pub primary: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// A Zendesk user. `email` and `organization_id` of the API are derived: the primary
/// identity and the default membership.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: u64,
    pub name: String,
    pub role: String,
    pub external_id: Option<String>,
    pub details: Option<String>,
    pub notes: Option<String>,
    pub user_fields: Map<String, Value>,
    pub tags: Vec<String>,
    pub suspended: bool,
    pub identities: Vec<Identity>,
    pub created_at: String,
    pub updated_at: String,
}

impl User {
    /// The primary email, as the API's `email` field shows it.
    pub fn email(&self) -> Option<&str> {
        self.identities
            .iter()
            .find(|i| i.primary)
            .map(|i| i.value.as_str())
    }

    fn has_email(&self, email: &str) -> bool {
        self.identities
            .iter()
            .any(|i| i.value.eq_ignore_ascii_case(email))
    }
}

/// A membership of a user in an organization.
#[derive(Debug, Clone, PartialEq)]
pub struct Membership {
    pub id: u64,
    pub user_id: u64,
    pub organization_id: u64,
    /// The user's default organization. Rendered as `true` or `null`, never `false`.
    pub default: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// What a background job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    CreateOrganizations,
    UpdateOrganizations,
    CreateUsers,
    CreateOrUpdateUsers,
    UpdateUsers,
    CreateMemberships,
    DestroyMemberships,
}

impl JobKind {
    /// Zendesk's internal job class name, as quoted in TooManyJobs descriptions.
    pub fn class_name(self) -> &'static str {
        match self {
            JobKind::CreateOrganizations => "OrganizationBulkCreateJobV2",
            JobKind::UpdateOrganizations => "OrganizationBulkUpdateJobV2",
            JobKind::CreateUsers => "UserBulkCreateJobV2",
            JobKind::CreateOrUpdateUsers => "UserBulkCreateOrUpdateJobV2",
            JobKind::UpdateUsers => "UserBulkUpdateJobV2",
            JobKind::CreateMemberships => "OrganizationMembershipBulkCreateJob",
            JobKind::DestroyMemberships => "OrganizationMembershipBulkDeleteJob",
        }
    }

    fn progress_message(self, n: usize) -> String {
        let (verb, noun) = match self {
            JobKind::CreateOrganizations => ("Creating", "Organization"),
            JobKind::UpdateOrganizations => ("Updating", "Organization"),
            JobKind::CreateUsers | JobKind::CreateOrUpdateUsers => ("Creating", "User"),
            JobKind::UpdateUsers => ("Updating", "User"),
            JobKind::CreateMemberships => ("Creating", "OrganizationMembership"),
            JobKind::DestroyMemberships => ("Deleting", "OrganizationMembership"),
        };
        format!("{verb} {noun} #{n}")
    }

    fn is_create(self) -> bool {
        matches!(
            self,
            JobKind::CreateOrganizations | JobKind::CreateUsers | JobKind::CreateMemberships
        )
    }
}

/// Lifecycle of a job as the API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Working,
    Completed,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Working => "working",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
        }
    }

    pub fn in_flight(self) -> bool {
        matches!(self, JobState::Queued | JobState::Working)
    }
}

/// A background job. Its work is applied to the world when it completes, not when it is
/// queued, so a client that reads before the job is done sees the old state (as it may
/// against Zendesk).
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    /// Creation order (job ids are random-looking).
    pub seq: u64,
    pub kind: JobKind,
    pub total: usize,
    pub state: JobState,
    /// How many times the job was fetched through the job status endpoints.
    pub polls: u32,
    pub created: Instant,
    pub message: Option<String>,
    pub results: Option<Vec<Value>>,
    /// The request items, kept until the job runs.
    pub items: Vec<Value>,
    /// Set by the fault plan: the job ends `failed` without doing anything.
    pub will_fail: bool,
}

/// Why a write was refused: one field, one code, in the words of Zendesk's 422 `details`.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    /// `details` key (`email`, `name`, `user_id`, ...).
    pub field: String,
    /// `error` code (`DuplicateValue`, `InvalidValue`, `BlankValue`, `RecordNotFound`).
    pub code: &'static str,
    /// Human text, also the `details` string of a failed job item.
    pub description: String,
}

impl Invalid {
    fn new(field: &str, code: &'static str, description: impl Into<String>) -> Self {
        Invalid {
            field: field.into(),
            code,
            description: description.into(),
        }
    }

    fn not_found(field: &str) -> Self {
        Invalid::new(field, "RecordNotFound", "Not found")
    }

    pub fn is_not_found(&self) -> bool {
        self.code == "RecordNotFound"
    }

    /// The entry under `details.<field>` of a 422 body. A blank name uses the documented
    /// `{"type":"blank","description":"can't be blank"}` form.
    pub fn detail_entry(&self) -> Value {
        if self.code == "BlankValue" && self.field == "name" {
            json!({"type": "blank", "description": "can't be blank"})
        } else {
            json!({"description": self.description, "error": self.code})
        }
    }
}

/// Everything needed to seed a user directly (tests, demo).
#[derive(Debug, Clone)]
pub struct UserSeed {
    pub name: String,
    /// Becomes the primary email identity.
    pub email: Option<String>,
    pub role: String,
    pub external_id: Option<String>,
    pub details: Option<String>,
    pub notes: Option<String>,
    pub user_fields: Map<String, Value>,
    pub tags: Vec<String>,
    pub suspended: bool,
    pub verified: bool,
}

impl Default for UserSeed {
    fn default() -> Self {
        UserSeed {
            name: String::new(),
            email: None,
            role: "end-user".into(),
            external_id: None,
            details: None,
            notes: None,
            user_fields: Map::new(),
            tags: Vec::new(),
            suspended: false,
            verified: true,
        }
    }
}

/// An email Zendesk sends to a user when the API creates an unverified email identity
/// (the stand-in only records it). Welcome or verification mail cannot be taken back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentEmail {
    pub user_id: u64,
    pub to: String,
}

/// Per-account switches that change what writes are accepted, and the account facts
/// `GET /account/settings`, `GET /users/me`, `GET /account` and `GET /user_fields` answer.
/// Public so tests and the demo can turn a setting off or on between runs
/// (`ZendeskStandin::with_world(|w| w.rules.tagging = false)`).
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// `settings.user.multiple_organizations` ("Allow users to belong to multiple
    /// organizations"): when false a second membership is refused.
    pub multiple_organizations: bool,
    /// `settings.user.tagging` ("Tags on users and organizations"): when false, `tags` is
    /// absent from user and organization JSON and tags sent in writes are dropped
    /// silently (docs/references.md "Zendesk tags").
    pub tagging: bool,
    /// `settings.user.agent_created_welcome_emails`: only reported, no mail is modelled.
    pub agent_created_welcome_emails: bool,
    /// Role of the API token's user as `GET /users/me` answers it (`admin`, `agent`, ...).
    pub token_user_role: String,
    /// The token's user is the account owner (`GET /account` names it as `owner_id`).
    pub token_user_is_owner: bool,
    /// Custom user fields as `GET /user_fields` lists them: (key, type).
    pub user_fields: Vec<(String, String)>,
    /// `destroy_many` job results leave out the membership `id`.
    pub destroy_results_without_ids: bool,
    /// Lower-cased emails whose creation fails (user create, identity create).
    pub reject_emails: BTreeSet<String>,
}

impl Default for Rules {
    /// A well-set account: several organizations per user and tagging on, no welcome
    /// mail for users created by admins, an admin token that is not the owner.
    fn default() -> Self {
        Rules {
            multiple_organizations: true,
            tagging: true,
            agent_created_welcome_emails: false,
            token_user_role: "admin".into(),
            token_user_is_owner: false,
            user_fields: Vec::new(),
            destroy_results_without_ids: false,
            reject_emails: BTreeSet::new(),
        }
    }
}

/// Lookups the API makes by key, derived from `users` and `memberships`: without them
/// every write scans the account and a 5,000-user sync takes a minute in a debug build.
/// Kept in step by every write of this module; [`World::reindex`] rebuilds them after
/// direct edits of the public maps (`ZendeskStandin::with_world` calls it).
#[derive(Debug, Clone, Default)]
struct Index {
    /// ASCII-lower-cased email identity → user id (identities are unique per account).
    emails: HashMap<String, u64>,
    /// ASCII-lower-cased external_id → user id.
    external_ids: HashMap<String, u64>,
    /// User id → ids of its memberships.
    memberships: HashMap<u64, BTreeSet<u64>>,
}

/// The whole account. Cloned by `snapshot()` for inspection.
#[derive(Debug, Clone)]
pub struct World {
    /// `http://127.0.0.1:PORT`, no trailing slash; prefix of every `url` field.
    pub base_url: String,
    pub organizations: BTreeMap<u64, Organization>,
    pub users: BTreeMap<u64, User>,
    pub memberships: BTreeMap<u64, Membership>,
    pub jobs: BTreeMap<String, Job>,
    pub rules: Rules,
    /// Verification emails Zendesk would have sent, in order.
    pub emails_sent: Vec<SentEmail>,
    index: Index,
    next_id: u64,
    next_job_seq: u64,
    rng: fastrand::Rng,
}

fn now_stamp() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A JSON scalar as text (Zendesk coerces numbers in string fields).
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `Some(None)` when the key is present and null, `None` when absent.
fn field(item: &Value, key: &str) -> Option<Option<String>> {
    item.get(key).map(text)
}

fn tags_of(item: &Value) -> Result<Option<Vec<String>>, Invalid> {
    match item.get("tags") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(Vec::new())),
        Some(Value::Array(a)) => {
            let mut out: Vec<String> = Vec::new();
            for t in a {
                let Some(t) = text(t) else {
                    return Err(Invalid::new("tags", "InvalidValue", "Tags is invalid"));
                };
                let t = t.trim().to_string();
                if !t.is_empty() && !out.contains(&t) {
                    out.push(t);
                }
            }
            Ok(Some(out))
        }
        Some(_) => Err(Invalid::new("tags", "InvalidValue", "Tags is invalid")),
    }
}

fn fields_of(item: &Value, key: &str) -> Result<Option<Map<String, Value>>, Invalid> {
    match item.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m.clone())),
        Some(_) => Err(Invalid::new(
            key,
            "InvalidValue",
            format!("{key} is invalid"),
        )),
    }
}

fn id_of(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl World {
    pub(crate) fn new(base_url: String, rules: Rules) -> Self {
        World {
            base_url,
            organizations: BTreeMap::new(),
            users: BTreeMap::new(),
            memberships: BTreeMap::new(),
            jobs: BTreeMap::new(),
            rules,
            emails_sent: Vec::new(),
            index: Index::default(),
            next_id: FIRST_ID,
            next_job_seq: 0,
            // Fixed seed: job ids and result order are the same on every run.
            rng: fastrand::Rng::with_seed(0x5EED_2E5D),
        }
    }

    /// Rebuilds the lookups from `users` and `memberships` (after direct edits of them).
    pub fn reindex(&mut self) {
        let mut index = Index::default();
        for u in self.users.values() {
            for i in &u.identities {
                index.emails.insert(i.value.to_ascii_lowercase(), u.id);
            }
            if let Some(x) = &u.external_id {
                index.external_ids.insert(x.to_ascii_lowercase(), u.id);
            }
        }
        for m in self.memberships.values() {
            index.memberships.entry(m.user_id).or_default().insert(m.id);
        }
        self.index = index;
    }

    fn new_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += ID_STEP;
        id
    }

    // ---- seeding (no job, no request log) ----

    /// Adds an organization; fails if the name is taken (case-insensitive).
    pub fn seed_org(&mut self, name: &str, details: Option<&str>) -> Result<u64> {
        let item = json!({"name": name, "details": details});
        self.create_org(&item)
            .map_err(|e| anyhow::anyhow!("seeding an organization: {}", e.description))
    }

    /// Adds a user as if created through the API (same uniqueness rules).
    pub fn seed_user(&mut self, seed: UserSeed) -> Result<u64> {
        let item = json!({
            "name": seed.name, "email": seed.email, "role": seed.role,
            "external_id": seed.external_id, "details": seed.details, "notes": seed.notes,
            "user_fields": seed.user_fields, "tags": seed.tags, "verified": seed.verified,
        });
        let id = self
            .create_user(&item)
            .map_err(|e| anyhow::anyhow!("seeding a user: {}", e.description))?;
        if let Some(u) = self.users.get_mut(&id) {
            u.suspended = seed.suspended;
        }
        Ok(id)
    }

    /// Adds an email identity; `primary` makes it the user's primary email.
    pub fn add_identity(&mut self, user_id: u64, email: &str, primary: bool) -> Result<u64> {
        let id = self
            .create_identity(user_id, email, true)
            .map_err(|e| anyhow::anyhow!("adding an identity to user {user_id}: {}", e.code))?;
        if primary {
            self.make_primary(user_id, id).map_err(|e| {
                anyhow::anyhow!(
                    "making identity {id} primary for user {user_id}: {}",
                    e.code
                )
            })?;
        }
        Ok(id)
    }

    /// Adds a membership; the user's first membership becomes the default.
    pub fn seed_membership(&mut self, user_id: u64, organization_id: u64) -> Result<u64> {
        let item = json!({"user_id": user_id, "organization_id": organization_id});
        match self.create_membership(&item) {
            Ok(id) => Ok(id),
            Err(e) => bail!(
                "seeding membership of user {user_id} in organization {organization_id}: {}",
                e.code
            ),
        }
    }

    // ---- queries ----

    /// The user holding this email identity (case-insensitive).
    pub fn user_by_email(&self, email: &str) -> Option<&User> {
        let id = self.index.emails.get(&email.trim().to_ascii_lowercase())?;
        self.users.get(id)
    }

    fn user_by_external_id(&self, external_id: &str) -> Option<u64> {
        self.index
            .external_ids
            .get(&external_id.to_ascii_lowercase())
            .copied()
    }

    pub fn org_by_name(&self, name: &str) -> Option<&Organization> {
        self.organizations
            .values()
            .find(|o| o.name.trim().eq_ignore_ascii_case(name.trim()))
    }

    /// Memberships of a user, default first.
    pub fn memberships_of(&self, user_id: u64) -> Vec<&Membership> {
        let mut ms: Vec<&Membership> = self
            .index
            .memberships
            .get(&user_id)
            .into_iter()
            .flatten()
            .filter_map(|id| self.memberships.get(id))
            .collect();
        ms.sort_by_key(|m| (!m.default, m.id));
        ms
    }

    /// The (user_id, organization_id) pairs of all memberships.
    pub fn membership_pairs(&self) -> BTreeSet<(u64, u64)> {
        self.memberships
            .values()
            .map(|m| (m.user_id, m.organization_id))
            .collect()
    }

    pub fn jobs_in_flight(&self) -> Vec<&Job> {
        let mut jobs: Vec<&Job> = self.jobs.values().filter(|j| j.state.in_flight()).collect();
        jobs.sort_by_key(|j| j.seq);
        jobs
    }

    fn default_org_of(&self, user_id: u64) -> Option<u64> {
        // The index keeps ids in order: the first default is `memberships_of`'s first.
        self.index
            .memberships
            .get(&user_id)?
            .iter()
            .filter_map(|id| self.memberships.get(id))
            .find(|m| m.default)
            .map(|m| m.organization_id)
    }

    fn email_taken(&self, email: &str, except_user: Option<u64>) -> bool {
        self.user_by_email(email)
            .is_some_and(|u| Some(u.id) != except_user)
    }

    fn user_external_id_taken(&self, external_id: &str, except_user: Option<u64>) -> bool {
        self.user_by_external_id(external_id)
            .is_some_and(|id| Some(id) != except_user)
    }

    fn check_email(
        &self,
        field: &str,
        email: &str,
        except_user: Option<u64>,
    ) -> Result<(), Invalid> {
        let label = if field == "email" { "Email" } else { "Value" };
        if self
            .rules
            .reject_emails
            .contains(&email.trim().to_lowercase())
            || !email.contains('@')
        {
            return Err(Invalid::new(
                field,
                "InvalidValue",
                format!("{label}:  {email} is not properly formatted"),
            ));
        }
        if self.email_taken(email, except_user) {
            return Err(Invalid::new(
                field,
                "DuplicateValue",
                format!("{label}: {email} is already being used by another user"),
            ));
        }
        Ok(())
    }

    // ---- organizations ----

    fn check_org_name(&self, name: &str, except: Option<u64>) -> Result<(), Invalid> {
        if name.trim().is_empty() {
            return Err(Invalid::new("name", "BlankValue", "Name: cannot be blank"));
        }
        let taken = self
            .organizations
            .values()
            .any(|o| Some(o.id) != except && o.name.trim().eq_ignore_ascii_case(name.trim()));
        if taken {
            return Err(Invalid::new(
                "name",
                "DuplicateValue",
                format!("Name:  {name} has already been taken"),
            ));
        }
        Ok(())
    }

    fn check_org_external_id(&self, external_id: &str, except: Option<u64>) -> Result<(), Invalid> {
        let taken = self.organizations.values().any(|o| {
            Some(o.id) != except
                && o.external_id
                    .as_deref()
                    .is_some_and(|x| x.eq_ignore_ascii_case(external_id))
        });
        if taken {
            return Err(Invalid::new(
                "external_id",
                "DuplicateValue",
                "External has already been taken",
            ));
        }
        Ok(())
    }

    pub(crate) fn create_org(&mut self, item: &Value) -> Result<u64, Invalid> {
        let name = field(item, "name").flatten().unwrap_or_default();
        self.check_org_name(&name, None)?;
        let external_id = field(item, "external_id").flatten();
        if let Some(x) = &external_id {
            self.check_org_external_id(x, None)?;
        }
        let tags = tags_of(item)?
            .filter(|_| self.rules.tagging)
            .unwrap_or_default();
        let organization_fields = fields_of(item, "organization_fields")?.unwrap_or_default();
        let id = self.new_id();
        let now = now_stamp();
        self.organizations.insert(
            id,
            Organization {
                id,
                name: name.trim().to_string(),
                external_id,
                details: field(item, "details").flatten(),
                notes: field(item, "notes").flatten(),
                tags,
                organization_fields,
                created_at: now.clone(),
                updated_at: now,
            },
        );
        Ok(id)
    }

    pub(crate) fn update_org(&mut self, id: u64, item: &Value) -> Result<u64, Invalid> {
        if !self.organizations.contains_key(&id) {
            return Err(Invalid::not_found("id"));
        }
        let name = field(item, "name");
        if let Some(name) = &name {
            self.check_org_name(name.as_deref().unwrap_or(""), Some(id))?;
        }
        let external_id = field(item, "external_id");
        if let Some(Some(x)) = &external_id {
            self.check_org_external_id(x, Some(id))?;
        }
        let tags = tags_of(item)?.filter(|_| self.rules.tagging);
        let fields = fields_of(item, "organization_fields")?;
        let Some(org) = self.organizations.get_mut(&id) else {
            return Err(Invalid::not_found("id"));
        };
        if let Some(Some(name)) = name {
            org.name = name.trim().to_string();
        }
        if let Some(x) = external_id {
            org.external_id = x;
        }
        if let Some(d) = field(item, "details") {
            org.details = d;
        }
        if let Some(n) = field(item, "notes") {
            org.notes = n;
        }
        if let Some(t) = tags {
            org.tags = t;
        }
        if let Some(f) = fields {
            org.organization_fields.extend(f);
        }
        org.updated_at = now_stamp();
        Ok(id)
    }

    // ---- users ----

    fn check_role(item: &Value) -> Result<Option<String>, Invalid> {
        match field(item, "role") {
            None | Some(None) => Ok(None),
            Some(Some(r)) if ROLES.contains(&r.as_str()) => Ok(Some(r)),
            Some(Some(_)) => Err(Invalid::new("role", "InvalidValue", "Role is invalid")),
        }
    }

    pub(crate) fn create_user(&mut self, item: &Value) -> Result<u64, Invalid> {
        let name = field(item, "name").flatten().unwrap_or_default();
        if name.trim().is_empty() {
            return Err(Invalid::new("name", "BlankValue", "Name: can't be blank"));
        }
        let role = Self::check_role(item)?.unwrap_or_else(|| "end-user".into());
        let mut emails: Vec<String> = Vec::new();
        if let Some(Some(e)) = field(item, "email") {
            emails.push(e.trim().to_string());
        }
        if let Some(Value::Array(ids)) = item.get("identities") {
            for ident in ids {
                if ident.get("type").and_then(Value::as_str) == Some("email") {
                    if let Some(v) = ident.get("value").and_then(text) {
                        emails.push(v.trim().to_string());
                    }
                }
            }
        }
        for (i, e) in emails.iter().enumerate() {
            self.check_email("email", e, None)?;
            if emails[..i].iter().any(|p| p.eq_ignore_ascii_case(e)) {
                return Err(Invalid::new(
                    "email",
                    "DuplicateValue",
                    format!("Email: {e} is already being used by another user"),
                ));
            }
        }
        let external_id = field(item, "external_id").flatten();
        if let Some(x) = &external_id {
            if self.user_external_id_taken(x, None) {
                return Err(Invalid::new(
                    "external_id",
                    "DuplicateValue",
                    "External has already been taken",
                ));
            }
        }
        let org = match item.get("organization_id") {
            None | Some(Value::Null) => None,
            Some(v) => match id_of(v).filter(|o| self.organizations.contains_key(o)) {
                Some(o) => Some(o),
                None => {
                    return Err(Invalid::new(
                        "organization_id",
                        "InvalidValue",
                        "Organization is invalid",
                    ))
                }
            },
        };
        let mut tags = tags_of(item)?.unwrap_or_default();
        if !self.rules.tagging {
            // Dropped without an error, as Zendesk does with tagging off.
            tags.clear();
        }
        let user_fields = fields_of(item, "user_fields")?.unwrap_or_default();
        let verified = item
            .get("verified")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let id = self.new_id();
        let now = now_stamp();
        let mut identities = Vec::new();
        for e in &emails {
            self.index.emails.insert(e.to_ascii_lowercase(), id);
        }
        if let Some(x) = &external_id {
            self.index.external_ids.insert(x.to_ascii_lowercase(), id);
        }
        for (i, e) in emails.into_iter().enumerate() {
            identities.push(Identity {
                id: self.new_id(),
                value: e,
                verified: verified && i == 0,
                primary: i == 0,
                created_at: now.clone(),
                updated_at: now.clone(),
            });
        }
        self.users.insert(
            id,
            User {
                id,
                name: name.trim().to_string(),
                role,
                external_id,
                details: field(item, "details").flatten(),
                notes: field(item, "notes").flatten(),
                user_fields,
                tags,
                suspended: item
                    .get("suspended")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                identities,
                created_at: now.clone(),
                updated_at: now,
            },
        );
        if let Some(org) = org {
            self.insert_membership(id, org);
        }
        Ok(id)
    }

    /// A user created through the API: its unverified email identities get Zendesk's
    /// verification email. `verified: true` on the user verifies the primary identity
    /// (OAS UserForAdmin `verified`; Zendesk Help "Verifying a user's email address":
    /// emails can be verified when adding users through the API). `skip_verify_email` is
    /// honoured only where it is documented (`honour_skip`: `POST /users`,
    /// `create_or_update`, identities), not by `create_many`.
    pub(crate) fn create_user_by_api(
        &mut self,
        item: &Value,
        honour_skip: bool,
    ) -> Result<u64, Invalid> {
        let id = self.create_user(item)?;
        let skip =
            honour_skip && item.get("skip_verify_email").and_then(Value::as_bool) == Some(true);
        if !skip {
            let unverified: Vec<String> = self
                .users
                .get(&id)
                .map(|u| {
                    u.identities
                        .iter()
                        .filter(|i| !i.verified)
                        .map(|i| i.value.clone())
                        .collect()
                })
                .unwrap_or_default();
            for to in unverified {
                self.emails_sent.push(SentEmail { user_id: id, to });
            }
        }
        Ok(id)
    }

    /// A user update as `PUT /users/{id}` and `update_many` apply it. Quirks kept on
    /// purpose: `email` adds a secondary identity, `organization_id` replaces every
    /// membership of the user, `tags` replaces the list, `user_fields` merges by key.
    pub(crate) fn update_user(&mut self, id: u64, item: &Value) -> Result<u64, Invalid> {
        if !self.users.contains_key(&id) {
            return Err(Invalid::not_found("id"));
        }
        let name = field(item, "name");
        if let Some(n) = &name {
            if n.as_deref().unwrap_or("").trim().is_empty() {
                return Err(Invalid::new("name", "BlankValue", "Name: can't be blank"));
            }
        }
        let role = Self::check_role(item)?;
        let external_id = field(item, "external_id");
        if let Some(Some(x)) = &external_id {
            if self.user_external_id_taken(x, Some(id)) {
                return Err(Invalid::new(
                    "external_id",
                    "DuplicateValue",
                    "External has already been taken",
                ));
            }
        }
        let new_email = match field(item, "email") {
            Some(Some(e)) if !e.trim().is_empty() => {
                let e = e.trim().to_string();
                let own = self.users.get(&id).is_some_and(|u| u.has_email(&e));
                if own {
                    None
                } else {
                    self.check_email("email", &e, Some(id))?;
                    Some(e)
                }
            }
            _ => None,
        };
        let org = match item.get("organization_id") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(v) => match id_of(v).filter(|o| self.organizations.contains_key(o)) {
                Some(o) => Some(Some(o)),
                None => {
                    return Err(Invalid::new(
                        "organization_id",
                        "InvalidValue",
                        "Organization is invalid",
                    ))
                }
            },
        };
        // Dropped without an error, as Zendesk does with tagging off.
        let tags = tags_of(item)?.filter(|_| self.rules.tagging);
        let fields = fields_of(item, "user_fields")?;
        let verified = item
            .get("verified")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let identity_id = new_email.as_ref().map(|_| self.new_id());
        let now = now_stamp();
        let Some(user) = self.users.get_mut(&id) else {
            return Err(Invalid::not_found("id"));
        };
        if let Some(Some(n)) = name {
            user.name = n.trim().to_string();
        }
        if let Some(r) = role {
            user.role = r;
        }
        if let Some(x) = external_id {
            if let Some(old) = &user.external_id {
                self.index.external_ids.remove(&old.to_ascii_lowercase());
            }
            if let Some(new) = &x {
                self.index.external_ids.insert(new.to_ascii_lowercase(), id);
            }
            user.external_id = x;
        }
        if let Some(d) = field(item, "details") {
            user.details = d;
        }
        if let Some(n) = field(item, "notes") {
            user.notes = n;
        }
        if let Some(t) = tags {
            user.tags = t;
        }
        if let Some(f) = fields {
            user.user_fields.extend(f);
        }
        if let Some(s) = item.get("suspended").and_then(Value::as_bool) {
            user.suspended = s;
        }
        if let (Some(e), Some(iid)) = (new_email, identity_id) {
            self.index.emails.insert(e.to_ascii_lowercase(), id);
            let primary = user.identities.is_empty();
            user.identities.push(Identity {
                id: iid,
                value: e,
                verified,
                primary,
                created_at: now.clone(),
                updated_at: now.clone(),
            });
        }
        user.updated_at = now;
        if let Some(org) = org {
            for m in self.index.memberships.remove(&id).unwrap_or_default() {
                self.memberships.remove(&m);
            }
            if let Some(org) = org {
                self.insert_membership(id, org);
            }
        }
        Ok(id)
    }

    /// `create_or_update_many`: finds the user by email identity or external_id.
    pub(crate) fn create_or_update_user(&mut self, item: &Value) -> Result<(u64, bool), Invalid> {
        let by_email = field(item, "email")
            .flatten()
            .and_then(|e| self.user_by_email(e.trim()).map(|u| u.id));
        let by_external = field(item, "external_id")
            .flatten()
            .and_then(|x| self.user_by_external_id(&x));
        match by_external.or(by_email) {
            Some(id) => self.update_user(id, item).map(|id| (id, false)),
            None => self.create_user_by_api(item, false).map(|id| (id, true)),
        }
    }

    // ---- identities ----

    pub(crate) fn create_identity(
        &mut self,
        user_id: u64,
        email: &str,
        verified: bool,
    ) -> Result<u64, Invalid> {
        if !self.users.contains_key(&user_id) {
            return Err(Invalid::not_found("user_id"));
        }
        let email = email.trim();
        self.check_email("value", email, None)?;
        let id = self.new_id();
        let now = now_stamp();
        let Some(user) = self.users.get_mut(&user_id) else {
            return Err(Invalid::not_found("user_id"));
        };
        self.index
            .emails
            .insert(email.to_ascii_lowercase(), user_id);
        let primary = user.identities.is_empty();
        user.identities.push(Identity {
            id,
            value: email.to_string(),
            verified,
            primary,
            created_at: now.clone(),
            updated_at: now,
        });
        Ok(id)
    }

    /// Makes an identity primary; the user's `email` follows it.
    pub(crate) fn make_primary(&mut self, user_id: u64, identity_id: u64) -> Result<(), Invalid> {
        let Some(user) = self.users.get_mut(&user_id) else {
            return Err(Invalid::not_found("user_id"));
        };
        if !user.identities.iter().any(|i| i.id == identity_id) {
            return Err(Invalid::not_found("id"));
        }
        let now = now_stamp();
        for i in &mut user.identities {
            let primary = i.id == identity_id;
            if i.primary != primary {
                i.primary = primary;
                i.updated_at = now.clone();
            }
        }
        user.updated_at = now;
        Ok(())
    }

    // ---- memberships ----

    fn insert_membership(&mut self, user_id: u64, organization_id: u64) -> u64 {
        let id = self.new_id();
        let now = now_stamp();
        let mine = self.index.memberships.entry(user_id).or_default();
        let default = mine.is_empty();
        mine.insert(id);
        self.memberships.insert(
            id,
            Membership {
                id,
                user_id,
                organization_id,
                default,
                created_at: now.clone(),
                updated_at: now,
            },
        );
        id
    }

    pub(crate) fn create_membership(&mut self, item: &Value) -> Result<u64, Invalid> {
        let user_id = item.get("user_id").and_then(id_of);
        let org_id = item.get("organization_id").and_then(id_of);
        let Some(user_id) = user_id.filter(|u| self.users.contains_key(u)) else {
            return Err(Invalid::new("user", "BlankValue", "User cannot be blank"));
        };
        let Some(org_id) = org_id.filter(|o| self.organizations.contains_key(o)) else {
            return Err(Invalid::new(
                "organization",
                "BlankValue",
                "Organization cannot be blank",
            ));
        };
        let existing: Vec<u64> = self
            .memberships_of(user_id)
            .iter()
            .map(|m| m.organization_id)
            .collect();
        if existing.contains(&org_id) {
            // Text (leading space included) as recorded from Zendesk.
            return Err(Invalid::new(
                "user_id",
                "DuplicateValue",
                " This user is already a member of this organization.",
            ));
        }
        if !existing.is_empty() && !self.rules.multiple_organizations {
            // The docs say only "Users can be in many organizations if the account supports
            // multiple organizations" (developer.zendesk.com Organization Memberships); the
            // refusal's body is UNCONFIRMED (docs/references.md "Zendesk errors"; searched
            // again for issue 10: no recording found). Zendesk's validation envelope is used, and the sync never
            // sends such a write once it has read `user.multiple_organizations`.
            return Err(Invalid::new(
                "base",
                "InvalidValue",
                "Multiple organizations is not enabled for this account",
            ));
        }
        Ok(self.insert_membership(user_id, org_id))
    }

    /// Deletes a membership; if it was the default, the oldest remaining one becomes it.
    pub(crate) fn destroy_membership(&mut self, id: u64) -> Result<u64, Invalid> {
        let Some(m) = self.memberships.remove(&id) else {
            return Err(Invalid::not_found("id"));
        };
        let mine = self.index.memberships.entry(m.user_id).or_default();
        mine.remove(&id);
        // Ids grow with time: the smallest left is the oldest.
        let next = mine.first().copied();
        if m.default {
            if let Some(next) = next.and_then(|n| self.memberships.get_mut(&n)) {
                next.default = true;
            }
        }
        Ok(id)
    }

    // ---- jobs ----

    pub(crate) fn new_job(&mut self, kind: JobKind, items: Vec<Value>, will_fail: bool) -> String {
        let id = format!("V3-{:032x}", self.rng.u128(..));
        let seq = self.next_job_seq;
        self.next_job_seq += 1;
        self.jobs.insert(
            id.clone(),
            Job {
                id: id.clone(),
                seq,
                kind,
                total: items.len(),
                state: JobState::Queued,
                polls: 0,
                created: Instant::now(),
                message: None,
                results: None,
                items,
                will_fail,
            },
        );
        id
    }

    pub(crate) fn start_job(&mut self, id: &str) {
        if let Some(job) = self.jobs.get_mut(id) {
            if job.state == JobState::Queued {
                job.state = JobState::Working;
                job.message = Some(job.kind.progress_message(job.total.div_ceil(2).max(1)));
            }
        }
    }

    /// Runs a job's work against the world and records its results.
    pub(crate) fn complete_job(&mut self, id: &str) {
        let Some(job) = self.jobs.get_mut(id) else {
            return;
        };
        if !job.state.in_flight() {
            return;
        }
        let kind = job.kind;
        let items = std::mem::take(&mut job.items);
        let stamp = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S +0000");
        if job.will_fail {
            job.state = JobState::Failed;
            job.message = Some(format!("Failed at {stamp}"));
            return;
        }
        let results = self.run_items(kind, &items);
        if let Some(job) = self.jobs.get_mut(id) {
            job.state = JobState::Completed;
            job.message = Some(format!("Completed at {stamp}"));
            job.results = Some(results);
        }
    }

    fn run_items(&mut self, kind: JobKind, items: &[Value]) -> Vec<Value> {
        let mut results: Vec<Value> = Vec::with_capacity(items.len());
        let mut successes: Vec<usize> = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let target = match kind {
                JobKind::DestroyMemberships => id_of(item),
                _ => item.get("id").and_then(id_of),
            };
            let outcome: Result<Value, Invalid> = match kind {
                JobKind::CreateOrganizations => self
                    .create_org(item)
                    .map(|id| json!({"id": id, "status": "Created"})),
                JobKind::UpdateOrganizations => match target {
                    Some(t) => self.update_org(t, item).map(updated),
                    None => Err(Invalid::not_found("id")),
                },
                JobKind::CreateUsers => self
                    .create_user_by_api(item, false)
                    .map(|id| json!({"id": id, "status": "Created"})),
                JobKind::CreateOrUpdateUsers => {
                    self.create_or_update_user(item).map(|(id, created)| {
                        if created {
                            json!({"id": id, "status": "Created"})
                        } else {
                            updated(id)
                        }
                    })
                }
                JobKind::UpdateUsers => match target {
                    Some(t) => self.update_user(t, item).map(updated),
                    None => Err(Invalid::not_found("id")),
                },
                JobKind::CreateMemberships => self.create_membership(item).map(|id| {
                    json!({"id": id, "action": "create", "status": "Created", "success": true})
                }),
                JobKind::DestroyMemberships => match target {
                    Some(t) => self.destroy_membership(t).map(|id| {
                        if self.rules.destroy_results_without_ids {
                            json!({"action": "delete", "status": "Deleted", "success": true})
                        } else {
                            json!({"id": id, "action": "delete", "status": "Deleted", "success": true})
                        }
                    }),
                    None => Err(Invalid::not_found("id")),
                },
            };
            match outcome {
                Ok(v) => {
                    successes.push(index);
                    results.push(v);
                }
                Err(e) => results.push(failure_item(kind, index, target, &e)),
            }
        }
        if kind.is_create() && successes.len() > 1 {
            // Zendesk reports bulk-create successes out of request order (recorded); the
            // failures keep their positions and carry their `index`.
            let mut order = successes.clone();
            self.rng.shuffle(&mut order);
            if order == successes {
                order.reverse();
            }
            let shuffled: Vec<Value> = order.iter().map(|&i| results[i].clone()).collect();
            for (slot, v) in successes.iter().zip(shuffled) {
                results[*slot] = v;
            }
        }
        results
    }

    // ---- JSON rendering ----
    //
    // Each record is written straight into bytes (`wire`): list pages are written by the
    // thousand during a large read, and a `Value` per record made the stand-in the slow
    // side of it. The `*_json` functions give the same JSON as a `Value` for the answers
    // that embed one record.

    fn url(&self, kind: &str, id: impl std::fmt::Display) -> String {
        format!("{}/api/v2/{kind}/{id}.json", self.base_url)
    }

    fn to_value(bytes: &[u8]) -> Value {
        // The writers produce valid JSON; `Null` would show in any test of the record.
        serde_json::from_slice(bytes).unwrap_or(Value::Null)
    }

    /// Writes an organization as the API renders it.
    pub(crate) fn write_org(&self, o: &Organization, out: &mut Vec<u8>) {
        let mut f = vec![
            ("url", Field::Owned(self.url("organizations", o.id))),
            ("id", Field::U64(o.id)),
            ("name", Field::Str(&o.name)),
            ("shared_tickets", Field::Bool(false)),
            ("shared_comments", Field::Bool(false)),
            ("external_id", Field::OptStr(o.external_id.as_deref())),
            ("created_at", Field::Str(&o.created_at)),
            ("updated_at", Field::Str(&o.updated_at)),
            ("domain_names", Field::EmptyArray),
            ("details", Field::OptStr(o.details.as_deref())),
            ("notes", Field::OptStr(o.notes.as_deref())),
            ("group_id", Field::Null),
            ("organization_fields", Field::Object(&o.organization_fields)),
        ];
        if self.rules.tagging {
            f.push(("tags", Field::Strs(&o.tags)));
        }
        write_object(out, &mut f);
    }

    pub fn org_json(&self, o: &Organization) -> Value {
        let mut out = Vec::new();
        self.write_org(o, &mut out);
        Self::to_value(&out)
    }

    /// Writes a user as the API renders it.
    pub(crate) fn write_user(&self, u: &User, out: &mut Vec<u8>) {
        let end_user = u.role == "end-user";
        let admin = u.role == "admin";
        let mut f = vec![
            ("id", Field::U64(u.id)),
            ("url", Field::Owned(self.url("users", u.id))),
            ("name", Field::Str(&u.name)),
            ("email", Field::OptStr(u.email())),
            ("created_at", Field::Str(&u.created_at)),
            ("updated_at", Field::Str(&u.updated_at)),
            ("time_zone", Field::Str("America/New_York")),
            ("iana_time_zone", Field::Str("America/New_York")),
            ("phone", Field::Null),
            ("shared_phone_number", Field::Null),
            ("photo", Field::Null),
            ("locale_id", Field::U64(1)),
            ("locale", Field::Str("en-US")),
            ("organization_id", Field::OptU64(self.default_org_of(u.id))),
            ("role", Field::Str(&u.role)),
            (
                "verified",
                Field::Bool(u.identities.iter().any(|i| i.verified)),
            ),
            ("external_id", Field::OptStr(u.external_id.as_deref())),
            ("alias", Field::Null),
            ("active", Field::Bool(true)),
            ("shared", Field::Bool(false)),
            ("shared_agent", Field::Bool(false)),
            ("last_login_at", Field::Null),
            ("two_factor_auth_enabled", Field::Bool(false)),
            ("signature", Field::Null),
            ("details", Field::OptStr(u.details.as_deref())),
            ("notes", Field::OptStr(u.notes.as_deref())),
            // role_type: null for end users and plain agents, 4 for admins.
            ("role_type", Field::OptU64(admin.then_some(4))),
            ("custom_role_id", Field::Null),
            ("moderator", Field::Bool(admin)),
            (
                "ticket_restriction",
                Field::OptStr(end_user.then_some("requested")),
            ),
            ("only_private_comments", Field::Bool(false)),
            ("restricted_agent", Field::Bool(end_user)),
            ("suspended", Field::Bool(u.suspended)),
            ("default_group_id", Field::Null),
            ("report_csv", Field::Bool(admin)),
            ("user_fields", Field::Object(&u.user_fields)),
        ];
        if self.rules.tagging {
            f.push(("tags", Field::Strs(&u.tags)));
        }
        write_object(out, &mut f);
    }

    pub fn user_json(&self, u: &User) -> Value {
        let mut out = Vec::new();
        self.write_user(u, &mut out);
        Self::to_value(&out)
    }

    /// Writes an email identity as the API renders it.
    pub(crate) fn write_identity(&self, user_id: u64, i: &Identity, out: &mut Vec<u8>) {
        let url = format!(
            "{}/api/v2/users/{user_id}/identities/{}.json",
            self.base_url, i.id
        );
        write_object(
            out,
            &mut [
                ("url", Field::Owned(url)),
                ("id", Field::U64(i.id)),
                ("user_id", Field::U64(user_id)),
                ("type", Field::Str("email")),
                ("value", Field::Str(&i.value)),
                ("verified", Field::Bool(i.verified)),
                ("primary", Field::Bool(i.primary)),
                ("created_at", Field::Str(&i.created_at)),
                ("updated_at", Field::Str(&i.updated_at)),
                ("undeliverable_count", Field::U64(0)),
                ("deliverable_state", Field::Str("deliverable")),
            ],
        );
    }

    pub fn identity_json(&self, user_id: u64, i: &Identity) -> Value {
        let mut out = Vec::new();
        self.write_identity(user_id, i, &mut out);
        Self::to_value(&out)
    }

    /// Writes a membership as the API renders it.
    pub(crate) fn write_membership(&self, m: &Membership, out: &mut Vec<u8>) {
        let org_name = self
            .organizations
            .get(&m.organization_id)
            .map(|o| o.name.as_str());
        write_object(
            out,
            &mut [
                (
                    "url",
                    Field::Owned(self.url("organization_memberships", m.id)),
                ),
                ("id", Field::U64(m.id)),
                ("user_id", Field::U64(m.user_id)),
                ("organization_id", Field::U64(m.organization_id)),
                // Zendesk renders a non-default membership as null, never false.
                (
                    "default",
                    if m.default {
                        Field::Bool(true)
                    } else {
                        Field::Null
                    },
                ),
                ("created_at", Field::Str(&m.created_at)),
                ("organization_name", Field::OptStr(org_name)),
                ("updated_at", Field::Str(&m.updated_at)),
                ("view_tickets", Field::Bool(true)),
            ],
        );
    }

    pub fn membership_json(&self, m: &Membership) -> Value {
        let mut out = Vec::new();
        self.write_membership(m, &mut out);
        Self::to_value(&out)
    }

    pub fn job_json(&self, j: &Job) -> Value {
        let progress = match j.state {
            JobState::Queued => Value::Null,
            JobState::Working => j.total.div_ceil(2).max(1).min(j.total).into(),
            JobState::Completed | JobState::Failed => j.total.into(),
        };
        json!({
            "id": j.id,
            "url": self.url("job_statuses", &j.id),
            "total": j.total,
            "progress": progress,
            "status": j.state.as_str(),
            "message": j.message,
            "results": j.results,
        })
    }
}

fn updated(id: u64) -> Value {
    json!({"id": id, "action": "update", "status": "Updated", "success": true})
}

/// A failed job item as recorded: `{index, error, id?, details}`, no `success`/`action`.
fn failure_item(kind: JobKind, index: usize, target: Option<u64>, e: &Invalid) -> Value {
    let error = if e.is_not_found() {
        "RecordNotFound"
    } else {
        match kind {
            JobKind::CreateOrganizations => "OrganizationCreateFailed",
            JobKind::UpdateOrganizations => "OrganizationUpdateFailed",
            JobKind::CreateUsers | JobKind::CreateOrUpdateUsers => "UserCreateFailed",
            JobKind::UpdateUsers => "UserUpdateFailed",
            JobKind::CreateMemberships | JobKind::DestroyMemberships => e.code,
        }
    };
    let mut m = Map::new();
    m.insert("index".into(), index.into());
    m.insert("error".into(), error.into());
    if let Some(id) = target {
        m.insert("id".into(), id.into());
    }
    m.insert("details".into(), e.description.clone().into());
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world() -> World {
        World::new("http://127.0.0.1:1".into(), Rules::default())
    }

    /// The JSON the stand-in rendered as `Value`s before the records were written straight
    /// into bytes (issue 12): the writers must give these bytes exactly.
    mod as_values {
        use super::*;

        pub(super) fn org(w: &World, o: &Organization) -> Value {
            let mut m = Map::new();
            m.insert("url".into(), w.url("organizations", o.id).into());
            m.insert("id".into(), o.id.into());
            m.insert("name".into(), o.name.clone().into());
            m.insert("shared_tickets".into(), false.into());
            m.insert("shared_comments".into(), false.into());
            m.insert("external_id".into(), o.external_id.clone().into());
            m.insert("created_at".into(), o.created_at.clone().into());
            m.insert("updated_at".into(), o.updated_at.clone().into());
            m.insert("domain_names".into(), json!([]));
            m.insert("details".into(), o.details.clone().into());
            m.insert("notes".into(), o.notes.clone().into());
            m.insert("group_id".into(), Value::Null);
            if w.rules.tagging {
                m.insert("tags".into(), json!(o.tags));
            }
            m.insert(
                "organization_fields".into(),
                o.organization_fields.clone().into(),
            );
            Value::Object(m)
        }

        pub(super) fn user(w: &World, u: &User) -> Value {
            let end_user = u.role == "end-user";
            let admin = u.role == "admin";
            let mut m = Map::new();
            let mut put = |k: &str, v: Value| {
                m.insert(k.to_string(), v);
            };
            put("id", u.id.into());
            put("url", w.url("users", u.id).into());
            put("name", u.name.clone().into());
            put("email", u.email().map(str::to_string).into());
            put("created_at", u.created_at.clone().into());
            put("updated_at", u.updated_at.clone().into());
            put("time_zone", "America/New_York".into());
            put("iana_time_zone", "America/New_York".into());
            put("phone", Value::Null);
            put("shared_phone_number", Value::Null);
            put("photo", Value::Null);
            put("locale_id", 1.into());
            put("locale", "en-US".into());
            put("organization_id", w.default_org_of(u.id).into());
            put("role", u.role.clone().into());
            put("verified", u.identities.iter().any(|i| i.verified).into());
            put("external_id", u.external_id.clone().into());
            if w.rules.tagging {
                put("tags", json!(u.tags));
            }
            put("alias", Value::Null);
            put("active", true.into());
            put("shared", false.into());
            put("shared_agent", false.into());
            put("last_login_at", Value::Null);
            put("two_factor_auth_enabled", false.into());
            put("signature", Value::Null);
            put("details", u.details.clone().into());
            put("notes", u.notes.clone().into());
            put("role_type", if admin { 4.into() } else { Value::Null });
            put("custom_role_id", Value::Null);
            put("moderator", admin.into());
            put(
                "ticket_restriction",
                if end_user {
                    "requested".into()
                } else {
                    Value::Null
                },
            );
            put("only_private_comments", false.into());
            put("restricted_agent", end_user.into());
            put("suspended", u.suspended.into());
            put("default_group_id", Value::Null);
            put("report_csv", admin.into());
            put("user_fields", u.user_fields.clone().into());
            Value::Object(m)
        }

        pub(super) fn identity(w: &World, user_id: u64, i: &Identity) -> Value {
            json!({
                "url": format!("{}/api/v2/users/{user_id}/identities/{}.json", w.base_url, i.id),
                "id": i.id,
                "user_id": user_id,
                "type": "email",
                "value": i.value,
                "verified": i.verified,
                "primary": i.primary,
                "created_at": i.created_at,
                "updated_at": i.updated_at,
                "undeliverable_count": 0,
                "deliverable_state": "deliverable",
            })
        }

        pub(super) fn membership(w: &World, m: &Membership) -> Value {
            let org_name = w
                .organizations
                .get(&m.organization_id)
                .map(|o| o.name.clone());
            json!({
                "url": w.url("organization_memberships", m.id),
                "id": m.id,
                "user_id": m.user_id,
                "organization_id": m.organization_id,
                "default": if m.default { Value::Bool(true) } else { Value::Null },
                "created_at": m.created_at,
                "organization_name": org_name,
                "updated_at": m.updated_at,
                "view_tickets": true,
            })
        }
    }

    #[test]
    fn written_records_are_the_bytes_of_the_value_rendering() {
        let mut w = world();
        let plain = w.seed_org("Plain", None).unwrap();
        let odd = w
            .seed_org(
                "Quote \" back\\slash \u{e9}t\u{e9} \n tab\t \u{1}",
                Some("d"),
            )
            .unwrap();
        if let Some(o) = w.organizations.get_mut(&odd) {
            o.external_id = Some("x-1".into());
            o.notes = Some("</script> \u{2028}".into());
            o.tags = vec!["a".into(), "b \"c\"".into()];
            o.organization_fields
                .insert("z".into(), json!({"n": [1, -2, 2.5, null, true]}));
            o.organization_fields.insert("a".into(), json!("x"));
        }
        let mut users = Vec::new();
        for (i, role) in ["end-user", "agent", "admin"].into_iter().enumerate() {
            users.push(
                w.seed_user(UserSeed {
                    name: format!("Na\u{ef}ve \"{role}\" {i}"),
                    email: Some(format!("u{i}@example.gov")),
                    role: role.into(),
                    external_id: (i != 1).then(|| format!("ext-{i}")),
                    details: Some("multi\nline".into()),
                    notes: (i == 2).then(|| "n".into()),
                    tags: vec![format!("t{i}"), "shared".into()],
                    suspended: i == 1,
                    verified: i != 0,
                    ..UserSeed::default()
                })
                .unwrap(),
            );
        }
        w.seed_user(UserSeed {
            name: "No email".into(),
            ..UserSeed::default()
        })
        .unwrap();
        if let Some(u) = w.users.get_mut(&users[2]) {
            u.user_fields.insert("plan".into(), json!("pro"));
            u.user_fields.insert("count".into(), json!(3));
        }
        w.add_identity(users[0], "second@example.gov", false)
            .unwrap();
        w.add_identity(users[1], "primary-now@example.gov", true)
            .unwrap();
        w.seed_membership(users[0], plain).unwrap();
        w.seed_membership(users[0], odd).unwrap();
        w.seed_membership(users[2], odd).unwrap();
        for tagging in [true, false] {
            w.rules.tagging = tagging;
            let written = |write: &dyn Fn(&mut Vec<u8>)| {
                let mut out = Vec::new();
                write(&mut out);
                String::from_utf8(out).unwrap()
            };
            for o in w.organizations.values() {
                let want = as_values::org(&w, o).to_string();
                assert_eq!(written(&|out| w.write_org(o, out)), want);
                assert_eq!(w.org_json(o).to_string(), want);
            }
            for u in w.users.values() {
                let want = as_values::user(&w, u).to_string();
                assert_eq!(written(&|out| w.write_user(u, out)), want);
                assert_eq!(w.user_json(u).to_string(), want);
                for i in &u.identities {
                    let want = as_values::identity(&w, u.id, i).to_string();
                    assert_eq!(written(&|out| w.write_identity(u.id, i, out)), want);
                    assert_eq!(w.identity_json(u.id, i).to_string(), want);
                }
            }
            for m in w.memberships.values() {
                let want = as_values::membership(&w, m).to_string();
                assert_eq!(written(&|out| w.write_membership(m, out)), want);
                assert_eq!(w.membership_json(m).to_string(), want);
            }
        }
        assert_eq!(w.memberships.len(), 3);
        assert_eq!(
            w.users.values().map(|u| u.identities.len()).sum::<usize>(),
            5
        );
    }

    #[test]
    fn email_on_update_adds_a_secondary_identity() {
        let mut w = world();
        let id = w
            .seed_user(UserSeed {
                name: "A".into(),
                email: Some("a@example.gov".into()),
                ..UserSeed::default()
            })
            .unwrap();
        w.update_user(id, &json!({"email": "b@example.gov"}))
            .unwrap();
        let u = &w.users[&id];
        assert_eq!(u.email(), Some("a@example.gov"));
        assert_eq!(u.identities.len(), 2);
        assert!(!u.identities[1].primary);
    }

    #[test]
    fn organization_id_on_update_replaces_all_memberships() {
        let mut w = world();
        let a = w.seed_org("A", None).unwrap();
        let b = w.seed_org("B", None).unwrap();
        let c = w.seed_org("C", None).unwrap();
        let u = w
            .seed_user(UserSeed {
                name: "U".into(),
                ..UserSeed::default()
            })
            .unwrap();
        w.seed_membership(u, a).unwrap();
        w.seed_membership(u, b).unwrap();
        w.update_user(u, &json!({"organization_id": c})).unwrap();
        assert_eq!(w.membership_pairs(), BTreeSet::from([(u, c)]));
    }

    #[test]
    fn destroying_the_default_membership_promotes_the_next() {
        let mut w = world();
        let a = w.seed_org("A", None).unwrap();
        let b = w.seed_org("B", None).unwrap();
        let u = w
            .seed_user(UserSeed {
                name: "U".into(),
                ..UserSeed::default()
            })
            .unwrap();
        let ma = w.seed_membership(u, a).unwrap();
        w.seed_membership(u, b).unwrap();
        w.destroy_membership(ma).unwrap();
        assert_eq!(w.default_org_of(u), Some(b));
    }

    #[test]
    fn lookups_follow_external_id_changes_identities_and_direct_edits() {
        let mut w = world();
        let a = w
            .seed_user(UserSeed {
                name: "A".into(),
                email: Some("a@example.gov".into()),
                external_id: Some("pages-user-1".into()),
                ..UserSeed::default()
            })
            .unwrap();
        let taken = json!({"name": "B", "email": "b@example.gov", "external_id": "PAGES-USER-1"});
        assert_eq!(w.create_user(&taken).unwrap_err().code, "DuplicateValue");
        w.update_user(a, &json!({"external_id": "pages-user-9"}))
            .unwrap();
        let b = w.create_user(&taken).unwrap();
        w.create_identity(a, "A2@example.gov", true).unwrap();
        assert_eq!(w.user_by_email("a2@EXAMPLE.gov").map(|u| u.id), Some(a));
        assert!(w.create_identity(b, "a2@example.gov", true).is_err());
        // A test edits the public maps directly, then the lookups are rebuilt.
        w.users.remove(&b);
        w.reindex();
        assert!(w.user_by_email("b@example.gov").is_none());
        let again = json!({"name": "B", "email": "b@example.gov", "external_id": "pages-user-1"});
        assert!(w.create_user(&again).is_ok());
    }

    /// docs/references.md "Zendesk tags": with tagging off `tags` is absent from user JSON, and tags
    /// sent in writes are dropped without an error.
    #[test]
    fn without_tagging_tags_are_dropped_silently_and_absent_from_user_json() {
        let mut w = world();
        w.rules.tagging = false;
        let id = w
            .create_user(&json!({"name": "T", "email": "t@example.gov", "tags": ["x"]}))
            .expect("accepted");
        w.update_user(id, &json!({"tags": ["y"], "details": "d"}))
            .expect("accepted");
        let u = &w.users[&id];
        assert!(u.tags.is_empty());
        assert_eq!(u.details.as_deref(), Some("d"));
        assert!(w.user_json(u).get("tags").is_none());
        w.rules.tagging = true;
        w.update_user(id, &json!({"tags": ["y"]})).unwrap();
        assert_eq!(w.user_json(&w.users[&id])["tags"], json!(["y"]));
    }

    #[test]
    fn second_membership_is_refused_without_multiple_organizations() {
        let mut w = world();
        w.rules.multiple_organizations = false;
        let a = w.seed_org("A", None).unwrap();
        let b = w.seed_org("B", None).unwrap();
        let u = w
            .seed_user(UserSeed {
                name: "U".into(),
                ..UserSeed::default()
            })
            .unwrap();
        w.seed_membership(u, a).unwrap();
        assert!(w.seed_membership(u, b).is_err());
    }
}
