//! HTTP side of the Zendesk stand-in: auth, rate limits, faults, routing, pagination,
//! bulk-job intake and the error bodies. Owns the wire format; must never decide whether
//! a record is valid (that is `world.rs`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::wire::{write_array, Page};
use super::world::{Invalid, JobKind, World};
use super::{lock, JobCompletion, LoggedRequest, Shared};

/// Zendesk's bulk and show_many ceiling.
const MAX_ITEMS: usize = 100;
const MAX_PAGE_SIZE: usize = 100;
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// What the handler answers; headers are added on the way out.
pub(super) struct Reply {
    status: StatusCode,
    body: ReplyBody,
    headers: Vec<(&'static str, String)>,
}

enum ReplyBody {
    Json(Value),
    /// JSON written already (list pages, see `wire`).
    Raw(Vec<u8>),
    Text(&'static str, String),
    Empty,
}

impl Reply {
    fn json(status: StatusCode, body: Value) -> Reply {
        Reply {
            status,
            body: ReplyBody::Json(body),
            headers: Vec::new(),
        }
    }

    fn ok(body: Value) -> Reply {
        Reply::json(StatusCode::OK, body)
    }

    fn ok_page(page: Page) -> Reply {
        Reply {
            status: StatusCode::OK,
            body: ReplyBody::Raw(page.into_bytes()),
            headers: Vec::new(),
        }
    }

    fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    fn error(status: StatusCode, error: &str, description: &str) -> Reply {
        Reply::json(status, json!({"error": error, "description": description}))
    }

    fn not_found() -> Reply {
        // Recorded: error_404__record_not_found.json
        Reply::error(StatusCode::NOT_FOUND, "RecordNotFound", "Not found")
    }

    fn bad_request(description: &str) -> Reply {
        Reply::error(StatusCode::BAD_REQUEST, "BadRequest", description)
    }

    fn too_many_values() -> Reply {
        // Recorded: error_400__too_many_values__orgs_create_many.json (two spaces as recorded).
        Reply::json(
            StatusCode::BAD_REQUEST,
            json!({
                "error": "TooManyValues",
                "description": "Parameter  cannot specify more than 100 values",
                "max_count": 100,
            }),
        )
    }

    fn too_many_requests(title: &str, retry_after: u64) -> Reply {
        Reply::json(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"errors": [{"code": "TooManyRequests", "title": title}]}),
        )
        .with_header("retry-after", retry_after.to_string())
    }

    fn invalid(e: &Invalid) -> Reply {
        if e.is_not_found() {
            return Reply::not_found();
        }
        let mut details = Map::new();
        details.insert(e.field.clone(), json!([e.detail_entry()]));
        Reply::json(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({
                "error": "RecordInvalid",
                "description": "Record validation errors",
                "details": details,
            }),
        )
    }

    fn method_not_allowed(allow: &'static str) -> Reply {
        Reply::error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The method is not allowed on this endpoint",
        )
        .with_header("allow", allow)
    }

    fn into_response(self) -> Response {
        let (content_type, body) = match self.body {
            ReplyBody::Json(v) => ("application/json; charset=utf-8", Body::from(v.to_string())),
            ReplyBody::Raw(b) => ("application/json; charset=utf-8", Body::from(b)),
            ReplyBody::Text(ct, t) => (ct, Body::from(t)),
            ReplyBody::Empty => ("application/json; charset=utf-8", Body::empty()),
        };
        let mut resp = Response::new(body);
        *resp.status_mut() = self.status;
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        }
        resp
    }
}

/// The parsed request.
struct Req {
    method: Method,
    /// Path segments after `/api/v2/`, `.json` stripped from the last.
    segs: Vec<String>,
    json_suffix: bool,
    query: Vec<(String, String)>,
    body: Option<Value>,
    /// The body was present but not JSON.
    body_unparsable: bool,
}

impl Req {
    fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The axum fallback: every request comes through here.
pub(super) async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = to_bytes(req.into_body(), MAX_BODY_BYTES)
        .await
        .unwrap_or_default();
    let (body, body_unparsable) = if bytes.iter().all(u8::is_ascii_whitespace) {
        (None, false)
    } else {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) => (Some(v), false),
            Err(_) => (None, true),
        }
    };
    if !shared.options.latency.is_zero() {
        tokio::time::sleep(shared.options.latency).await;
    }
    let trimmed = path.strip_prefix("/api/v2/").unwrap_or("");
    let mut segs: Vec<String> = trimmed
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let mut json_suffix = false;
    if let Some(last) = segs.last_mut() {
        if let Some(stem) = last.strip_suffix(".json") {
            *last = stem.to_string();
            json_suffix = true;
        }
    }
    let api_path = path.starts_with("/api/v2/");
    let parsed = Req {
        method: method.clone(),
        segs,
        json_suffix,
        query: query.clone(),
        body: body.clone(),
        body_unparsable,
    };
    let reply = respond(&shared, &parsed, api_path, authorization.as_deref(), &path);
    // Zendesk answers every call with a request id to quote to its support (reference §1).
    let n = shared
        .next_request
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let request_id = format!("{:016x}{n:08x}", 0x5a3e_d35c_u64);
    let reply = reply.with_header("x-zendesk-request-id", request_id.clone());
    lock(&shared.log).push(LoggedRequest {
        method: method.to_string(),
        path,
        query,
        body,
        status: reply.status.as_u16(),
        content_type,
        request_id,
    });
    reply.into_response()
}

