//! Holds back the changes the Zendesk account is known to refuse or drop, so they are
//! reported instead of sent (docs/design.md "Account settings": a change a setting makes
//! impossible is not sent, is counted as blocked, and the report names the setting).
//!
//! Pure. Runs after [`super::plan`] on its result; when the setting is turned on, the next
//! run plans the same changes again and they go through (every run recomputes).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::account::{AccountSettings, Setting, MAX_ORGANIZATIONS_PER_USER};
use crate::model::ActualState;

use super::{Change, ChangeKind, Plan, UserRef};

/// Why a change was held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldCause {
    /// The account setting is off.
    SettingOff(Setting),
    /// The user already belongs to the most organizations Zendesk allows (300).
    OrganizationLimit,
}

/// A change not sent. Carries a user reference only (an email for a user the plan would
/// create): it goes to the JSON detail file, never to public output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldBack {
    pub cause: HoldCause,
    pub kind: ChangeKind,
    pub user: UserRef,
}

/// Removes from `plan` the changes `settings` make impossible and returns them.
///
/// - `user.multiple_organizations` off: a user keeps at most one membership, so an
///   addition for a user who has (or is given by this plan) a membership is held back.
///   A user moving between organizations gets the new one on the run after the old one
///   is removed (removals go after additions).
/// - `user.tagging` off: tags sent in a user write are dropped without an error, so the
///   manager tag is not sent; an update left with nothing else is dropped.
/// - With several organizations allowed, additions beyond 300 per user are held back.
pub fn hold_back(
    plan: &mut Plan,
    actual: &ActualState,
    settings: &AccountSettings,
) -> Vec<HeldBack> {
    let single_org = settings.is_off(Setting::MultipleOrganizations);
    let no_tags = settings.is_off(Setting::Tagging);
    let mut held = Vec::new();
    let mut memberships: HashMap<u64, usize> = HashMap::new();
    for m in actual.memberships.values() {
        *memberships.entry(m.user_id).or_default() += 1;
    }
    let mut new_user_memberships: BTreeMap<UserRef, usize> = BTreeMap::new();

    plan.changes.retain_mut(|change| match change {
        Change::AddMembership { user, .. } => {
            let count = match user {
                UserRef::Existing(id) => memberships.entry(*id).or_default(),
                UserRef::New(_) => new_user_memberships.entry(user.clone()).or_default(),
            };
            let cause = if single_org && *count >= 1 {
                Some(HoldCause::SettingOff(Setting::MultipleOrganizations))
            } else if *count >= MAX_ORGANIZATIONS_PER_USER {
                Some(HoldCause::OrganizationLimit)
            } else {
                None
            };
            match cause {
                Some(cause) => {
                    held.push(HeldBack {
                        cause,
                        kind: ChangeKind::AddMembership,
                        user: user.clone(),
                    });
                    false
                }
                None => {
                    *count += 1;
                    true
                }
            }
        }
        Change::CreateUser { email, tags, .. } if no_tags && !tags.is_empty() => {
            tags.clear();
            held.push(HeldBack {
                cause: HoldCause::SettingOff(Setting::Tagging),
                kind: ChangeKind::CreateUser,
                user: UserRef::New(email.clone()),
            });
            true
        }
        Change::UpdateUser { user_id, update } if no_tags && update.tags.is_some() => {
            update.tags = None;
            held.push(HeldBack {
                cause: HoldCause::SettingOff(Setting::Tagging),
                kind: ChangeKind::UpdateUser,
                user: UserRef::Existing(*user_id),
            });
            !update.is_empty()
        }
        _ => true,
    });
    held
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EmailKey, OrgKey};
    use crate::plan::{OrgRef, UserUpdate};

    fn add(user: u64, org: u64) -> Change {
        Change::AddMembership {
            user: UserRef::Existing(user),
            org: OrgRef::Existing(org),
        }
    }

    fn actual_with_membership(user: u64, org: u64) -> ActualState {
        let mut actual = ActualState::default();
        actual.memberships.insert(
            1,
            crate::model::ZendeskMembership {
                id: 1,
                user_id: user,
                org_id: org,
            },
        );
        actual
    }

    #[test]
    fn with_every_setting_on_nothing_is_held_back() {
        let mut plan = Plan {
            changes: vec![add(7, 1), add(7, 2)],
            notes: Vec::new(),
        };
        let held = hold_back(
            &mut plan,
            &ActualState::default(),
            &AccountSettings::permissive(),
        );
        assert!(held.is_empty());
        assert_eq!(plan.changes.len(), 2);
    }

    #[test]
    fn single_organization_accounts_get_one_membership_per_user() {
        let new = UserRef::New(EmailKey::parse("new@example.gov").unwrap());
        let mut plan = Plan {
            changes: vec![
                add(7, 2),
                add(8, 1),
                add(8, 2),
                Change::AddMembership {
                    user: new.clone(),
                    org: OrgRef::New(OrgKey::new("A").unwrap()),
                },
                Change::AddMembership {
                    user: new.clone(),
                    org: OrgRef::New(OrgKey::new("B").unwrap()),
                },
            ],
            notes: Vec::new(),
        };
        let settings = AccountSettings {
            multiple_organizations: Some(false),
            ..AccountSettings::permissive()
        };
        let held = hold_back(&mut plan, &actual_with_membership(7, 1), &settings);
        // User 7 already has one; user 8 and the new user get their first only.
        assert_eq!(
            plan.changes,
            vec![
                add(8, 1),
                Change::AddMembership {
                    user: new.clone(),
                    org: OrgRef::New(OrgKey::new("A").unwrap()),
                },
            ]
        );
        assert_eq!(held.len(), 3);
        assert!(held
            .iter()
            .all(|h| h.cause == HoldCause::SettingOff(Setting::MultipleOrganizations)));
    }

    #[test]
    fn without_tagging_the_manager_tag_is_not_sent() {
        let mut plan = Plan {
            changes: vec![
                Change::UpdateUser {
                    user_id: 3,
                    update: UserUpdate {
                        tags: Some(vec!["pages_org_manager".into()]),
                        ..UserUpdate::default()
                    },
                },
                Change::UpdateUser {
                    user_id: 4,
                    update: UserUpdate {
                        roles_text: Some("A: manager".into()),
                        tags: Some(vec!["pages_org_manager".into()]),
                        ..UserUpdate::default()
                    },
                },
            ],
            notes: Vec::new(),
        };
        let settings = AccountSettings {
            tagging: Some(false),
            ..AccountSettings::permissive()
        };
        let held = hold_back(&mut plan, &ActualState::default(), &settings);
        assert_eq!(held.len(), 2);
        assert_eq!(
            plan.changes,
            vec![Change::UpdateUser {
                user_id: 4,
                update: UserUpdate {
                    roles_text: Some("A: manager".into()),
                    ..UserUpdate::default()
                },
            }]
        );
    }

    #[test]
    fn no_user_is_put_in_more_than_300_organizations() {
        let mut actual = ActualState::default();
        for i in 0..MAX_ORGANIZATIONS_PER_USER as u64 {
            actual.memberships.insert(
                i,
                crate::model::ZendeskMembership {
                    id: i,
                    user_id: 7,
                    org_id: 1000 + i,
                },
            );
        }
        let mut plan = Plan {
            changes: vec![add(7, 1)],
            notes: Vec::new(),
        };
        let held = hold_back(&mut plan, &actual, &AccountSettings::permissive());
        assert_eq!(held[0].cause, HoldCause::OrganizationLimit);
        assert!(plan.changes.is_empty());
    }
}
