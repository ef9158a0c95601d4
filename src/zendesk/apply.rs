//! Carries out a plan against Zendesk, once, in dependency order: organizations, users,
//! primary emails, membership additions, membership removals. Bulk endpoints carry up to
//! 100 records per background job; ids of created records are resolved by re-reading
//! them with `show_many`, since Zendesk returns created ids without their request index.
//!
//! Must never: send a change twice in one run, send `email`, `role`, `suspended` or
//! `organization_id` in a user update (its form, [`forms::UserUpdate`], has no such
//! field), stop the other records because one failed, or put emails or names in logs above
//! trace level (they go only into `Failure::subject`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::Result;
use reqwest::{Method, StatusCode};
use tracing::{info, warn};

use super::client::{Call, Client, Safety};
use super::forms::{self, Record, RolesText};
use super::jobs::{run_jobs, JobEnd, JobSpec};
use super::mapping::FieldMapping;
use super::wire::{details_text, reason_code, IdentityEnvelope, OrgsList, UserEnvelope, UsersList};
use crate::model::{EmailKey, OrgKey};
use crate::outcome::{ApplyOutcome, Failure, Reason};
use crate::plan::{Change, ChangeKind, OrgRef, Plan, UserRef, UserUpdate};

/// Zendesk's limit of records per bulk request and ids per `show_many`.
const BATCH: usize = 100;

#[derive(Debug, Clone)]
enum Key {
    Org(OrgKey),
    Email(EmailKey),
    None,
}

impl Key {
    fn text(&self) -> Option<&str> {
        match self {
            Key::Org(k) => Some(k.as_str()),
            Key::Email(e) => Some(e.as_str()),
            Key::None => None,
        }
    }
}

#[derive(Debug, Clone)]
struct Item {
    subject: String,
    zendesk_id: Option<u64>,
    key: Key,
    /// The record as sent in a bulk request (users: kept for the single-create fallback);
    /// `None` for writes that are not bulk records.
    body: Option<Record>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Successes come back without `index`: ids are resolved by re-reading.
    Create,
    /// Successes name the record by `id` (and sometimes `index`).
    Modify,
}

struct Batch {
    kind: ChangeKind,
    mode: Mode,
    items: Vec<Item>,
}

#[derive(Debug, Clone)]
enum State {
    Unknown,
    /// Succeeded; the created id when Zendesk said which item it was.
    Done(Option<u64>),
    Failed(Reason, String),
}

struct Settled {
    states: Vec<State>,
    /// Created ids Zendesk returned without an index.
    pool: Vec<u64>,
    /// Failures of creates that Zendesk did not tie to a request item.
    stray: Vec<(Reason, String)>,
}

/// What the finished create batches of one kind left open, settled by [`Run::resolve`].
#[derive(Default)]
struct Open {
    items: Vec<Item>,
    pool: Vec<u64>,
    stray: Vec<(Reason, String)>,
}

/// The per-run bookkeeping: outcome plus ids of records this run created.
struct Run<'a> {
    client: &'a Client,
    out: ApplyOutcome,
    new_orgs: BTreeMap<OrgKey, u64>,
    new_users: BTreeMap<EmailKey, u64>,
}

pub(crate) async fn apply(
    client: &Client,
    mapping: &FieldMapping,
    plan: &Plan,
) -> Result<ApplyOutcome> {
    let mut run = Run {
        client,
        out: ApplyOutcome::default(),
        new_orgs: BTreeMap::new(),
        new_users: BTreeMap::new(),
    };
    // Ids of new records are only worth a re-read when a membership needs them.
    let mut orgs_needed = BTreeSet::new();
    let mut users_needed = BTreeSet::new();
    for change in &plan.changes {
        if let Change::AddMembership { user, org } = change {
            if let OrgRef::New(k) = org {
                orgs_needed.insert(k.clone());
            }
            if let UserRef::New(e) = user {
                users_needed.insert(e.clone());
            }
        }
    }
    run.organizations(plan, &orgs_needed).await?;
    run.users(plan, mapping, &users_needed).await?;
    run.primary_emails(plan).await?;
    run.add_memberships(plan).await?;
    run.remove_memberships(plan).await?;
    let failed = run.out.failures.len();
    let skipped: usize = run.out.skipped.values().sum();
    info!(
        applied = run.out.applied.values().sum::<usize>(),
        failed,
        skipped,
        bulk_user_import_disabled = run.out.bulk_user_import_disabled,
        "applied the plan to Zendesk"
    );
    Ok(run.out)
}