fn authorized(shared: &Shared, authorization: Option<&str>) -> bool {
    let Some(encoded) = authorization.and_then(|a| a.strip_prefix("Basic ")) else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Ok(decoded) = String::from_utf8(decoded) else {
        return false;
    };
    let Some((user, token)) = decoded.split_once(':') else {
        return false;
    };
    let creds = &shared.options.credentials;
    user.strip_suffix("/token")
        .is_some_and(|email| email.eq_ignore_ascii_case(&creds.email))
        && token == creds.token
}

fn ceil_secs(d: Duration) -> u64 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    s.max(1)
}

/// Auth, account budget, faults, then the endpoint; rate headers on every answer.
fn respond(
    shared: &Shared,
    req: &Req,
    api_path: bool,
    authorization: Option<&str>,
    raw_path: &str,
) -> Reply {
    let limit = shared.options.requests_per_minute;
    let window = shared.options.rate_limit_window;
    if !authorized(shared, authorization) {
        let (remaining, reset) = {
            let l = lock(&shared.limiter);
            (
                limit.saturating_sub(l.used),
                window.saturating_sub(l.window_start.elapsed()),
            )
        };
        return rate_headers(
            Reply::json(
                StatusCode::UNAUTHORIZED,
                json!({"error": "Couldn't authenticate you"}),
            ),
            limit,
            remaining,
            ceil_secs(reset),
        );
    }
    let (remaining, reset) = {
        let mut l = lock(&shared.limiter);
        let now = Instant::now();
        if now.duration_since(l.window_start) >= window {
            l.window_start = now;
            l.used = 0;
        }
        let reset = ceil_secs(window.saturating_sub(now.duration_since(l.window_start)));
        if l.used >= limit {
            let reply = Reply::too_many_requests("Too many requests", reset);
            return rate_headers(reply, limit, 0, reset);
        }
        l.used += 1;
        (limit - l.used, reset)
    };
    let fault = {
        let mut faults = lock(&shared.faults);
        let method = req.method.as_str();
        let hit = faults.iter_mut().find(|r| {
            r.times > 0
                && r.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && r.path_contains
                    .as_deref()
                    .is_none_or(|p| raw_path.contains(p))
        });
        hit.map(|r| {
            r.times -= 1;
            r.fault.clone()
        })
    };
    let reply = match &fault {
        Some(f) if !f.after_processing => fault_reply(f),
        _ => {
            let handled = if api_path {
                route(shared, req)
            } else {
                Reply::error(StatusCode::NOT_FOUND, "InvalidEndpoint", "Not found")
            };
            match fault {
                Some(f) => fault_reply(&f),
                None => handled,
            }
        }
    };
    rate_headers(reply, limit, remaining, reset)
}

fn rate_headers(reply: Reply, limit: u32, remaining: u32, reset: u64) -> Reply {
    reply
        .with_header("x-rate-limit", limit.to_string())
        .with_header("x-rate-limit-remaining", remaining.to_string())
        .with_header("ratelimit-limit", limit.to_string())
        .with_header("ratelimit-remaining", remaining.to_string())
        .with_header("ratelimit-reset", reset.to_string())
}

fn fault_reply(f: &super::Fault) -> Reply {
    let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut reply = match f.status {
        // OAS example body for 500.
        500 => Reply::json(
            status,
            json!({"errors": [{"code": "Unavailable", "title": "Internal Server Error"}]}),
        ),
        502 | 504 => Reply {
            status,
            body: ReplyBody::Text(
                "text/html",
                format!("<html><body><h1>{status}</h1></body></html>"),
            ),
            headers: Vec::new(),
        },
        503 => Reply::json(
            status,
            json!({"errors": [{"code": "ServiceUnavailable", "title": "Service Unavailable"}]}),
        ),
        429 => Reply::json(
            status,
            json!({"errors": [{"code": "TooManyRequests", "title": "Too many requests"}]}),
        ),
        _ => Reply::error(
            status,
            "InjectedFault",
            "Injected by the stand-in's fault plan",
        ),
    };
    if let Some(s) = f.retry_after {
        reply = reply.with_header("retry-after", s.to_string());
    }
    reply
}

fn parse_id(s: &str) -> Option<u64> {
    s.parse().ok()
}

