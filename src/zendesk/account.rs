//! Reads about the account itself: its settings (once per run, before planning), and the
//! facts `doctor` checks (the token's user, the account owner, a custom user field, jobs in
//! flight, one users page). Read-only: every call here is a GET.
//!
//! References: OAS `ShowAccountSettings` (`GET /api/v2/account/settings`, allowed for
//! agents; schema `AccountSettingsUserObject`), `ShowCurrentUser` (`GET /api/v2/users/me`),
//! `ListUserFields` (`GET /api/v2/user_fields`), `ListJobStatuses`
//! (`GET /api/v2/job_statuses`). `GET /api/v2/account` and its `owner_id` are
//! UNCONFIRMED: absent from the 2025-06 OAS snapshot and from every source searched for
//! issue 10 (a Zendesk developer advocate wrote in 2021 that no API gives the account's
//! id). `doctor` uses it only to warn about an owner's token and says "not checked" when
//! it does not answer.

use anyhow::Result;
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::client::{Call, Client};
use crate::account::AccountSettings;

#[derive(Deserialize)]
struct SettingsEnvelope {
    settings: SettingsBody,
}

#[derive(Deserialize)]
struct SettingsBody {
    #[serde(default)]
    user: Option<AccountSettings>,
}

/// `Ok(None)` when the account would not show its settings (403/404): the caller goes on
/// without them and says so. 401 and an unavailable API are errors.
pub(crate) async fn read_settings(client: &Client) -> Result<Option<AccountSettings>> {
    let what = "reading the Zendesk account settings";
    let answer = client.send(&Call::get("account/settings", what)).await?;
    if matches!(answer.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND) {
        return Ok(None);
    }
    if !answer.is_success() {
        return Err(answer.into_error(what));
    }
    let body: SettingsEnvelope = answer.json(what)?;
    Ok(Some(body.settings.user.unwrap_or_default()))
}

/// The API token's user as Zendesk sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenUser {
    pub id: Option<u64>,
    /// `end-user`, `agent` or `admin`.
    pub role: String,
}

#[derive(Deserialize)]
struct MeEnvelope {
    user: MeUser,
}

#[derive(Deserialize)]
struct MeUser {
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    role: Option<String>,
}

pub(crate) async fn token_user(client: &Client) -> Result<TokenUser> {
    let what = "reading the API token's Zendesk user";
    let answer = client.send(&Call::get("users/me", what)).await?;
    if !answer.is_success() {
        return Err(answer.into_error(what));
    }
    let me: MeEnvelope = answer.json(what)?;
    Ok(TokenUser {
        id: me.user.id,
        role: me.user.role.unwrap_or_default(),
    })
}

/// `Ok(None)` when the account will not say who owns it.
pub(crate) async fn owner_id(client: &Client) -> Result<Option<u64>> {
    let what = "reading the Zendesk account";
    let answer = client.send(&Call::get("account", what)).await?;
    if !answer.is_success() {
        return Ok(None);
    }
    let body: Value = answer.json(what)?;
    Ok(body
        .get("account")
        .and_then(|a| a.get("owner_id"))
        .and_then(Value::as_u64))
}

/// The type of the custom user field with this key (`text`, `textarea`, ...), `None` when
/// the account has no such field. Reads the first 100 field definitions.
pub(crate) async fn user_field_type(client: &Client, key: &str) -> Result<Option<String>> {
    let what = "listing Zendesk user fields";
    let answer = client
        .send(&Call::get("user_fields", what).query("page[size]", "100"))
        .await?;
    if !answer.is_success() {
        return Err(answer.into_error(what));
    }
    let body: Value = answer.json(what)?;
    let found = body
        .get("user_fields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|f| f.get("key").and_then(Value::as_str) == Some(key));
    Ok(found.map(|f| {
        f.get("type")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string()
    }))
}

/// Background jobs the account lists as `queued` or `working`; `None` when not visible.
pub(crate) async fn jobs_in_flight(client: &Client) -> Result<Option<usize>> {
    let what = "listing Zendesk background jobs";
    let answer = client.send(&Call::get("job_statuses", what)).await?;
    if !answer.is_success() {
        return Ok(None);
    }
    let body: Value = answer.json(what)?;
    Ok(body
        .get("job_statuses")
        .and_then(Value::as_array)
        .map(|jobs| {
            jobs.iter()
                .filter(|j| {
                    matches!(
                        j.get("status").and_then(Value::as_str),
                        Some("queued" | "working")
                    )
                })
                .count()
        }))
}
