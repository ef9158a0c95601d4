//! Local stand-in of the GitHub REST API (issues, comments, labels, search) for one
//! repository: a stateful HTTP server on 127.0.0.1 that answers as GitHub does
//! (docs/references.md "GitHub API the stand-in serves"): bearer token check, list filters and `Link` pagination, label
//! auto-creation, assignee validation, `state_reason` applied only on a state change,
//! the 65,536-character body limit, a search index that lags writes, and injectable
//! faults (including "did the write, then answered 502") to prove the client never
//! duplicates an issue or a comment.
//!
//! JSON shapes carry every field octocrab 0.54's models require. It never reaches the
//! internet and never logs the token or the request bodies' authors.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{Context, Result};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const MAX_BODY_CHARS: usize = 65_536;
const DOCS: &str = "https://docs.github.com/rest";
const BOT_LOGIN: &str = "github-actions[bot]";
const BOT_ID: u64 = 41_898_282;

/// How the stand-in is set up.
#[derive(Debug, Clone)]
pub struct StandinOptions {
    /// The bearer token it accepts.
    pub token: String,
    /// `owner/name` of the one repository it serves.
    pub repository: String,
    /// Logins that may be assigned; any other assignee on create is a 422.
    pub assignable: Vec<String>,
    /// A new or edited issue stays invisible to `/search/issues` for this many searches.
    pub search_lag: u32,
    /// Path before the API routes, as on GitHub Enterprise Server (`/api/v3`); "" for none.
    pub path_prefix: String,
    /// What the token may do with issues: `write` (default), `read` or `none`. Below
    /// `write`, the refused issue calls answer 403 "Resource not accessible by
    /// integration" with `x-accepted-github-permissions`, and `GET /repos/{o}/{r}` shows
    /// the matching `permissions` (push/triage only with `write`).
    pub issues_permission: &'static str,
}

impl Default for StandinOptions {
    fn default() -> Self {
        StandinOptions {
            token: "standin-github-token".into(),
            repository: "cloud-gov/pages-zendesk-sync".into(),
            assignable: vec!["pages-operator".into()],
            search_lag: 0,
            path_prefix: String::new(),
            issues_permission: "write",
        }
    }
}

/// The endpoints the stand-in serves (used to aim faults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    ListIssues,
    CreateIssue,
    GetIssue,
    UpdateIssue,
    ListComments,
    CreateComment,
    GetComment,
    UpdateComment,
    Search,
    /// `GET /repos/{owner}/{repo}`.
    GetRepository,
    /// `GET /repos/{owner}/{repo}/labels/{name}`.
    GetLabel,
    AddLabels,
}

/// A failure to inject on the next calls of an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status without doing anything.
    Status(u16),
    /// Do the work, then answer this status (the answer was "lost" on the way back).
    AfterEffect(u16),
    /// A rate-limit answer (403 or 429) with `retry-after` (if given) and
    /// `x-ratelimit-remaining: 0`.
    RateLimited {
        status: u16,
        retry_after: Option<u64>,
    },
    /// 403 "Resource not accessible by integration" (the token lacks `issues: write`).
    NotAccessible,
    /// Do the work, then hold the answer back this long (past the client's timeout).
    SlowAfterEffect(std::time::Duration),
}

/// An issue as the stand-in holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRecord {
    pub number: u64,
    pub id: u64,
    pub title: String,
    pub body: Option<String>,
    /// `open` or `closed`
    pub state: String,
    pub state_reason: Option<String>,
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
    pub author: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub pull_request: bool,
    /// Searches counted when it was last written (for the index lag).
    indexed_at_search: i64,
}

/// A comment as the stand-in holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentRecord {
    pub id: u64,
    pub issue_number: u64,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One request the stand-in received (never the Authorization header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    pub method: String,
    /// Without the path prefix.
    pub path: String,
    pub query: Option<String>,
    /// Request headers except `authorization`, lower-case names.
    pub headers: BTreeMap<String, String>,
    pub body: String,
    pub status: u16,
}

/// An issue to put in the world before a test (as if created earlier).
#[derive(Debug, Clone)]
pub struct SeedIssue {
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub open: bool,
    pub created_at: DateTime<Utc>,
    pub pull_request: bool,
}

#[derive(Debug, Clone)]
struct Label {
    id: u64,
    name: String,
    color: String,
}

#[derive(Debug)]
struct World {
    options: StandinOptions,
    owner: String,
    repo: String,
    /// `http://127.0.0.1:PORT` + prefix
    api_url: String,
    issues: Vec<IssueRecord>,
    comments: Vec<CommentRecord>,
    labels: BTreeMap<String, Label>,
    next_id: u64,
    searches: i64,
    faults: Vec<(Endpoint, Fault, usize)>,
    log: Vec<LoggedRequest>,
    used: u64,
    /// Set by a [`Fault::SlowAfterEffect`]; the handler waits outside the lock.
    hold_answer: Option<std::time::Duration>,
}

type Shared = Arc<Mutex<World>>;