fn route(shared: &Shared, req: &Req) -> Reply {
    if req.body_unparsable {
        return Reply::bad_request("The request body is not valid JSON");
    }
    let mut world = lock(&shared.world);
    shared.advance_jobs(&mut world);
    let w = &mut *world;
    let segs: Vec<&str> = req.segs.iter().map(String::as_str).collect();
    let m = &req.method;
    match segs.as_slice() {
        ["organizations"] => match *m {
            Method::GET => list(w, req, "organizations", false),
            Method::POST => create_single(w, req, "organization"),
            _ => Reply::method_not_allowed("GET, POST"),
        },
        ["organizations", "show_many"] => match *m {
            Method::GET => show_many(w, req, "organizations"),
            _ => Reply::method_not_allowed("GET"),
        },
        ["organizations", "create_many"] => match *m {
            Method::POST => bulk(shared, w, req, JobKind::CreateOrganizations),
            _ => Reply::method_not_allowed("POST"),
        },
        ["organizations", "update_many"] => match *m {
            Method::PUT => bulk(shared, w, req, JobKind::UpdateOrganizations),
            _ => Reply::method_not_allowed("PUT"),
        },
        ["organizations", id] => {
            let Some(id) = parse_id(id) else {
                return Reply::not_found();
            };
            match *m {
                Method::GET => match w.organizations.get(&id) {
                    Some(o) => Reply::ok(json!({"organization": w.org_json(o)})),
                    None => Reply::not_found(),
                },
                Method::PUT => update_single(shared, w, req, "organization", id),
                _ => Reply::method_not_allowed("GET, PUT"),
            }
        }
        ["organizations", id, "organization_memberships"] => {
            match (*m == Method::GET, parse_id(id)) {
                (false, _) => Reply::method_not_allowed("GET"),
                (true, None) => Reply::not_found(),
                (true, Some(id)) if !w.organizations.contains_key(&id) => Reply::not_found(),
                (true, Some(id)) => list_memberships(w, req, |mb| mb.organization_id == id),
            }
        }
        ["users"] => match *m {
            Method::GET => list(w, req, "users", shared.options.sideload_identities),
            Method::POST => create_single(w, req, "user"),
            _ => Reply::method_not_allowed("GET, POST"),
        },
        ["users", "me"] => match *m {
            Method::GET => Reply::ok(json!({"user": current_user_json(shared, w)})),
            _ => Reply::method_not_allowed("GET"),
        },
        ["users", "show_many"] => match *m {
            Method::GET => show_many(w, req, "users"),
            _ => Reply::method_not_allowed("GET"),
        },
        ["users", "create_many"] => match *m {
            Method::POST => bulk(shared, w, req, JobKind::CreateUsers),
            _ => Reply::method_not_allowed("POST"),
        },
        ["users", "create_or_update_many"] => match *m {
            Method::POST => bulk(shared, w, req, JobKind::CreateOrUpdateUsers),
            _ => Reply::method_not_allowed("POST"),
        },
        ["users", "update_many"] => match *m {
            Method::PUT => bulk(shared, w, req, JobKind::UpdateUsers),
            _ => Reply::method_not_allowed("PUT"),
        },
        ["users", id] => {
            let Some(id) = parse_id(id) else {
                return Reply::not_found();
            };
            match *m {
                Method::GET => match w.users.get(&id) {
                    Some(u) => Reply::ok(json!({"user": w.user_json(u)})),
                    None => Reply::not_found(),
                },
                Method::PUT => update_single(shared, w, req, "user", id),
                _ => Reply::method_not_allowed("GET, PUT"),
            }
        }
        ["users", uid, "identities"] => {
            let Some(uid) = parse_id(uid).filter(|u| w.users.contains_key(u)) else {
                return Reply::not_found();
            };
            match *m {
                Method::GET => identities_of(w, uid),
                Method::POST => create_identity(w, req, uid),
                _ => Reply::method_not_allowed("GET, POST"),
            }
        }
        ["users", uid, "identities", iid] => match *m {
            Method::GET => {
                let found = parse_id(uid).and_then(|u| w.users.get(&u)).and_then(|u| {
                    let iid = parse_id(iid)?;
                    u.identities.iter().find(|i| i.id == iid).map(|i| (u.id, i))
                });
                match found {
                    Some((u, i)) => Reply::ok(json!({"identity": w.identity_json(u, i)})),
                    None => Reply::not_found(),
                }
            }
            _ => Reply::method_not_allowed("GET"),
        },
        ["users", uid, "identities", iid, "make_primary"] => match *m {
            Method::PUT => {
                let (Some(uid), Some(iid)) = (parse_id(uid), parse_id(iid)) else {
                    return Reply::not_found();
                };
                match w.make_primary(uid, iid) {
                    Ok(()) => identities_of(w, uid),
                    Err(e) => Reply::invalid(&e),
                }
            }
            _ => Reply::method_not_allowed("PUT"),
        },
        ["users", uid, "organization_memberships"] => match (*m == Method::GET, parse_id(uid)) {
            (false, _) => Reply::method_not_allowed("GET"),
            (true, None) => Reply::not_found(),
            (true, Some(id)) if !w.users.contains_key(&id) => Reply::not_found(),
            (true, Some(id)) => list_memberships(w, req, |mb| mb.user_id == id),
        },
        ["organization_memberships"] => match *m {
            Method::GET => list_memberships(w, req, |_| true),
            Method::POST => create_single(w, req, "organization_membership"),
            _ => Reply::method_not_allowed("GET, POST"),
        },
        ["organization_memberships", "create_many"] => match *m {
            Method::POST => bulk(shared, w, req, JobKind::CreateMemberships),
            _ => Reply::method_not_allowed("POST"),
        },
        ["organization_memberships", "destroy_many"] => match *m {
            Method::DELETE => bulk(shared, w, req, JobKind::DestroyMemberships),
            _ => Reply::method_not_allowed("DELETE"),
        },
        ["organization_memberships", id] => {
            let Some(id) = parse_id(id) else {
                return Reply::not_found();
            };
            match *m {
                Method::GET => match w.memberships.get(&id) {
                    Some(mb) => {
                        Reply::ok(json!({"organization_membership": w.membership_json(mb)}))
                    }
                    None => Reply::not_found(),
                },
                Method::DELETE => match w.destroy_membership(id) {
                    Ok(_) => Reply {
                        status: StatusCode::NO_CONTENT,
                        body: ReplyBody::Empty,
                        headers: Vec::new(),
                    },
                    Err(e) => Reply::invalid(&e),
                },
                _ => Reply::method_not_allowed("GET, DELETE"),
            }
        }
        // Account facts the sync and `doctor` read (see `account_json` and friends below).
        ["account", "settings"] => match *m {
            Method::GET => Reply::ok(account_settings_json(w)),
            _ => Reply::method_not_allowed("GET"),
        },
        ["account"] => match *m {
            Method::GET => Reply::ok(account_json(w)),
            _ => Reply::method_not_allowed("GET"),
        },
        ["user_fields"] => match *m {
            Method::GET => Reply::ok(user_fields_json(w)),
            _ => Reply::method_not_allowed("GET"),
        },
        ["job_statuses"] => match *m {
            // "Shows the statuses for recent background jobs" (OAS ListJobStatuses);
            // one page is enough for the few jobs an account keeps.
            Method::GET => {
                let statuses: Vec<Value> = w.jobs.values().map(|j| w.job_json(j)).collect();
                Reply::ok(json!({
                    "job_statuses": statuses,
                    "meta": {"has_more": false, "after_cursor": null, "before_cursor": null},
                    "links": {"next": null, "prev": null},
                }))
            }
            _ => Reply::method_not_allowed("GET"),
        },
        ["job_statuses", "show_many"] => match *m {
            Method::GET => {
                let ids = match id_list(req, "ids") {
                    Ok(ids) => ids,
                    Err(r) => return r,
                };
                let statuses: Vec<Value> = ids
                    .iter()
                    .filter_map(|id| poll_job(shared, w, id))
                    .map(|mut j| {
                        if !shared.options.show_many_results {
                            // As the only published show_many answer (OAS example
                            // JobStatusesResponseExample): `{id, status}`, no `results`.
                            if let Value::Object(m) = &mut j {
                                m.remove("results");
                            }
                        }
                        j
                    })
                    .collect();
                Reply::ok(json!({"job_statuses": statuses}))
            }
            _ => Reply::method_not_allowed("GET"),
        },
        ["job_statuses", id] => match *m {
            Method::GET => match poll_job(shared, w, id) {
                Some(j) => Reply::ok(json!({"job_status": j})),
                None => Reply::not_found(),
            },
            _ => Reply::method_not_allowed("GET"),
        },
        _ => Reply::error(StatusCode::NOT_FOUND, "InvalidEndpoint", "Not found"),
    }
}

