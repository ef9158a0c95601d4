//! Read-only probes of the repository for `doctor`: the repository, one page of issues,
//! one label. Plain GETs with the headers GitHub uses to say what a token may do
//! (`X-OAuth-Scopes` for classic tokens, `X-Accepted-GitHub-Permissions` for fine-grained
//! and installation tokens, `permissions` in the repository JSON for user tokens).
//!
//! Must never write, and never print the token.

use anyhow::{Context, Result};
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, USER_AGENT};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

/// One answer, with the headers that describe the token's rights.
#[derive(Debug, Clone)]
pub struct ProbeAnswer {
    pub status: u16,
    pub body: Value,
    /// `X-OAuth-Scopes` (classic personal access tokens).
    pub oauth_scopes: Option<String>,
    /// `X-Accepted-GitHub-Permissions` (what the endpoint needs, fine-grained tokens).
    pub accepted_permissions: Option<String>,
}

impl ProbeAnswer {
    /// `permissions.<name>` of a repository answer.
    pub fn permission(&self, name: &str) -> Option<bool> {
        self.body
            .get("permissions")
            .and_then(|p| p.get(name))
            .and_then(Value::as_bool)
    }

    /// GitHub's `message`, for errors (never carries the token).
    pub fn message(&self) -> String {
        self.body
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    }
}

pub struct GithubProbe {
    http: reqwest::Client,
    api_url: String,
    auth: HeaderValue,
    repository: String,
}

impl GithubProbe {
    pub fn new(api_url: &str, token: &SecretString, repository: &str) -> Result<Self> {
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
            .map_err(|_| {
                anyhow::anyhow!("GITHUB_TOKEN contains characters a header cannot carry")
            })?;
        auth.set_sensitive(true);
        let loopback = url::Url::parse(api_url)
            .map(|u| crate::loopback::is_loopback(&u))
            .unwrap_or(false);
        let mut builder = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none());
        if loopback {
            builder = builder.no_proxy();
        }
        Ok(GithubProbe {
            http: builder.build().context("building the GitHub HTTP client")?,
            api_url: api_url.trim_end_matches('/').to_string(),
            auth,
            repository: repository.to_string(),
        })
    }

    async fn get(&self, path: &str, what: &str) -> Result<ProbeAnswer> {
        let url = format!("{}/repos/{}{path}", self.api_url, self.repository);
        let response = self
            .http
            .get(url)
            .header(AUTHORIZATION, self.auth.clone())
            .header(ACCEPT, "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .header(
                USER_AGENT,
                concat!("pages-zendesk-sync/", env!("CARGO_PKG_VERSION")),
            )
            .send()
            .await
            .with_context(|| format!("{what}: GitHub did not answer"))?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let oauth_scopes = header("x-oauth-scopes");
        let accepted_permissions = header("x-accepted-github-permissions");
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        Ok(ProbeAnswer {
            status,
            body,
            oauth_scopes,
            accepted_permissions,
        })
    }

    /// `GET /repos/{owner}/{repo}`.
    pub async fn repository(&self) -> Result<ProbeAnswer> {
        self.get("", "reading the repository").await
    }

    /// `GET /repos/{owner}/{repo}/issues?per_page=1`.
    pub async fn list_issues(&self) -> Result<ProbeAnswer> {
        self.get("/issues?per_page=1&state=all", "listing issues")
            .await
    }

    /// `GET /repos/{owner}/{repo}/labels/{name}`.
    pub async fn label(&self, name: &str) -> Result<ProbeAnswer> {
        let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes())
            .collect::<String>()
            .replace('+', "%20");
        self.get(&format!("/labels/{encoded}"), "reading the label")
            .await
    }
}
