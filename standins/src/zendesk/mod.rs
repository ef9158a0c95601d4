//! Local stand-in of the Zendesk Support API (the surface the client uses, as
//! tests/fixtures/zendesk/openapi.yaml describes it):
//! a stateful HTTP server on 127.0.0.1 for the integration tests and the `demo` command.
//!
//! Owns: the account state ([`World`]), Basic auth, the account rate limit and the
//! per-user update limit, cursor pagination, the 100-item limits, background jobs with
//! the recorded result shapes, the 30-job limit and its `zendesk-ratelimit-inflight-jobs`
//! header, an `X-Zendesk-Request-Id` on every answer, the verification emails Zendesk
//! would send, a fault plan and a request log (which `tests/it/api_description.rs`
//! checks against Zendesk's OpenAPI file). Unknown routes answer 404, undocumented
//! parameters of bulk endpoints 400.
//! Honest by design: whatever the real API would refuse, this refuses with the real (or,
//! where unrecorded, the documented) error shape. It must never listen on anything but
//! loopback, and must never be used as evidence of an undocumented Zendesk behaviour:
//! guesses are marked in comments.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use standins::zendesk::{StandinOptions, ZendeskStandin};
//! let zd = ZendeskStandin::start(StandinOptions::default())?;
//! let org = zd.seed_org("Agency", None)?;
//! let api = zd.base_url().join("api/v2/organizations")?; // client calls go here
//! # let _ = (org, api); Ok(()) }
//! ```

mod routes;
mod wire;
pub mod world;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::Value;
use url::Url;

pub use world::{
    Identity, Invalid, Job, JobKind, JobState, Membership, Organization, Rules, SentEmail, User,
    UserSeed, World,
};

/// The API token login the stand-in accepts (`{email}/token:{token}` in Basic auth).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub email: String,
    pub token: String,
}

impl Default for Credentials {
    fn default() -> Self {
        Credentials {
            email: "sync-bot@example.gov".into(),
            token: "standin-token".into(),
        }
    }
}

/// When a queued job completes. Jobs are always `queued` when created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobCompletion {
    /// The n-th fetch of the job status (n ≥ 1; 0 counts as 1) sees it `completed`;
    /// earlier fetches see it `working`.
    AfterPolls(u32),
    /// The job is `working` after half of this duration and `completed` after all of it,
    /// whether or not anyone polls.
    AfterDuration(Duration),
}

/// A canned failure answered instead of (or after) handling a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub status: u16,
    /// Sent as `Retry-After` (seconds).
    pub retry_after: Option<u64>,
    /// Handle the request (state changes, jobs are queued) and then answer with the
    /// fault: "the write went through but the answer was lost".
    pub after_processing: bool,
}

impl Fault {
    /// A fault with this status; 503 and 429 get `Retry-After: 1`, others none.
    pub fn status(status: u16) -> Self {
        Fault {
            status,
            retry_after: matches!(status, 429 | 503).then_some(1),
            after_processing: false,
        }
    }

    /// 500 without Retry-After: an internal error.
    pub fn internal_error() -> Self {
        Fault::status(500)
    }

    /// 503 with Retry-After: Zendesk's "transient, retry after N seconds".
    pub fn unavailable(retry_after_secs: u64) -> Self {
        Fault {
            status: 503,
            retry_after: Some(retry_after_secs),
            after_processing: false,
        }
    }

    /// Handle the request first, then answer with the fault.
    pub fn after_processing(mut self) -> Self {
        self.after_processing = true;
        self
    }
}

/// Answer the next `times` requests that match with `fault`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    /// `GET`, `POST`, ...; `None` matches any method.
    pub method: Option<String>,
    /// Substring of the request path (e.g. `users/create_many`); `None` matches any path.
    pub path_contains: Option<String>,
    pub times: usize,
    pub fault: Fault,
}

