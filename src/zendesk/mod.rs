//! The Zendesk adapter: owns the HTTP client, authentication, pagination, rate limiting,
//! retries and error mapping. Built once with its connection and its [`FieldMapping`];
//! `read` fills the planner's snapshot and `apply` carries out a plan, taking nothing
//! else. Nothing outside this module sees a Zendesk URL, token or HTTP type.
//!
//! Files: `client` (HTTP, auth, budget, retries, errors), `read` (cursor pages), `apply`
//! (batches in dependency order), `jobs` (background jobs and polling), `wire` (JSON shapes
//! read), `forms` (typed bodies written), `mapping` (where values go in Zendesk fields).
//! Must never print the API token, in any error or log.

mod account;
mod apply;
mod client;
mod forms;
mod jobs;
mod mapping;
mod read;
mod wire;

#[cfg(test)]
mod tests;

use std::time::Duration;

use anyhow::{bail, Result};
use secrecy::{ExposeSecret, SecretString};
use tracing::instrument;
use url::Url;

pub use account::TokenUser;
pub use mapping::{FieldMapping, RolesField};

use crate::account::AccountSettings;
use crate::config::ZendeskTuning;
use crate::model::ActualState;
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

impl ZendeskSettings {
    /// Validates the values of `ZENDESK_SUBDOMAIN`, `ZENDESK_URL`, `ZENDESK_EMAIL` and
    /// `ZENDESK_API_TOKEN`. `ZENDESK_URL` wins over the subdomain; it must be https except
    /// on a loopback host (a local stand-in). Errors name the variable, never its secret.
    pub fn from_env_values(
        subdomain: Option<&str>,
        url: Option<&str>,
        email: Option<&str>,
        token: Option<SecretString>,
        tuning: ZendeskTuning,
    ) -> Result<ZendeskSettings> {
        let base_url = match (non_empty(url), non_empty(subdomain)) {
            (Some(url), _) => parse_base_url(url)?,
            (None, Some(sub)) => {
                let valid = sub.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !sub.starts_with('-')
                    && !sub.ends_with('-')
                    && sub.len() <= 63;
                if !valid {
                    bail!(
                        "ZENDESK_SUBDOMAIN must be the subdomain only (letters, digits and hyphens, \
                         e.g. `cloudgov` for cloudgov.zendesk.com); use ZENDESK_URL for a full address"
                    );
                }
                Url::parse(&format!(
                    "https://{}.zendesk.com/",
                    sub.to_ascii_lowercase()
                ))
                .map_err(|_| anyhow::anyhow!("ZENDESK_SUBDOMAIN does not form a valid host name"))?
            }
            (None, None) => bail!("ZENDESK_SUBDOMAIN is not set (or set ZENDESK_URL)"),
        };
        let Some(email) = non_empty(email) else {
            bail!(
                "ZENDESK_EMAIL is not set: the email of the Zendesk admin who owns the API token"
            );
        };
        let email = email.trim();
        if !email.contains('@') || email.chars().any(|c| c.is_whitespace() || c == ':') {
            bail!("ZENDESK_EMAIL is not an email address");
        }
        let Some(token) = token.filter(|t| !t.expose_secret().trim().is_empty()) else {
            bail!("ZENDESK_API_TOKEN is not set");
        };
        if token.expose_secret().chars().any(|c| c.is_control()) {
            bail!("ZENDESK_API_TOKEN contains control characters (a stray newline?)");
        }
        Ok(ZendeskSettings {
            base_url,
            email: email.to_string(),
            token,
            tuning,
        })
    }
}

fn non_empty(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

fn parse_base_url(raw: &str) -> Result<Url> {
    // The URL itself is not echoed: someone may have pasted credentials into it.
    let url =
        Url::parse(raw).map_err(|e| anyhow::anyhow!("ZENDESK_URL is not a valid URL ({e})"))?;
    if !url.username().is_empty() || url.password().is_some() {
        bail!("ZENDESK_URL must not contain a user name or password; use ZENDESK_EMAIL and ZENDESK_API_TOKEN");
    }
    if url.query().is_some() || url.fragment().is_some() {
        bail!("ZENDESK_URL must not have a query or fragment");
    }
    if url.host().is_none() {
        bail!("ZENDESK_URL has no host");
    }
    let loopback = crate::loopback::is_loopback(&url);
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => bail!("ZENDESK_URL must use https (plain http is allowed only for 127.0.0.1, localhost or [::1])"),
        other => bail!("ZENDESK_URL must be an https URL, not {other}:"),
    }
    if url.path().trim_end_matches('/').ends_with("/api/v2") {
        bail!("ZENDESK_URL must be the account address without /api/v2 (e.g. https://cloudgov.zendesk.com)");
    }
    Ok(url)
}