/// A running stand-in; stops when dropped.
#[derive(Debug)]
pub struct GithubStandin {
    world: Shared,
    addr: SocketAddr,
    api_url: String,
    token: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl GithubStandin {
    /// Binds 127.0.0.1 on a free port and serves until dropped.
    pub async fn start(options: StandinOptions) -> Result<Self> {
        let (owner, repo) = options
            .repository
            .split_once('/')
            .map(|(o, r)| (o.to_string(), r.to_string()))
            .context("stand-in repository must be owner/name")?;
        let prefix = options.path_prefix.trim_end_matches('/').to_string();
        if !prefix.is_empty() && !prefix.starts_with('/') {
            anyhow::bail!("stand-in path prefix must start with /");
        }
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("binding the GitHub stand-in to 127.0.0.1")?;
        let addr = listener
            .local_addr()
            .context("reading the GitHub stand-in's address")?;
        let api_url = format!("http://{addr}{prefix}");
        let token = options.token.clone();
        let world = Arc::new(Mutex::new(World {
            options: StandinOptions {
                path_prefix: prefix,
                ..options
            },
            owner,
            repo,
            api_url: api_url.clone(),
            issues: Vec::new(),
            comments: Vec::new(),
            labels: BTreeMap::new(),
            next_id: 1000,
            searches: 0,
            faults: Vec::new(),
            log: Vec::new(),
            used: 0,
            hold_answer: None,
        }));
        let app = Router::new().fallback(handle).with_state(world.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "GitHub stand-in stopped");
            }
        });
        Ok(GithubStandin {
            world,
            addr,
            api_url,
            token,
            shutdown: Some(tx),
            task,
        })
    }

    /// The base URL to give the client as `GITHUB_API_URL`.
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The token the stand-in accepts.
    pub fn token(&self) -> &str {
        &self.token
    }

    fn world(&self) -> MutexGuard<'_, World> {
        // A panic in a handler poisons the lock; the data is still usable for inspection.
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next `times` calls of `endpoint` meet `fault`.
    pub fn inject(&self, endpoint: Endpoint, times: usize, fault: Fault) {
        self.world().faults.push((endpoint, fault, times));
    }

    /// The next `times` issue creates and comment creates are performed, then answered
    /// with `status` (for example 502), as when GitHub's answer is lost.
    pub fn fail_after_create(&self, times: usize, status: u16) {
        self.inject(Endpoint::CreateIssue, times, Fault::AfterEffect(status));
        self.inject(Endpoint::CreateComment, times, Fault::AfterEffect(status));
    }

    pub fn issues(&self) -> Vec<IssueRecord> {
        self.world().issues.clone()
    }

    pub fn issue(&self, number: u64) -> Option<IssueRecord> {
        self.world()
            .issues
            .iter()
            .find(|i| i.number == number)
            .cloned()
    }

    /// The comments on one issue, oldest first.
    pub fn comments(&self, number: u64) -> Vec<CommentRecord> {
        self.world()
            .comments
            .iter()
            .filter(|c| c.issue_number == number)
            .cloned()
            .collect()
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.world().log.clone()
    }

    /// Names of the repository's labels.
    pub fn labels(&self) -> Vec<String> {
        self.world()
            .labels
            .values()
            .map(|l| l.name.clone())
            .collect()
    }

    /// Adds an issue as if created earlier (by the bot); returns its number.
    pub fn seed_issue(&self, seed: SeedIssue) -> u64 {
        self.seed_issue_by(seed, BOT_LOGIN)
    }

    /// Adds an issue as if a person (`author`, a login) opened it earlier.
    pub fn seed_issue_by(&self, seed: SeedIssue, author: &str) -> u64 {
        let mut w = self.world();
        for l in &seed.labels {
            w.label(l);
        }
        let id = w.id();
        let number = w.issues.len() as u64 + 1;
        w.issues.push(IssueRecord {
            number,
            id,
            title: seed.title,
            body: Some(seed.body),
            state: if seed.open { "open" } else { "closed" }.into(),
            state_reason: (!seed.open).then(|| "completed".to_string()),
            labels: seed.labels,
            assignees: Vec::new(),
            author: author.into(),
            created_at: seed.created_at,
            updated_at: seed.created_at,
            closed_at: (!seed.open).then_some(seed.created_at),
            pull_request: seed.pull_request,
            // Seeded issues are old: already indexed.
            indexed_at_search: i64::MIN / 2,
        });
        number
    }

    /// Adds a comment as if posted earlier; returns its id.
    pub fn seed_comment(&self, number: u64, body: &str) -> u64 {
        let mut w = self.world();
        let id = w.id();
        let now = Utc::now();
        w.comments.push(CommentRecord {
            id,
            issue_number: number,
            body: body.to_string(),
            created_at: now,
            updated_at: now,
        });
        if let Some(i) = w.issues.iter_mut().find(|i| i.number == number) {
            i.updated_at = now;
        }
        id
    }

    /// A person edits the issue body in the browser. Returns false for an unknown issue.
    pub fn edit_issue_body(&self, number: u64, body: &str) -> bool {
        let mut w = self.world();
        let searches = w.searches;
        match w.issues.iter_mut().find(|i| i.number == number) {
            Some(i) => {
                i.body = Some(body.to_string());
                i.updated_at = Utc::now();
                i.indexed_at_search = searches;
                true
            }
            None => false,
        }
    }
}

impl Drop for GithubStandin {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.abort();
    }
}

