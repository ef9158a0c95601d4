//! The one HTTP client of the Zendesk adapter: authentication, the shared request budget,
//! Zendesk's rate-limit and job-queue headers, and the mapping of HTTP answers to
//! [`ZendeskError`]. Retry, backoff, `Retry-After` and transport wording follow
//! [`crate::http`], shared with the GitHub client.
//!
//! Must never: log a token (the header is marked sensitive and tokens stay `SecretString`),
//! log request or response bodies above trace level, log emails at info/debug (query
//! values are left out of request lines), or re-send a write that may have created records.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::{debug, enabled, info, trace, warn, Level};
use url::Url;

use super::wire::ApiError;
use super::{ZendeskError, ZendeskSettings};
use crate::config::ZendeskTuning;
use crate::http::{self, Attempt, Class, GaveUp, Resend};
use crate::outcome::{Reason, RequestStats};

const MINUTE: Duration = Duration::from_secs(60);
/// Longest `Retry-After` honoured as given; longer answers are clamped so a run cannot hang.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);
/// Wait when a 429 carries no `Retry-After` (what Zendesk's own Ruby client does).
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(10);
/// How many times one request may be told to wait (429, 503 with Retry-After).
const MAX_RATE_LIMIT_WAITS: u32 = 20;
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Longest body excerpt in trace logs.
const TRACE_BODY_CHARS: usize = 2000;

/// Whether a request may be sent again after an answer that leaves its effect unknown
/// (mapped onto [`http::Resend`]).
///
/// Why this exists: a timeout after sending, a 500, 502 or 504 do not tell whether Zendesk
/// carried the request out. Re-sending a read, an `update_many`, a `destroy_many` or a
/// `make_primary` is harmless (the same end state). Re-sending a `create_many`, a
/// `POST /users`, a `POST .../identities` or a membership `create_many` can create a
/// second copy (Zendesk documents that two identical organization creates can race and
/// both succeed, and a second job would run beside the first). Those calls are re-sent
/// only when the request certainly did not reach Zendesk (connection refused, 429, 503
/// with Retry-After); otherwise the error ends the run (exit 3) and the next run re-reads
/// Zendesk and converges without duplicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Safety {
    Idempotent,
    CreatesRecords,
}

/// One API call. `path` is relative to `/api/v2/` (e.g. `users/show_many`).
pub(crate) struct Call<'a> {
    pub method: Method,
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<&'a Value>,
    pub safety: Safety,
    /// Action and object for errors: "listing Zendesk users, page 3".
    pub what: &'a str,
}

impl<'a> Call<'a> {
    pub(super) fn get(path: impl Into<String>, what: &'a str) -> Self {
        Call {
            method: Method::GET,
            path: path.into(),
            query: Vec::new(),
            body: None,
            safety: Safety::Idempotent,
            what,
        }
    }

    pub(super) fn write(
        method: Method,
        path: impl Into<String>,
        body: Option<&'a Value>,
        safety: Safety,
        what: &'a str,
    ) -> Self {
        Call {
            method,
            path: path.into(),
            query: Vec::new(),
            body,
            safety,
            what,
        }
    }

    pub(super) fn query(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.query.push((key, value.into()));
        self
    }
}

/// A final answer: any 2xx, or a 4xx the caller decides about (403, 404, 422, ...).
pub(crate) struct Answer {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl Answer {
    pub(super) fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// Parses a success body. Errors name the action and the JSON position, never the
    /// body (it can hold emails and names).
    pub(super) fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            anyhow::anyhow!(
                "unexpected answer from Zendesk while {what} (HTTP {}): {:?} error at line {} column {}",
                self.status.as_u16(),
                e.classify(),
                e.line(),
                e.column()
            )
        })
    }

    pub(super) fn api_error(&self) -> ApiError {
        ApiError::parse(&self.body)
    }

    /// The error for an answer the run cannot go on without.
    pub(super) fn into_error(self, what: &str) -> anyhow::Error {
        if self.status == StatusCode::FORBIDDEN {
            return ZendeskError::Forbidden {
                what: what.to_string(),
            }
            .into();
        }
        let code = self
            .api_error()
            .code
            .map(|c| Reason::new(&c).to_string())
            .unwrap_or_else(|| format!("http_{}", self.status.as_u16()));
        ZendeskError::Rejected {
            what: what.to_string(),
            status: self.status.as_u16(),
            code,
        }
        .into()
    }
}

