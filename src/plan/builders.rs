//! Small builders for planner and verifier tests: a few lines describe both sides.
//!
//! ```ignore
//! desired().org("Agency A", "A").user("jane@x.gov", 1, &[("Agency A", Manager)])
//! actual().org(10, "Agency A", Some("A")).user(20, "Jane", "jane@x.gov").member(20, 10)
//! ```
//! Users built here carry the default policy's prefix (`pages-user-<id>`).

use crate::config::Policy;
use std::collections::BTreeMap;

use crate::model::{
    ActualState, DesiredOrg, DesiredState, DesiredUser, EmailKey, OrgKey, Role, Roles,
    ZendeskIdentity, ZendeskMembership, ZendeskOrg, ZendeskRole, ZendeskUser,
};

pub(crate) use crate::model::Role::{Manager, User};

pub(crate) fn email(s: &str) -> EmailKey {
    EmailKey::parse(s).expect("test email is valid")
}

pub(crate) fn desired() -> DesiredBuilder {
    DesiredBuilder::default()
}

pub(crate) fn actual() -> ActualBuilder {
    ActualBuilder {
        state: ActualState::default(),
        next_membership: 900,
    }
}

pub(crate) fn policy() -> Policy {
    Policy::default()
}

/// Users' roles are kept by organization name until [`DesiredBuilder::build`], so that
/// organizations may be added in any order (roles name them by position in the state).
#[derive(Clone, Default)]
pub(crate) struct DesiredBuilder {
    state: DesiredState,
    roles: BTreeMap<EmailKey, Vec<(OrgKey, Role)>>,
}

impl DesiredBuilder {
    pub(crate) fn org(mut self, name: &str, agency: &str) -> Self {
        self.state.orgs.insert(
            OrgKey::new(name).expect("test org name is not empty"),
            DesiredOrg {
                name: name.into(),
                details: agency.into(),
            },
        );
        self
    }

    pub(crate) fn user(mut self, address: &str, pages_id: u64, roles: &[(&str, Role)]) -> Self {
        let email = email(address);
        let user = DesiredUser {
            pages_id,
            email: email.clone(),
            roles: Roles::default(),
            line: 2 + self.state.users.len() as u64,
        };
        let roles = roles
            .iter()
            .map(|(org, role)| (OrgKey::new(org).expect("test org name"), *role))
            .collect();
        self.roles.insert(email.clone(), roles);
        self.state.users.insert(email, user);
        self
    }

    pub(crate) fn protected_email(mut self, address: &str) -> Self {
        self.state.protected_emails.insert(email(address));
        self
    }

    pub(crate) fn protected_external_id(mut self, ext: &str) -> Self {
        self.state.protected_external_ids.insert(ext.into());
        self
    }

    /// Panics when a user has a role in an organization the builder was not given.
    pub(crate) fn build(self) -> DesiredState {
        let DesiredBuilder {
            mut state,
            roles: by_email,
        } = self;
        for (email, pairs) in by_email {
            let roles = state.roles_by_key(pairs);
            if let Some(user) = state.users.get_mut(&email) {
                user.roles = roles;
            }
        }
        state
    }

    /// The state built so far.
    pub(crate) fn state(&self) -> DesiredState {
        self.clone().build()
    }
}

pub(crate) struct ActualBuilder {
    state: ActualState,
    next_membership: u64,
}

impl ActualBuilder {
    pub(crate) fn org(mut self, id: u64, name: &str, details: Option<&str>) -> Self {
        self.state.orgs.insert(
            id,
            ZendeskOrg {
                id,
                name: name.into(),
                details: details.map(Into::into),
            },
        );
        self
    }

    /// An end-user whose primary email identity has id `id * 100`.
    pub(crate) fn user(self, id: u64, name: &str, address: &str) -> Self {
        self.with_role(id, name, address, ZendeskRole::EndUser)
    }

    pub(crate) fn agent(self, id: u64, name: &str, address: &str) -> Self {
        self.with_role(id, name, address, ZendeskRole::Agent)
    }

    pub(crate) fn admin(self, id: u64, name: &str, address: &str) -> Self {
        self.with_role(id, name, address, ZendeskRole::Admin)
    }

    fn with_role(mut self, id: u64, name: &str, address: &str, role: ZendeskRole) -> Self {
        self.state.users.insert(
            id,
            ZendeskUser {
                id,
                name: name.into(),
                role,
                external_id: None,
                roles_text: None,
                tags: Vec::new(),
                suspended: false,
                identities: vec![ZendeskIdentity {
                    id: id * 100,
                    email: email(address),
                    primary: true,
                }],
            },
        );
        self
    }

    /// A secondary email identity, id `user_id * 100 + n`.
    pub(crate) fn identity(mut self, user_id: u64, address: &str) -> Self {
        let user = self.user_mut(user_id);
        let id = user_id * 100 + user.identities.len() as u64;
        user.identities.push(ZendeskIdentity {
            id,
            email: email(address),
            primary: false,
        });
        self
    }

    pub(crate) fn external_id(mut self, user_id: u64, ext: &str) -> Self {
        self.user_mut(user_id).external_id = Some(ext.into());
        self
    }

    pub(crate) fn roles_text(mut self, user_id: u64, text: &str) -> Self {
        self.user_mut(user_id).roles_text = Some(text.into());
        self
    }

    pub(crate) fn tags(mut self, user_id: u64, tags: &[&str]) -> Self {
        self.user_mut(user_id).tags = tags.iter().map(|t| t.to_string()).collect();
        self
    }

    /// A membership with the next id from 900 up.
    pub(crate) fn member(mut self, user_id: u64, org_id: u64) -> Self {
        let id = self.next_membership;
        self.next_membership += 1;
        self.state.memberships.insert(
            id,
            ZendeskMembership {
                id,
                user_id,
                org_id,
            },
        );
        self
    }

    /// Replaces the email of the user's primary identity (the identity keeps its id).
    pub(crate) fn primary_email(mut self, user_id: u64, address: &str) -> Self {
        let user = self.user_mut(user_id);
        for identity in user.identities.iter_mut().filter(|i| i.primary) {
            identity.email = email(address);
        }
        self
    }

    pub(crate) fn name(mut self, user_id: u64, name: &str) -> Self {
        self.user_mut(user_id).name = name.into();
        self
    }

    pub(crate) fn role(mut self, user_id: u64, role: ZendeskRole) -> Self {
        self.user_mut(user_id).role = role;
        self
    }

    pub(crate) fn without_external_id(mut self, user_id: u64) -> Self {
        self.user_mut(user_id).external_id = None;
        self
    }

    pub(crate) fn build(self) -> ActualState {
        self.state
    }

    fn user_mut(&mut self, id: u64) -> &mut ZendeskUser {
        self.state
            .users
            .get_mut(&id)
            .expect("test user added before it is changed")
    }
}