impl World {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The label of that name, created (colour `ededed`) if it does not exist, as GitHub
    /// does for labels named on an issue.
    fn label(&mut self, name: &str) -> String {
        let key = name.to_lowercase();
        if let Some(l) = self.labels.get(&key) {
            return l.name.clone();
        }
        let id = self.id();
        self.labels.insert(
            key,
            Label {
                id,
                name: name.to_string(),
                color: "ededed".into(),
            },
        );
        name.to_string()
    }

    fn repo_url(&self) -> String {
        format!("{}/repos/{}/{}", self.api_url, self.owner, self.repo)
    }

    fn html_repo_url(&self) -> String {
        format!("http://github.standin/{}/{}", self.owner, self.repo)
    }

    fn user_json(&self, login: &str) -> Value {
        let bot = login == BOT_LOGIN;
        let id = if bot {
            BOT_ID
        } else {
            500_000 + login.len() as u64
        };
        let base = format!("{}/users/{}", self.api_url, login);
        json!({
            "login": login,
            "id": id,
            "node_id": format!("MDM6Qm90{id}"),
            "avatar_url": format!("http://avatars.github.standin/u/{id}"),
            "gravatar_id": "",
            "url": base,
            "html_url": format!("http://github.standin/{}", if bot { "apps/github-actions" } else { login }),
            "followers_url": format!("{base}/followers"),
            "following_url": format!("{base}/following{{/other_user}}"),
            "gists_url": format!("{base}/gists{{/gist_id}}"),
            "starred_url": format!("{base}/starred{{/owner}}{{/repo}}"),
            "subscriptions_url": format!("{base}/subscriptions"),
            "organizations_url": format!("{base}/orgs"),
            "repos_url": format!("{base}/repos"),
            "events_url": format!("{base}/events{{/privacy}}"),
            "received_events_url": format!("{base}/received_events"),
            "type": if bot { "Bot" } else { "User" },
            "site_admin": false,
        })
    }

    fn label_json(&self, name: &str) -> Value {
        let label = self.labels.get(&name.to_lowercase());
        let id = label.map_or(0, |l| l.id);
        json!({
            "id": id,
            "node_id": format!("LA_{id}"),
            "url": format!("{}/labels/{}", self.repo_url(), urlencode(name)),
            "name": label.map_or(name, |l| l.name.as_str()),
            "color": label.map_or("ededed", |l| l.color.as_str()),
            "default": false,
            "description": null,
        })
    }

    fn issue_json(&self, i: &IssueRecord) -> Value {
        let url = format!("{}/issues/{}", self.repo_url(), i.number);
        let mut v = json!({
            "id": i.id,
            "node_id": format!("I_{}", i.id),
            "url": url,
            "repository_url": self.repo_url(),
            "labels_url": format!("{url}/labels{{/name}}"),
            "comments_url": format!("{url}/comments"),
            "events_url": format!("{url}/events"),
            "html_url": format!("{}/issues/{}", self.html_repo_url(), i.number),
            "number": i.number,
            "state": i.state,
            "state_reason": i.state_reason,
            "title": i.title,
            "body": i.body,
            "user": self.user_json(&i.author),
            "labels": i.labels.iter().map(|l| self.label_json(l)).collect::<Vec<_>>(),
            "assignee": i.assignees.first().map(|a| self.user_json(a)),
            "assignees": i.assignees.iter().map(|a| self.user_json(a)).collect::<Vec<_>>(),
            "milestone": null,
            "locked": false,
            "active_lock_reason": null,
            "comments": self.comments.iter().filter(|c| c.issue_number == i.number).count(),
            "closed_at": i.closed_at.map(ts),
            "closed_by": i.closed_at.map(|_| self.user_json(BOT_LOGIN)),
            "created_at": ts(i.created_at),
            "updated_at": ts(i.updated_at),
            "author_association": "NONE",
        });
        if i.pull_request {
            v["pull_request"] = json!({
                "url": format!("{}/pulls/{}", self.repo_url(), i.number),
                "html_url": format!("{}/pull/{}", self.html_repo_url(), i.number),
                "diff_url": format!("{}/pull/{}.diff", self.html_repo_url(), i.number),
                "patch_url": format!("{}/pull/{}.patch", self.html_repo_url(), i.number),
            });
        }
        v
    }

    fn comment_json(&self, c: &CommentRecord) -> Value {
        json!({
            "id": c.id,
            "node_id": format!("IC_{}", c.id),
            "url": format!("{}/issues/comments/{}", self.repo_url(), c.id),
            "html_url": format!("{}/issues/{}#issuecomment-{}", self.html_repo_url(), c.issue_number, c.id),
            "issue_url": format!("{}/issues/{}", self.repo_url(), c.issue_number),
            "body": c.body,
            "user": self.user_json(BOT_LOGIN),
            "created_at": ts(c.created_at),
            "updated_at": ts(c.updated_at),
            "author_association": "NONE",
        })
    }

    fn take_fault(&mut self, endpoint: Endpoint) -> Option<Fault> {
        let slot = self
            .faults
            .iter_mut()
            .find(|(e, _, left)| *e == endpoint && *left > 0)?;
        slot.2 -= 1;
        let fault = slot.1.clone();
        self.faults.retain(|(_, _, left)| *left > 0);
        Some(fault)
    }
}