#[derive(Default)]
struct Stats {
    requests: AtomicU64,
    write_requests: AtomicU64,
    rate_limited: AtomicU64,
    retries: AtomicU64,
}

pub(crate) struct Client {
    http: reqwest::Client,
    /// Ends with `/`; `api/v2/...` is joined onto it.
    base: Url,
    auth: HeaderValue,
    limiter: Limiter,
    stats: Stats,
    pub(crate) tuning: ZendeskTuning,
    backoff_base: Duration,
    /// How long background jobs have been taking (ms; 0 = not yet known), carried from one
    /// batch of jobs to the next so first polls are timed to find jobs done.
    job_estimate_ms: AtomicU64,
    /// The last job-queue budget Zendesk announced, taken by the job runner.
    inflight_jobs: Mutex<Option<InflightJobs>>,
}

impl Client {
    pub(super) fn new(settings: &ZendeskSettings) -> Result<Client> {
        let mut base = settings.base_url.clone();
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let credentials = format!(
            "{}/token:{}",
            settings.email,
            settings.token.expose_secret()
        );
        let encoded = base64::engine::general_purpose::STANDARD.encode(credentials.as_bytes());
        let mut auth = HeaderValue::from_str(&format!("Basic {encoded}"))
            .map_err(|_| anyhow::anyhow!("building the Zendesk Authorization header failed"))?;
        auth.set_sensitive(true);
        let mut builder = reqwest::Client::builder();
        if crate::loopback::is_loopback(&settings.base_url) {
            builder = builder.no_proxy();
        }
        let http = builder
            .timeout(Duration::from_secs(
                settings.tuning.request_timeout_seconds.max(1),
            ))
            .connect_timeout(Duration::from_secs(10))
            // Zendesk's API does not redirect; following one could carry the credentials away.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("pages-zendesk-sync/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the Zendesk HTTP client")?;
        Ok(Client {
            http,
            base,
            auth,
            limiter: Limiter::new(
                settings.tuning.requests_per_minute.max(1),
                settings.tuning.follow_announced_limit,
            ),
            stats: Stats::default(),
            tuning: settings.tuning.clone(),
            backoff_base: Duration::from_millis(500),
            job_estimate_ms: AtomicU64::new(0),
            inflight_jobs: Mutex::new(None),
        })
    }

    /// First wait of the exponential backoff (tests shorten it).
    pub(super) fn set_backoff_base(&mut self, base: Duration) {
        self.backoff_base = base;
    }

    pub(super) fn stats(&self) -> RequestStats {
        RequestStats {
            requests: self.stats.requests.load(Ordering::Relaxed),
            write_requests: self.stats.write_requests.load(Ordering::Relaxed),
            rate_limited: self.stats.rate_limited.load(Ordering::Relaxed),
            retries: self.stats.retries.load(Ordering::Relaxed),
        }
    }

    pub(super) fn job_estimate(&self) -> Option<Duration> {
        match self.job_estimate_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    pub(super) fn set_job_estimate(&self, d: Duration) {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1);
        self.job_estimate_ms.store(ms, Ordering::Relaxed);
    }