impl Run<'_> {
    async fn organizations(&mut self, plan: &Plan, needed: &BTreeSet<OrgKey>) -> Result<()> {
        let mut creates = Vec::new();
        let mut updates = Vec::new();
        for change in &plan.changes {
            match change {
                Change::CreateOrganization { key, name, details } => creates.push(Item {
                    subject: name.clone(),
                    zendesk_id: None,
                    key: Key::Org(key.clone()),
                    body: Some(Record::OrganizationCreate(forms::OrganizationCreate {
                        name: name.clone(),
                        details: details.clone(),
                    })),
                }),
                Change::UpdateOrganization { org_id, details } => updates.push(Item {
                    subject: format!("organization {org_id}"),
                    zendesk_id: Some(*org_id),
                    key: Key::None,
                    body: Some(Record::OrganizationUpdate(forms::OrganizationUpdate {
                        id: *org_id,
                        details: details.clone(),
                    })),
                }),
                _ => {}
            }
        }
        let mut jobs = Jobs::default();
        jobs.add(
            ChangeKind::CreateOrganization,
            Mode::Create,
            &creates,
            |n, chunk| {
                bulk_spec(
                    format!("creating Zendesk organizations (batch {n})"),
                    Method::POST,
                    "organizations/create_many",
                    "organizations",
                    chunk,
                    Safety::CreatesRecords,
                )
            },
        );
        jobs.add(
            ChangeKind::UpdateOrganization,
            Mode::Modify,
            &updates,
            |n, chunk| {
                bulk_spec(
                    format!("updating Zendesk organizations (batch {n})"),
                    Method::PUT,
                    "organizations/update_many",
                    "organizations",
                    chunk,
                    Safety::Idempotent,
                )
            },
        );
        if jobs.is_empty() {
            return Ok(());
        }
        let (open, _) = self.run_phase(jobs).await?;
        let need_ids = open
            .items
            .iter()
            .any(|item| matches!(&item.key, Key::Org(k) if needed.contains(k)));
        self.settle_creates(ChangeKind::CreateOrganization, open, need_ids)
            .await?;
        info!(
            created = self.applied(ChangeKind::CreateOrganization),
            updated = self.applied(ChangeKind::UpdateOrganization),
            failed = self.failed(&[
                ChangeKind::CreateOrganization,
                ChangeKind::UpdateOrganization
            ]),
            "organizations written"
        );
        Ok(())
    }

    async fn users(
        &mut self,
        plan: &Plan,
        mapping: &FieldMapping,
        needed: &BTreeSet<EmailKey>,
    ) -> Result<()> {
        let mut creates = Vec::new();
        let mut updates = Vec::new();
        for change in &plan.changes {
            match change {
                Change::CreateUser {
                    email,
                    name,
                    external_id,
                    roles_text,
                    tags,
                } => {
                    let user = forms::UserCreate {
                        name: name.clone(),
                        email: email.as_str().to_string(),
                        role: forms::NewUserRole::EndUser,
                        // The planner leaves it empty when another record holds the Pages id
                        // (or two Pages users share it): create the user without one, since
                        // Zendesk would store "" as a value that must be unique too.
                        external_id: (!external_id.is_empty()).then(|| external_id.clone()),
                        roles: RolesText::new(&mapping.roles_field, roles_text),
                        tags: tags.clone(),
                        // Pages emails are verified already, and mail cannot be taken back.
                        // `verified: true` creates the primary email identity verified, so
                        // Zendesk sends it no verification email (OAS UserForAdmin
                        // `verified`); create_many documents nothing else. The single-create
                        // fallback adds `skip_verify_email`, documented for `POST /users`.
                        verified: (!mapping.send_verification_email).then_some(true),
                    };
                    creates.push(Item {
                        subject: email.to_string(),
                        zendesk_id: None,
                        key: Key::Email(email.clone()),
                        body: Some(Record::UserCreate(user)),
                    });
                }
                Change::UpdateUser { user_id, update } => {
                    if update.is_empty() {
                        continue;
                    }
                    updates.push(Item {
                        subject: format!("user {user_id}"),
                        zendesk_id: Some(*user_id),
                        key: Key::None,
                        body: Some(Record::UserUpdate(user_update_form(
                            *user_id, update, mapping,
                        ))),
                    });
                }
                _ => {}
            }
        }
        let mut jobs = Jobs::default();
        // Creates first: if bulk import is off the first create_many says so, and the
        // other create batches are not sent at all.
        jobs.add(
            ChangeKind::CreateUser,
            Mode::Create,
            &creates,
            |n, chunk| {
                let mut spec = bulk_spec(
                    format!("creating Zendesk users (batch {n})"),
                    Method::POST,
                    "users/create_many",
                    "users",
                    chunk,
                    Safety::CreatesRecords,
                );
                spec.bulk_user_create = true;
                spec
            },
        );
        jobs.add(
            ChangeKind::UpdateUser,
            Mode::Modify,
            &updates,
            |n, chunk| {
                bulk_spec(
                    format!("updating Zendesk users (batch {n})"),
                    Method::PUT,
                    "users/update_many",
                    "users",
                    chunk,
                    Safety::Idempotent,
                )
            },
        );
        if jobs.is_empty() {
            return Ok(());
        }
        let (open, fallback) = self.run_phase(jobs).await?;
        let need_ids = open
            .items
            .iter()
            .any(|item| matches!(&item.key, Key::Email(e) if needed.contains(e)));
        self.settle_creates(ChangeKind::CreateUser, open, need_ids)
            .await?;
        if !fallback.is_empty() {
            self.out.bulk_user_import_disabled = true;
            warn!(
                users = fallback.len(),
                "Zendesk bulk user import is switched off (403); creating users one at a time"
            );
            self.create_users_one_by_one(fallback, !mapping.send_verification_email)
                .await?;
        }
        info!(
            created = self.applied(ChangeKind::CreateUser),
            updated = self.applied(ChangeKind::UpdateUser),
            failed = self.failed(&[ChangeKind::CreateUser, ChangeKind::UpdateUser]),
            "users written"
        );
        Ok(())
    }

    /// The documented fallback when bulk import is off: `POST /users`, one per user. Each
    /// answer names its user, so no re-read is needed. `skip_verify_email` as the OAS
    /// documents it for this endpoint ("include a `skip_verify_email: true` property").
    async fn create_users_one_by_one(
        &mut self,
        items: Vec<Item>,
        skip_verify_email: bool,
    ) -> Result<()> {
        for (n, item) in items.into_iter().enumerate() {
            let what = format!("creating a Zendesk user (single create {})", n + 1);
            // Only user-create batches are refused for bulk import being off; anything else
            // cannot be sent one at a time and stays failed as the job left it.
            let Some(Record::UserCreate(user)) = item.body.clone() else {
                self.fail(
                    ChangeKind::CreateUser,
                    &item,
                    Reason::new("bulk_import_disabled"),
                    String::new(),
                );
                continue;
            };
            let body = forms::to_value(&forms::UserBody {
                user: forms::SingleUserCreate {
                    user,
                    skip_verify_email: skip_verify_email.then_some(true),
                },
            });
            let call = Call::write(
                Method::POST,
                "users",
                Some(&body),
                Safety::CreatesRecords,
                &what,
            );
            let answer = self.client.send(&call).await?;
            if answer.is_success() {
                let user = answer.json::<UserEnvelope>(&what)?.user;
                if let Key::Email(e) = &item.key {
                    self.new_users.insert(e.clone(), user.id);
                }
                self.count_applied(ChangeKind::CreateUser);
            } else if answer.status == StatusCode::FORBIDDEN {
                return Err(answer.into_error(&what));
            } else {
                let (reason, detail) = answer_failure(&answer);
                self.fail(ChangeKind::CreateUser, &item, reason, detail);
            }
        }
        Ok(())
    }

    async fn primary_emails(&mut self, plan: &Plan) -> Result<()> {
        for change in &plan.changes {
            let Change::SetPrimaryEmail {
                user_id,
                email,
                identity_id,
            } = change
            else {
                continue;
            };
            let item = Item {
                subject: email.to_string(),
                zendesk_id: Some(*user_id),
                key: Key::None,
                body: None,
            };
            let identity = match identity_id {
                Some(id) => *id,
                None => {
                    let what = format!("adding an email identity to Zendesk user {user_id}");
                    let body = forms::to_value(&forms::IdentityBody {
                        identity: forms::IdentityCreate::verified_email(email.as_str()),
                    });
                    let call = Call::write(
                        Method::POST,
                        format!("users/{user_id}/identities"),
                        Some(&body),
                        Safety::CreatesRecords,
                        &what,
                    );
                    let answer = self.client.send(&call).await?;
                    if answer.is_success() {
                        answer.json::<IdentityEnvelope>(&what)?.identity.id
                    } else if answer.status == StatusCode::FORBIDDEN {
                        // One protected user (the owner, a user the token may not edit)
                        // must not stop the month: recorded against that user.
                        self.fail_forbidden(&item, &what);
                        continue;
                    } else {
                        let (reason, detail) = answer_failure(&answer);
                        self.fail(ChangeKind::SetPrimaryEmail, &item, reason, detail);
                        continue;
                    }
                }
            };
            let what = format!("making identity {identity} primary for Zendesk user {user_id}");
            let empty = forms::to_value(&forms::Empty {});
            let call = Call::write(
                Method::PUT,
                format!("users/{user_id}/identities/{identity}/make_primary"),
                Some(&empty),
                Safety::Idempotent,
                &what,
            );
            let answer = self.client.send(&call).await?;
            if answer.is_success() {
                self.count_applied(ChangeKind::SetPrimaryEmail);
            } else if answer.status == StatusCode::FORBIDDEN {
                self.fail_forbidden(&item, &what);
            } else {
                let (reason, detail) = answer_failure(&answer);
                self.fail(ChangeKind::SetPrimaryEmail, &item, reason, detail);
            }
        }
        Ok(())
    }

    async fn add_memberships(&mut self, plan: &Plan) -> Result<()> {
        // A new organization is named in failures as the plan creates it.
        let new_org_names: HashMap<&OrgKey, &str> = plan
            .changes
            .iter()
            .filter_map(|c| match c {
                Change::CreateOrganization { key, name, .. } => Some((key, name.as_str())),
                _ => None,
            })
            .collect();
        let mut items = Vec::new();
        for change in &plan.changes {
            let Change::AddMembership { user, org } = change else {
                continue;
            };
            let (user_id, user_label) = match user {
                UserRef::Existing(id) => (Some(*id), format!("user {id}")),
                UserRef::New(e) => (self.new_users.get(e).copied(), e.to_string()),
            };
            let (org_id, org_label) = match org {
                OrgRef::Existing(id) => (Some(*id), format!("organization {id}")),
                OrgRef::New(k) => (
                    self.new_orgs.get(k).copied(),
                    new_org_names
                        .get(k)
                        .map_or_else(|| k.as_str().to_string(), |name| name.to_string()),
                ),
            };
            let (Some(user_id), Some(org_id)) = (user_id, org_id) else {
                // The user or organization was not created: nothing to attach.
                *self
                    .out
                    .skipped
                    .entry(ChangeKind::AddMembership)
                    .or_default() += 1;
                continue;
            };
            items.push(Item {
                subject: format!("{user_label} in {org_label}"),
                zendesk_id: Some(user_id),
                key: Key::None,
                body: Some(Record::MembershipCreate(forms::MembershipCreate {
                    user_id,
                    organization_id: org_id,
                })),
            });
        }
        let mut jobs = Jobs::default();
        jobs.add(
            ChangeKind::AddMembership,
            Mode::Create,
            &items,
            |n, chunk| {
                bulk_spec(
                    format!("adding Zendesk organization memberships (batch {n})"),
                    Method::POST,
                    "organization_memberships/create_many",
                    "organization_memberships",
                    chunk,
                    Safety::CreatesRecords,
                )
            },
        );
        if jobs.is_empty() {
            return Ok(());
        }
        let (open, _) = self.run_phase(jobs).await?;
        // Memberships are not re-read: the number of created ids must cover the rest.
        self.resolve(ChangeKind::AddMembership, open, None, |_, _| None);
        info!(
            added = self.applied(ChangeKind::AddMembership),
            failed = self.failed(&[ChangeKind::AddMembership]),
            skipped = self
                .out
                .skipped
                .get(&ChangeKind::AddMembership)
                .copied()
                .unwrap_or(0),
            "memberships added"
        );
        Ok(())
    }

    async fn remove_memberships(&mut self, plan: &Plan) -> Result<()> {
        let items: Vec<Item> = plan
            .changes
            .iter()
            .filter_map(|c| match c {
                Change::RemoveMembership {
                    membership_id,
                    user_id,
                    org_id,
                } => Some(Item {
                    subject: format!("user {user_id} in organization {org_id}"),
                    zendesk_id: Some(*membership_id),
                    key: Key::None,
                    body: None,
                }),
                _ => None,
            })
            .collect();
        let mut jobs = Jobs::default();
        jobs.add(
            ChangeKind::RemoveMembership,
            Mode::Modify,
            &items,
            |n, chunk| {
                let ids: Vec<u64> = chunk.iter().filter_map(|i| i.zendesk_id).collect();
                JobSpec {
                    what: format!("removing Zendesk organization memberships (batch {n})"),
                    method: Method::DELETE,
                    path: "organization_memberships/destroy_many",
                    query: vec![("ids", join_ids(&ids))],
                    body: None,
                    safety: Safety::Idempotent,
                    bulk_user_create: false,
                }
            },
        );
        if jobs.is_empty() {
            return Ok(());
        }
        self.run_phase(jobs).await?;
        self.settle_removals_by_reading().await?;
        info!(
            removed = self.applied(ChangeKind::RemoveMembership),
            failed = self.failed(&[ChangeKind::RemoveMembership]),
            "memberships removed"
        );
        Ok(())
    }

    /// Removals a completed job's results did not name (Zendesk documents
    /// `{id, action, status, success}` per membership; an answer without ids tells
    /// nothing about which went): each is settled by reading the membership again
    /// (`GET organization_memberships/{id}`): gone means removed, still there means failed.
    async fn settle_removals_by_reading(&mut self) -> Result<()> {
        let (unnamed, rest): (Vec<Failure>, Vec<Failure>) = std::mem::take(&mut self.out.failures)
            .into_iter()
            .partition(|f| {
                f.kind == ChangeKind::RemoveMembership
                    && f.reason.as_str() == "missing_from_job_results"
                    && f.zendesk_id.is_some()
            });
        self.out.failures = rest;
        if !unnamed.is_empty() {
            info!(
                memberships = unnamed.len(),
                "Zendesk's removal results named no memberships; reading them again"
            );
        }
        for mut failure in unnamed {
            let Some(id) = failure.zendesk_id else {
                continue;
            };
            let what = format!("re-reading Zendesk organization membership {id} after its removal");
            let answer = self
                .client
                .send(&Call::get(format!("organization_memberships/{id}"), &what))
                .await?;
            if answer.status == StatusCode::NOT_FOUND {
                self.count_applied(ChangeKind::RemoveMembership);
            } else if answer.is_success() {
                failure.reason = Reason::new("still_present_after_removal");
                failure.detail =
                    "the removal job finished but the membership is still there".into();
                self.out.failures.push(failure);
            } else {
                return Err(answer.into_error(&what));
            }
        }
        Ok(())
    }

    /// Runs one phase's jobs and counts what they settled. Returns the creates still open
    /// (ids came back without an index) and the items of user-create batches Zendesk
    /// refused because bulk user import is switched off.
    async fn run_phase(&mut self, jobs: Jobs) -> Result<(Open, Vec<Item>)> {
        let ends = run_jobs(self.client, &jobs.specs).await?;
        let mut open = Open::default();
        let mut forbidden = Vec::new();
        for (b, end) in jobs.batches.iter().zip(ends) {
            if matches!(end, JobEnd::BulkImportForbidden) {
                forbidden.extend(b.items.iter().cloned());
                continue;
            }
            let settled = settle(b, end);
            self.record(b, settled, &mut open);
        }
        Ok((open, forbidden))
    }

    /// Counts a settled batch; creates still unknown (no index) are left in `open`.
    fn record(&mut self, b: &Batch, settled: Settled, open: &mut Open) {
        for (item, state) in b.items.iter().zip(settled.states) {
            match state {
                State::Done(id) => {
                    self.remember_created(b.kind, item, id);
                    self.count_applied(b.kind);
                }
                State::Failed(reason, detail) => self.fail(b.kind, item, reason, detail),
                State::Unknown => open.items.push(item.clone()),
            }
        }
        open.pool.extend(settled.pool);
        open.stray.extend(settled.stray);
    }

    /// Settles created items that Zendesk returned without index. With a re-read (`found`)
    /// each is matched by its key; without one, the number of created ids stands for them.
    fn resolve(
        &mut self,
        kind: ChangeKind,
        open: Open,
        found: Option<HashMap<String, u64>>,
        lookup: impl Fn(&Item, &HashMap<String, u64>) -> Option<u64>,
    ) {
        let mut stray = open.stray.into_iter();
        let created = open.pool.len();
        for (n, item) in open.items.into_iter().enumerate() {
            let id = match &found {
                Some(found) => lookup(&item, found),
                None => None,
            };
            let ok = match &found {
                Some(_) => id.is_some(),
                None => n < created,
            };
            if ok {
                self.remember_created(kind, &item, id);
                self.count_applied(kind);
            } else if let Some((reason, detail)) = stray.next() {
                self.fail(kind, &item, reason, unattributed(&detail));
            } else if found.is_some() {
                self.fail(
                    kind,
                    &item,
                    Reason::new("not_found_after_create"),
                    "Zendesk reported no created record with this key".into(),
                );
            } else {
                self.fail(
                    kind,
                    &item,
                    Reason::new("missing_from_job_results"),
                    "Zendesk's job results did not cover this record".into(),
                );
            }
        }
    }

    fn remember_created(&mut self, kind: ChangeKind, item: &Item, id: Option<u64>) {
        let Some(id) = id else { return };
        match (&item.key, kind) {
            (Key::Org(k), ChangeKind::CreateOrganization) => {
                self.new_orgs.insert(k.clone(), id);
            }
            (Key::Email(e), ChangeKind::CreateUser) => {
                self.new_users.insert(e.clone(), id);
            }
            _ => {}
        }
    }

    fn count_applied(&mut self, kind: ChangeKind) {
        *self.out.applied.entry(kind).or_default() += 1;
    }

    fn applied(&self, kind: ChangeKind) -> usize {
        self.out.applied.get(&kind).copied().unwrap_or(0)
    }

    fn failed(&self, kinds: &[ChangeKind]) -> usize {
        self.out
            .failures
            .iter()
            .filter(|f| kinds.contains(&f.kind))
            .count()
    }

    /// A 403 on one user's identity or primary email: that user's failure, not the run's.
    fn fail_forbidden(&mut self, item: &Item, what: &str) {
        warn!(
            user_id = item.zendesk_id,
            "Zendesk answered 403 while {what}; recorded against that user, the run goes on"
        );
        self.fail(
            ChangeKind::SetPrimaryEmail,
            item,
            Reason::new("forbidden"),
            format!("Zendesk answered 403 while {what}"),
        );
    }

    fn fail(&mut self, kind: ChangeKind, item: &Item, reason: Reason, detail: String) {
        self.out.failures.push(Failure {
            kind,
            reason,
            zendesk_id: item.zendesk_id,
            subject: item.subject.clone(),
            detail,
        });
    }

    /// Settles the create batches of one kind: the ids Zendesk returned without an index
    /// are matched to their records by re-reading them, when a membership needs them or
    /// when the counts leave a doubt; otherwise the counts settle them.
    async fn settle_creates(&mut self, kind: ChangeKind, open: Open, need_ids: bool) -> Result<()> {
        if open.items.is_empty() {
            return Ok(());
        }
        let found = if need_ids || open.pool.len() != open.items.len() {
            Some(self.show_many_created(kind, &open.pool).await?)
        } else {
            None
        };
        self.resolve(kind, open, found, |item, found| {
            item.key.text().and_then(|k| found.get(k).copied())
        });
        Ok(())
    }

    /// Created organizations by normalised name, or users by normalised primary email
    /// (the `OrgKey` and `EmailKey` rules), read back with `show_many`.
    async fn show_many_created(
        &self,
        kind: ChangeKind,
        ids: &[u64],
    ) -> Result<HashMap<String, u64>> {
        let (path, noun) = match kind {
            ChangeKind::CreateOrganization => ("organizations/show_many", "organizations"),
            _ => ("users/show_many", "users"),
        };
        let mut found = HashMap::new();
        for (n, chunk) in ids.chunks(BATCH).enumerate() {
            let what = format!("re-reading created Zendesk {noun} (batch {})", n + 1);
            let call = Call::get(path, &what).query("ids", join_ids(chunk));
            let answer = self.client.send(&call).await?;
            if !answer.is_success() {
                return Err(answer.into_error(&what));
            }
            if kind == ChangeKind::CreateOrganization {
                for org in answer.json::<OrgsList>(&what)?.organizations {
                    if let Some(key) = OrgKey::new(&org.name) {
                        found.insert(key.as_str().to_string(), org.id);
                    }
                }
            } else {
                for user in answer.json::<UsersList>(&what)?.users {
                    if let Some(key) = user.email.as_deref().and_then(|e| EmailKey::parse(e).ok()) {
                        found.insert(key.as_str().to_string(), user.id);
                    }
                }
            }
        }
        Ok(found)
    }
}