fn reason(status: u16) -> &'static str {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Server Error")
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// An answer before the rate-limit headers are added.
struct Answer {
    status: u16,
    body: Value,
    headers: Vec<(&'static str, String)>,
}

impl Answer {
    fn ok(status: u16, body: Value) -> Answer {
        Answer {
            status,
            body,
            headers: Vec::new(),
        }
    }

    fn error(status: u16, message: &str) -> Answer {
        Answer::ok(
            status,
            json!({ "message": message, "documentation_url": DOCS, "status": status.to_string() }),
        )
    }

    fn validation(resource: &str, field: &str, code: &str, message: Option<&str>) -> Answer {
        let mut e = json!({ "resource": resource, "field": field, "code": code });
        if let Some(m) = message {
            e["message"] = json!(m);
        }
        Answer::ok(
            422,
            json!({ "message": "Validation Failed", "errors": [e], "documentation_url": DOCS, "status": "422" }),
        )
    }

    fn not_found() -> Answer {
        Answer::error(404, "Not Found")
    }
}

fn handle_locked(
    world: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> (Answer, Option<std::time::Duration>, u64) {
    let mut w = world.lock().unwrap_or_else(|p| p.into_inner());
    let full_path = uri.path().to_string();
    let path = full_path
        .strip_prefix(w.options.path_prefix.as_str())
        .filter(|_| !w.options.path_prefix.is_empty())
        .unwrap_or(&full_path)
        .to_string();
    let query = uri.query().map(str::to_string);
    let body_text = String::from_utf8_lossy(body).to_string();

    let answer = answer(&mut w, method, &path, query.as_deref(), headers, &body_text);
    w.used += 1;
    let logged_headers = headers
        .iter()
        .filter(|(name, _)| *name != "authorization")
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).to_string(),
            )
        })
        .collect();
    w.log.push(LoggedRequest {
        method: method.to_string(),
        path,
        query,
        headers: logged_headers,
        body: body_text,
        status: answer.status,
    });
    (answer, w.hold_answer.take(), w.used)
}