pub struct Zendesk {
    client: client::Client,
    mapping: FieldMapping,
}

/// What [`Zendesk::check_identities_sideload`] found on one users page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdentitiesSideload {
    /// Users on the page (at most 100).
    pub users: usize,
    /// Identities sideloaded for them.
    pub identities: usize,
    /// Of which email identities.
    pub email_identities: usize,
}

impl Zendesk {
    /// The adapter for one account: `settings` say how to reach it, `mapping` where the
    /// sync's values go in its fields.
    pub fn new(settings: ZendeskSettings, mapping: FieldMapping) -> anyhow::Result<Self> {
        Ok(Zendesk {
            client: client::Client::new(&settings)?,
            mapping,
        })
    }

    /// The field mapping the adapter was built with.
    pub fn mapping(&self) -> &FieldMapping {
        &self.mapping
    }

    /// Shortens the first wait of the retry backoff (default 500 ms); for tests and demos
    /// against local stand-ins.
    pub fn with_backoff_base(mut self, base: Duration) -> Self {
        self.client.set_backoff_base(base);
        self
    }

    /// Reads organizations, users (with email identities) and memberships: the snapshot of
    /// what Zendesk holds. Everything is read, not just what Pages lists: the planner needs
    /// the whole account to match users by secondary email and external_id.
    #[instrument(skip_all)]
    pub async fn read(&self) -> anyhow::Result<ActualState> {
        read::read_actual(&self.client, &self.mapping).await
    }

    /// Proves on one page that Zendesk honours `include=identities` with cursor pagination
    /// (documented, but not in any recording): `GET users?page[size]=100&include=identities`.
    /// An `Err` when the page has users and no `identities` key (secondary emails would
    /// be invisible to the sync), or when the call fails. Read-only; for `doctor`.
    pub async fn check_identities_sideload(&self) -> anyhow::Result<IdentitiesSideload> {
        read::check_identities_sideload(&self.client).await
    }

    /// Applies a plan once, in dependency order. One failed record never stops the others;
    /// a failure of the API as a whole (auth, exhausted retries) is an `Err`.
    #[instrument(skip_all, fields(changes = plan.changes.len()))]
    pub async fn apply(&self, plan: &Plan) -> anyhow::Result<ApplyOutcome> {
        apply::apply(&self.client, &self.mapping, plan).await
    }

    /// The account's settings (`GET /api/v2/account/settings`, one request). `None` when
    /// the account would not show them (403/404).
    #[instrument(skip_all)]
    pub async fn read_account_settings(&self) -> anyhow::Result<Option<AccountSettings>> {
        account::read_settings(&self.client).await
    }

    /// The API token's user (`GET /api/v2/users/me`).
    pub async fn token_user(&self) -> anyhow::Result<TokenUser> {
        account::token_user(&self.client).await
    }

    /// The account owner's user id (`GET /api/v2/account`), when Zendesk says.
    pub async fn account_owner_id(&self) -> anyhow::Result<Option<u64>> {
        account::owner_id(&self.client).await
    }

    /// The type of the custom user field `key`, `None` when there is none.
    pub async fn user_field_type(&self, key: &str) -> anyhow::Result<Option<String>> {
        account::user_field_type(&self.client, key).await
    }

    /// Background jobs queued or working in the account, when they can be listed.
    pub async fn jobs_in_flight(&self) -> anyhow::Result<Option<usize>> {
        account::jobs_in_flight(&self.client).await
    }

    /// The account-wide request limit Zendesk announced in its last answer, if any.
    pub fn announced_limit(&self) -> Option<u32> {
        self.client.announced_limit()
    }

    /// Requests sent so far (every attempt counts), writes among them, rate-limit waits
    /// (429, 503 with Retry-After) and re-sends of any cause.
    pub fn stats(&self) -> RequestStats {
        self.client.stats()
    }

    /// The requests-per-minute budget in force: the configured one, lowered when Zendesk
    /// announces a smaller limit.
    pub fn request_budget(&self) -> u32 {
        self.client.budget()
    }
}
