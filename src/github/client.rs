//! The GitHub REST client: issues and comments of one repository, over octocrab's
//! transport (auth header, base URI, timeouts) with our own retry rules.
//!
//! Why not octocrab's retry layer: it re-sends any request, POST included, on a 5xx or a
//! transport error, which turns "GitHub created the issue but the answer was lost" into a
//! duplicate issue. It is not compiled in (Cargo.toml does not enable octocrab's `retry`
//! feature). Here, reads and PATCHes are retried; a create whose outcome is unknown is
//! retried only after reading back that it did not happen. The rules (retry, backoff,
//! `Retry-After`, transport wording, post-once-then-read-back) are [`crate::http`]'s, shared
//! with the Zendesk client; this file adds GitHub's own: 403 rate limits and their reset
//! headers.
//!
//! Why raw requests with our own small JSON structs instead of octocrab's models: those
//! are strict (an unknown `state_reason` fails the whole issue), and we need the status
//! and rate-limit headers of every answer.
//!
//! Never logs or returns the token; error messages carry GitHub's message (trimmed),
//! issue numbers and comment ids only.

use std::cell::RefCell;
use std::fmt;
use std::time::{Duration, Instant};

use ::http::header::{HeaderMap, HeaderName, ACCEPT};
use ::http::Method;
use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, Utc};
use octocrab::Octocrab;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};
use tracing::{debug, info, warn};

use super::template::RenderedIssue;
use crate::http::{self, Attempt, Class, GaveUp, Once, OnceError, Resend, Sent};
use crate::month::{append_marker, run_marker, Month, CARRY_MARKER_PREFIX};

/// GitHub's limit for issue and comment bodies, in characters.
pub const MAX_BODY_CHARS: usize = 65_536;

const API_VERSION: &str = "2022-11-28";
const PER_PAGE: usize = 100;

/// Timeouts and retry limits. The defaults suit a monthly job; tests shorten the waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// Connect, read and write timeout of each request.
    pub timeout: Duration,
    /// Attempts per call (first try included) for 5xx, transport failures and rate limits.
    pub max_attempts: u32,
    /// First wait before retrying after a 5xx or a transport failure; doubles each time.
    pub retry_backoff: Duration,
    /// Wait after a rate-limit answer that says neither `retry-after` nor a reset time
    /// (GitHub: "at least one minute"); doubles each time.
    pub rate_limit_fallback_wait: Duration,
    /// A rate limit that asks for a longer wait than this fails the call instead.
    pub max_rate_limit_wait: Duration,
    /// Pages of 100 read at most when listing issues or comments.
    pub max_pages: u32,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(30),
            max_attempts: 4,
            retry_backoff: Duration::from_secs(2),
            rate_limit_fallback_wait: Duration::from_secs(60),
            max_rate_limit_wait: Duration::from_secs(15 * 60),
            max_pages: 30,
        }
    }
}

/// An issue, as the job needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRef {
    pub number: u64,
    pub html_url: String,
    pub open: bool,
    pub body: String,
    pub title: String,
    /// Label names, as GitHub spells them.
    pub labels: Vec<String>,
}

/// A comment the job posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentRef {
    pub id: u64,
    pub html_url: String,
}

/// GitHub failures a caller may branch on (carried inside `anyhow::Error`; downcast).
#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    #[error("GitHub rejected GITHUB_TOKEN (401 {message}): set GITHUB_TOKEN to a valid, unexpired token")]
    BadToken { message: String },
    #[error(
        "GitHub refused the request (403 Resource not accessible by integration): the token \
         may not write issues; give the workflow job `permissions: issues: write`"
    )]
    MissingPermission,
    #[error("GitHub kept rate-limiting the request: {detail}")]
    RateLimited { detail: String },
    #[error("GitHub answered {status}: {message}")]
    Rejected { status: u16, message: String },
    #[error("GitHub is unavailable: {detail}")]
    Unavailable { detail: String },
    #[error("the {what} body has {chars} characters; GitHub accepts at most {MAX_BODY_CHARS}")]
    BodyTooLong { what: &'static str, chars: usize },
}

/// Client for the issues and comments of one repository.
pub struct GithubClient {
    crab: Octocrab,
    owner: String,
    repo: String,
    options: ClientOptions,
}

impl fmt::Debug for GithubClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GithubClient")
            .field("repository", &format_args!("{}/{}", self.owner, self.repo))
            .finish_non_exhaustive()
    }
}

/// Why a call did not succeed.
#[derive(Debug)]
enum CallError {
    /// The request may or may not have taken effect.
    Ambiguous(String),
    Final(GithubError),
}