// ---- reads ----

/// A comma-separated list parameter, at most 100 values.
fn id_list(req: &Req, key: &str) -> Result<Vec<String>, Reply> {
    let values: Vec<String> = req
        .param(key)
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if values.len() > MAX_ITEMS {
        return Err(Reply::too_many_values());
    }
    Ok(values)
}

fn poll_job(shared: &Shared, w: &mut World, id: &str) -> Option<Value> {
    let job = w.jobs.get_mut(id)?;
    job.polls += 1;
    let polls = job.polls;
    if job.state.in_flight() {
        if let JobCompletion::AfterPolls(n) = shared.options.job_completion {
            if polls >= n.max(1) {
                w.complete_job(id);
            } else {
                w.start_job(id);
            }
        }
    }
    w.jobs.get(id).map(|j| w.job_json(j))
}

fn include_identities(req: &Req) -> bool {
    req.param("include")
        .is_some_and(|v| v.split(',').any(|x| x.trim() == "identities"))
}

/// The `identities` array of a users page, written.
fn sideload_identities_raw(w: &World, ids: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ids.len() * 400);
    let identities = ids
        .iter()
        .filter_map(|id| w.users.get(id))
        .flat_map(|u| u.identities.iter().map(move |i| (u.id, i)));
    write_array(&mut out, identities, |out, (uid, i)| {
        w.write_identity(uid, i, out);
    });
    out
}

fn sideload_identities(w: &World, ids: &[u64]) -> Vec<Value> {
    ids.iter()
        .filter_map(|id| w.users.get(id))
        .flat_map(|u| u.identities.iter().map(|i| w.identity_json(u.id, i)))
        .collect()
}

fn render(w: &World, kind: &str, ids: &[u64]) -> Vec<Value> {
    ids.iter()
        .filter_map(|id| match kind {
            "users" => w.users.get(id).map(|u| w.user_json(u)),
            "organizations" => w.organizations.get(id).map(|o| w.org_json(o)),
            _ => w.memberships.get(id).map(|m| w.membership_json(m)),
        })
        .collect()
}

/// The records of a list page, written as a JSON array.
fn render_raw(w: &World, kind: &str, ids: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ids.len() * 1024);
    write_array(&mut out, ids, |out, id| match kind {
        "users" => {
            if let Some(u) = w.users.get(id) {
                w.write_user(u, out);
            }
        }
        "organizations" => {
            if let Some(o) = w.organizations.get(id) {
                w.write_org(o, out);
            }
        }
        _ => {
            if let Some(m) = w.memberships.get(id) {
                w.write_membership(m, out);
            }
        }
    });
    out
}

/// `sideload`: whether `include=identities` is honoured on users pages.
fn list(w: &World, req: &Req, kind: &str, sideload: bool) -> Reply {
    let all: Vec<u64> = match (kind, next_page(req)) {
        ("users", Some((from, take))) => w
            .users
            .range(from..)
            .map(|(id, _)| *id)
            .take(take)
            .collect(),
        ("users", None) => w.users.keys().copied().collect(),
        (_, Some((from, take))) => w
            .organizations
            .range(from..)
            .map(|(id, _)| *id)
            .take(take)
            .collect(),
        (_, None) => w.organizations.keys().copied().collect(),
    };
    let (ids, body) = match paginate(w, req, &all) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut page = Page::new(body);
    page.raw(kind, render_raw(w, kind, &ids));
    if kind == "users" && sideload && include_identities(req) {
        page.raw("identities", sideload_identities_raw(w, &ids));
    }
    Reply::ok_page(page)
}