async fn handle(
    State(world): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // The lock is taken and released in a plain function: no guard lives across an await.
    let (answer, hold, used) = handle_locked(&world, &method, &uri, &headers, &body);
    if let Some(d) = hold {
        tokio::time::sleep(d).await;
    }
    let mut response = (
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        serde_json::to_string(&answer.body).unwrap_or_default(),
    )
        .into_response();
    let h = response.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    let reset = (Utc::now().timestamp() + 3600).to_string();
    let mut standard = vec![
        ("x-ratelimit-limit", "1000".to_string()),
        (
            "x-ratelimit-remaining",
            (1000u64.saturating_sub(used)).to_string(),
        ),
        ("x-ratelimit-used", used.to_string()),
        ("x-ratelimit-reset", reset),
        ("x-ratelimit-resource", "core".to_string()),
    ];
    for (name, value) in answer.headers {
        standard.retain(|(n, _)| *n != name);
        standard.push((name, value));
    }
    for (name, value) in standard {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    response
}

fn answer(
    w: &mut World,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &str,
) -> Answer {
    let authorised = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("token "))
        })
        .is_some_and(|t| t == w.options.token);
    if !authorised {
        return Answer::error(401, "Bad credentials");
    }
    let params: BTreeMap<String, String> =
        url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();

    let route: Option<(Endpoint, Option<u64>)> = match (method, segments.as_slice()) {
        (&Method::GET, ["search", "issues"]) => Some((Endpoint::Search, None)),
        (m, ["repos", o, r, rest @ ..]) if *o == w.owner && *r == w.repo => match (m, rest) {
            (&Method::GET, []) => Some((Endpoint::GetRepository, None)),
            (&Method::GET, ["labels", _]) => Some((Endpoint::GetLabel, None)),
            (&Method::GET, ["issues"]) => Some((Endpoint::ListIssues, None)),
            (&Method::POST, ["issues"]) => Some((Endpoint::CreateIssue, None)),
            (&Method::GET, ["issues", "comments", id]) => {
                id.parse().ok().map(|id| (Endpoint::GetComment, Some(id)))
            }
            // GitHub documents PATCH; octocrab's `update_comment` sends POST.
            (&Method::PATCH | &Method::POST, ["issues", "comments", id]) => id
                .parse()
                .ok()
                .map(|id| (Endpoint::UpdateComment, Some(id))),
            (&Method::GET, ["issues", n]) => n.parse().ok().map(|n| (Endpoint::GetIssue, Some(n))),
            (&Method::PATCH, ["issues", n]) => {
                n.parse().ok().map(|n| (Endpoint::UpdateIssue, Some(n)))
            }
            (&Method::GET, ["issues", n, "comments"]) => {
                n.parse().ok().map(|n| (Endpoint::ListComments, Some(n)))
            }
            (&Method::POST, ["issues", n, "comments"]) => {
                n.parse().ok().map(|n| (Endpoint::CreateComment, Some(n)))
            }
            (&Method::POST, ["issues", n, "labels"]) => {
                n.parse().ok().map(|n| (Endpoint::AddLabels, Some(n)))
            }
            _ => None,
        },
        _ => None,
    };
    let Some((endpoint, id)) = route else {
        return Answer::not_found();
    };

    // The token's issues permission (GitHub: "Resource not accessible by integration",
    // docs/references.md "GitHub API the stand-in serves"; the header names what the
    // endpoint needs).
    let needs = match endpoint {
        Endpoint::GetRepository | Endpoint::GetLabel => None,
        Endpoint::ListIssues
        | Endpoint::GetIssue
        | Endpoint::ListComments
        | Endpoint::GetComment
        | Endpoint::Search => Some("read"),
        _ => Some("write"),
    };
    let allowed = matches!(
        (w.options.issues_permission, needs),
        (_, None) | ("write", _) | ("read", Some("read"))
    );
    if !allowed {
        let mut a = Answer::error(403, "Resource not accessible by integration");
        a.headers.push((
            "x-accepted-github-permissions",
            format!("issues={}", needs.unwrap_or("read")),
        ));
        return a;
    }
    let fault = w.take_fault(endpoint);
    match &fault {
        Some(Fault::Status(s)) => return Answer::error(*s, reason(*s)),
        Some(Fault::RateLimited {
            status,
            retry_after,
        }) => {
            let mut a = Answer::error(
                *status,
                "API rate limit exceeded for installation. Check out the documentation for more details.",
            );
            a.headers.push(("x-ratelimit-remaining", "0".into()));
            a.headers.push((
                "x-ratelimit-reset",
                (Utc::now().timestamp() + 1).to_string(),
            ));
            if let Some(s) = retry_after {
                a.headers.push(("retry-after", s.to_string()));
            }
            return a;
        }
        Some(Fault::NotAccessible) => {
            return Answer::error(403, "Resource not accessible by integration")
        }
        Some(Fault::SlowAfterEffect(d)) => w.hold_answer = Some(*d),
        Some(Fault::AfterEffect(_)) | None => {}
    }

    let done = match (endpoint, id) {
        (Endpoint::Search, _) => search(w, &params),
        (Endpoint::ListIssues, _) => list_issues(w, &params),
        (Endpoint::CreateIssue, _) => create_issue(w, body),
        (Endpoint::GetIssue, Some(n)) => match w.issues.iter().find(|i| i.number == n) {
            Some(i) => Answer::ok(200, w.issue_json(i)),
            None => Answer::not_found(),
        },
        (Endpoint::UpdateIssue, Some(n)) => update_issue(w, n, body),
        (Endpoint::ListComments, Some(n)) => list_comments(w, n, &params),
        (Endpoint::CreateComment, Some(n)) => create_comment(w, n, body),
        (Endpoint::GetComment, Some(cid)) => match w.comments.iter().find(|c| c.id == cid) {
            Some(c) => Answer::ok(200, w.comment_json(c)),
            None => Answer::not_found(),
        },
        (Endpoint::UpdateComment, Some(cid)) => update_comment(w, cid, body),
        (Endpoint::GetRepository, _) => {
            let write = w.options.issues_permission == "write";
            let mut a = Answer::ok(
                200,
                json!({
                    "id": 1_296_269,
                    "name": w.repo,
                    "full_name": format!("{}/{}", w.owner, w.repo),
                    "private": false,
                    "has_issues": true,
                    "url": format!("{}/repos/{}/{}", w.api_url, w.owner, w.repo),
                    "permissions": {
                        "admin": false, "maintain": false,
                        "push": write, "triage": write, "pull": true,
                    },
                }),
            );
            a.headers
                .push(("x-accepted-github-permissions", "metadata=read".into()));
            a
        }
        (Endpoint::GetLabel, _) => {
            let name = segments.last().map(|n| {
                url::form_urlencoded::parse(format!("n={n}").as_bytes())
                    .map(|(_, v)| v.into_owned())
                    .next()
                    .unwrap_or_default()
            });
            match name.and_then(|n| w.labels.get(&n.to_lowercase())) {
                Some(l) => Answer::ok(
                    200,
                    json!({"id": l.id, "name": l.name, "color": l.color, "default": false}),
                ),
                None => Answer::not_found(),
            }
        }
        (Endpoint::AddLabels, Some(n)) => add_labels(w, n, body),
        _ => Answer::not_found(),
    };
    match fault {
        Some(Fault::AfterEffect(s)) => Answer::error(s, reason(s)),
        _ => done,
    }
}

fn parse_json(body: &str) -> Result<Map<String, Value>, Answer> {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(Answer::error(400, "Problems parsing JSON")),
    }
}

fn too_long(resource: &str, text: &str) -> Option<Answer> {
    (text.chars().count() > MAX_BODY_CHARS).then(|| {
        Answer::validation(
            resource,
            "body",
            "custom",
            Some("body is too long (maximum is 65536 characters)"),
        )
    })
}

/// Label names from `["a", {"name": "b"}]`.
fn label_names(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|l| {
            l.as_str()
                .or_else(|| l.get("name").and_then(Value::as_str))
                .map(str::to_string)
        })
        .collect()
}

fn string_list(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|s| s.as_str().map(str::to_string))
        .collect()
}