impl CallError {
    /// One try of a create or edit for [`http::send_once`]: the doubt goes to the
    /// read-back, a final answer ends the call with `doing` as context.
    fn into_sent(self, doing: impl FnOnce() -> String) -> Sent<anyhow::Error> {
        match self {
            CallError::Ambiguous(detail) => Sent::Unknown(detail),
            CallError::Final(e) => Sent::Failed(anyhow!(e).context(doing())),
        }
    }
}

struct Reply {
    body: String,
}

#[derive(Deserialize)]
struct IssueJson {
    number: u64,
    html_url: String,
    state: String,
    #[serde(default)]
    title: String,
    body: Option<String>,
    created_at: DateTime<Utc>,
    #[serde(default)]
    pull_request: Option<Value>,
    #[serde(default)]
    labels: Vec<LabelJson>,
}

#[derive(Deserialize)]
struct LabelJson {
    name: String,
}

impl IssueJson {
    fn into_ref(self) -> IssueRef {
        IssueRef {
            number: self.number,
            html_url: self.html_url,
            open: self.state == "open",
            body: self.body.unwrap_or_default(),
            title: self.title,
            labels: self.labels.into_iter().map(|l| l.name).collect(),
        }
    }
}

#[derive(Deserialize)]
struct CommentJson {
    id: u64,
    html_url: String,
    body: Option<String>,
}

impl GithubClient {
    /// `api_url` is `GITHUB_API_URL` (`https://api.github.com`, or `https://HOST/api/v3`);
    /// `repository` is `GITHUB_REPOSITORY` (`owner/name`). Call inside a tokio runtime.
    pub fn new(api_url: &str, token: SecretString, repository: &str) -> Result<Self> {
        Self::with_options(api_url, token, repository, ClientOptions::default())
    }