    /// The job-queue budget announced since the last call, if any (taken: each
    /// announcement is read once).
    pub(super) fn take_inflight_jobs(&self) -> Option<InflightJobs> {
        self.inflight_jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// The request budget now in force (requests per minute).
    pub(super) fn budget(&self) -> u32 {
        self.limiter.budget()
    }

    /// The account limit Zendesk announced last (`X-Rate-Limit` and its spellings).
    pub(super) fn announced_limit(&self) -> Option<u32> {
        self.limiter.lock().announced
    }

    fn url(&self, call: &Call<'_>) -> Result<Url> {
        let mut url = self
            .base
            .join(&format!("api/v2/{}", call.path.trim_start_matches('/')))
            .with_context(|| format!("building the Zendesk URL while {}", call.what))?;
        if !call.query.is_empty() {
            url.set_query(Some(&encode_query(&call.query)));
        }
        Ok(url)
    }

    /// Sends a call within the budget, waiting on 429/503 and retrying transient failures
    /// as its [`Safety`] allows ([`http::retry`]). Returns 2xx answers and the 4xx answers
    /// a caller decides about; 401, exhausted retries and unsafe re-sends are errors.
    pub(super) async fn send(&self, call: &Call<'_>) -> Result<Answer> {
        let url = self.url(call)?;
        let route = route_key(&call.method, &call.path);
        let log_path = loggable_path(&call.path, &call.query);
        let body = call
            .body
            .map(serde_json::to_vec)
            .transpose()
            .context("encoding a Zendesk request body")?;
        let limits = http::Limits {
            max_attempts: u32::MAX,
            max_retries: self.tuning.max_retries,
            max_waits: MAX_RATE_LIMIT_WAITS,
            // `Retry-After` is clamped to MAX_RETRY_AFTER when read.
            max_wait: Duration::MAX,
            backoff_base: self.backoff_base,
            max_backoff: MAX_BACKOFF,
        };
        let resend = match call.safety {
            Safety::Idempotent => Resend::Idempotent,
            Safety::CreatesRecords => Resend::OnlyIfNotSent,
        };
        let (url, route, log_path, body) = (&url, &route, &log_path, body.as_deref());
        http::retry(&limits, resend, |attempt| {
            self.attempt(call, url, route, log_path, body, attempt)
        })
        .await
        .map_err(|gave_up| match gave_up {
            GaveUp::Fatal(e) => e,
            GaveUp::MayHaveReached(last) => ZendeskError::Unavailable {
                what: call.what.to_string(),
                last: format!(
                    "{last}; the request may have reached Zendesk, so it is not sent again \
                     (a repeat could create duplicates); the next run re-reads Zendesk and finishes the work"
                ),
            }
            .into(),
            GaveUp::Unavailable { last, retries } => ZendeskError::Unavailable {
                what: call.what.to_string(),
                last: format!("{last} (after {retries} retries)"),
            }
            .into(),
            GaveUp::RateLimited { last, .. } => ZendeskError::Unavailable {
                what: call.what.to_string(),
                last: format!("{last} after waiting {MAX_RATE_LIMIT_WAITS} times as asked"),
            }
            .into(),
        })
    }

    /// One try of a call, within the budget, classified for [`http::retry`].
    async fn attempt(
        &self,
        call: &Call<'_>,
        url: &Url,
        route: &str,
        log_path: &str,
        body: Option<&[u8]>,
        attempt: u32,
    ) -> Attempt<Answer, anyhow::Error> {
        if attempt > 1 {
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
        }
        self.limiter.acquire(route).await;
        let started = Instant::now();
        let mut request = self
            .http
            .request(call.method.clone(), url.clone())
            .header(AUTHORIZATION, self.auth.clone())
            .header(ACCEPT, "application/json");
        if let Some(b) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(b.to_vec());
            if enabled!(Level::TRACE) {
                trace!(method = %call.method, path = %log_path, body = %excerpt(b), "request body");
            }
        }
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        if call.method != Method::GET {
            self.stats.write_requests.fetch_add(1, Ordering::Relaxed);
        }
        let response = match request.send().await {
            Err(e) => {
                let ms = crate::http::elapsed_ms(started);
                let failure = http::transport_error(&e);
                debug!(method = %call.method, path = %log_path, ms, error = %failure.message, "Zendesk request failed");
                // Only a failed connect proves the request never left this machine.
                return Attempt::Unknown {
                    reached: failure.reached,
                    detail: failure.message,
                };
            }
            Ok(response) => response,
        };
        let status = response.status();
        let headers = response.headers().clone();
        self.limiter.observe(&headers, route);
        if let Some(jobs) = InflightJobs::parse(&headers) {
            *self.inflight_jobs.lock().unwrap_or_else(|p| p.into_inner()) = Some(jobs);
        }
        let read = response.bytes().await;
        let ms = crate::http::elapsed_ms(started);
        let request_id = request_id(&headers);
        debug!(method = %call.method, path = %log_path, status = status.as_u16(), ms, request_id, "Zendesk request");
        let bytes = match read {
            Err(e) => {
                return Attempt::Unknown {
                    reached: true,
                    detail: format!("reading the answer: {}", http::transport_error(&e).message),
                }
            }
            Ok(bytes) => bytes.to_vec(),
        };
        if enabled!(Level::TRACE) {
            trace!(path = %log_path, body = %excerpt(&bytes), "response body");
        }
        let verdict = classify(status, &headers, &bytes);
        log_failed_call(call, log_path, status, request_id, &verdict);
        match verdict {
            Verdict::Done => Attempt::Done(Answer {
                status,
                body: bytes,
            }),
            Verdict::Unauthorized => Attempt::Fatal(ZendeskError::Unauthorized.into()),
            Verdict::Wait { wait, account_wide } => {
                self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                warn!(
                    method = %call.method,
                    path = %log_path,
                    status = status.as_u16(),
                    wait_s = wait.as_secs_f64(),
                    request_id = %request_id,
                    "Zendesk asked to wait; retrying after Retry-After"
                );
                if account_wide {
                    self.limiter.pause(wait);
                }
                Attempt::Wait {
                    wait,
                    detail: format!("HTTP {}", status.as_u16()),
                }
            }
            // A conflict on a create is an answer about that record.
            Verdict::Transient(_)
                if status == StatusCode::CONFLICT && call.safety == Safety::CreatesRecords =>
            {
                Attempt::Done(Answer {
                    status,
                    body: bytes,
                })
            }
            Verdict::Transient(last) => Attempt::Unknown {
                reached: true,
                detail: last,
            },
        }
    }
}