fn create_issue(w: &mut World, body: &str) -> Answer {
    let m = match parse_json(body) {
        Ok(m) => m,
        Err(a) => return a,
    };
    let title = match m.get("title") {
        Some(Value::String(t)) if !t.trim().is_empty() => t.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Answer::validation("Issue", "title", "missing_field", None),
    };
    let text = m.get("body").and_then(Value::as_str).map(str::to_string);
    if let Some(a) = text.as_deref().and_then(|t| too_long("Issue", t)) {
        return a;
    }
    let labels = match m.get("labels") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => match label_names(v) {
            Some(l) => l,
            None => return Answer::validation("Issue", "labels", "invalid", None),
        },
    };
    let assignees = match m.get("assignees") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => match string_list(v) {
            Some(a) => a,
            None => return Answer::validation("Issue", "assignees", "invalid", None),
        },
    };
    if let Some(bad) = assignees.iter().find(|a| {
        !w.options
            .assignable
            .iter()
            .any(|ok| ok.eq_ignore_ascii_case(a))
    }) {
        let mut a = Answer::validation("Issue", "assignees", "invalid", None);
        a.body["errors"][0]["value"] = json!(bad);
        return a;
    }
    let mut names = Vec::new();
    for l in labels {
        let name = w.label(&l);
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let now = Utc::now();
    let id = w.id();
    let number = w.issues.len() as u64 + 1;
    let issue = IssueRecord {
        number,
        id,
        title,
        body: text,
        state: "open".into(),
        state_reason: None,
        labels: names,
        assignees,
        author: BOT_LOGIN.into(),
        created_at: now,
        updated_at: now,
        closed_at: None,
        pull_request: false,
        indexed_at_search: w.searches,
    };
    let json = w.issue_json(&issue);
    w.issues.push(issue);
    let mut a = Answer::ok(201, json);
    a.headers
        .push(("location", format!("{}/issues/{number}", w.repo_url())));
    a
}

fn update_issue(w: &mut World, number: u64, body: &str) -> Answer {
    let m = match parse_json(body) {
        Ok(m) => m,
        Err(a) => return a,
    };
    let Some(pos) = w.issues.iter().position(|i| i.number == number) else {
        return Answer::not_found();
    };
    let new_state = match m.get("state") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s == "open" || s == "closed" => Some(s.clone()),
        Some(_) => return Answer::validation("Issue", "state", "invalid", None),
    };
    let reason = match m.get("state_reason") {
        None | Some(Value::Null) => None,
        Some(Value::String(s))
            if ["completed", "not_planned", "reopened", "duplicate"].contains(&s.as_str()) =>
        {
            Some(s.clone())
        }
        Some(_) => return Answer::validation("Issue", "state_reason", "invalid", None),
    };
    if let Some(t) = m.get("body").and_then(Value::as_str) {
        if let Some(a) = too_long("Issue", t) {
            return a;
        }
    }
    let labels = match m.get("labels") {
        None | Some(Value::Null) => None,
        Some(v) => match label_names(v) {
            Some(l) => Some(l.iter().map(|l| w.label(l)).collect::<Vec<_>>()),
            None => return Answer::validation("Issue", "labels", "invalid", None),
        },
    };
    let now = Utc::now();
    let searches = w.searches;
    let issue = &mut w.issues[pos];
    if let Some(t) = m.get("title").and_then(Value::as_str) {
        issue.title = t.to_string();
    }
    if let Some(v) = m.get("body") {
        issue.body = v.as_str().map(str::to_string);
    }
    if let Some(l) = labels {
        issue.labels = l;
    }
    if let Some(a) = m.get("assignees").and_then(string_list) {
        issue.assignees = a;
    }
    // GitHub: `state_reason` is ignored unless `state` changes in the same request.
    if let Some(state) = new_state {
        if state != issue.state {
            if state == "closed" {
                issue.closed_at = Some(now);
                issue.state_reason = Some(reason.unwrap_or_else(|| "completed".into()));
            } else {
                issue.closed_at = None;
                issue.state_reason = Some("reopened".into());
            }
            issue.state = state;
        }
    }
    issue.updated_at = now;
    issue.indexed_at_search = searches;
    let issue = issue.clone();
    Answer::ok(200, w.issue_json(&issue))
}

/// `POST /issues/{n}/labels`: adds labels (created `ededed` if new), keeps the others;
/// answers the issue's labels. The body is `{"labels": [names]}` or a bare array of names.
fn add_labels(w: &mut World, number: u64, body: &str) -> Answer {
    let names = match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(m)) => m.get("labels").and_then(label_names),
        Ok(v @ Value::Array(_)) => label_names(&v),
        _ => return Answer::error(400, "Problems parsing JSON"),
    };
    let Some(names) = names.filter(|n| !n.is_empty()) else {
        return Answer::validation("Label", "labels", "invalid", None);
    };
    let Some(pos) = w.issues.iter().position(|i| i.number == number) else {
        return Answer::not_found();
    };
    let names: Vec<String> = names.iter().map(|l| w.label(l)).collect();
    let searches = w.searches;
    let issue = &mut w.issues[pos];
    for name in names {
        if !issue.labels.iter().any(|l| l.eq_ignore_ascii_case(&name)) {
            issue.labels.push(name);
        }
    }
    issue.updated_at = Utc::now();
    issue.indexed_at_search = searches;
    let labels = issue.labels.clone();
    Answer::ok(
        200,
        Value::Array(labels.iter().map(|l| w.label_json(l)).collect()),
    )
}