    pub fn with_options(
        api_url: &str,
        token: SecretString,
        repository: &str,
        options: ClientOptions,
    ) -> Result<Self> {
        let (owner, repo) = parse_repository(repository)?;
        if token.expose_secret().trim().is_empty() {
            bail!("GITHUB_TOKEN is empty");
        }
        let url = url::Url::parse(api_url)
            .with_context(|| format!("GITHUB_API_URL is not a URL: {api_url:?}"))?;
        if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
            bail!("GITHUB_API_URL must be an http(s) URL, got {api_url:?}");
        }
        let base = api_url.trim_end_matches('/');
        let crab = Octocrab::builder()
            .base_uri(base)
            .with_context(|| format!("using GITHUB_API_URL {base}"))?
            .personal_token(token)
            .add_header(ACCEPT, "application/vnd.github+json".to_string())
            .add_header(
                HeaderName::from_static("x-github-api-version"),
                API_VERSION.to_string(),
            )
            .set_connect_timeout(Some(options.timeout))
            .set_read_timeout(Some(options.timeout))
            .set_write_timeout(Some(options.timeout))
            .build()
            .context("building the GitHub client")?;
        Ok(GithubClient {
            crab,
            owner,
            repo,
            options,
        })
    }

    /// `owner/name`
    pub fn repository(&self) -> String {
        format!("{}/{}", self.owner, self.repo)
    }

    fn repo_path(&self) -> String {
        format!("/repos/{}/{}", self.owner, self.repo)
    }

    /// This month's issue, if one exists (open or closed, labelled or not, whoever opened
    /// it): the issue carrying the hidden month marker, else the one with exactly the
    /// rendered title. Reads the issues list (no search index lag). Several matches → the
    /// oldest, with a warning.
    pub async fn find_month_issue(
        &self,
        month: Month,
        label: &str,
        title: &str,
    ) -> Result<Option<IssueRef>> {
        let _ = label; // kept in the signature: adoption adds it, finding does not need it
        self.find(month, Some(title)).await
    }

    /// The tool's label is not a filter: a person may have opened the month's issue by hand from
    /// the original template (`labels: ''`), and that issue is this month's issue all the
    /// same (docs/design.md "The month's issue"). So the whole issues list is read, newest first, and
    /// paging stops at the first page reaching back before the previous month.
    async fn find(&self, month: Month, title: Option<&str>) -> Result<Option<IssueRef>> {
        let marker = month.marker();
        // Issues are listed newest first; pages after one reaching back before the
        // previous month began cannot hold this month's issue (it is opened during or
        // after the month, or at worst shortly before).
        let stop_before = month.previous().start_utc();
        let mut by_marker: Vec<(DateTime<Utc>, IssueJson)> = Vec::new();
        let mut by_title: Vec<(DateTime<Utc>, IssueJson)> = Vec::new();
        let mut page = 1u32;
        loop {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("state", "all")
                .append_pair("sort", "created")
                .append_pair("direction", "desc")
                .append_pair("per_page", &PER_PAGE.to_string())
                .append_pair("page", &page.to_string())
                .finish();
            let route = format!("{}/issues?{query}", self.repo_path());
            let reply = self
                .call(Method::GET, &route, None, Resend::Idempotent)
                .await
                .map_err(CallError::into_anyhow)
                .with_context(|| format!("listing issues of {}, page {page}", self.repository()))?;
            let issues: Vec<IssueJson> = serde_json::from_str(&reply.body)
                .with_context(|| format!("reading the issues list, page {page}"))?;
            let count = issues.len();
            let mut older_seen = false;
            for issue in issues {
                // Only a paging limit, not a filter: an issue opened early for a later
                // month (`--month` ahead of time) is newer still and must be found.
                older_seen |= issue.created_at < stop_before;
                if issue.pull_request.is_some() {
                    continue;
                }
                let created = issue.created_at;
                if issue.body.as_deref().is_some_and(|b| b.contains(&marker)) {
                    by_marker.push((created, issue));
                } else if title.is_some_and(|t| issue.title.trim() == t.trim()) {
                    by_title.push((created, issue));
                }
            }
            if older_seen || count < PER_PAGE {
                break;
            }
            if page >= self.options.max_pages {
                warn!(
                    pages = page,
                    "stopped listing issues after the page limit; an older issue of the month may be missed"
                );
                break;
            }
            page += 1;
        }
        let others: Vec<u64>;
        let chosen = {
            let mut all_matches: Vec<&(DateTime<Utc>, IssueJson)> =
                by_marker.iter().chain(by_title.iter()).collect();
            all_matches.sort_by_key(|(created, i)| (*created, i.number));
            let pool = if by_marker.is_empty() {
                &by_title
            } else {
                &by_marker
            };
            let Some(chosen) = pool
                .iter()
                .min_by_key(|(created, i)| (*created, i.number))
                .map(|(_, i)| i.number)
            else {
                return Ok(None);
            };
            others = all_matches
                .iter()
                .map(|(_, i)| i.number)
                .filter(|n| *n != chosen)
                .collect();
            chosen
        };
        if !others.is_empty() {
            warn!(
                month = %month,
                chosen,
                others = ?others,
                "several issues claim this month; using the oldest, please close the others"
            );
        }
        let issue = by_marker
            .into_iter()
            .chain(by_title)
            .map(|(_, i)| i)
            .find(|i| i.number == chosen)
            .map(IssueJson::into_ref);
        Ok(issue)
    }

    /// Finds this month's issue or opens it. Exactly one issue per month: a create whose
    /// outcome is unknown is retried only after the issues list shows it did not happen.
    /// Returns the issue and whether this call created it.
    pub async fn find_or_open_month_issue(
        &self,
        rendered: &RenderedIssue,
        month: Month,
        label: &str,
    ) -> Result<(IssueRef, bool)> {
        if let Some(issue) = self.find(month, Some(&rendered.title)).await? {
            debug!(number = issue.number, "found this month's issue");
            let issue = self.adopt(issue, month, label).await?;
            return Ok((issue, false));
        }
        check_body("issue", &rendered.body)?;
        let mut labels: Vec<String> = rendered.labels.clone();
        if !labels.iter().any(|l| l == label) {
            labels.push(label.to_string());
        }
        let assignees = RefCell::new(rendered.assignees.clone());
        let route = format!("{}/issues", self.repo_path());
        let (route, labels, assignees) = (&route, &labels, &assignees);
        let created = http::send_once(
            self.options.max_attempts,
            self.options.retry_backoff,
            move |_| self.post_issue(route, rendered, labels, assignees),
            move |_| async move {
                self.find(month, Some(&rendered.title))
                    .await
                    .context("checking whether the issue was created after all")
            },
        )
        .await;
        match created {
            Ok(Once::Sent(issue)) => {
                info!(number = issue.number, month = %month, "opened this month's issue");
                self.settle_race(issue, month, &rendered.title, label).await
            }
            Ok(Once::Found(issue)) => {
                info!(number = issue.number, "the issue had been created");
                self.settle_race(issue, month, &rendered.title, label).await
            }
            Err(OnceError::Failed(e)) => Err(e.context(format!(
                "creating the issue for {month} in {}",
                self.repository()
            ))),
            Err(OnceError::Exhausted { attempts, last }) => bail!(
                "creating the issue for {month} in {} failed {attempts} times (last: {last}); \
                 no issue was created",
                self.repository(),
            ),
        }
    }

    /// One try of creating the issue. A template naming someone who can no longer be
    /// assigned must not stop the monthly job: GitHub's 422 about assignees (nothing was
    /// created) is answered by opening the issue unassigned, and saying so.
    async fn post_issue(
        &self,
        route: &str,
        rendered: &RenderedIssue,
        labels: &[String],
        assignees: &RefCell<Vec<String>>,
    ) -> Result<IssueRef, Sent<anyhow::Error>> {
        loop {
            let payload = json!({
                "title": rendered.title,
                "body": rendered.body,
                "labels": labels,
                "assignees": *assignees.borrow(),
            });
            match self
                .call(Method::POST, route, Some(&payload), Resend::OnlyIfNotSent)
                .await
            {
                Ok(reply) => {
                    let issue: IssueJson = serde_json::from_str(&reply.body)
                        .context("reading the created issue")
                        .map_err(Sent::Failed)?;
                    return Ok(issue.into_ref());
                }
                Err(CallError::Ambiguous(detail)) => return Err(Sent::Unknown(detail)),
                Err(CallError::Final(GithubError::Rejected {
                    status: 422,
                    message,
                })) if !assignees.borrow().is_empty() && message.contains("assignees") => {
                    warn!(%message, "GitHub refused the template's assignees; opening the issue without them");
                    assignees.borrow_mut().clear();
                }
                Err(CallError::Final(e)) => return Err(Sent::Failed(anyhow!(e))),
            }
        }
    }

    /// Makes a month's issue found by marker or title the tool's own: adds the label if
    /// it is missing and the hidden month marker if the body lacks it (appended after the
    /// person's text, which stays as it is, so a later retitle does not lose the issue).
    /// The boxes are ticked later through [`Self::edit_body`] by the command, which changes
    /// only the acceptance-criteria boxes it recognises, whoever wrote the body.
    async fn adopt(&self, issue: IssueRef, month: Month, label: &str) -> Result<IssueRef> {
        let number = issue.number;
        let labelled = issue.labels.iter().any(|l| l.eq_ignore_ascii_case(label));
        if !labelled {
            // Adding a label the issue already has is a no-op on GitHub, so the call is
            // safe to repeat after a lost answer.
            let route = format!("{}/issues/{number}/labels", self.repo_path());
            self.call(
                Method::POST,
                &route,
                Some(&json!({ "labels": [label] })),
                Resend::Idempotent,
            )
            .await
            .map_err(CallError::into_anyhow)
            .with_context(|| format!("adding the label {label:?} to issue #{number}"))?;
            info!(number, "adopted this month's issue: added the label");
        }
        let marker = month.marker();
        if !issue.body.contains(&marker) {
            self.edit_body(number, |body| {
                (!body.contains(&marker)).then(|| append_marker(body, &marker))
            })
            .await
            .with_context(|| format!("adding the month marker to issue #{number}"))?;
            info!(
                number,
                "adopted this month's issue: added the hidden month marker"
            );
        }
        if labelled && issue.body.contains(&marker) {
            return Ok(issue);
        }
        self.get_issue(number).await
    }

    /// After this run opened an issue: if another run opened one for the same month at
    /// the same moment (or a person did), the oldest is the month's issue; ours is closed
    /// as a duplicate pointing at it, so exactly one issue of the month stays in use.
    async fn settle_race(
        &self,
        ours: IssueRef,
        month: Month,
        title: &str,
        label: &str,
    ) -> Result<(IssueRef, bool)> {
        let Some(chosen) = self
            .find(month, Some(title))
            .await
            .context("checking that no other run opened this month's issue")?
        else {
            return Ok((ours, true));
        };
        if chosen.number == ours.number {
            return Ok((ours, true));
        }
        warn!(
            ours = ours.number,
            kept = chosen.number,
            "another issue of this month is older; closing the one this run opened as a duplicate"
        );
        let route = format!("{}/issues/{}/comments", self.repo_path(), ours.number);
        let note = format!(
            "Duplicate of #{}: another run opened this month's issue at the same time.",
            chosen.number
        );
        if let Err(e) = self
            .call(
                Method::POST,
                &route,
                Some(&json!({ "body": note })),
                Resend::OnlyIfNotSent,
            )
            .await
        {
            warn!(
                number = ours.number,
                "could not comment on the duplicate: {e:?}"
            );
        }
        self.patch_issue(
            ours.number,
            json!({ "state": "closed", "state_reason": "duplicate" }),
            "closing the duplicate",
        )
        .await?;
        let chosen = self.adopt(chosen, month, label).await?;
        Ok((chosen, false))
    }

    pub async fn get_issue(&self, number: u64) -> Result<IssueRef> {
        let route = format!("{}/issues/{number}", self.repo_path());
        let reply = self
            .call(Method::GET, &route, None, Resend::Idempotent)
            .await
            .map_err(CallError::into_anyhow)
            .with_context(|| format!("reading issue #{number}"))?;
        let issue: IssueJson = serde_json::from_str(&reply.body)
            .with_context(|| format!("reading issue #{number}"))?;
        Ok(issue.into_ref())
    }

    /// Replaces the body as given (last writer wins). Prefer [`Self::edit_body`], which
    /// re-reads first so a person's edit is not lost.
    pub async fn update_body(&self, number: u64, body: &str) -> Result<IssueRef> {
        check_body("issue", body)?;
        self.patch_issue(number, json!({ "body": body }), "editing the body of")
            .await
    }

    /// Reads the body right before editing, applies `edit` (None = nothing to change) and
    /// writes the result if it differs. After an answer whose outcome is unknown it reads
    /// the body again: if `edit` has nothing left to change the write happened, otherwise it
    /// is written again from the fresh body; so `edit` must be idempotent. Returns whether
    /// it wrote.
    pub async fn edit_body<F>(&self, number: u64, edit: F) -> Result<bool>
    where
        F: FnMut(&str) -> Option<String>,
    {
        let route = format!("{}/issues/{number}", self.repo_path());
        let edit = RefCell::new(edit);
        // The new body when `edit` changes `body`; the closure's borrow ends before any await.
        let pending = |body: &str| (edit.borrow_mut())(body).filter(|new| new != body);
        let (route, pending) = (&route, &pending);
        let wrote = http::send_once(
            self.options.max_attempts,
            self.options.retry_backoff,
            move |_| async move {
                let current = self.get_issue(number).await.map_err(Sent::Failed)?;
                let Some(new_body) = pending(&current.body) else {
                    return Ok(false);
                };
                check_body("issue", &new_body).map_err(Sent::Failed)?;
                let payload = json!({ "body": new_body });
                self.call(Method::PATCH, route, Some(&payload), Resend::OnlyIfNotSent)
                    .await
                    .map(|_| true)
                    .map_err(|e| e.into_sent(|| format!("editing the body of issue #{number}")))
            },
            move |_| async move {
                let current = self.get_issue(number).await?;
                Ok(pending(&current.body).is_none().then_some(true))
            },
        )
        .await;
        match wrote {
            Ok(Once::Sent(wrote)) => Ok(wrote),
            Ok(Once::Found(wrote)) => Ok(wrote),
            Err(OnceError::Failed(e)) => Err(e),
            Err(OnceError::Exhausted { attempts, last }) => {
                bail!("editing the body of issue #{number} failed {attempts} times (last: {last})")
            }
        }
    }

    /// Closes as completed (GitHub applies `state_reason` only when the state changes).
    pub async fn close_completed(&self, number: u64) -> Result<IssueRef> {
        self.patch_issue(
            number,
            json!({ "state": "closed", "state_reason": "completed" }),
            "closing",
        )
        .await
    }

    pub async fn reopen(&self, number: u64) -> Result<IssueRef> {
        self.patch_issue(number, json!({ "state": "open" }), "reopening")
            .await
    }

    async fn patch_issue(&self, number: u64, payload: Value, action: &str) -> Result<IssueRef> {
        let route = format!("{}/issues/{number}", self.repo_path());
        let reply = self
            .call(Method::PATCH, &route, Some(&payload), Resend::Idempotent)
            .await
            .map_err(CallError::into_anyhow)
            .with_context(|| format!("{action} issue #{number}"))?;
        let issue: IssueJson = serde_json::from_str(&reply.body)
            .with_context(|| format!("reading issue #{number} after {action} it"))?;
        Ok(issue.into_ref())
    }

    /// Posts the results comment of run `run_id`, once. The body gets a hidden run marker;
    /// if a comment with that marker exists (a retried run, or an answer that was lost),
    /// it is updated in place instead of posting another.
    pub async fn post_comment(&self, number: u64, body: &str, run_id: &str) -> Result<CommentRef> {
        let marker = run_marker(run_id)?;
        let body = if body.contains(&marker) {
            body.to_string()
        } else {
            append_marker(body, &marker)
        };
        check_body("comment", &body)?;

        if let Some(existing) = self.find_comment(number, &marker).await? {
            if existing.body.as_deref() != Some(body.as_str()) {
                return self.update_comment(existing.id, &body).await;
            }
            return Ok(CommentRef {
                id: existing.id,
                html_url: existing.html_url,
            });
        }
        let route = format!("{}/issues/{number}/comments", self.repo_path());
        let payload = json!({ "body": body });
        let (route, payload, marker) = (&route, &payload, &marker);
        let posted = http::send_once(
            self.options.max_attempts,
            self.options.retry_backoff,
            move |_| async move {
                match self
                    .call(Method::POST, route, Some(payload), Resend::OnlyIfNotSent)
                    .await
                {
                    Ok(reply) => {
                        let c: CommentJson = serde_json::from_str(&reply.body)
                            .with_context(|| {
                                format!("reading the comment posted on issue #{number}")
                            })
                            .map_err(Sent::Failed)?;
                        info!(number, comment = c.id, "posted the results comment");
                        Ok(CommentRef {
                            id: c.id,
                            html_url: c.html_url,
                        })
                    }
                    Err(e) => Err(e.into_sent(|| format!("commenting on issue #{number}"))),
                }
            },
            move |_| async move {
                Ok(self
                    .find_comment(number, marker)
                    .await?
                    .map(|c| CommentRef {
                        id: c.id,
                        html_url: c.html_url,
                    }))
            },
        )
        .await;
        match posted {
            Ok(c) => Ok(c.into_inner()),
            Err(OnceError::Failed(e)) => Err(e),
            Err(OnceError::Exhausted { attempts, last }) => bail!(
                "commenting on issue #{number} failed {attempts} times (last: {last}); \
                 no comment was posted"
            ),
        }
    }

    async fn update_comment(&self, id: u64, body: &str) -> Result<CommentRef> {
        let route = format!("{}/issues/comments/{id}", self.repo_path());
        let reply = self
            .call(
                Method::PATCH,
                &route,
                Some(&json!({ "body": body })),
                Resend::Idempotent,
            )
            .await
            .map_err(CallError::into_anyhow)
            .with_context(|| format!("updating comment {id}"))?;
        let c: CommentJson = serde_json::from_str(&reply.body)
            .with_context(|| format!("reading comment {id} after updating it"))?;
        Ok(CommentRef {
            id: c.id,
            html_url: c.html_url,
        })
    }

    /// The newest comment on `number` whose body contains `needle`.
    async fn find_comment(&self, number: u64, needle: &str) -> Result<Option<CommentJson>> {
        let comments = self.list_comments(number).await?;
        Ok(comments
            .into_iter()
            .filter(|c| c.body.as_deref().is_some_and(|b| b.contains(needle)))
            .max_by_key(|c| c.id))
    }

    async fn list_comments(&self, number: u64) -> Result<Vec<CommentJson>> {
        let mut all = Vec::new();
        for page in 1..=self.options.max_pages {
            let route = format!(
                "{}/issues/{number}/comments?per_page={PER_PAGE}&page={page}",
                self.repo_path()
            );
            let reply = self
                .call(Method::GET, &route, None, Resend::Idempotent)
                .await
                .map_err(CallError::into_anyhow)
                .with_context(|| format!("listing comments of issue #{number}, page {page}"))?;
            let comments: Vec<CommentJson> = serde_json::from_str(&reply.body)
                .with_context(|| format!("reading comments of issue #{number}, page {page}"))?;
            let n = comments.len();
            all.extend(comments);
            if n < PER_PAGE {
                return Ok(all);
            }
        }
        warn!(
            number,
            "stopped listing comments after the page limit; newer comments may be missed"
        );
        Ok(all)
    }

    /// The body of the latest comment carrying the hidden carry block on the previous
    /// month's issue (found by its month marker), if any.
    pub async fn previous_carry(&self, month: Month, label: &str) -> Result<Option<String>> {
        self.previous_carry_titled(month, label, None).await
    }

    /// Like [`Self::previous_carry`], but also finds last month's issue by its rendered
    /// title, as [`Self::find_month_issue`] does: an issue a person opened from the
    /// template carries no month marker, yet the job commented on it all month.
    pub async fn previous_carry_titled(
        &self,
        month: Month,
        _label: &str,
        previous_title: Option<&str>,
    ) -> Result<Option<String>> {
        let previous = month.previous();
        let Some(issue) = self
            .find(previous, previous_title)
            .await
            .with_context(|| format!("finding the issue of {previous}"))?
        else {
            return Ok(None);
        };
        Ok(self
            .find_comment(issue.number, CARRY_MARKER_PREFIX)
            .await?
            .and_then(|c| c.body))
    }

    /// One logical call by [`http::retry`]'s rules: rate limits are waited out, 5xx and
    /// transport failures retried only for [`Resend::Idempotent`] calls (otherwise the doubt
    /// goes back to the caller, who reads back), at most `max_attempts` tries in all.
    async fn call(
        &self,
        method: Method,
        route: &str,
        body: Option<&Value>,
        resend: Resend,
    ) -> Result<Reply, CallError> {
        let limits = http::Limits {
            max_attempts: self.options.max_attempts,
            max_retries: u32::MAX,
            max_waits: u32::MAX,
            max_wait: self.options.max_rate_limit_wait,
            backoff_base: self.options.retry_backoff,
            max_backoff: self.options.retry_backoff.saturating_mul(64),
        };
        let method = &method;
        http::retry(&limits, resend, |attempt| {
            self.attempt(method, route, body, attempt)
        })
        .await
        .map_err(|gave_up| match gave_up {
            GaveUp::Fatal(e) => CallError::Final(e),
            GaveUp::MayHaveReached(detail) => CallError::Ambiguous(detail),
            GaveUp::Unavailable { last, .. } => {
                CallError::Final(GithubError::Unavailable { detail: last })
            }
            GaveUp::RateLimited {
                last,
                wait,
                attempts,
            } => CallError::Final(GithubError::RateLimited {
                detail: format!(
                    "{last}; asked to wait {}s after {attempts} attempts",
                    wait.as_secs()
                ),
            }),
        })
    }

    /// One try of a call, classified for [`http::retry`].
    async fn attempt(
        &self,
        method: &Method,
        route: &str,
        body: Option<&Value>,
        attempt: u32,
    ) -> Attempt<Reply, GithubError> {
        let started = Instant::now();
        let outcome = self.send(method, route, body).await;
        let ms = crate::http::elapsed_ms(started);
        let (status, headers, text) = match outcome {
            Ok(parts) => parts,
            Err(failure) => {
                debug!(%method, path = path_only(route), ms, detail = %failure.message, "GitHub request failed");
                return Attempt::Unknown {
                    reached: failure.reached,
                    detail: failure.message,
                };
            }
        };
        debug!(%method, path = path_only(route), status, ms, "GitHub request");
        if http::class(status) == Class::Success {
            return Attempt::Done(Reply { body: text });
        }
        let message = error_message(status, &text);
        if let Some(wait) = self.rate_limit_wait(status, &headers, &message, attempt) {
            warn!(
                status,
                wait_s = wait.as_secs(),
                "GitHub rate limit; waiting before trying again"
            );
            return Attempt::Wait {
                wait,
                detail: format!("{status} {message}"),
            };
        }
        match http::class(status) {
            Class::ServerError => Attempt::Unknown {
                reached: true,
                detail: format!("{status} {message}"),
            },
            Class::Unauthorized => Attempt::Fatal(GithubError::BadToken { message }),
            _ if status == 403 && message.contains("Resource not accessible by integration") => {
                Attempt::Fatal(GithubError::MissingPermission)
            }
            _ => Attempt::Fatal(GithubError::Rejected { status, message }),
        }
    }

    /// Sends one request; `Err` = no HTTP answer (connection, timeout, unreadable body).
    async fn send(
        &self,
        method: &Method,
        route: &str,
        body: Option<&Value>,
    ) -> Result<(u16, HeaderMap, String), http::TransportError> {
        let response = match *method {
            Method::GET => self.crab._get(route).await,
            Method::POST => self.crab._post(route, body).await,
            Method::PATCH => self.crab._patch(route, body).await,
            _ => {
                return Err(http::TransportError {
                    reached: false,
                    message: format!("unsupported method {method}"),
                })
            }
        }
        .map_err(|e| http::transport_error(&e))?;
        let (parts, payload) = response.into_parts();
        let text = self
            .crab
            .body_to_string(::http::Response::new(payload))
            .await
            .map_err(|e| {
                let failure = http::transport_error(&e);
                http::TransportError {
                    reached: true,
                    message: format!("reading the answer: {}", failure.message),
                }
            })?;
        Ok((parts.status.as_u16(), parts.headers, text))
    }

    /// GitHub's rule (docs/references.md "GitHub rate limits"): `retry-after` seconds; else, with
    /// `x-ratelimit-remaining: 0`, until `x-ratelimit-reset`; else at least a minute,
    /// doubling. `None` when the answer is not a rate limit.
    fn rate_limit_wait(
        &self,
        status: u16,
        headers: &HeaderMap,
        message: &str,
        attempt: u32,
    ) -> Option<Duration> {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        let retry_after = http::retry_after(headers);
        let exhausted = header("x-ratelimit-remaining") == Some("0");
        let limited = status == 429
            || (status == 403
                && (retry_after.is_some()
                    || exhausted
                    || message.to_ascii_lowercase().contains("rate limit")));
        if !limited {
            return None;
        }
        if let Some(wait) = retry_after {
            return Some(wait);
        }
        if exhausted {
            if let Some(reset) = header("x-ratelimit-reset").and_then(|v| v.parse::<i64>().ok()) {
                let secs = u64::try_from(reset - Utc::now().timestamp()).unwrap_or(0) + 1;
                return Some(Duration::from_secs(secs));
            }
        }
        let fallback = self.options.rate_limit_fallback_wait;
        Some(http::doubling(
            fallback,
            attempt,
            fallback.saturating_mul(64),
        ))
    }
}

