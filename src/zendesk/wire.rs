//! Zendesk's JSON shapes, as recorded in `tests/fixtures/zendesk/`
//! (docs/references.md "Zendesk recorded responses"). Every field the
//! sync does not need is ignored and every field Zendesk may leave out or send as `null`
//! is optional, so a new or missing attribute never fails a run. Must never hold logic
//! beyond shape conversion.

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// Cursor-pagination metadata. `links.next` is present even on the last page, so only
/// `has_more` decides whether to go on.
#[derive(Debug, Deserialize)]
pub(crate) struct Meta {
    #[serde(default)]
    pub has_more: bool,
    #[serde(default)]
    pub after_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OrgsPage {
    #[serde(default)]
    pub organizations: Vec<WireOrg>,
    pub meta: Option<Meta>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct UsersPage {
    #[serde(default)]
    pub users: Vec<WireUser>,
    /// Sideloaded with `include=identities`: the identities of the users on this page.
    /// `None` when the key is missing (the sideload was not honoured).
    #[serde(default)]
    pub identities: Option<Vec<WireIdentity>>,
    pub meta: Option<Meta>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct MembershipsPage {
    #[serde(default)]
    pub organization_memberships: Vec<WireMembership>,
    pub meta: Option<Meta>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct WireOrg {
    pub id: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default)]
    pub details: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct WireUser {
    pub id: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub user_fields: Option<Map<String, Value>>,
    /// Absent when user and organization tagging is switched off.
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub suspended: bool,
    /// `false` once a user is deleted; absent is read as active.
    #[serde(default)]
    pub active: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct WireIdentity {
    pub id: u64,
    pub user_id: u64,
    #[serde(rename = "type", default, deserialize_with = "null_as_default")]
    pub kind: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub value: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub primary: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct WireMembership {
    pub id: u64,
    pub user_id: u64,
    pub organization_id: u64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OrgsList {
    #[serde(default)]
    pub organizations: Vec<WireOrg>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct UsersList {
    #[serde(default)]
    pub users: Vec<WireUser>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct UserEnvelope {
    pub user: WireUser,
}

#[derive(Debug, Deserialize)]
pub(crate) struct IdentityEnvelope {
    pub identity: WireIdentity,
}

#[derive(Debug, Deserialize)]
pub(crate) struct JobStatusEnvelope {
    pub job_status: JobStatus,
}

#[derive(Debug, Deserialize)]
pub(crate) struct JobStatusList {
    #[serde(default)]
    pub job_statuses: Vec<JobStatus>,
}

/// A background job. `results` is null until the job is done; it is an array of per-item
/// results, or for some job types an object — kept as a `Value` and read by `items()`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct JobStatus {
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: String,
    #[serde(default)]
    pub results: Option<Value>,
}

impl JobStatus {
    pub(super) fn is_running(&self) -> bool {
        matches!(self.status.as_str(), "queued" | "working")
    }

    /// Per-item results, read loosely: anything that is not an object is ignored.
    pub(super) fn items(&self) -> Vec<JobItem> {
        match &self.results {
            Some(Value::Array(items)) => items.iter().filter_map(JobItem::from_value).collect(),
            _ => Vec::new(),
        }
    }
}

/// One entry of `job_status.results`. Zendesk's documented and recorded shapes differ
/// (creates come back as `{id, status}` without `index`; failures as
/// `{index, error, id?, details}` without `success`), so every field is optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct JobItem {
    pub id: Option<u64>,
    pub index: Option<usize>,
    pub success: Option<bool>,
    pub error: Option<String>,
    /// A string in recordings; a `{field: [{error, description}]}` map is also accepted.
    pub details: Option<Value>,
}

impl JobItem {
    fn from_value(v: &Value) -> Option<Self> {
        let o = v.as_object()?;
        let num = |key: &str| -> Option<u64> {
            match o.get(key)? {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }
        };
        let error = match o.get("error") {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Null) | None => None,
            Some(Value::String(_)) => None,
            Some(other) => Some(other.to_string()),
        };
        Some(JobItem {
            id: num("id"),
            index: num("index").and_then(|i| usize::try_from(i).ok()),
            success: o.get("success").and_then(Value::as_bool),
            error,
            details: o.get("details").filter(|d| !d.is_null()).cloned(),
        })
    }

    pub(super) fn is_failure(&self) -> bool {
        self.error.is_some() || self.success == Some(false)
    }
}

/// Zendesk's error bodies: `{error, description, details}` (classic), `{error: {title,
/// message}}` (some 403s), or `{errors: [{code, title, detail}]}` (newer endpoints), or
/// plain text. Only codes and field keys go into reasons; descriptions stay local.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ApiError {
    pub code: Option<String>,
    pub description: Option<String>,
    pub details: Option<Value>,
}

impl ApiError {
    pub(super) fn parse(body: &[u8]) -> ApiError {
        let Ok(v) = serde_json::from_slice::<Value>(body) else {
            let text = String::from_utf8_lossy(body).trim().to_string();
            return ApiError {
                code: None,
                description: (!text.is_empty()).then_some(text),
                details: None,
            };
        };
        let mut e = ApiError::default();
        match v.get("error") {
            Some(Value::String(s)) => e.code = Some(s.clone()),
            Some(Value::Object(o)) => {
                e.code = o.get("title").and_then(Value::as_str).map(str::to_string);
                e.description = o.get("message").and_then(Value::as_str).map(str::to_string);
            }
            _ => {}
        }
        if let Some(first) = v
            .get("errors")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
        {
            if e.code.is_none() {
                e.code = first
                    .get("code")
                    .and_then(Value::as_str)
                    .map(str::to_string);
            }
            if e.description.is_none() {
                e.description = first
                    .get("detail")
                    .or_else(|| first.get("title"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
            }
        }
        if let Some(d) = v.get("description").and_then(Value::as_str) {
            e.description = Some(d.to_string());
        }
        e.details = v.get("details").filter(|d| !d.is_null()).cloned();
        e
    }
}

/// `code/field/field_code` from an error code and a `details` map (`RecordInvalid` +
/// `{email: [{error: DuplicateValue}]}` → `RecordInvalid/email/DuplicateValue`); the code
/// alone when details is text or absent. The first field in key order is used.
pub(crate) fn reason_code(code: Option<&str>, details: Option<&Value>, fallback: &str) -> String {
    let base = code.unwrap_or(fallback);
    let Some(Value::Object(map)) = details else {
        return base.to_string();
    };
    let Some((field, problems)) = map.iter().next() else {
        return base.to_string();
    };
    let first = match problems {
        Value::Array(a) => a.first(),
        other => Some(other),
    };
    let field_code = first.and_then(|p| {
        p.get("error")
            .or_else(|| p.get("type"))
            .and_then(Value::as_str)
    });
    match field_code {
        Some(fc) => format!("{base}/{field}/{fc}"),
        None => format!("{base}/{field}"),
    }
}

/// Human text of `details` (a string, or the descriptions in a field map), for local detail.
pub(crate) fn details_text(details: Option<&Value>) -> Option<String> {
    match details? {
        Value::String(s) => Some(s.clone()),
        Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .flat_map(|(field, problems)| {
                    let list = match problems {
                        Value::Array(a) => a.clone(),
                        other => vec![other.clone()],
                    };
                    list.into_iter().map(move |p| {
                        let d = p
                            .get("description")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                            .unwrap_or_else(|| p.to_string());
                        format!("{field}: {}", d.trim())
                    })
                })
                .collect();
            (!parts.is_empty()).then(|| parts.join("; "))
        }
        other => Some(other.to_string()),
    }
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recorded real responses (`tests/fixtures/zendesk/`).
    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/tests/fixtures/zendesk/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn recorded_pages_parse() {
        let text = fixture("users__cursor_page_first.json");
        let page: UsersPage = serde_json::from_str(&text).unwrap();
        assert_eq!(page.users.len(), 1);
        assert_eq!(page.users[0].id, 6130869168922);
        assert_eq!(page.users[0].role.as_deref(), Some("end-user"));
        let meta = page.meta.unwrap();
        assert!(meta.has_more);
        assert!(meta.after_cursor.is_some());
        let orgs: OrgsPage =
            serde_json::from_str(&fixture("organizations__cursor_page_first.json")).unwrap();
        assert_eq!(orgs.organizations[0].id, 6130869157658);
        assert_eq!(orgs.organizations[0].details, None);
    }

    #[test]
    fn recorded_job_results_are_classified() {
        let text = fixture("job_status_completed__orgs_update_many_partial_failure.json");
        let job: JobStatusEnvelope = serde_json::from_str(&text).unwrap();
        let items = job.job_status.items();
        assert_eq!(items.len(), 100);
        assert!(!items[0].is_failure());
        assert!(items[1].is_failure());
        assert_eq!(items[1].index, Some(1));
        assert_eq!(items[1].error.as_deref(), Some("OrganizationUpdateFailed"));
        let created: JobStatusEnvelope =
            serde_json::from_str(&fixture("job_status_completed__users_create_many.json")).unwrap();
        let items = created.job_status.items();
        assert!(items
            .iter()
            .all(|i| !i.is_failure() && i.index.is_none() && i.id.is_some()));
        let queued: JobStatusEnvelope =
            serde_json::from_str(&fixture("job_status_queued__users_create_many.json")).unwrap();
        assert!(queued.job_status.is_running());
        assert!(queued.job_status.items().is_empty());
    }

    #[test]
    fn both_error_shapes_and_text_are_parsed() {
        let classic = ApiError::parse(
            br#"{"error":"RecordInvalid","description":"Record validation errors","details":{"email":[{"description":"Email: a@b.gov is already being used","error":"DuplicateValue"}]}}"#,
        );
        assert_eq!(classic.code.as_deref(), Some("RecordInvalid"));
        assert_eq!(
            reason_code(classic.code.as_deref(), classic.details.as_ref(), "x"),
            "RecordInvalid/email/DuplicateValue"
        );
        assert!(details_text(classic.details.as_ref())
            .unwrap()
            .contains("already being used"));
        let list =
            ApiError::parse(br#"{"errors":[{"code":"TooManyRequests","title":"Too many"}]}"#);
        assert_eq!(list.code.as_deref(), Some("TooManyRequests"));
        assert_eq!(list.description.as_deref(), Some("Too many"));
        let text = ApiError::parse(b"Rate limit exceeded");
        assert_eq!(text.code, None);
        assert_eq!(text.description.as_deref(), Some("Rate limit exceeded"));
        let nested = ApiError::parse(br#"{"error":{"title":"Forbidden","message":"no"}}"#);
        assert_eq!(nested.code.as_deref(), Some("Forbidden"));
        assert_eq!(
            reason_code(None, Some(&Value::String("x".into())), "http_400"),
            "http_400"
        );
    }
}