/// Stand-in configuration. `Default` is a generous, well-behaved account.
#[derive(Debug, Clone)]
pub struct StandinOptions {
    pub credentials: Credentials,
    /// Account budget per rate-limit window (Zendesk: 200–2500 per minute). Default
    /// 100_000 so tests are not slowed; set it low to test 429 handling.
    pub requests_per_minute: u32,
    /// Length of the rate-limit window; 60 s like Zendesk. Shorten it to test waiting
    /// for `Retry-After` without waiting a minute.
    pub rate_limit_window: Duration,
    /// `PUT /users/{id}` (and `PUT /organizations/{id}`) per record and window; 5 like Zendesk.
    pub record_updates_per_minute: u32,
    pub job_completion: JobCompletion,
    /// Bulk user import enabled for the account. Zendesk's default is OFF; this defaults
    /// to true for convenience. When false, `users/create_many` and
    /// `users/create_or_update_many` answer 403 (`update_many` still works).
    pub bulk_user_import: bool,
    /// "Allow users to belong to multiple organizations"; when false a second membership
    /// is refused (422 / failed job item — a guess, Zendesk's behaviour is undocumented).
    /// Served as `settings.user.multiple_organizations`; change it later through
    /// `with_world(|w| w.rules.multiple_organizations = ..)`.
    pub multiple_organizations: bool,
    /// "Tags on users and organizations" (`settings.user.tagging`); when false tags are
    /// absent from user JSON and dropped from writes without an error.
    pub tagging: bool,
    /// Queued-or-running jobs allowed before `TooManyJobs` (Zendesk: 30).
    pub max_jobs_in_flight: usize,
    /// Added before every response.
    pub latency: Duration,
    /// Emails (any case) whose creation fails per item, as an invalid email would.
    pub reject_emails: BTreeSet<String>,
    /// Faults armed from the start (more can be added with [`ZendeskStandin::inject`]).
    pub faults: Vec<FaultRule>,
    /// `job_statuses/show_many` includes each job's `results`. The only published
    /// show_many answer (OAS example `JobStatusesResponseExample`) carries `{id, status:
    /// completed}` without them; `false` answers like that (results only from
    /// `GET job_statuses/{id}`).
    pub show_many_results: bool,
    /// Results of `organization_memberships/destroy_many` name the membership ids (as
    /// documented). `false` leaves the `id` out, as an undocumented variant would.
    pub destroy_results_name_ids: bool,
    /// HTTP status of a `TooManyJobs` answer. Zendesk documents the error code, not the
    /// status (reference §6: UNCONFIRMED, most likely 429).
    pub too_many_jobs_status: u16,
    /// Users pages with `include=identities` carry the `identities` sideload. `false`
    /// answers without it, as an account where the sideload is not honoured would.
    pub sideload_identities: bool,
}

impl Default for StandinOptions {
    fn default() -> Self {
        StandinOptions {
            credentials: Credentials::default(),
            requests_per_minute: 100_000,
            rate_limit_window: Duration::from_secs(60),
            record_updates_per_minute: 5,
            job_completion: JobCompletion::AfterPolls(2),
            bulk_user_import: true,
            multiple_organizations: true,
            tagging: true,
            max_jobs_in_flight: 30,
            latency: Duration::ZERO,
            reject_emails: BTreeSet::new(),
            faults: Vec::new(),
            show_many_results: true,
            destroy_results_name_ids: true,
            too_many_jobs_status: 429,
            sideload_identities: true,
        }
    }
}

/// One request as the stand-in received it (the Authorization header is never kept).
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedRequest {
    pub method: String,
    /// As sent, e.g. `/api/v2/users/create_many`.
    pub path: String,
    /// Decoded query pairs in order, e.g. `("page[size]", "100")`.
    pub query: Vec<(String, String)>,
    /// The JSON body, if the request had one that parsed.
    pub body: Option<Value>,
    /// The status answered.
    pub status: u16,
    /// The `Content-Type` header sent, if any.
    pub content_type: Option<String>,
    /// The `X-Zendesk-Request-Id` the stand-in answered with.
    pub request_id: String,
}

impl LoggedRequest {
    /// Anything but GET/HEAD.
    pub fn is_write(&self) -> bool {
        !matches!(self.method.as_str(), "GET" | "HEAD")
    }

