//! What applying a plan did: counts per change kind, each failure with Zendesk's reason,
//! and request statistics. Produced by the zendesk adapter, rendered by `report`.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::plan::ChangeKind;

/// A failure reason safe for public output: Zendesk's error code and field keys only
/// (e.g. `RecordInvalid/email/DuplicateValue`, `http_500`), never its description text,
/// which can quote emails and names. Anything but `[A-Za-z0-9_/.-]` is dropped.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Reason(String);

impl Reason {
    pub fn new(code: &str) -> Self {
        let cleaned: String = code
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '/' | '.' | '-'))
            .take(80)
            .collect();
        Reason(if cleaned.is_empty() {
            "unknown".into()
        } else {
            cleaned
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One record Zendesk did not accept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub kind: ChangeKind,
    pub reason: Reason,
    /// The Zendesk id concerned, when there is one.
    pub zendesk_id: Option<u64>,
    /// Email or organization name: local report and JSON detail only.
    pub subject: String,
    /// Zendesk's own description: local report and JSON detail only.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RequestStats {
    pub requests: u64,
    pub write_requests: u64,
    /// 429 answers (and 503 with Retry-After) that made the client wait.
    pub rate_limited: u64,
    pub retries: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApplyOutcome {
    /// Changes Zendesk confirmed, per kind.
    pub applied: BTreeMap<ChangeKind, usize>,
    pub failures: Vec<Failure>,
    /// Changes not attempted because one they depend on failed (e.g. a membership of a
    /// user whose creation failed), per kind.
    pub skipped: BTreeMap<ChangeKind, usize>,
    /// Bulk user import answered 403: single-record calls were used instead.
    pub bulk_user_import_disabled: bool,
}

impl ApplyOutcome {
    pub fn failures_by_reason(&self) -> BTreeMap<(ChangeKind, Reason), usize> {
        let mut out = BTreeMap::new();
        for f in &self.failures {
            *out.entry((f.kind, f.reason.clone())).or_default() += 1;
        }
        out
    }
}