fn list_memberships(w: &World, req: &Req, keep: impl Fn(&super::Membership) -> bool) -> Reply {
    let (from, take) = next_page(req).unwrap_or((0, usize::MAX));
    let all: Vec<u64> = w
        .memberships
        .range(from..)
        .map(|(_, m)| m)
        .filter(|m| keep(m))
        .map(|m| m.id)
        .take(take)
        .collect();
    let (ids, body) = match paginate(w, req, &all) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut page = Page::new(body);
    page.raw(
        "organization_memberships",
        render_raw(w, "organization_memberships", &ids),
    );
    Reply::ok_page(page)
}

fn show_many(w: &World, req: &Req, kind: &str) -> Reply {
    let (key, values) = if req.param("external_ids").is_some() {
        ("external_ids", id_list(req, "external_ids"))
    } else {
        ("ids", id_list(req, "ids"))
    };
    let values = match values {
        Ok(v) => v,
        Err(r) => return r,
    };
    let ids: Vec<u64> = if key == "ids" {
        values.iter().filter_map(|v| parse_id(v)).collect()
    } else {
        let wanted = |x: &Option<String>| {
            x.as_deref()
                .is_some_and(|x| values.iter().any(|v| v.eq_ignore_ascii_case(x)))
        };
        match kind {
            "users" => w
                .users
                .values()
                .filter(|u| wanted(&u.external_id))
                .map(|u| u.id)
                .collect(),
            _ => w
                .organizations
                .values()
                .filter(|o| wanted(&o.external_id))
                .map(|o| o.id)
                .collect(),
        }
    };
    let mut seen = std::collections::BTreeSet::new();
    let ids: Vec<u64> = ids.into_iter().filter(|id| seen.insert(*id)).collect();
    let mut body = Map::new();
    let items = render(w, kind, &ids);
    let found: Vec<u64> = items
        .iter()
        .filter_map(|v| v.get("id").and_then(Value::as_u64))
        .collect();
    body.insert(kind.into(), items.into());
    if kind == "users" && include_identities(req) {
        body.insert("identities".into(), sideload_identities(w, &found).into());
    }
    Reply::ok(Value::Object(body))
}

fn identities_of(w: &World, uid: u64) -> Reply {
    let list: Vec<Value> = w
        .users
        .get(&uid)
        .map(|u| {
            u.identities
                .iter()
                .map(|i| w.identity_json(uid, i))
                .collect()
        })
        .unwrap_or_default();
    Reply::ok(json!({"identities": list}))
}

// ---- pagination ----

/// Opaque to clients; the stand-in encodes the boundary id the way Zendesk's cursors
/// look (base64 of a small JSON object).
fn encode_cursor(id: u64) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(json!({"o": "id", "v": id.to_string()}).to_string())
}

fn decode_cursor(c: &str) -> Option<u64> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(c.trim())
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    if v.get("o")? != "id" {
        return None;
    }
    v.get("v")?.as_str()?.parse().ok()
}

fn pagination_error(description: &str) -> Reply {
    Reply::error(
        StatusCode::BAD_REQUEST,
        "InvalidPaginationParameter",
        description,
    )
}

/// For a valid cursor request of the first or a later page (`page[size]` and/or
/// `page[after]`, no `page[before]`): the smallest id it can show and how many ids
/// [`paginate`] needs from there (the page and one more, for `has_more`). Reading only
/// those keeps a 100k-user account from being scanned for every page; anything else
/// (offset pages, `page[before]`, invalid values) gets every id and `paginate`'s answer.
fn next_page(req: &Req) -> Option<(u64, usize)> {
    if req.param("page[before]").is_some() {
        return None;
    }
    let size = match req.param("page[size]") {
        None => MAX_PAGE_SIZE,
        Some(s) => match s.trim().parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
            _ => return None,
        },
    };
    let from = match req.param("page[after]") {
        None if req.param("page[size]").is_none() => return None,
        None => 0,
        Some(a) => decode_cursor(a)?.checked_add(1)?,
    };
    Some((from, size + 1))
}

/// Cursor pagination when `page[size]`/`page[after]`/`page[before]` is sent, offset
/// pagination otherwise. Returns the page's ids and the paging fields of the body.
fn paginate(w: &World, req: &Req, all: &[u64]) -> Result<(Vec<u64>, Map<String, Value>), Reply> {
    debug_assert!(all.is_sorted(), "ids come in id order");
    let size = req.param("page[size]");
    let after = req.param("page[after]");
    let before = req.param("page[before]");
    let mut body = Map::new();
    if size.is_none() && after.is_none() && before.is_none() {
        return offset_page(w, req, all);
    }
    let size: usize = match size {
        None => MAX_PAGE_SIZE,
        Some(s) => match s.trim().parse::<usize>() {
            Ok(n) if n > MAX_PAGE_SIZE => {
                return Err(pagination_error(
                    "page[size] is greater than the maximum allowed value of 100",
                ))
            }
            Ok(n) if n >= 1 => n,
            _ => return Err(pagination_error("page[size] is not valid")),
        },
    };
    if after.is_some() && before.is_some() {
        return Err(pagination_error(
            "page[after] and page[before] cannot be used together",
        ));
    }
    let (ids, has_more): (Vec<u64>, bool) = if let Some(b) = before {
        let Some(b) = decode_cursor(b) else {
            return Err(pagination_error("page[before] is not valid"));
        };
        // `all` is in id order (the world's maps are keyed by id): a binary search, not a
        // scan of the account per page, keeps a 100k-user read from being the stand-in's.
        let earlier = &all[..all.partition_point(|id| *id < b)];
        let start = earlier.len().saturating_sub(size);
        (earlier[start..].to_vec(), start > 0)
    } else {
        let from = match after {
            Some(a) => match decode_cursor(a) {
                Some(a) => Some(a),
                None => return Err(pagination_error("page[after] is not valid")),
            },
            None => None,
        };
        let later = &all[all.partition_point(|id| from.is_some_and(|f| *id <= f))..];
        (
            later.iter().copied().take(size).collect(),
            later.len() > size,
        )
    };
    let after_cursor = ids.last().map(|id| encode_cursor(*id));
    let before_cursor = ids.first().map(|id| encode_cursor(*id));
    let link = |key: &str, cursor: &Option<String>| -> Value {
        cursor
            .as_ref()
            .map(|c| {
                page_link(
                    w,
                    req,
                    &[(key, c.clone()), ("page[size]", size.to_string())],
                )
            })
            .into()
    };
    body.insert(
        "meta".into(),
        json!({"has_more": has_more, "after_cursor": after_cursor, "before_cursor": before_cursor}),
    );
    body.insert(
        "links".into(),
        json!({"prev": link("page[before]", &before_cursor), "next": link("page[after]", &after_cursor)}),
    );
    Ok((ids, body))
}