enum Verdict {
    Done,
    Unauthorized,
    Wait { wait: Duration, account_wide: bool },
    Transient(String),
}

fn classify(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Verdict {
    let retry_after = retry_after(headers);
    // Zendesk documents the `TooManyJobs` error code of a full job queue, not its HTTP
    // status (reference §6): the code decides, whatever the status. It is about queued
    // background jobs, not the request budget: only the submission waits, reads and
    // polls go on.
    let too_many_jobs = !status.is_success()
        && status != StatusCode::UNAUTHORIZED
        && ApiError::parse(body).code.as_deref() == Some("TooManyJobs");
    if too_many_jobs {
        let resets = InflightJobs::parse(headers)
            .filter(|j| j.remaining == 0)
            .map(|j| Duration::from_secs(j.resets.clamp(1, MAX_RETRY_AFTER.as_secs())));
        return Verdict::Wait {
            wait: retry_after.or(resets).unwrap_or(DEFAULT_RETRY_AFTER),
            account_wide: false,
        };
    }
    match http::class(status.as_u16()) {
        Class::Success => Verdict::Done,
        Class::Unauthorized => Verdict::Unauthorized,
        Class::TooManyRequests => Verdict::Wait {
            wait: retry_after.unwrap_or(DEFAULT_RETRY_AFTER),
            account_wide: true,
        },
        // Zendesk's 503 with `Retry-After` is its "wait" (reference §1), not a failure.
        Class::ServerError
            if status == StatusCode::SERVICE_UNAVAILABLE && retry_after.is_some() =>
        {
            Verdict::Wait {
                wait: retry_after.unwrap_or(DEFAULT_RETRY_AFTER),
                account_wide: true,
            }
        }
        Class::ServerError | Class::Other if is_transient(status) => {
            let code = ApiError::parse(body)
                .code
                .map(|c| format!(" {}", Reason::new(&c)))
                .unwrap_or_default();
            Verdict::Transient(format!("HTTP {}{code}", status.as_u16()))
        }
        _ => Verdict::Done,
    }
}

/// A 5xx, or a 409 (Zendesk's answer when two writes to one record race): no final answer.
fn is_transient(status: StatusCode) -> bool {
    http::class(status.as_u16()) == Class::ServerError || status == StatusCode::CONFLICT
}

/// Zendesk's id of the answer, to quote in a support case: `X-Zendesk-Request-Id`
/// (reference §1, REQ); recordings also show `x-request-id`.
fn request_id(headers: &HeaderMap) -> &str {
    headers
        .get("x-zendesk-request-id")
        .or_else(|| headers.get("x-request-id"))
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
}

/// Every answer that is not a success, with Zendesk's request id, at the default level: a
/// 404 (often expected: an expired job, a removed membership) at info, anything else at
/// warn. Answers that say "wait" are logged where the wait happens.
fn log_failed_call(
    call: &Call<'_>,
    log_path: &str,
    status: StatusCode,
    request_id: &str,
    verdict: &Verdict,
) {
    if status.is_success() || matches!(verdict, Verdict::Wait { .. }) {
        return;
    }
    if status == StatusCode::NOT_FOUND {
        info!(method = %call.method, path = %log_path, status = status.as_u16(), request_id, what = call.what, "Zendesk answered 404");
    } else {
        warn!(method = %call.method, path = %log_path, status = status.as_u16(), request_id, what = call.what, "Zendesk call failed (quote the request_id to Zendesk support)");
    }
}

/// Zendesk's job-queue budget, `zendesk-ratelimit-inflight-jobs: total=30; remaining=29;
/// resets=60`, sent on job-creating answers (reference §6, rate-limits "Job limit").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InflightJobs {
    pub total: u64,
    pub remaining: u64,
    /// Seconds until the budget resets.
    pub resets: u64,
}

