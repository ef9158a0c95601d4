//! Reads what Zendesk holds into an [`ActualState`]: organizations, users with their email
//! identities, and organization memberships, each by cursor pagination (100 per page).
//!
//! Must never: trust `links.next` (Zendesk sends it on the last page too), stop before
//! `has_more` is false, or keep deleted (`active: false`) users.

use std::collections::{BTreeMap, HashMap};

use anyhow::{bail, Result};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::{debug, info};

use super::client::{Call, Client};
use super::mapping::{FieldMapping, RolesField};
use super::wire::{
    MembershipsPage, Meta, OrgsPage, UsersPage, WireIdentity, WireMembership, WireOrg, WireUser,
};
use crate::model::{
    ActualState, EmailKey, ZendeskIdentity, ZendeskMembership, ZendeskOrg, ZendeskRole, ZendeskUser,
};

pub(crate) const PAGE_SIZE: &str = "100";

trait Paged: DeserializeOwned {
    fn meta(&self) -> Option<&Meta>;
}

impl Paged for OrgsPage {
    fn meta(&self) -> Option<&Meta> {
        self.meta.as_ref()
    }
}

impl Paged for UsersPage {
    fn meta(&self) -> Option<&Meta> {
        self.meta.as_ref()
    }
}

impl Paged for MembershipsPage {
    fn meta(&self) -> Option<&Meta> {
        self.meta.as_ref()
    }
}