impl CallError {
    fn into_anyhow(self) -> anyhow::Error {
        match self {
            CallError::Ambiguous(detail) => anyhow!(GithubError::Unavailable { detail }),
            CallError::Final(e) => anyhow!(e),
        }
    }
}

fn parse_repository(repository: &str) -> Result<(String, String)> {
    let Some((owner, repo)) = repository.split_once('/') else {
        bail!("GITHUB_REPOSITORY must be owner/name, got {repository:?}");
    };
    let owner_ok = (1..=39).contains(&owner.len())
        && owner
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let repo_ok = (1..=100).contains(&repo.len())
        && repo
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && repo != "."
        && repo != "..";
    if !owner_ok || !repo_ok {
        bail!("GITHUB_REPOSITORY must be owner/name (letters, digits, - _ .), got {repository:?}");
    }
    Ok((owner.to_string(), repo.to_string()))
}

fn check_body(what: &'static str, body: &str) -> Result<()> {
    let chars = body.chars().count();
    if chars > MAX_BODY_CHARS {
        return Err(anyhow!(GithubError::BodyTooLong { what, chars }));
    }
    Ok(())
}

/// GitHub's `message` (plus validation errors), trimmed to one short line: answers can
/// be HTML pages from a proxy.
fn error_message(status: u16, text: &str) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        message: Option<String>,
        #[serde(default)]
        errors: Vec<Value>,
    }
    let message = match serde_json::from_str::<ErrorBody>(text) {
        Ok(b) => {
            let mut m = b.message.unwrap_or_default();
            for e in b.errors {
                let field = e.get("field").and_then(Value::as_str).unwrap_or("");
                let detail = e
                    .get("message")
                    .and_then(Value::as_str)
                    .or_else(|| e.get("code").and_then(Value::as_str))
                    .unwrap_or("");
                m.push_str(&format!(" ({field}: {detail})"));
            }
            m
        }
        Err(_) => text.to_string(),
    };
    let one_line: String = message.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut short: String = one_line.chars().take(300).collect();
    if short.is_empty() {
        short = ::http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("no message")
            .to_string();
    }
    short
}