impl InflightJobs {
    pub(crate) fn parse(headers: &HeaderMap) -> Option<InflightJobs> {
        let v = headers
            .get("zendesk-ratelimit-inflight-jobs")?
            .to_str()
            .ok()?;
        let field = |key: &str| -> Option<u64> {
            v.split(';').find_map(|part| {
                let (k, val) = part.split_once('=')?;
                (k.trim().eq_ignore_ascii_case(key))
                    .then(|| val.trim().parse().ok())
                    .flatten()
            })
        };
        Some(InflightJobs {
            total: field("total")?,
            remaining: field("remaining")?,
            resets: field("resets").unwrap_or(60),
        })
    }
}

/// `Retry-After` ([`http::retry_after`]: seconds or an HTTP date), clamped to
/// [`MAX_RETRY_AFTER`] so a run cannot hang.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    http::retry_after(headers).map(|d| d.min(MAX_RETRY_AFTER))
}

/// `method path` with numeric segments as `{id}`, for per-endpoint budgets.
fn route_key(method: &Method, path: &str) -> String {
    let shape: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .map(|seg| {
            if !seg.is_empty() && seg.chars().all(|c| c.is_ascii_digit()) {
                "{id}"
            } else {
                seg
            }
        })
        .collect();
    format!("{method} {}", shape.join("/"))
}

/// Per-endpoint spacing Zendesk documents: `PUT /users/{id}` is limited to one request per
/// second for the whole account (used only by single-record fallbacks).
fn route_spacing(route: &str) -> Option<Duration> {
    (route == "PUT users/{id}").then_some(Duration::from_secs(1))
}

