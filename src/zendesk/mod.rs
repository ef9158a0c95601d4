//! The Zendesk adapter: owns the HTTP client, authentication, pagination, rate limiting,
//! retries and error mapping. `read_actual` fills the planner's snapshot; `apply` carries
//! out a plan. Nothing outside this module sees a Zendesk URL, token or HTTP type.

use secrecy::SecretString;
use url::Url;

use crate::config::{Policy, ZendeskTuning};
use crate::model::{ActualState, DesiredState};
use crate::outcome::{ApplyOutcome, RequestStats};
use crate::plan::Plan;

/// Connection settings, validated from the environment.
#[derive(Debug, Clone)]
pub struct ZendeskSettings {
    /// `https://{subdomain}.zendesk.com`, or `ZENDESK_URL` (http only on loopback).
    /// API paths (`/api/v2/...`) are joined onto it.
    pub base_url: Url,
    pub email: String,
    pub token: SecretString,
    pub tuning: ZendeskTuning,
}

/// Errors a caller branches on (exit codes). Carried inside `anyhow::Error`.
#[derive(Debug, thiserror::Error)]
pub enum ZendeskError {
    /// 401: the credentials were refused. Nothing was written when it happens on the first read.
    #[error("Zendesk refused the credentials (401): check ZENDESK_EMAIL and ZENDESK_API_TOKEN, and that the token is active")]
    Unauthorized,
    /// 403 outside the bulk-import fallback: the user lacks permission.
    #[error("Zendesk denied {what} (403): the API token's user must be a Zendesk admin")]
    Forbidden { what: String },
    /// Retries exhausted on 429/5xx/transport errors.
    #[error("Zendesk is unavailable while {what}: {last}")]
    Unavailable { what: String, last: String },
    /// A request Zendesk rejected that the run cannot go on without.
    #[error("Zendesk rejected {what} ({status}): {code}")]
    Rejected {
        what: String,
        status: u16,
        code: String,
    },
}

pub struct Zendesk {
    _settings: ZendeskSettings,
}

impl Zendesk {
    pub fn new(settings: ZendeskSettings) -> anyhow::Result<Self> {
        Ok(Zendesk {
            _settings: settings,
        })
    }

    /// Reads organizations, users (with email identities) and memberships.
    pub async fn read_actual(
        &self,
        desired: &DesiredState,
        policy: &Policy,
    ) -> anyhow::Result<ActualState> {
        let _ = (desired, policy);
        unimplemented!("zendesk reader: being written")
    }

    /// Applies a plan once, in dependency order. One failed record never stops the others;
    /// a failure of the API as a whole (auth, exhausted retries) is an `Err`.
    pub async fn apply(
        &self,
        plan: &Plan,
        desired: &DesiredState,
        policy: &Policy,
    ) -> anyhow::Result<ApplyOutcome> {
        let _ = (plan, desired, policy);
        unimplemented!("zendesk apply: being written")
    }

    pub fn stats(&self) -> RequestStats {
        RequestStats::default()
    }
}