/// The bulk jobs of one phase: each request and the batch of items it carries.
#[derive(Default)]
struct Jobs {
    specs: Vec<JobSpec>,
    batches: Vec<Batch>,
}

impl Jobs {
    /// One job per [`BATCH`] items; `spec` builds the request from the 1-based batch
    /// number and the items.
    fn add(
        &mut self,
        kind: ChangeKind,
        mode: Mode,
        items: &[Item],
        spec: impl Fn(usize, &[Item]) -> JobSpec,
    ) {
        for (n, chunk) in items.chunks(BATCH).enumerate() {
            self.specs.push(spec(n + 1, chunk));
            self.batches.push(Batch {
                kind,
                mode,
                items: chunk.to_vec(),
            });
        }
    }

    fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }
}

fn bulk_spec(
    what: String,
    method: Method,
    path: &'static str,
    field: &str,
    items: &[Item],
    safety: Safety,
) -> JobSpec {
    JobSpec {
        what,
        method,
        path,
        query: Vec::new(),
        body: Some(forms::bulk(
            field,
            items.iter().filter_map(|i| i.body.as_ref()),
        )),
        safety,
        bulk_user_create: false,
    }
}

fn join_ids(ids: &[u64]) -> String {
    ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
}

/// The update form of a planned [`UserUpdate`]: its fields only (the form has no others).
fn user_update_form(
    user_id: u64,
    update: &UserUpdate,
    mapping: &FieldMapping,
) -> forms::UserUpdate {
    forms::UserUpdate {
        id: user_id,
        name: update.name.clone(),
        external_id: update.external_id.clone().filter(|x| !x.is_empty()),
        roles: update
            .roles_text
            .as_deref()
            .map(|text| RolesText::new(&mapping.roles_field, text))
            .unwrap_or_default(),
        tags: update.tags.clone(),
    }
}