/// Path plus query keys only: query values can carry cursors and ids, and must never carry
/// emails into debug logs.
fn loggable_path(path: &str, query: &[(&'static str, String)]) -> String {
    if query.is_empty() {
        return format!("/api/v2/{path}");
    }
    let keys: Vec<&str> = query.iter().map(|(k, _)| *k).collect();
    format!("/api/v2/{path}?{}", keys.join("&"))
}

/// Form-encodes the query; commas stay literal as in Zendesk's documented `ids=1,2,3`.
fn encode_query(query: &[(&'static str, String)]) -> String {
    query
        .iter()
        .map(|(k, v)| {
            let k: String = url::form_urlencoded::byte_serialize(k.as_bytes()).collect();
            let v: String = url::form_urlencoded::byte_serialize(v.as_bytes()).collect();
            format!("{k}={}", v.replace("%2C", ","))
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(TRACE_BODY_CHARS).collect();
    if text.chars().count() > TRACE_BODY_CHARS {
        out.push('…');
    }
    out
}

/// The request budget shared by every call: at most `budget` requests in any 60 seconds
/// (a sliding window, so Zendesk's per-minute count is never exceeded), a pause after a
/// 429 or when Zendesk says few requests remain, and per-endpoint spacing.
struct Limiter {
    state: Mutex<LimiterState>,
}

struct LimiterState {
    budget: u32,
    /// Follow the announced account limit up as well as down (nothing configured).
    follow: bool,
    sent: VecDeque<Instant>,
    pause_until: Option<Instant>,
    route_next: HashMap<String, Instant>,
    /// The last account limit Zendesk announced (for `doctor`).
    announced: Option<u32>,
}

impl Limiter {
    fn new(budget: u32, follow: bool) -> Self {
        Limiter {
            state: Mutex::new(LimiterState {
                budget,
                follow,
                sent: VecDeque::new(),
                pause_until: None,
                route_next: HashMap::new(),
                announced: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LimiterState> {
        // A poisoned lock only means another request panicked mid-update; the window is
        // still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn budget(&self) -> u32 {
        self.lock().budget
    }

    async fn acquire(&self, route: &str) {
        loop {
            let wait = {
                let mut s = self.lock();
                let now = Instant::now();
                while s
                    .sent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= MINUTE)
                {
                    s.sent.pop_front();
                }
                let budget = s.budget.max(1) as usize;
                while s.sent.len() > budget {
                    s.sent.pop_front();
                }
                let mut until = now;
                if let Some(p) = s.pause_until {
                    until = until.max(p);
                }
                if s.sent.len() >= budget {
                    until = until.max(s.sent[s.sent.len() - budget] + MINUTE);
                }
                if let Some(next) = s.route_next.get(route) {
                    until = until.max(*next);
                }
                if until <= now {
                    s.sent.push_back(now);
                    if let Some(spacing) = route_spacing(route) {
                        s.route_next.insert(route.to_string(), now + spacing);
                    }
                    return;
                }
                until - now
            };
            tokio::time::sleep(wait).await;
        }
    }

    fn pause(&self, wait: Duration) {
        let mut s = self.lock();
        let until = Instant::now() + wait;
        s.pause_until = Some(s.pause_until.map_or(until, |p| p.max(until)));
    }

    /// Reads Zendesk's budget headers (every spelling seen in recordings; `HeaderMap`
    /// names are case-insensitive) and lowers or paces the budget to match.
    fn observe(&self, headers: &HeaderMap, route: &str) {
        let number = |names: &[&str]| -> Option<u64> {
            names.iter().find_map(|n| {
                let v = headers.get(*n)?.to_str().ok()?;
                let digits: String = v.trim().chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            })
        };
        let limit = number(&["x-rate-limit", "ratelimit-limit", "rate-limit"]);
        let remaining = number(&[
            "x-rate-limit-remaining",
            "ratelimit-remaining",
            "rate-limit-remaining",
        ]);
        let reset = number(&["ratelimit-reset", "rate-limit-reset"]);
        let mut s = self.lock();
        if let Some(limit) = limit.filter(|l| *l > 0) {
            let limit = u32::try_from(limit).unwrap_or(u32::MAX);
            s.announced = Some(limit);
            // The account limit is shared with every other integration and with agents'
            // apps: when following it, leave a fifth of it to them.
            let target = if s.follow {
                (limit / 5 * 4).max(1)
            } else {
                limit.min(s.budget)
            };
            if target != s.budget {
                debug!(
                    from = s.budget,
                    to = target,
                    announced = limit,
                    "request budget set from Zendesk's announced limit"
                );
                s.budget = target;
            }
        }
        if let Some(remaining) = remaining {
            let limit = limit.unwrap_or(u64::from(s.budget)).max(1);
            let low_water = (limit / 20).max(1);
            if remaining < low_water {
                // Spread what is left over the time until Zendesk's window resets.
                let reset = Duration::from_secs(reset.unwrap_or(60).min(60));
                let gap = reset
                    / u32::try_from(remaining)
                        .unwrap_or(u32::MAX)
                        .saturating_add(1);
                let until = Instant::now() + gap;
                debug!(
                    remaining,
                    gap_ms = u64::try_from(gap.as_millis()).unwrap_or(u64::MAX),
                    "few Zendesk requests remain; pacing"
                );
                s.pause_until = Some(s.pause_until.map_or(until, |p| p.max(until)));
            }
        }
        // Endpoint budgets: `Zendesk-RateLimit-<name>: total=N; remaining=n; resets=s`.
        for (name, value) in headers {
            let name = name.as_str();
            if !name.starts_with("zendesk-ratelimit-") || name == "zendesk-ratelimit-inflight-jobs"
            {
                continue;
            }
            let Ok(v) = value.to_str() else { continue };
            let field = |key: &str| -> Option<u64> {
                v.split(';').find_map(|part| {
                    let (k, val) = part.split_once('=')?;
                    (k.trim() == key).then(|| val.trim().parse().ok()).flatten()
                })
            };
            if field("remaining") == Some(0) {
                let resets = Duration::from_secs(field("resets").unwrap_or(1).min(300));
                let until = Instant::now() + resets;
                let next = s.route_next.entry(route.to_string()).or_insert(until);
                *next = (*next).max(until);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_capped() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert("retry-after", HeaderValue::from_static("99999"));
        assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER));
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn a_503_waits_only_when_it_says_how_long() {
        let mut h = HeaderMap::new();
        assert!(matches!(
            classify(StatusCode::SERVICE_UNAVAILABLE, &h, b""),
            Verdict::Transient(_)
        ));
        assert!(matches!(
            classify(StatusCode::CONFLICT, &h, b""),
            Verdict::Transient(_)
        ));
        assert!(matches!(
            classify(StatusCode::UNPROCESSABLE_ENTITY, &h, b""),
            Verdict::Done
        ));
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert!(matches!(
            classify(StatusCode::SERVICE_UNAVAILABLE, &h, b""),
            Verdict::Wait { wait, account_wide: true } if wait == Duration::from_secs(2)
        ));
    }

    #[test]
    fn routes_hide_ids_and_logs_hide_query_values() {
        assert_eq!(route_key(&Method::PUT, "users/123"), "PUT users/{id}");
        assert_eq!(
            route_spacing("PUT users/{id}"),
            Some(Duration::from_secs(1))
        );
        assert_eq!(route_spacing("PUT users/update_many"), None);
        let q = vec![
            ("ids", "1,2".to_string()),
            ("page[after]", "a=b+c".to_string()),
        ];
        assert_eq!(
            loggable_path("users/show_many", &q),
            "/api/v2/users/show_many?ids&page[after]"
        );
        assert_eq!(encode_query(&q), "ids=1,2&page%5Bafter%5D=a%3Db%2Bc");
    }

    #[test]
    fn without_a_configured_budget_the_announced_limit_is_followed_up_and_down() {
        let limiter = Limiter::new(200, true);
        let mut h = HeaderMap::new();
        h.insert("x-rate-limit", HeaderValue::from_static("700"));
        limiter.observe(&h, "GET users");
        assert_eq!(limiter.budget(), 560, "four fifths of the announced 700");
        h.insert("x-rate-limit", HeaderValue::from_static("400"));
        limiter.observe(&h, "GET users");
        assert_eq!(limiter.budget(), 320);
    }

    #[test]
    fn announced_limits_lower_the_budget_in_any_spelling() {
        for name in ["X-Rate-Limit", "ratelimit-limit", "Rate-Limit"] {
            let limiter = Limiter::new(700, false);
            let mut h = HeaderMap::new();
            h.insert(
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_static("200"),
            );
            limiter.observe(&h, "GET users");
            assert_eq!(limiter.budget(), 200, "{name}");
            h.insert("x-rate-limit", HeaderValue::from_static("900"));
            limiter.observe(&h, "GET users");
            assert_eq!(
                limiter.budget(),
                200,
                "a larger limit never raises the budget"
            );
        }
    }
}