fn path_only(route: &str) -> &str {
    route.split('?').next().unwrap_or(route)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_are_validated() {
        assert!(parse_repository("cloud-gov/pages-zendesk-sync").is_ok());
        for bad in [
            "",
            "owner",
            "owner/",
            "/repo",
            "a/b/c",
            "own er/repo",
            "o/..",
            "o/r?x",
        ] {
            assert!(parse_repository(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn error_messages_are_short_single_lines() {
        let m = error_message(
            422,
            r#"{"message":"Validation Failed","errors":[{"resource":"IssueComment","code":"custom","field":"body","message":"body is too long"}]}"#,
        );
        assert_eq!(m, "Validation Failed (body: body is too long)");
        let html = format!("<html>\n{}</html>", "x".repeat(1000));
        assert!(error_message(502, &html).chars().count() <= 300);
        assert_eq!(error_message(502, ""), "Bad Gateway");
    }

    #[tokio::test]
    async fn the_client_debug_output_hides_the_token() {
        let c = GithubClient::new(
            "http://127.0.0.1:9",
            SecretString::from("ghs_secret_value"),
            "o/r",
        )
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("ghs_secret_value"));
        assert!(shown.contains("o/r"));
    }

    #[tokio::test]
    async fn rate_limit_waits_follow_github_rules() {
        let c = GithubClient::new("http://127.0.0.1:9", SecretString::from("t"), "o/r").unwrap();
        let mut h = HeaderMap::new();
        assert_eq!(c.rate_limit_wait(403, &h, "Forbidden", 1), None);
        assert_eq!(
            c.rate_limit_wait(429, &h, "", 1),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            c.rate_limit_wait(403, &h, "You have exceeded a secondary rate limit", 2),
            Some(Duration::from_secs(120))
        );
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(
            c.rate_limit_wait(403, &h, "", 1),
            Some(Duration::from_secs(7))
        );
        // The shared parser also reads decimals and HTTP dates.
        h.insert("retry-after", "0.5".parse().unwrap());
        assert_eq!(
            c.rate_limit_wait(429, &h, "", 1),
            Some(Duration::from_millis(500))
        );
        let at = (Utc::now() + chrono::Duration::seconds(20)).to_rfc2822();
        h.insert("retry-after", at.parse().unwrap());
        let wait = c.rate_limit_wait(429, &h, "", 1).unwrap();
        assert!((18..=20).contains(&wait.as_secs()), "{wait:?}");
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", "0".parse().unwrap());
        h.insert(
            "x-ratelimit-reset",
            (Utc::now().timestamp() + 30).to_string().parse().unwrap(),
        );
        let wait = c
            .rate_limit_wait(403, &h, "API rate limit exceeded", 1)
            .unwrap();
        assert!((29..=32).contains(&wait.as_secs()), "{wait:?}");
    }
}