/// Reason and local detail of a refused single-record call (422 RecordInvalid, 404, ...).
fn answer_failure(answer: &super::client::Answer) -> (Reason, String) {
    let api = answer.api_error();
    let fallback = format!("http_{}", answer.status.as_u16());
    let reason = Reason::new(&reason_code(
        api.code.as_deref(),
        api.details.as_ref(),
        &fallback,
    ));
    let detail = [api.description, details_text(api.details.as_ref())]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(": ");
    (reason, detail)
}

/// Reads one finished job into a state per item. Failures map to items by `index` (or by
/// Zendesk id for updates and deletions); successes without index are created ids.
fn settle(b: &Batch, end: JobEnd) -> Settled {
    let n = b.items.len();
    let mut states = vec![State::Unknown; n];
    let mut pool = Vec::new();
    let job = match end {
        JobEnd::Finished(job) => job,
        JobEnd::Expired => {
            return Settled {
                states: vec![
                    State::Failed(
                        Reason::new("job_expired"),
                        "Zendesk no longer knows the job; its results are lost".into()
                    );
                    n
                ],
                pool,
                stray: Vec::new(),
            }
        }
        JobEnd::BulkImportForbidden => {
            return Settled {
                states: vec![State::Failed(Reason::new("bulk_import_disabled"), String::new()); n],
                pool,
                stray: Vec::new(),
            }
        }
    };
    let by_id: HashMap<u64, usize> = b
        .items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| item.zendesk_id.map(|id| (id, i)))
        .collect();
    // Failures Zendesk did not tie to an item still count, against items left unknown.
    let mut stray: Vec<(Reason, String)> = Vec::new();
    for result in job.items() {
        let slot = result.index.filter(|i| *i < n).or_else(|| match b.mode {
            Mode::Modify => result.id.and_then(|id| by_id.get(&id).copied()),
            Mode::Create => None,
        });
        if result.is_failure() {
            let code = reason_code(
                result.error.as_deref(),
                result.details.as_ref(),
                "job_item_failed",
            );
            let failure = (
                Reason::new(&code),
                details_text(result.details.as_ref()).unwrap_or_default(),
            );
            match slot {
                Some(s) => states[s] = State::Failed(failure.0, failure.1),
                None => stray.push(failure),
            }
        } else {
            match (slot, b.mode) {
                (Some(s), Mode::Create) => states[s] = State::Done(result.id),
                (Some(s), Mode::Modify) => states[s] = State::Done(None),
                (None, Mode::Create) => pool.extend(result.id),
                (None, Mode::Modify) => {}
            }
        }
    }
    let job_failed = job.status != "completed";
    // Creates left unknown are settled later against the created ids, unless the job
    // failed without creating anything.
    if b.mode == Mode::Create && !(job_failed && pool.is_empty()) {
        return Settled {
            states,
            pool,
            stray,
        };
    }
    let mut stray = stray.into_iter();
    for state in states.iter_mut().filter(|s| matches!(s, State::Unknown)) {
        *state = if let Some((reason, detail)) = stray.next() {
            State::Failed(reason, unattributed(&detail))
        } else if job_failed {
            State::Failed(
                Reason::new(&format!("job_{}", job.status)),
                format!("the Zendesk job ended as {:?}", job.status),
            )
        } else {
            State::Failed(
                Reason::new("missing_from_job_results"),
                "Zendesk's job results did not cover this record".into(),
            )
        };
    }
    Settled {
        states,
        pool,
        stray: Vec::new(),
    }
}

fn unattributed(detail: &str) -> String {
    format!("{detail} (Zendesk did not say which record of the batch failed)")
}