/// Legacy offset pagination (`page`, `per_page` ≤ 100): `next_page`, `previous_page`, `count`.
fn offset_page(w: &World, req: &Req, all: &[u64]) -> Result<(Vec<u64>, Map<String, Value>), Reply> {
    let page: usize = req
        .param("page")
        .and_then(|p| p.trim().parse().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let per_page: usize = req
        .param("per_page")
        .and_then(|p| p.trim().parse().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(MAX_PAGE_SIZE)
        .min(MAX_PAGE_SIZE);
    let start = (page - 1).saturating_mul(per_page);
    let ids: Vec<u64> = all.iter().copied().skip(start).take(per_page).collect();
    let next = (start + per_page < all.len()).then(|| {
        page_link(
            w,
            req,
            &[
                ("page", (page + 1).to_string()),
                ("per_page", per_page.to_string()),
            ],
        )
    });
    let prev = (page > 1).then(|| {
        page_link(
            w,
            req,
            &[
                ("page", (page - 1).to_string()),
                ("per_page", per_page.to_string()),
            ],
        )
    });
    let mut body = Map::new();
    body.insert("next_page".into(), next.into());
    body.insert("previous_page".into(), prev.into());
    body.insert("count".into(), all.len().into());
    Ok((ids, body))
}

/// An absolute link to the same endpoint with the other query parameters kept and the
/// paging ones replaced, sorted by key as Zendesk's links are.
fn page_link(w: &World, req: &Req, paging: &[(&str, String)]) -> String {
    let mut pairs: Vec<(String, String)> = req
        .query
        .iter()
        .filter(|(k, _)| !k.starts_with("page") && k != "per_page")
        .cloned()
        .collect();
    pairs.extend(paging.iter().map(|(k, v)| (k.to_string(), v.clone())));
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let suffix = if req.json_suffix { ".json" } else { "" };
    format!(
        "{}/api/v2/{}{suffix}?{query}",
        w.base_url,
        req.segs.join("/")
    )
}

// ---- single writes ----

fn body_object<'a>(req: &'a Req, key: &str) -> Result<&'a Value, Reply> {
    match req.body.as_ref().and_then(|b| b.get(key)) {
        Some(v @ Value::Object(_)) => Ok(v),
        _ => Err(Reply::bad_request(&format!("Missing parameter: {key}"))),
    }
}

fn create_single(w: &mut World, req: &Req, key: &str) -> Reply {
    let item = match body_object(req, key) {
        Ok(v) => v.clone(),
        Err(r) => return r,
    };
    let (result, collection) = match key {
        "organization" => (w.create_org(&item), "organizations"),
        "user" => (w.create_user_by_api(&item, true), "users"),
        _ => (w.create_membership(&item), "organization_memberships"),
    };
    let id = match result {
        Ok(id) => id,
        Err(e) => return Reply::invalid(&e),
    };
    let record = match key {
        "organization" => w.organizations.get(&id).map(|o| w.org_json(o)),
        "user" => w.users.get(&id).map(|u| w.user_json(u)),
        _ => w.memberships.get(&id).map(|m| w.membership_json(m)),
    };
    let mut body = Map::new();
    body.insert(key.into(), record.unwrap_or(Value::Null));
    Reply::json(StatusCode::CREATED, Value::Object(body)).with_header(
        "location",
        format!("{}/api/v2/{collection}/{id}.json", w.base_url),
    )
}

/// Per-record sliding budget for `PUT /users/{id}` and `PUT /organizations/{id}`
/// (Zendesk: 5 per minute per record).
fn record_budget(shared: &Shared, kind: &'static str, id: u64) -> Result<(u32, u64), Reply> {
    let total = shared.options.record_updates_per_minute;
    let window = shared.options.rate_limit_window;
    let mut limiter = lock(&shared.limiter);
    let now = Instant::now();
    let stamps = limiter.per_record.entry((kind, id)).or_default();
    stamps.retain(|t| now.duration_since(*t) < window);
    let resets = stamps
        .first()
        .map(|t| ceil_secs(window.saturating_sub(now.duration_since(*t))))
        .unwrap_or_else(|| ceil_secs(window));
    if u32::try_from(stamps.len()).unwrap_or(u32::MAX) >= total {
        let header = format!("total={total}; remaining=0; resets={resets}");
        return Err(
            Reply::too_many_requests("Too many requests to update", resets)
                .with_header("zendesk-ratelimit-create-update-user", header),
        );
    }
    stamps.push(now);
    Ok((total - u32::try_from(stamps.len()).unwrap_or(total), resets))
}