/// `per_page` (default 30, at most 100) and `page` (from 1).
fn paging(params: &BTreeMap<String, String>) -> Result<(usize, usize), Answer> {
    let per_page = match params.get("per_page") {
        None => 30,
        Some(s) => match s.parse::<usize>() {
            Ok(n) => n.clamp(1, 100),
            Err(_) => return Err(Answer::validation("Issue", "per_page", "invalid", None)),
        },
    };
    let page = match params.get("page") {
        None => 1,
        Some(s) => match s.parse::<usize>() {
            Ok(n) => n.max(1),
            Err(_) => return Err(Answer::validation("Issue", "page", "invalid", None)),
        },
    };
    Ok((per_page, page))
}

/// The items of one page, and a `Link` header with absolute URLs when there are others.
fn paginate<T: Clone>(
    items: &[T],
    per_page: usize,
    page: usize,
    url: &str,
    params: &BTreeMap<String, String>,
) -> (Vec<T>, Option<String>) {
    let last = items.len().div_ceil(per_page).max(1);
    let start = (page - 1).saturating_mul(per_page).min(items.len());
    let end = (start + per_page).min(items.len());
    let link_to = |p: usize| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in params.iter().filter(|(k, _)| k.as_str() != "page") {
            q.append_pair(k, v);
        }
        q.append_pair("page", &p.to_string());
        format!("<{url}?{}>", q.finish())
    };
    let mut links = Vec::new();
    if page < last {
        links.push(format!("{}; rel=\"next\"", link_to(page + 1)));
        links.push(format!("{}; rel=\"last\"", link_to(last)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", link_to(1)));
        links.push(format!("{}; rel=\"prev\"", link_to((page - 1).min(last))));
    }
    let link = (!links.is_empty()).then(|| links.join(", "));
    (items[start..end].to_vec(), link)
}

fn list_issues(w: &mut World, params: &BTreeMap<String, String>) -> Answer {
    let state = params.get("state").map_or("open", String::as_str);
    if !["open", "closed", "all"].contains(&state) {
        return Answer::validation("Issue", "state", "invalid", None);
    }
    let wanted: Vec<String> = params
        .get("labels")
        .map(|l| {
            l.split(',')
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let since = match params.get("since").map(|s| DateTime::parse_from_rfc3339(s)) {
        None => None,
        Some(Ok(t)) => Some(t.with_timezone(&Utc)),
        Some(Err(_)) => return Answer::validation("Issue", "since", "invalid", None),
    };
    let sort = params.get("sort").map_or("created", String::as_str);
    let ascending = match params.get("direction").map(String::as_str) {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(_) => return Answer::validation("Issue", "direction", "invalid", None),
    };
    let (per_page, page) = match paging(params) {
        Ok(p) => p,
        Err(a) => return a,
    };
    let mut found: Vec<&IssueRecord> = w
        .issues
        .iter()
        .filter(|i| state == "all" || i.state == state)
        // Several labels: the issue must carry all of them.
        .filter(|i| {
            wanted
                .iter()
                .all(|l| i.labels.iter().any(|have| have.to_lowercase() == *l))
        })
        .filter(|i| params.get("creator").is_none_or(|c| i.author == *c))
        .filter(|i| since.is_none_or(|s| i.updated_at >= s))
        .collect();
    let comments_of = |n: u64| w.comments.iter().filter(|c| c.issue_number == n).count();
    match sort {
        "updated" => found.sort_by_key(|i| (i.updated_at, i.number)),
        "comments" => found.sort_by_key(|i| (comments_of(i.number), i.number)),
        "created" => found.sort_by_key(|i| (i.created_at, i.number)),
        _ => return Answer::validation("Issue", "sort", "invalid", None),
    }
    if !ascending {
        found.reverse();
    }
    let url = format!("{}/issues", w.repo_url());
    let (page_items, link) = paginate(&found, per_page, page, &url, params);
    let json: Vec<Value> = page_items.iter().map(|i| w.issue_json(i)).collect();
    let mut a = Answer::ok(200, Value::Array(json));
    if let Some(l) = link {
        a.headers.push(("link", l));
    }
    a
}

fn list_comments(w: &mut World, number: u64, params: &BTreeMap<String, String>) -> Answer {
    if !w.issues.iter().any(|i| i.number == number) {
        return Answer::not_found();
    }
    let (per_page, page) = match paging(params) {
        Ok(p) => p,
        Err(a) => return a,
    };
    let mut found: Vec<&CommentRecord> = w
        .comments
        .iter()
        .filter(|c| c.issue_number == number)
        .collect();
    found.sort_by_key(|c| c.id);
    let url = format!("{}/issues/{number}/comments", w.repo_url());
    let (page_items, link) = paginate(&found, per_page, page, &url, params);
    let json: Vec<Value> = page_items.iter().map(|c| w.comment_json(c)).collect();
    let mut a = Answer::ok(200, Value::Array(json));
    if let Some(l) = link {
        a.headers.push(("link", l));
    }
    a
}

fn create_comment(w: &mut World, number: u64, body: &str) -> Answer {
    let m = match parse_json(body) {
        Ok(m) => m,
        Err(a) => return a,
    };
    let Some(pos) = w.issues.iter().position(|i| i.number == number) else {
        return Answer::not_found();
    };
    let Some(text) = m.get("body").and_then(Value::as_str).map(str::to_string) else {
        return Answer::validation("IssueComment", "body", "missing_field", None);
    };
    if let Some(a) = too_long("IssueComment", &text) {
        return a;
    }
    let now = Utc::now();
    let id = w.id();
    let comment = CommentRecord {
        id,
        issue_number: number,
        body: text,
        created_at: now,
        updated_at: now,
    };
    w.issues[pos].updated_at = now;
    let json = w.comment_json(&comment);
    w.comments.push(comment);
    Answer::ok(201, json)
}

fn update_comment(w: &mut World, id: u64, body: &str) -> Answer {
    let m = match parse_json(body) {
        Ok(m) => m,
        Err(a) => return a,
    };
    let Some(text) = m.get("body").and_then(Value::as_str).map(str::to_string) else {
        return Answer::validation("IssueComment", "body", "missing_field", None);
    };
    if let Some(a) = too_long("IssueComment", &text) {
        return a;
    }
    let Some(c) = w.comments.iter_mut().find(|c| c.id == id) else {
        return Answer::not_found();
    };
    c.body = text;
    c.updated_at = Utc::now();
    let c = c.clone();
    Answer::ok(200, w.comment_json(&c))
}

/// `q` terms: `repo:`, `is:`, `state:`, `label:`, `in:title`, words and "phrases".
fn search(w: &mut World, params: &BTreeMap<String, String>) -> Answer {
    w.searches += 1;
    let Some(q) = params.get("q").filter(|q| !q.trim().is_empty()) else {
        return Answer::validation("Search", "q", "missing", None);
    };
    let mut terms: Vec<String> = Vec::new();
    let mut quals: Vec<(String, String)> = Vec::new();
    let mut in_title = false;
    let mut rest = q.as_str();
    while let Some(c) = rest.chars().next() {
        if c.is_whitespace() {
            rest = &rest[c.len_utf8()..];
        } else if c == '"' {
            let end = rest[1..].find('"').map_or(rest.len(), |e| e + 1);
            terms.push(rest[1..end].to_lowercase());
            rest = rest.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let word = &rest[..end];
            match word.split_once(':') {
                Some(("in", "title")) => in_title = true,
                Some((k, v)) if ["repo", "is", "state", "label"].contains(&k) => {
                    quals.push((k.to_string(), v.trim_matches('"').to_lowercase()))
                }
                _ => terms.push(word.to_lowercase()),
            }
            rest = &rest[end..];
        }
    }
    let repo = format!("{}/{}", w.owner, w.repo).to_lowercase();
    let lag = i64::from(w.options.search_lag);
    let searches = w.searches;
    let items: Vec<Value> = w
        .issues
        .iter()
        // The index lags writes: an issue written after search call k shows from k+lag+1.
        .filter(|i| searches > i.indexed_at_search.saturating_add(lag))
        .filter(|i| {
            quals.iter().all(|(k, v)| match k.as_str() {
                "repo" => *v == repo,
                "is" => match v.as_str() {
                    "issue" => !i.pull_request,
                    "pr" => i.pull_request,
                    "open" | "closed" => i.state == *v,
                    _ => true,
                },
                "state" => i.state == *v,
                "label" => i.labels.iter().any(|l| l.to_lowercase() == *v),
                _ => true,
            })
        })
        .filter(|i| {
            let hay = if in_title {
                i.title.to_lowercase()
            } else {
                format!("{} {}", i.title, i.body.as_deref().unwrap_or("")).to_lowercase()
            };
            terms.iter().all(|t| hay.contains(t.as_str()))
        })
        .rev()
        .take(100)
        .map(|i| {
            let mut v = w.issue_json(i);
            v["score"] = json!(1.0);
            v
        })
        .collect();
    Answer::ok(
        200,
        json!({ "total_count": items.len(), "incomplete_results": false, "items": items }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_deserialise_as_octocrab_models() {
        let s = GithubStandin::start(StandinOptions::default())
            .await
            .unwrap();
        let n = s.seed_issue(SeedIssue {
            title: "t".into(),
            body: "b".into(),
            labels: vec!["pages-zendesk-sync".into()],
            open: false,
            created_at: Utc::now(),
            pull_request: false,
        });
        s.seed_comment(n, "hello");
        let w = s.world();
        let issue = w.issue_json(&w.issues[0]);
        let comment = w.comment_json(&w.comments[0]);
        drop(w);
        let parsed: octocrab::models::issues::Issue = serde_json::from_value(issue).unwrap();
        assert_eq!(parsed.number, n);
        assert_eq!(parsed.user.login, "github-actions[bot]");
        assert_eq!(parsed.user.r#type, "Bot");
        let parsed: octocrab::models::issues::Comment = serde_json::from_value(comment).unwrap();
        assert_eq!(parsed.body.as_deref(), Some("hello"));
    }

    #[test]
    fn pagination_links_are_absolute_and_keep_the_filters() {
        let items: Vec<u32> = (1..=5).collect();
        let params: BTreeMap<String, String> = [("state", "all"), ("page", "2"), ("per_page", "2")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (page, link) = paginate(&items, 2, 2, "http://h/repos/o/r/issues", &params);
        assert_eq!(page, [3, 4]);
        let link = link.unwrap();
        assert!(
            link.contains("<http://h/repos/o/r/issues?per_page=2&state=all&page=3>; rel=\"next\"")
        );
        assert!(link.contains("page=3>; rel=\"last\""));
        assert!(link.contains("page=1>; rel=\"first\""));
    }
}
