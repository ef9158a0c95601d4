//! How the sync's values land in Zendesk fields (docs/design.md "Mapping into Zendesk"):
//! adapter configuration, fixed when the adapter is built. The planner never sees it: it
//! decides *what* a user's roles text is, this decides *where* Zendesk keeps it and how a
//! new user is created.

/// Where the roles text goes on a Zendesk user (config key `users.roles_field`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolesField {
    Details,
    Notes,
    /// A custom user field, by its key.
    UserField(String),
}

/// The Zendesk field mapping, built from the configuration file (`users.roles_field`,
/// `users.send_verification_email`) by the command wiring and handed to the adapters that
/// write Zendesk records: [`super::Zendesk`] and the importer files of `export`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMapping {
    /// The user field that holds the roles text (read and written).
    pub roles_field: RolesField,
    /// When false (the default) new users are created with `verified: true` (and
    /// `skip_verify_email` where Zendesk documents it, `POST /users`), so Zendesk sends
    /// them no verification email.
    pub send_verification_email: bool,
}

impl Default for FieldMapping {
    fn default() -> Self {
        FieldMapping {
            roles_field: RolesField::Details,
            send_verification_email: false,
        }
    }
}
