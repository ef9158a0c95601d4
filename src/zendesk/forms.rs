//! The bodies the sync writes to Zendesk, one type per request: a create form and an update
//! form per resource. What a request may carry is decided here, by the fields of its type;
//! in particular a user update has no `email`, `role`, `suspended` or `organization_id`
//! field, so no code path can send one.
//!
//! Optional fields are left out when `None` (never sent as `null`). Bodies go to the
//! transport as `serde_json::Value`, whose objects keep keys in sorted order: the bytes on
//! the wire do not depend on the order of the fields below. Must never hold logic beyond
//! shape: which values to send is the plan's, where they go is the [`FieldMapping`]'s.
//!
//! [`FieldMapping`]: super::mapping::FieldMapping

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::mapping::RolesField;

/// The roles text in the one user field the mapping names; the other two are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct RolesText {
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notes: Option<String>,
    /// `{key: text}`: only the configured custom field, the others are left as they are.
    #[serde(skip_serializing_if = "Option::is_none")]
    user_fields: Option<BTreeMap<String, String>>,
}

impl RolesText {
    pub(crate) fn new(field: &RolesField, text: &str) -> RolesText {
        match field {
            RolesField::Details => RolesText {
                details: Some(text.to_string()),
                ..RolesText::default()
            },
            RolesField::Notes => RolesText {
                notes: Some(text.to_string()),
                ..RolesText::default()
            },
            RolesField::UserField(key) => RolesText {
                user_fields: Some(BTreeMap::from([(key.clone(), text.to_string())])),
                ..RolesText::default()
            },
        }
    }
}

/// The only role the sync ever gives: users it creates are end users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum NewUserRole {
    #[serde(rename = "end-user")]
    EndUser,
}

/// A record of `organizations/create_many`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct OrganizationCreate {
    pub(crate) name: String,
    pub(crate) details: String,
}

/// A record of `organizations/update_many`: the details only, never the name (the name is
/// how the organization is matched).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct OrganizationUpdate {
    pub(crate) id: u64,
    pub(crate) details: String,
}

/// A record of `users/create_many` (and, wrapped in [`SingleUserCreate`], of `POST /users`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct UserCreate {
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) role: NewUserRole,
    /// Left out when another record holds the Pages id: Zendesk would store "" as a value
    /// that must be unique too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) external_id: Option<String>,
    #[serde(flatten)]
    pub(crate) roles: RolesText,
    pub(crate) tags: Vec<String>,
    /// `Some(true)` creates the primary email identity verified, so Zendesk sends no
    /// verification email (OAS UserForAdmin `verified`); `None` when the configuration
    /// asks for the email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) verified: Option<bool>,
}

/// A user of `POST /users`, the single create used when bulk import is off. The OAS
/// documents `skip_verify_email` for this endpoint only, so the bulk form has no such field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct SingleUserCreate {
    #[serde(flatten)]
    pub(crate) user: UserCreate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) skip_verify_email: Option<bool>,
}

/// A record of `users/update_many`: only the fields of [`crate::plan::UserUpdate`].
///
/// This type has no `email` field (Zendesk would add an identity), no `role` and no
/// `suspended` field (a person's decision, never the sync's) and no `organization_id`
/// field (it would replace every membership of the user): an update cannot carry them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct UserUpdate {
    pub(crate) id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) external_id: Option<String>,
    #[serde(flatten)]
    pub(crate) roles: RolesText,
    /// The complete merged tag list (Zendesk replaces the user's tags with it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tags: Option<Vec<String>>,
}

/// A record of `organization_memberships/create_many`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct MembershipCreate {
    pub(crate) user_id: u64,
    pub(crate) organization_id: u64,
}

/// The only identity type the sync adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum IdentityType {
    Email,
}

/// The identity of `POST users/{id}/identities`: a verified email, with no verification
/// email sent (Pages emails are verified already, and mail cannot be taken back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct IdentityCreate {
    #[serde(rename = "type")]
    pub(crate) kind: IdentityType,
    pub(crate) value: String,
    pub(crate) verified: bool,
    pub(crate) skip_verify_email: bool,
}

impl IdentityCreate {
    pub(crate) fn verified_email(value: &str) -> IdentityCreate {
        IdentityCreate {
            kind: IdentityType::Email,
            value: value.to_string(),
            verified: true,
            skip_verify_email: true,
        }
    }
}

/// `{"user": ...}`, the body of `POST /users`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct UserBody {
    pub(crate) user: SingleUserCreate,
}

/// `{"identity": ...}`, the body of `POST users/{id}/identities`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct IdentityBody {
    pub(crate) identity: IdentityCreate,
}

/// `{}`: the body of `make_primary`, as Zendesk's official Ruby client sends it (its
/// `put :make_primary` verb encodes `{}` with Content-Type: application/json).
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Empty {}

/// One record of a bulk request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub(crate) enum Record {
    OrganizationCreate(OrganizationCreate),
    OrganizationUpdate(OrganizationUpdate),
    UserCreate(UserCreate),
    UserUpdate(UserUpdate),
    MembershipCreate(MembershipCreate),
}

/// The body of a bulk endpoint: `{"<resource>": [records]}`.
pub(crate) fn bulk<'a>(resource: &str, records: impl Iterator<Item = &'a Record>) -> Value {
    let records: Vec<&Record> = records.collect();
    let mut body = BTreeMap::new();
    body.insert(resource, records);
    to_value(&body)
}