fn update_single(shared: &Shared, w: &mut World, req: &Req, key: &str, id: u64) -> Reply {
    let exists = match key {
        "user" => w.users.contains_key(&id),
        _ => w.organizations.contains_key(&id),
    };
    if !exists {
        return Reply::not_found();
    }
    let kind = if key == "user" {
        "user"
    } else {
        "organization"
    };
    let (remaining, resets) = match record_budget(shared, kind, id) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let item = match body_object(req, key) {
        Ok(v) => v.clone(),
        Err(r) => return r,
    };
    let result = match key {
        "user" => w.update_user(id, &item),
        _ => w.update_org(id, &item),
    };
    if let Err(e) = result {
        return Reply::invalid(&e);
    }
    let record = match key {
        "user" => w.users.get(&id).map(|u| w.user_json(u)),
        _ => w.organizations.get(&id).map(|o| w.org_json(o)),
    };
    let mut body = Map::new();
    body.insert(key.into(), record.unwrap_or(Value::Null));
    let total = shared.options.record_updates_per_minute;
    Reply::ok(Value::Object(body)).with_header(
        "zendesk-ratelimit-create-update-user",
        format!("total={total}; remaining={remaining}; resets={resets}"),
    )
}

fn create_identity(w: &mut World, req: &Req, uid: u64) -> Reply {
    let item = match body_object(req, "identity") {
        Ok(v) => v.clone(),
        Err(r) => return r,
    };
    if item.get("type").and_then(Value::as_str) != Some("email") {
        return Reply::invalid(&Invalid {
            field: "type".into(),
            code: "InvalidValue",
            description: "Type is invalid".into(),
        });
    }
    let value = item.get("value").and_then(Value::as_str).unwrap_or("");
    let verified = item
        .get("verified")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let id = match w.create_identity(uid, value, verified) {
        Ok(id) => id,
        Err(e) => return Reply::invalid(&e),
    };
    // OAS CreateUserIdentity: `"skip_verify_email": true` creates it without the email.
    let skip = item.get("skip_verify_email").and_then(Value::as_bool) == Some(true);
    if !verified && !skip {
        w.emails_sent.push(super::SentEmail {
            user_id: uid,
            to: value.trim().to_string(),
        });
    }
    if item.get("primary").and_then(Value::as_bool) == Some(true) {
        if let Err(e) = w.make_primary(uid, id) {
            return Reply::invalid(&e);
        }
    }
    let body = w
        .users
        .get(&uid)
        .and_then(|u| u.identities.iter().find(|i| i.id == id))
        .map(|i| w.identity_json(uid, i))
        .unwrap_or(Value::Null);
    Reply::json(StatusCode::CREATED, json!({"identity": body}))
}

// ---- bulk jobs ----

/// The request items of a bulk call; `update_many?ids=` with one `{organization|user}`
/// object is expanded into one item per id.
fn bulk_items(req: &Req, kind: JobKind) -> Result<Vec<Value>, Reply> {
    let (many, one) = match kind {
        JobKind::CreateOrganizations | JobKind::UpdateOrganizations => {
            ("organizations", "organization")
        }
        JobKind::CreateUsers | JobKind::CreateOrUpdateUsers | JobKind::UpdateUsers => {
            ("users", "user")
        }
        JobKind::CreateMemberships => ("organization_memberships", "organization_membership"),
        JobKind::DestroyMemberships => {
            let ids = id_list(req, "ids")?;
            if ids.is_empty() {
                return Err(Reply::bad_request("Missing parameter: ids"));
            }
            return Ok(ids.into_iter().map(Value::String).collect());
        }
    };
    let updates_by_ids = matches!(kind, JobKind::UpdateOrganizations | JobKind::UpdateUsers)
        && req.param("ids").is_some();
    if updates_by_ids {
        let ids = id_list(req, "ids")?;
        let change = body_object(req, one)?;
        return Ok(ids
            .into_iter()
            .map(|id| {
                let mut item = change.clone();
                if let Value::Object(m) = &mut item {
                    m.insert("id".into(), Value::String(id));
                }
                item
            })
            .collect());
    }
    match req.body.as_ref().and_then(|b| b.get(many)) {
        Some(Value::Array(items)) => Ok(items.clone()),
        _ => Err(Reply::bad_request(&format!("Missing parameter: {many}"))),
    }
}

