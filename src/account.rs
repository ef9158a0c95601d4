//! The Zendesk account settings that change what the sync's writes do, as plain data:
//! read once per run by the zendesk adapter (`GET /api/v2/account/settings`), used by the
//! planner to hold back writes Zendesk is known to refuse or drop, and by `doctor`.
//!
//! Pure: no I/O. Every setting names where a person changes it, so public output can say
//! "which setting, how many records, and where" in one line.
//!
//! References: OAS schema `AccountSettingsUserObject` (`multiple_organizations`,
//! `tagging`, `agent_created_welcome_emails`); Zendesk help "Enabling multiple
//! organizations for users" (support.zendesk.com/hc/en-us/articles/4408838140314: Admin
//! Center > People > Configuration > End users, "Allow users to belong to multiple
//! organizations", up to 300 organizations per user); the same End users page holds
//! "Tags on users and organizations" and "Also send a welcome email when a new user is
//! created by an agent or admin".

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where the end-user settings live in Admin Center.
pub const END_USER_SETTINGS: &str = "Admin Center > People > Configuration > End users";

/// Most organizations one user may belong to with multiple organizations on (Zendesk help
/// "Enabling multiple organizations for users": "as many as 300 organizations").
pub const MAX_ORGANIZATIONS_PER_USER: usize = 300;

/// `settings.user` of `GET /api/v2/account/settings`. `None`: the account did not say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSettings {
    pub multiple_organizations: Option<bool>,
    pub tagging: Option<bool>,
    pub agent_created_welcome_emails: Option<bool>,
}

impl AccountSettings {
    /// Settings as if nothing were switched off: what the planner assumes when the
    /// account's settings could not be read.
    pub fn permissive() -> Self {
        AccountSettings {
            multiple_organizations: Some(true),
            tagging: Some(true),
            agent_created_welcome_emails: None,
        }
    }

    /// The setting is known to be off (an unknown setting is not assumed off).
    pub fn is_off(&self, setting: Setting) -> bool {
        let value = match setting {
            Setting::MultipleOrganizations => self.multiple_organizations,
            Setting::Tagging => self.tagging,
            Setting::AgentCreatedWelcomeEmails => self.agent_created_welcome_emails,
        };
        value == Some(false)
    }
}

/// An account setting the sync depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Setting {
    MultipleOrganizations,
    Tagging,
    AgentCreatedWelcomeEmails,
}

impl Setting {
    /// The API name, as in `GET /api/v2/account/settings`.
    pub fn key(self) -> &'static str {
        match self {
            Setting::MultipleOrganizations => "user.multiple_organizations",
            Setting::Tagging => "user.tagging",
            Setting::AgentCreatedWelcomeEmails => "user.agent_created_welcome_emails",
        }
    }

    /// The words Admin Center shows next to the switch.
    pub fn title(self) -> &'static str {
        match self {
            Setting::MultipleOrganizations => "Allow users to belong to multiple organizations",
            Setting::Tagging => "Tags on users and organizations",
            Setting::AgentCreatedWelcomeEmails => {
                "Also send a welcome email when a new user is created by an agent or admin"
            }
        }
    }

    /// Where a person changes it.
    pub fn location(self) -> String {
        format!("{END_USER_SETTINGS} > \"{}\"", self.title())
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreported_setting_is_not_taken_as_off() {
        let s = AccountSettings::default();
        assert!(!s.is_off(Setting::Tagging));
        let s = AccountSettings {
            tagging: Some(false),
            ..AccountSettings::default()
        };
        assert!(s.is_off(Setting::Tagging));
        assert!(!s.is_off(Setting::MultipleOrganizations));
    }

    #[test]
    fn each_setting_says_where_to_change_it() {
        assert_eq!(
            Setting::MultipleOrganizations.location(),
            "Admin Center > People > Configuration > End users > \
             \"Allow users to belong to multiple organizations\""
        );
        assert_eq!(Setting::Tagging.key(), "user.tagging");
    }
}