/// A body for the transport. Serialising these types cannot fail: no map has non-string
/// keys and no field has a fallible `Serialize` (the `json!` macro this replaces made the
/// same assumption with an `unwrap`).
pub(crate) fn to_value(body: &impl Serialize) -> Value {
    serde_json::to_value(body).expect("write forms serialise to JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORBIDDEN_IN_UPDATES: [&str; 4] = ["email", "role", "suspended", "organization_id"];

    fn fields() -> Vec<RolesField> {
        vec![
            RolesField::Details,
            RolesField::Notes,
            RolesField::UserField("pages_roles".into()),
        ]
    }

    #[test]
    fn a_user_update_never_carries_email_role_suspended_or_organization_id() {
        for field in fields() {
            for mask in 0..16u8 {
                let update = UserUpdate {
                    id: 7,
                    name: (mask & 1 != 0).then(|| "Jane".to_string()),
                    external_id: (mask & 2 != 0).then(|| "pages-user-1".to_string()),
                    roles: if mask & 4 != 0 {
                        RolesText::new(&field, "A: manager")
                    } else {
                        RolesText::default()
                    },
                    tags: (mask & 8 != 0).then(|| vec!["pages_org_manager".to_string()]),
                };
                let Value::Object(body) = to_value(&Record::UserUpdate(update)) else {
                    panic!("a user update is a JSON object");
                };
                for key in FORBIDDEN_IN_UPDATES {
                    assert!(!body.contains_key(key), "{key} in {body:?}");
                }
                // Only the planned fields, and nothing as null.
                let roles_key = match &field {
                    RolesField::Details => "details",
                    RolesField::Notes => "notes",
                    RolesField::UserField(_) => "user_fields",
                };
                let mut expected = vec!["id"];
                for (bit, key) in [(1, "name"), (2, "external_id"), (4, roles_key), (8, "tags")] {
                    if mask & bit != 0 {
                        expected.push(key);
                    }
                }
                expected.sort_unstable();
                assert_eq!(body.keys().collect::<Vec<_>>(), expected, "{body:?}");
                assert!(body.values().all(|v| !v.is_null()));
            }
        }
    }

    #[test]
    fn bodies_keep_the_bytes_the_sync_always_sent() {
        let create = |field: &RolesField, external_id: Option<&str>, verified| UserCreate {
            name: "Jane".into(),
            email: "jane@agency.gov".into(),
            role: NewUserRole::EndUser,
            external_id: external_id.map(str::to_string),
            roles: RolesText::new(field, "A: user"),
            tags: vec![],
            verified,
        };
        let text = |v: Value| v.to_string();
        assert_eq!(
            text(bulk(
                "users",
                [Record::UserCreate(create(
                    &RolesField::Details,
                    Some("pages-user-1"),
                    Some(true)
                ))]
                .iter()
            )),
            r#"{"users":[{"details":"A: user","email":"jane@agency.gov","external_id":"pages-user-1","name":"Jane","role":"end-user","tags":[],"verified":true}]}"#
        );
        assert_eq!(
            text(to_value(&UserBody {
                user: SingleUserCreate {
                    user: create(
                        &RolesField::UserField("pages_roles".into()),
                        None,
                        Some(true)
                    ),
                    skip_verify_email: Some(true),
                }
            })),
            r#"{"user":{"email":"jane@agency.gov","name":"Jane","role":"end-user","skip_verify_email":true,"tags":[],"user_fields":{"pages_roles":"A: user"},"verified":true}}"#
        );
        assert_eq!(
            text(to_value(&Record::UserCreate(create(
                &RolesField::Notes,
                None,
                None
            )))),
            r#"{"email":"jane@agency.gov","name":"Jane","notes":"A: user","role":"end-user","tags":[]}"#
        );
        assert_eq!(
            text(to_value(&Record::UserUpdate(UserUpdate {
                id: 7,
                name: None,
                external_id: None,
                roles: RolesText::new(&RolesField::Notes, "A: manager"),
                tags: Some(vec!["a".into(), "pages_org_manager".into()]),
            }))),
            r#"{"id":7,"notes":"A: manager","tags":["a","pages_org_manager"]}"#
        );
        assert_eq!(
            text(bulk(
                "organizations",
                [
                    Record::OrganizationCreate(OrganizationCreate {
                        name: "Org A".into(),
                        details: "Agency".into(),
                    }),
                    Record::OrganizationUpdate(OrganizationUpdate {
                        id: 3,
                        details: "Agency".into(),
                    }),
                ]
                .iter()
            )),
            r#"{"organizations":[{"details":"Agency","name":"Org A"},{"details":"Agency","id":3}]}"#
        );
        assert_eq!(
            text(to_value(&Record::MembershipCreate(MembershipCreate {
                user_id: 5,
                organization_id: 6,
            }))),
            r#"{"organization_id":6,"user_id":5}"#
        );
        assert_eq!(
            text(to_value(&IdentityBody {
                identity: IdentityCreate::verified_email("new@x.gov"),
            })),
            r#"{"identity":{"skip_verify_email":true,"type":"email","value":"new@x.gov","verified":true}}"#
        );
        assert_eq!(text(to_value(&Empty {})), "{}");
    }
}