fn bulk(shared: &Shared, w: &mut World, req: &Req, kind: JobKind) -> Reply {
    if matches!(kind, JobKind::CreateUsers | JobKind::CreateOrUpdateUsers)
        && !shared.options.bulk_user_import
    {
        // Bulk user import is off by default on real accounts (OAS); body shape unrecorded.
        return Reply::error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "You do not have access to this page. Please contact the account owner of this help desk for further help.",
        );
    }
    // The query parameters each bulk endpoint documents (OAS: update_many `ids` /
    // `external_ids`, destroy_many `ids`, none for create_many). Anything else is refused
    // rather than ignored, so a misspelt parameter cannot pass a test. Zendesk's body for
    // this is unrecorded; the 400 follows the reading of the API.
    let documented: &[&str] = match kind {
        JobKind::UpdateOrganizations | JobKind::UpdateUsers => &["ids", "external_ids"],
        JobKind::DestroyMemberships => &["ids"],
        _ => &[],
    };
    if let Some((key, _)) = req
        .query
        .iter()
        .find(|(k, _)| !documented.contains(&k.as_str()))
    {
        return Reply::bad_request(&format!("Unknown parameter: {key}"));
    }
    let items = match bulk_items(req, kind) {
        Ok(items) => items,
        Err(r) => return r,
    };
    if items.len() > MAX_ITEMS {
        if kind == JobKind::CreateUsers {
            // Recorded: error_400__too_many_values__users_create_many.json
            return Reply::error(
                StatusCode::BAD_REQUEST,
                "TooManyValues",
                "Maximum 100 users may be created per call",
            );
        }
        return Reply::too_many_values();
    }
    let max = shared.options.max_jobs_in_flight;
    let in_flight: Vec<String> = w.jobs_in_flight().iter().map(|j| j.id.clone()).collect();
    if in_flight.len() >= max {
        let retry_after = match shared.options.job_completion {
            JobCompletion::AfterDuration(d) => w
                .jobs_in_flight()
                .first()
                .map(|j| ceil_secs(d.saturating_sub(j.created.elapsed())))
                .unwrap_or(1),
            JobCompletion::AfterPolls(_) => 1,
        };
        let status = StatusCode::from_u16(shared.options.too_many_jobs_status)
            .unwrap_or(StatusCode::TOO_MANY_REQUESTS);
        return Reply::json(
            status,
            json!({
                "error": "TooManyJobs",
                "description": format!(
                    "Too many {} jobs are currently queued or running. Try again later.",
                    kind.class_name()
                ),
                "current_job_ids": in_flight,
            }),
        )
        .with_header("retry-after", retry_after.to_string())
        .with_header(
            "zendesk-ratelimit-inflight-jobs",
            format!("total={max}; remaining=0; resets={retry_after}"),
        );
    }
    let will_fail = {
        let mut n = lock(&shared.failing_jobs);
        let fail = *n > 0;
        *n = n.saturating_sub(1);
        fail
    };
    let id = w.new_job(kind, items, will_fail);
    let job = w
        .jobs
        .get(&id)
        .map(|j| w.job_json(j))
        .unwrap_or(Value::Null);
    let remaining = max.saturating_sub(in_flight.len() + 1);
    Reply::ok(json!({"job_status": job})).with_header(
        "zendesk-ratelimit-inflight-jobs",
        format!("total={max}; remaining={remaining}; resets=60"),
    )
}

// ---- account facts ----

/// Id of the API token's user when no seeded user has the token's email.
pub(super) const TOKEN_USER_ID: u64 = 9_000_000_001;
/// Id of the account owner when the token's user is not the owner.
const OWNER_USER_ID: u64 = 9_000_000_002;

/// `GET /account/settings`: the shape of OAS `AccountSettingsResponse`, limited to the
/// objects the sync reads (`user`, `active_features`, `api`); `AccountSettingsUserObject`
/// is given in full.
fn account_settings_json(w: &World) -> Value {
    let r = &w.rules;
    json!({"settings": {
        "active_features": {
            "user_tagging": r.tagging,
            "organization_access_enabled": true,
            "user_org_fields": true,
        },
        "api": {
            "accepted_api_agreement": true,
            "api_password_access": "false",
            "api_token_access": "true",
        },
        "user": {
            "agent_created_welcome_emails": r.agent_created_welcome_emails,
            "end_user_phone_number_validation": false,
            "have_gravatars_enabled": true,
            "language_selection": true,
            "multiple_organizations": r.multiple_organizations,
            "tagging": r.tagging,
            "time_zone_selection": true,
        },
    }})
}

/// `GET /account` with `owner_id`: UNCONFIRMED (absent from the 2025-06 OAS and from the
/// sources searched for issue 10); served so `doctor`'s owner warning can be exercised.
fn account_json(w: &World) -> Value {
    let owner = if w.rules.token_user_is_owner {
        TOKEN_USER_ID
    } else {
        OWNER_USER_ID
    };
    json!({"account": {
        "url": w.base_url,
        "name": "Stand-in account",
        "sandbox": false,
        "subdomain": "standin",
        "time_zone": "America/New_York",
        "owner_id": owner,
    }})
}

/// `GET /users/me`: the seeded user with the token's email, else a synthetic user with
/// the role of [`super::world::Rules::token_user_role`].
fn current_user_json(shared: &Shared, w: &World) -> Value {
    let email = &shared.options.credentials.email;
    if let Some(u) = w
        .users
        .values()
        .find(|u| u.email().is_some_and(|e| e.eq_ignore_ascii_case(email)))
    {
        return w.user_json(u);
    }
    let role = w.rules.token_user_role.as_str();
    json!({
        "id": TOKEN_USER_ID,
        "url": format!("{}/api/v2/users/{TOKEN_USER_ID}.json", w.base_url),
        "name": "Sync Bot",
        "email": email,
        "role": role,
        "role_type": if role == "admin" { json!(4) } else { Value::Null },
        "active": true,
        "suspended": false,
        "verified": true,
    })
}

/// `GET /user_fields`: the configured custom user fields (OAS `UserFieldObject` subset).
fn user_fields_json(w: &World) -> Value {
    let fields: Vec<Value> = w
        .rules
        .user_fields
        .iter()
        .enumerate()
        .map(|(i, (key, kind))| {
            json!({
                "id": 8_000_000_000u64 + i as u64,
                "url": format!("{}/api/v2/user_fields/{}.json", w.base_url, 8_000_000_000u64 + i as u64),
                "key": key,
                "type": kind,
                "title": key,
                "active": true,
                "system": false,
                "position": i,
            })
        })
        .collect();
    json!({
        "user_fields": fields,
        "next_page": null,
        "previous_page": null,
        "count": w.rules.user_fields.len(),
    })
}