    /// The value of a query parameter.
    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Fixed-window account budget plus sliding per-record budgets.
#[derive(Debug)]
struct Limiter {
    window_start: Instant,
    used: u32,
    per_record: HashMap<(&'static str, u64), Vec<Instant>>,
}

/// State shared by the handler and the test-facing handle.
#[derive(Debug)]
struct Shared {
    options: StandinOptions,
    world: Mutex<World>,
    log: Mutex<Vec<LoggedRequest>>,
    /// Where [`ZendeskStandin::requests`] starts (moved by `clear_requests`).
    log_cleared_at: Mutex<usize>,
    faults: Mutex<Vec<FaultRule>>,
    failing_jobs: Mutex<usize>,
    limiter: Mutex<Limiter>,
    /// Numbers the `X-Zendesk-Request-Id` of each answer.
    next_request: std::sync::atomic::AtomicU64,
}

/// Locks a mutex, ignoring poisoning: a panicked test thread must not take the server down.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Moves duration-based jobs along; poll-based jobs move only when polled.
    fn advance_jobs(&self, world: &mut World) {
        let JobCompletion::AfterDuration(d) = self.options.job_completion else {
            return;
        };
        let mut due: Vec<(u64, String, bool)> = world
            .jobs
            .values()
            .filter(|j| j.state.in_flight())
            .filter_map(|j| {
                let age = j.created.elapsed();
                if age >= d {
                    Some((j.seq, j.id.clone(), true))
                } else if age >= d / 2 {
                    Some((j.seq, j.id.clone(), false))
                } else {
                    None
                }
            })
            .collect();
        due.sort();
        for (_, id, complete) in due {
            if complete {
                world.complete_job(&id);
            } else {
                world.start_job(&id);
            }
        }
    }
}

/// A running stand-in. Dropping it stops the server.
#[derive(Debug)]
pub struct ZendeskStandin {
    shared: Arc<Shared>,
    base_url: Url,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl ZendeskStandin {
    /// Binds 127.0.0.1 on a free port and serves in a task on the current Tokio runtime.
    pub fn start(options: StandinOptions) -> Result<ZendeskStandin> {
        let runtime = tokio::runtime::Handle::try_current()
            .context("starting the Zendesk stand-in outside a Tokio runtime")?;
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")
            .context("binding the Zendesk stand-in to 127.0.0.1")?;
        std_listener
            .set_nonblocking(true)
            .context("making the Zendesk stand-in socket non-blocking")?;
        let addr = std_listener
            .local_addr()
            .context("reading the Zendesk stand-in address")?;
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(std_listener)
                .context("registering the Zendesk stand-in socket")?
        };
        let base_url = Url::parse(&format!("http://{addr}/"))
            .context("building the Zendesk stand-in base URL")?;
        let rules = world::Rules {
            multiple_organizations: options.multiple_organizations,
            tagging: options.tagging,
            destroy_results_without_ids: !options.destroy_results_name_ids,
            reject_emails: options
                .reject_emails
                .iter()
                .map(|e| e.trim().to_lowercase())
                .collect(),
            ..world::Rules::default()
        };
        let world = World::new(format!("http://{addr}"), rules);
        let shared = Arc::new(Shared {
            faults: Mutex::new(options.faults.clone()),
            options,
            world: Mutex::new(world),
            log: Mutex::new(Vec::new()),
            log_cleared_at: Mutex::new(0),
            failing_jobs: Mutex::new(0),
            next_request: std::sync::atomic::AtomicU64::new(1),
            limiter: Mutex::new(Limiter {
                window_start: Instant::now(),
                used: 0,
                per_record: HashMap::new(),
            }),
        });
        let app = axum::Router::new()
            .fallback(routes::handle)
            .with_state(shared.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        runtime.spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "Zendesk stand-in stopped with an error");
            }
        });
        Ok(ZendeskStandin {
            shared,
            base_url,
            stop: Some(stop),
        })
    }

    /// `http://127.0.0.1:PORT/`; the API is under `api/v2/`.
    pub fn base_url(&self) -> Url {
        self.base_url.clone()
    }

    /// The credentials the stand-in accepts.
    pub fn credentials(&self) -> &Credentials {
        &self.shared.options.credentials
    }

    /// Stops the server (also done on drop).
    pub fn shutdown(mut self) {
        self.stop_server();
    }

    fn stop_server(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    // ---- world ----

    /// Runs `f` on the live world (seeding or inspection beyond the helpers below). Direct
    /// edits of its public maps are allowed: the world's lookups are rebuilt afterwards.
    pub fn with_world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        self.with_world_unchanged(|w| {
            let out = f(w);
            w.reindex();
            out
        })
    }

    /// Runs `f`, which changes the world only through `World`'s own methods.
    fn with_world_unchanged<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let mut world = lock(&self.shared.world);
        self.shared.advance_jobs(&mut world);
        f(&mut world)
    }

    /// A copy of the world as it is now.
    pub fn snapshot(&self) -> World {
        self.with_world_unchanged(|w| w.clone())
    }

    /// See [`World::seed_org`].
    pub fn seed_org(&self, name: &str, details: Option<&str>) -> Result<u64> {
        self.with_world_unchanged(|w| w.seed_org(name, details))
    }

    /// See [`World::seed_user`].
    pub fn seed_user(&self, seed: UserSeed) -> Result<u64> {
        self.with_world_unchanged(|w| w.seed_user(seed))
    }

    /// See [`World::add_identity`].
    pub fn add_identity(&self, user_id: u64, email: &str, primary: bool) -> Result<u64> {
        self.with_world_unchanged(|w| w.add_identity(user_id, email, primary))
    }

    /// See [`World::seed_membership`].
    pub fn seed_membership(&self, user_id: u64, organization_id: u64) -> Result<u64> {
        self.with_world_unchanged(|w| w.seed_membership(user_id, organization_id))
    }

    /// Completes every queued or running job now, in creation order.
    pub fn complete_jobs(&self) {
        self.with_world_unchanged(|w| {
            let mut ids: Vec<(u64, String)> = w
                .jobs
                .values()
                .filter(|j| j.state.in_flight())
                .map(|j| (j.seq, j.id.clone()))
                .collect();
            ids.sort();
            for (_, id) in ids {
                w.complete_job(&id);
            }
        });
    }

    // ---- request log ----

    /// Every request received since the last [`clear_requests`](Self::clear_requests), in
    /// order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        let from = *lock(&self.shared.log_cleared_at);
        lock(&self.shared.log)
            .get(from..)
            .unwrap_or_default()
            .to_vec()
    }

    /// Forgets the request log (e.g. after seeding through the API); [`all_requests`]
    /// still has them.
    ///
    /// [`all_requests`]: Self::all_requests
    pub fn clear_requests(&self) {
        let len = lock(&self.shared.log).len();
        *lock(&self.shared.log_cleared_at) = len;
    }

    /// Every request received since the start, cleared or not (the API-description check
    /// reads these).
    pub fn all_requests(&self) -> Vec<LoggedRequest> {
        lock(&self.shared.log).clone()
    }

    // ---- faults ----

    /// Answers the next `n` requests (any route) with `status`; 503 and 429 carry
    /// `Retry-After: 1`.
    pub fn fail_next(&self, n: usize, status: u16) {
        self.inject(FaultRule {
            method: None,
            path_contains: None,
            times: n,
            fault: Fault::status(status),
        });
    }

    /// Arms a fault rule; rules are tried in the order they were added.
    pub fn inject(&self, rule: FaultRule) {
        lock(&self.shared.faults).push(rule);
    }

    /// The next `n` jobs created end `failed` (no results, no effect).
    pub fn fail_next_jobs(&self, n: usize) {
        *lock(&self.shared.failing_jobs) += n;
    }

    /// Disarms every fault rule and job failure not yet used up (a fault episode ends).
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
        *lock(&self.shared.failing_jobs) = 0;
    }
}

impl Drop for ZendeskStandin {
    fn drop(&mut self) {
        self.stop_server();
    }
}