/// Follows `page[after]` cursors until `has_more` is false, handing each page to `each`.
async fn paginate<P: Paged>(
    client: &Client,
    path: &str,
    resource: &str,
    extra: &[(&'static str, &str)],
    mut each: impl FnMut(P) -> Result<()>,
) -> Result<usize> {
    let mut after: Option<String> = None;
    let mut page_no = 1usize;
    loop {
        let what = format!("listing Zendesk {resource}, page {page_no}");
        let mut call = Call::get(path, &what).query("page[size]", PAGE_SIZE);
        for (k, v) in extra {
            call = call.query(k, *v);
        }
        if let Some(cursor) = &after {
            call = call.query("page[after]", cursor.clone());
        }
        let answer = client.send(&call).await?;
        if !answer.is_success() {
            return Err(answer.into_error(&what));
        }
        let page: P = answer.json(&what)?;
        let Some(meta) = page.meta() else {
            bail!("Zendesk answered without cursor pagination metadata while {what}");
        };
        let (has_more, cursor) = (meta.has_more, meta.after_cursor.clone());
        each(page).map_err(|e| e.context(what.clone()))?;
        if !has_more {
            return Ok(page_no);
        }
        match cursor {
            None => bail!("Zendesk said more {resource} follow but sent no cursor ({what})"),
            Some(c) if after.as_deref() == Some(c.as_str()) => {
                bail!("Zendesk sent the same cursor twice while {what}")
            }
            Some(c) => after = Some(c),
        }
        page_no += 1;
    }
}

pub(crate) async fn read_actual(client: &Client, mapping: &FieldMapping) -> Result<ActualState> {
    let (orgs, users, memberships) = tokio::join!(
        read_orgs(client),
        read_users(client, mapping),
        read_memberships(client)
    );
    let orgs = orgs?;
    let (users, inactive) = users?;
    let actual = ActualState {
        orgs,
        users,
        memberships: memberships?,
    };
    info!(
        organizations = actual.orgs.len(),
        users = actual.users.len(),
        memberships = actual.memberships.len(),
        inactive_users_ignored = inactive,
        "read Zendesk"
    );
    Ok(actual)
}

async fn read_orgs(client: &Client) -> Result<BTreeMap<u64, ZendeskOrg>> {
    let mut orgs = BTreeMap::new();
    let pages = paginate(
        client,
        "organizations",
        "organizations",
        &[],
        |p: OrgsPage| {
            for o in p.organizations {
                orgs.insert(o.id, map_org(o));
            }
            Ok(())
        },
    )
    .await?;
    debug!(
        pages,
        organizations = orgs.len(),
        "read Zendesk organizations"
    );
    Ok(orgs)
}

async fn read_users(
    client: &Client,
    mapping: &FieldMapping,
) -> Result<(BTreeMap<u64, ZendeskUser>, usize)> {
    // Collected, then bulk-loaded: a tree filled one insert at a time in key order keeps
    // its nodes half empty, which at a million users is ~100 MiB of nothing.
    let mut users = Vec::new();
    let mut inactive = 0usize;
    let pages = paginate(
        client,
        "users",
        "users",
        &[("include", "identities")],
        |p: UsersPage| {
            let sideloaded = require_identities(&p)?;
            let mut identities: HashMap<u64, Vec<WireIdentity>> = HashMap::new();
            for i in sideloaded {
                identities.entry(i.user_id).or_default().push(i);
            }
            for u in p.users {
                let ids = identities.remove(&u.id).unwrap_or_default();
                match map_user(u, ids, mapping) {
                    Some(user) => {
                        users.push((user.id, user));
                    }
                    None => inactive += 1,
                }
            }
            Ok(())
        },
    )
    .await?;
    // `collect` keeps the last of equal ids, as `insert` did.
    let users: BTreeMap<u64, ZendeskUser> = users.into_iter().collect();
    debug!(pages, users = users.len(), "read Zendesk users");
    Ok((users, inactive))
}

async fn read_memberships(client: &Client) -> Result<BTreeMap<u64, ZendeskMembership>> {
    let mut memberships = Vec::new();
    let pages = paginate(
        client,
        "organization_memberships",
        "organization memberships",
        &[],
        |p: MembershipsPage| {
            for m in p.organization_memberships {
                memberships.push((m.id, map_membership(m)));
            }
            Ok(())
        },
    )
    .await?;
    // Bulk-loaded like the users; the last of equal ids wins, as with `insert`.
    let memberships: BTreeMap<u64, ZendeskMembership> = memberships.into_iter().collect();
    debug!(
        pages,
        memberships = memberships.len(),
        "read Zendesk memberships"
    );
    Ok(memberships)
}

/// The identities sideloaded with a users page. A page with users and no `identities`
/// key means Zendesk did not honour `include=identities`: every secondary email would be
/// invisible, and the planner would create duplicates of users it cannot match, so the
/// read stops instead of going on without them.
fn require_identities(p: &UsersPage) -> Result<Vec<WireIdentity>> {
    match &p.identities {
        Some(identities) => Ok(identities.clone()),
        None if p.users.is_empty() => Ok(Vec::new()),
        None => bail!(
            "Zendesk answered a users page without the `identities` sideload that \
             `include=identities` asks for: secondary emails would be invisible and users \
             matched only by them would be duplicated, so nothing is planned from this read"
        ),
    }
}

/// What one users page with `include=identities` showed (see
/// [`crate::zendesk::Zendesk::check_identities_sideload`]).
pub(crate) async fn check_identities_sideload(
    client: &Client,
) -> Result<super::IdentitiesSideload> {
    let what = "reading one page of Zendesk users with their identities";
    let call = Call::get("users", what)
        .query("page[size]", PAGE_SIZE)
        .query("include", "identities");
    let answer = client.send(&call).await?;
    if !answer.is_success() {
        return Err(answer.into_error(what));
    }
    let page: UsersPage = answer.json(what)?;
    let identities = require_identities(&page).map_err(|e| e.context(what))?;
    Ok(super::IdentitiesSideload {
        users: page.users.len(),
        identities: identities.len(),
        email_identities: identities.iter().filter(|i| i.kind == "email").count(),
    })
}

pub(crate) fn map_org(o: WireOrg) -> ZendeskOrg {
    ZendeskOrg {
        id: o.id,
        name: o.name,
        details: o.details,
    }
}

fn map_membership(m: WireMembership) -> ZendeskMembership {
    ZendeskMembership {
        id: m.id,
        user_id: m.user_id,
        org_id: m.organization_id,
    }
}

/// `None` for deleted users (`active: false`).
pub(crate) fn map_user(
    u: WireUser,
    identities: Vec<WireIdentity>,
    mapping: &FieldMapping,
) -> Option<ZendeskUser> {
    if u.active == Some(false) {
        return None;
    }
    let sideloaded = !identities.is_empty();
    let mut emails: Vec<ZendeskIdentity> = identities
        .into_iter()
        .filter(|i| i.kind == "email")
        .filter_map(|i| {
            Some(ZendeskIdentity {
                id: i.id,
                email: EmailKey::parse(&i.value).ok()?,
                primary: i.primary,
            })
        })
        .collect();
    emails.sort_by_key(|i| (!i.primary, i.id));
    if !sideloaded {
        // No identities came with the user (sideload missing): the primary email is still
        // known from `email`, and losing it would make the planner create a duplicate.
        // Id 0 marks "not read"; a primary identity is never the target of make_primary.
        if let Some(email) = u.email.as_deref().and_then(|e| EmailKey::parse(e).ok()) {
            emails.push(ZendeskIdentity {
                id: 0,
                email,
                primary: true,
            });
        }
    }
    let roles_text = match &mapping.roles_field {
        RolesField::Details => u.details,
        RolesField::Notes => u.notes,
        RolesField::UserField(key) => match u.user_fields.as_ref().and_then(|f| f.get(key)) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        },
    };
    Some(ZendeskUser {
        id: u.id,
        name: u.name,
        // A missing role reads as agent: the most protected kind that is not admin.
        role: ZendeskRole::parse(u.role.as_deref().unwrap_or_default()),
        external_id: u.external_id,
        roles_text,
        tags: u.tags,
        suspended: u.suspended,
        identities: emails,
    })
}
