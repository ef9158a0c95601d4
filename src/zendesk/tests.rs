//! Adapter tests against wiremock servers on 127.0.0.1 that answer as the API description
//! (tests/fixtures/zendesk/openapi.yaml) and the recorded fixtures (tests/fixtures/zendesk/)
//! say: each test gives a handler that models the endpoints it needs, and may mount
//! sharper mocks in front of it. Each test asserts what the server received (wiremock's
//! request log), not only what the adapter returned.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use secrecy::SecretString;
use serde_json::{json, Value};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

use super::*;
use crate::model::{EmailKey, OrgKey, ZendeskRole};
use crate::plan::{Change, ChangeKind, OrgRef, UserRef, UserUpdate};

const TOKEN: &str = "s3cr3t-T0KEN-value";
const ADMIN: &str = "admin@agency.gov";

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// Without the `/api/v2/` prefix.
    path: String,
    params: BTreeMap<String, String>,
    headers: HashMap<String, String>,
    body: Value,
}

impl Seen {
    fn param(&self, k: &str) -> Option<&str> {
        self.params.get(k).map(String::as_str)
    }
    fn is(&self, method: &str, path: &str) -> bool {
        self.method == method && self.path == path
    }
}

struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: body.to_string(),
        }
    }
    fn header(mut self, k: &'static str, v: &str) -> Reply {
        self.headers.push((k, v.to_string()));
        self
    }
    fn not_found() -> Reply {
        Reply::json(
            404,
            json!({"error": "RecordNotFound", "description": "Not found"}),
        )
    }
}

/// A wiremock server that answers every request with `handler`, a small model of the
/// Zendesk endpoints a test needs; tests can mount sharper mocks in front of it.
struct Server {
    url: String,
    mock: MockServer,
}

/// The catch-all answer: the request as the tests read it, handed to the test's handler.
struct Handler<F>(F);

impl<F: Fn(&Seen) -> Reply + Send + Sync + 'static> Respond for Handler<F> {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let reply = (self.0)(&Seen::from(request));
        let mut template = ResponseTemplate::new(reply.status);
        for (k, v) in reply.headers {
            template = template.append_header(k, v);
        }
        template.set_body_bytes(reply.body)
    }
}

impl From<&wiremock::Request> for Seen {
    fn from(request: &wiremock::Request) -> Seen {
        Seen {
            method: request.method.to_string(),
            path: request
                .url
                .path()
                .trim_start_matches("/api/v2/")
                .to_string(),
            params: request.url.query_pairs().into_owned().collect(),
            headers: request
                .headers
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
                .collect(),
            body: serde_json::from_slice(&request.body).unwrap_or(Value::Null),
        }
    }
}

impl Server {
    async fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Server {
        let mock = MockServer::start().await;
        Mock::given(any())
            .respond_with(Handler(handler))
            // The lowest priority: a mock a test mounts in front answers first.
            .with_priority(u8::MAX)
            .mount(&mock)
            .await;
        Server {
            url: mock.uri(),
            mock,
        }
    }

    /// Every request the server received, in order of arrival.
    async fn seen(&self) -> Vec<Seen> {
        let received = self.mock.received_requests().await;
        received
            .unwrap_or_default()
            .iter()
            .map(Seen::from)
            .collect()
    }

    async fn count(&self, method: &str, path: &str) -> usize {
        let seen = self.seen().await;
        seen.iter().filter(|s| s.is(method, path)).count()
    }
}

fn tuning() -> ZendeskTuning {
    ZendeskTuning {
        requests_per_minute: 100_000,
        max_jobs_in_flight: 10,
        request_timeout_seconds: 5,
        max_retries: 2,
        job_poll_interval_ms: 5,
        follow_announced_limit: false,
    }
}

fn settings(url: &str) -> ZendeskSettings {
    ZendeskSettings::from_env_values(
        None,
        Some(url),
        Some(ADMIN),
        Some(SecretString::from(TOKEN)),
        tuning(),
    )
    .unwrap()
}

fn zendesk(server: &Server) -> Zendesk {
    zendesk_mapped(server, FieldMapping::default())
}

fn zendesk_mapped(server: &Server, mapping: FieldMapping) -> Zendesk {
    Zendesk::new(settings(&server.url), mapping)
        .unwrap()
        .with_backoff_base(Duration::from_millis(5))
}

fn email(s: &str) -> EmailKey {
    EmailKey::parse(s).unwrap()
}

fn org_key(s: &str) -> OrgKey {
    OrgKey::new(s).unwrap()
}

fn page(resource: &str, items: Value, after: Option<&str>) -> Reply {
    Reply::json(
        200,
        json!({
            resource: items,
            "meta": {"has_more": after.is_some(), "after_cursor": after, "before_cursor": "b"},
            // Present on the last page too, as Zendesk sends it.
            "links": {"prev": "http://x/prev", "next": "http://x/next"},
        }),
    )
}

fn empty_page(seen: &Seen) -> Reply {
    let resource = match seen.path.as_str() {
        "organizations" => "organizations",
        "users" => "users",
        _ => "organization_memberships",
    };
    page(resource, json!([]), None)
}

/// Background jobs as Zendesk runs them: queued at submission, working at the first poll,
/// completed with the given results at the second.
#[derive(Default)]
struct Jobs {
    jobs: Mutex<BTreeMap<String, (usize, Value)>>,
    show_many_ids: Mutex<Vec<Vec<String>>>,
}

impl Jobs {
    fn submit(&self, results: Value) -> Reply {
        let mut jobs = self.jobs.lock().unwrap();
        let id = format!("V3-{:032x}", jobs.len() + 1);
        let total = results.as_array().map_or(0, Vec::len);
        jobs.insert(id.clone(), (0, results));
        Reply::json(
            200,
            json!({"job_status": {"id": id, "url": "u", "total": total, "progress": null,
                "status": "queued", "message": null, "results": null}}),
        )
        .header(
            "zendesk-ratelimit-inflight-jobs",
            "total=30; remaining=29; resets=60",
        )
    }

    fn show_many(&self, seen: &Seen) -> Reply {
        let ids: Vec<String> = seen
            .param("ids")
            .unwrap_or("")
            .split(',')
            .map(str::to_string)
            .collect();
        self.show_many_ids.lock().unwrap().push(ids.clone());
        let mut jobs = self.jobs.lock().unwrap();
        let statuses: Vec<Value> = ids
            .iter()
            .filter_map(|id| {
                let (polls, results) = jobs.get_mut(id)?;
                *polls += 1;
                Some(match *polls {
                    1 => json!({"id": id, "status": "working", "progress": 1, "results": null}),
                    _ => json!({"id": id, "status": "completed", "progress": 1,
                        "message": "Completed at 2023-09-18 23:26:10 +0000", "results": results}),
                })
            })
            .collect();
        Reply::json(200, json!({ "job_statuses": statuses }))
    }
}

// ---------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------

#[test]
fn settings_prefer_the_url_and_require_https_off_loopback() {
    let token = || Some(SecretString::from(TOKEN));
    let s = ZendeskSettings::from_env_values(
        Some("cloudgov"),
        Some("http://127.0.0.1:8080"),
        Some(ADMIN),
        token(),
        tuning(),
    )
    .unwrap();
    assert_eq!(s.base_url.as_str(), "http://127.0.0.1:8080/");
    let s =
        ZendeskSettings::from_env_values(Some("cloud-gov"), None, Some(ADMIN), token(), tuning())
            .unwrap();
    assert_eq!(s.base_url.as_str(), "https://cloud-gov.zendesk.com/");
    for ok in [
        "http://localhost:1",
        "http://[::1]:2",
        "https://sandbox.example.com",
    ] {
        assert!(
            ZendeskSettings::from_env_values(None, Some(ok), Some(ADMIN), token(), tuning())
                .is_ok(),
            "{ok}"
        );
    }
    let err = |sub: Option<&str>, url: Option<&str>, mail: Option<&str>, tok| {
        format!(
            "{:#}",
            ZendeskSettings::from_env_values(sub, url, mail, tok, tuning()).unwrap_err()
        )
    };
    assert!(err(
        None,
        Some("http://zendesk.example.com"),
        Some(ADMIN),
        token()
    )
    .contains("https"));
    assert!(err(Some("bad.sub"), None, Some(ADMIN), token()).contains("ZENDESK_SUBDOMAIN"));
    assert!(err(None, None, Some(ADMIN), token()).contains("ZENDESK_SUBDOMAIN is not set"));
    assert!(err(Some("x"), None, None, token()).contains("ZENDESK_EMAIL is not set"));
    assert!(err(Some("x"), None, Some(ADMIN), None).contains("ZENDESK_API_TOKEN is not set"));
    let with_password = err(
        None,
        Some("https://u:hunter2@x.zendesk.com"),
        Some(ADMIN),
        token(),
    );
    assert!(with_password.contains("must not contain") && !with_password.contains("hunter2"));
}

// ---------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn requests_carry_the_basic_auth_zendesk_expects() {
    let server = Server::start(empty_page).await;
    let z = zendesk(&server);
    z.read().await.unwrap();
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{ADMIN}/token:{TOKEN}"))
    );
    let seen = server.seen().await;
    assert_eq!(seen.len(), 3);
    for s in &seen {
        assert_eq!(s.headers.get("authorization"), Some(&expected));
        assert_eq!(
            s.headers.get("accept").map(String::as_str),
            Some("application/json")
        );
    }
    assert_eq!(z.stats().requests, 3);
    assert_eq!(z.stats().write_requests, 0);
}

#[tokio::test]
async fn a_401_is_unauthorized_and_not_retried() {
    let server =
        Server::start(|_| Reply::json(401, json!({"error": "Couldn't authenticate you"}))).await;
    let z = zendesk(&server);
    let err = z.read().await.unwrap_err();
    assert!(matches!(
        err.downcast_ref::<ZendeskError>(),
        Some(ZendeskError::Unauthorized)
    ));
    // Three concurrent first pages, none sent twice.
    assert!(server.seen().await.len() <= 3);
    assert_eq!(z.stats().retries, 0);
}

#[tokio::test]
async fn a_429_waits_for_retry_after_then_retries() {
    let server = Server::start(empty_page).await;
    // The first organizations page is refused once; everything else is an empty page.
    Mock::given(method("GET"))
        .and(path("/api/v2/organizations"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(
                    json!({"errors": [{"code": "TooManyRequests", "title": "Too many requests"}]}),
                ),
        )
        .up_to_n_times(1)
        .mount(&server.mock)
        .await;
    let z = zendesk(&server);
    let started = Instant::now();
    z.read().await.unwrap();
    assert_eq!(server.count("GET", "organizations").await, 2);
    // Retry-After was honoured (loose lower bound, no upper bound).
    assert!(started.elapsed() >= Duration::from_millis(900));
    let stats = z.stats();
    assert_eq!(stats.rate_limited, 1);
    assert_eq!(stats.retries, 1);
    assert_eq!(stats.requests, 4);
}

#[tokio::test]
async fn a_503_is_retried_with_backoff() {
    let server = Server::start(empty_page).await;
    // The first users page fails twice, then the catch-all answers.
    Mock::given(method("GET"))
        .and(path("/api/v2/users"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({"error": "Unavailable"})))
        .up_to_n_times(2)
        .mount(&server.mock)
        .await;
    let z = zendesk(&server);
    z.read().await.unwrap();
    assert_eq!(server.count("GET", "users").await, 3);
    assert_eq!(z.stats().retries, 2);
    assert_eq!(z.stats().rate_limited, 0);
}

#[tokio::test]
async fn retries_are_bounded_and_end_as_unavailable() {
    let server = Server::start(|_| Reply::json(502, json!({"error": "BadGateway"}))).await;
    let z = zendesk(&server);
    let err = z.read().await.unwrap_err();
    match err.downcast_ref::<ZendeskError>() {
        Some(ZendeskError::Unavailable { what, last }) => {
            assert!(what.starts_with("listing Zendesk"), "{what}");
            assert!(last.contains("502"), "{last}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    // max_retries = 2: each resource's first page is tried at most three times.
    assert!(server.count("GET", "organizations").await <= 3);
    assert!(server.count("GET", "users").await <= 3);
}

#[tokio::test]
async fn an_announced_smaller_limit_lowers_the_budget() {
    let server = Server::start(|s| {
        empty_page(s)
            .header("X-Rate-Limit", "50")
            .header("X-Rate-Limit-Remaining", "49")
    })
    .await;
    let z = zendesk(&server);
    assert_eq!(z.request_budget(), 100_000);
    z.read().await.unwrap();
    assert_eq!(z.request_budget(), 50);
}

#[tokio::test]
async fn the_token_never_appears_in_errors() {
    // Refused credentials, a 403, a rejected request and an unreachable host.
    let server = Server::start(|s| match s.path.as_str() {
        "organizations" => Reply::json(401, json!({"error": "Couldn't authenticate you"})),
        "users" => Reply::json(403, json!({"error": "Forbidden", "description": "no"})),
        _ => Reply::json(400, json!({"error": "TooManyValues", "description": "x"})),
    })
    .await;
    let mut errors = Vec::new();
    for only in ["organizations", "users", "organization_memberships"] {
        let z = zendesk(&server);
        let r = match only {
            "organizations" => read::read_actual(&z.client, &FieldMapping::default())
                .await
                .err(),
            _ => {
                let what = format!("listing {only}");
                let answer = z
                    .client
                    .send(&client::Call::get(only, &what))
                    .await
                    .unwrap();
                Some(answer.into_error(&what))
            }
        };
        errors.push(r.unwrap());
    }
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        format!("http://{addr}")
    };
    let z = Zendesk::new(settings(&closed), FieldMapping::default())
        .unwrap()
        .with_backoff_base(Duration::from_millis(1));
    errors.push(z.read().await.unwrap_err());
    assert!(matches!(
        errors[1].downcast_ref::<ZendeskError>(),
        Some(ZendeskError::Forbidden { .. })
    ));
    assert!(matches!(
        errors[2].downcast_ref::<ZendeskError>(),
        Some(ZendeskError::Rejected { status: 400, code, .. }) if code == "TooManyValues"
    ));
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{ADMIN}/token:{TOKEN}"));
    for e in &errors {
        for text in [format!("{e}"), format!("{e:#}"), format!("{e:?}")] {
            assert!(!text.contains(TOKEN) && !text.contains(&encoded), "{text}");
        }
    }
    let debug = format!("{:?}", settings(&server.url));
    assert!(!debug.contains(TOKEN), "{debug}");
}

// ---------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn reads_follow_cursors_until_has_more_is_false() {
    let server = Server::start(|s| match (s.path.as_str(), s.param("page[after]")) {
        ("organizations", None) => page(
            "organizations",
            json!([{"id": 1, "name": "Org A", "details": "GSA"}]),
            Some("c1=="),
        ),
        ("organizations", Some("c1==")) => page(
            "organizations",
            json!([{"id": 2, "name": "Org B", "details": null}]),
            Some("c2+/"),
        ),
        ("organizations", Some("c2+/")) => {
            page("organizations", json!([{"id": 3, "name": "Org C"}]), None)
        }
        ("organizations", Some(_)) => Reply::json(400, json!({"error": "InvalidCursor"})),
        _ => empty_page(s),
    })
    .await;
    let z = zendesk(&server);
    let actual = z.read().await.unwrap();
    assert_eq!(
        actual.orgs.keys().copied().collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(actual.orgs[&1].details.as_deref(), Some("GSA"));
    assert_eq!(actual.orgs[&2].details, None);
    let pages: Vec<Seen> = server
        .seen()
        .await
        .into_iter()
        .filter(|s| s.path == "organizations")
        .collect();
    assert_eq!(
        pages.len(),
        3,
        "stops on has_more=false though links.next is present"
    );
    let cursors: Vec<Option<&str>> = pages.iter().map(|p| p.param("page[after]")).collect();
    assert_eq!(cursors, vec![None, Some("c1=="), Some("c2+/")]);
    assert!(pages.iter().all(|p| p.param("page[size]") == Some("100")));
}

#[tokio::test]
async fn users_are_read_with_email_identities_and_the_configured_roles_field() {
    let server = Server::start(|s| match s.path.as_str() {
        "users" => page(
            "users",
            json!([
                {"id": 10, "name": "Jane Doe", "email": "Jane@Agency.gov", "role": "end-user",
                 "external_id": "pages-user-1", "details": "ignored", "tags": ["a", "pages_org_manager"],
                 "suspended": false, "active": true, "user_fields": {"pages_roles": "Org A: manager"}},
                {"id": 11, "name": "Admin", "email": "boss@agency.gov", "role": "admin",
                 "tags": null, "suspended": true, "active": true, "user_fields": {}},
                {"id": 12, "name": "Gone", "email": "gone@agency.gov", "role": "end-user", "active": false},
                {"id": 13, "name": "No sideload", "email": "solo@agency.gov", "role": "end-user"}
            ]),
            None,
        )
        .map_body(|b| {
            b["identities"] = json!([
                {"id": 100, "user_id": 10, "type": "email", "value": "jane@agency.gov", "primary": true, "verified": true},
                {"id": 101, "user_id": 10, "type": "email", "value": "JD@old.gov", "primary": false, "verified": true},
                {"id": 102, "user_id": 10, "type": "twitter", "value": "janedoe", "primary": false},
                {"id": 110, "user_id": 11, "type": "email", "value": "boss@agency.gov", "primary": true},
                {"id": 120, "user_id": 12, "type": "email", "value": "gone@agency.gov", "primary": true}
            ]);
        }),
        "organization_memberships" => page(
            "organization_memberships",
            json!([{"id": 7, "user_id": 10, "organization_id": 1, "default": null}]),
            None,
        ),
        _ => empty_page(s),
    })
    .await;
    let z = zendesk_mapped(
        &server,
        FieldMapping {
            roles_field: RolesField::UserField("pages_roles".into()),
            ..FieldMapping::default()
        },
    );
    let actual = z.read().await.unwrap();
    let users_call = server
        .seen()
        .await
        .into_iter()
        .find(|s| s.path == "users")
        .unwrap();
    assert_eq!(users_call.param("include"), Some("identities"));

    assert_eq!(
        actual.users.keys().copied().collect::<Vec<_>>(),
        vec![10, 11, 13]
    );
    let jane = &actual.users[&10];
    assert_eq!(jane.role, ZendeskRole::EndUser);
    assert_eq!(jane.roles_text.as_deref(), Some("Org A: manager"));
    assert_eq!(jane.external_id.as_deref(), Some("pages-user-1"));
    assert_eq!(jane.tags, vec!["a", "pages_org_manager"]);
    let ids: Vec<(u64, &str, bool)> = jane
        .identities
        .iter()
        .map(|i| (i.id, i.email.as_str(), i.primary))
        .collect();
    assert_eq!(
        ids,
        vec![(100, "jane@agency.gov", true), (101, "jd@old.gov", false)]
    );
    let boss = &actual.users[&11];
    assert_eq!(boss.role, ZendeskRole::Admin);
    assert!(boss.suspended);
    assert!(boss.tags.is_empty());
    assert_eq!(boss.roles_text, None);
    assert_eq!(
        actual.users[&13].primary_email().map(EmailKey::as_str),
        Some("solo@agency.gov")
    );
    assert_eq!(actual.memberships[&7].org_id, 1);
}

impl Reply {
    fn map_body(mut self, f: impl FnOnce(&mut Value)) -> Reply {
        let mut v: Value = serde_json::from_str(&self.body).unwrap();
        f(&mut v);
        self.body = v.to_string();
        self
    }
}

// ---------------------------------------------------------------------------------------
// Apply
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_create_many_answered_500_is_not_sent_again() {
    let server = Server::start(|_| {
        Reply::json(
            500,
            json!({"errors": [{"code": "Unavailable", "title": "Internal Server Error"}]}),
        )
    })
    .await;
    let z = zendesk(&server);
    let plan = Plan {
        changes: vec![Change::CreateOrganization {
            key: org_key("Org A"),
            name: "Org A".into(),
            details: "GSA".into(),
        }],
        notes: vec![],
    };
    let err = z.apply(&plan).await.unwrap_err();
    assert!(matches!(
        err.downcast_ref::<ZendeskError>(),
        Some(ZendeskError::Unavailable { .. })
    ));
    assert_eq!(server.count("POST", "organizations/create_many").await, 1);
    assert_eq!(z.stats().retries, 0);
}

#[tokio::test]
async fn an_update_many_answered_500_is_retried() {
    let jobs = Arc::new(Jobs::default());
    let j = jobs.clone();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let server = Server::start(move |s| match s.path.as_str() {
        "organizations/update_many" if c.fetch_add(1, Ordering::SeqCst) == 0 => {
            Reply::json(500, json!({}))
        }
        "organizations/update_many" => {
            j.submit(json!([{"id": 5, "action": "update", "status": "Updated", "success": true}]))
        }
        "job_statuses/show_many" => j.show_many(s),
        _ => Reply::not_found(),
    })
    .await;
    let z = zendesk(&server);
    let plan = Plan {
        changes: vec![Change::UpdateOrganization {
            org_id: 5,
            details: "GSA".into(),
        }],
        notes: vec![],
    };
    let out = z.apply(&plan).await.unwrap();
    assert_eq!(server.count("PUT", "organizations/update_many").await, 2);
    assert_eq!(out.applied.get(&ChangeKind::UpdateOrganization), Some(&1));
    let sent = server
        .seen()
        .await
        .into_iter()
        .find(|s| s.path == "organizations/update_many")
        .unwrap();
    assert_eq!(
        sent.body,
        json!({"organizations": [{"id": 5, "details": "GSA"}]})
    );
    assert_eq!(
        sent.headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
}

/// 150 organizations: two create_many jobs polled together with show_many, created ids
/// returned without index and out of order, resolved by re-reading, then used for the
/// memberships of the new organizations.
#[tokio::test]
async fn created_organizations_are_resolved_and_used_for_memberships() {
    let names: Vec<String> = (0..150).map(|i| format!("Org {i:03}")).collect();
    let jobs = Arc::new(Jobs::default());
    let j = jobs.clone();
    let server = Server::start(move |s| match s.path.as_str() {
        "organizations/create_many" => {
            let orgs = s.body["organizations"].as_array().unwrap();
            // Ids derive from the name; results come back reversed, without index.
            let results: Vec<Value> = orgs
                .iter()
                .rev()
                .map(|o| {
                    let n: u64 = o["name"].as_str().unwrap()[4..].parse().unwrap();
                    json!({"id": 1000 + n, "status": "Created"})
                })
                .collect();
            j.submit(Value::Array(results))
        }
        "organizations/show_many" => {
            let orgs: Vec<Value> = s
                .param("ids")
                .unwrap()
                .split(',')
                .map(|id| {
                    let id: u64 = id.parse().unwrap();
                    json!({"id": id, "name": format!("org {:03}", id - 1000), "details": ""})
                })
                .collect();
            Reply::json(200, json!({ "organizations": orgs }))
        }
        "organization_memberships/create_many" => {
            let n = s.body["organization_memberships"].as_array().unwrap().len();
            j.submit(Value::Array(
                (0..n)
                    .map(|i| json!({"id": 5000 + i, "action": "create", "status": "Created", "success": true}))
                    .collect(),
            ))
        }
        "job_statuses/show_many" => j.show_many(s),
        _ => Reply::not_found(),
    })
    .await;
    let z = zendesk(&server);
    let mut changes: Vec<Change> = names
        .iter()
        .map(|n| Change::CreateOrganization {
            key: org_key(n),
            name: n.clone(),
            details: "Agency".into(),
        })
        .collect();
    changes.push(Change::AddMembership {
        user: UserRef::Existing(77),
        org: OrgRef::New(org_key("Org 007")),
    });
    changes.push(Change::AddMembership {
        user: UserRef::Existing(78),
        org: OrgRef::New(org_key("ORG 149")),
    });
    let out = z
        .apply(&Plan {
            changes,
            notes: vec![],
        })
        .await
        .unwrap();
    assert!(out.failures.is_empty(), "{:?}", out.failures);
    assert_eq!(out.applied.get(&ChangeKind::CreateOrganization), Some(&150));
    assert_eq!(out.applied.get(&ChangeKind::AddMembership), Some(&2));

    let creates: Vec<Seen> = server
        .seen()
        .await
        .into_iter()
        .filter(|s| s.path == "organizations/create_many")
        .collect();
    let sizes: Vec<usize> = creates
        .iter()
        .map(|c| c.body["organizations"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, vec![100, 50]);
    assert_eq!(
        creates[0].body["organizations"][0],
        json!({"name": "Org 000", "details": "Agency"})
    );
    // Both org jobs were in flight together and polled with one request per round.
    let rounds = jobs.show_many_ids.lock().unwrap().clone();
    assert_eq!(rounds[0].len(), 2, "{rounds:?}");
    assert!(server.count("GET", "job_statuses/show_many").await <= 4);
    assert_eq!(server.count("GET", "organizations/show_many").await, 2);
    let memberships = server
        .seen()
        .await
        .into_iter()
        .find(|s| s.path == "organization_memberships/create_many")
        .unwrap();
    assert_eq!(
        memberships.body,
        json!({"organization_memberships": [
            {"user_id": 77, "organization_id": 1007},
            {"user_id": 78, "organization_id": 1149}
        ]})
    );
}

fn create_user(e: &str) -> Change {
    Change::CreateUser {
        email: email(e),
        name: "Some One".into(),
        external_id: format!("pages-user-{}", e.len()),
        roles_text: "Org A: user".into(),
        tags: vec![],
    }
}

#[tokio::test]
async fn item_failures_map_to_their_record_by_index_and_dependent_memberships_are_skipped() {
    let jobs = Arc::new(Jobs::default());
    let j = jobs.clone();
    let server = Server::start(move |s| match s.path.as_str() {
        "users/create_many" => j.submit(json!([
            {"id": 31, "status": "Created"},
            {"index": 1, "error": "UserCreateFailed",
             "details": {"email": [{"description": "Email: b@x.gov is already being used", "error": "DuplicateValue"}]}},
            {"id": 30, "status": "Created"}
        ])),
        "users/show_many" => Reply::json(200, json!({"users": [
            {"id": 30, "name": "A", "email": "a@x.gov", "role": "end-user"},
            {"id": 31, "name": "C", "email": "c@x.gov", "role": "end-user"}
        ]})),
        "organization_memberships/create_many" => j.submit(json!([
            {"index": 1, "error": "DuplicateValue", "details": "already a member"},
            {"id": 900, "action": "create", "status": "Created", "success": true}
        ])),
        "job_statuses/show_many" => j.show_many(s),
        _ => Reply::not_found(),
    })
    .await;
    let z = zendesk(&server);
    let mut changes = vec![
        create_user("a@x.gov"),
        create_user("b@x.gov"),
        create_user("c@x.gov"),
    ];
    for e in ["a@x.gov", "b@x.gov", "c@x.gov"] {
        changes.push(Change::AddMembership {
            user: UserRef::New(email(e)),
            org: OrgRef::Existing(5),
        });
    }
    let out = z
        .apply(&Plan {
            changes,
            notes: vec![],
        })
        .await
        .unwrap();
    assert_eq!(out.applied.get(&ChangeKind::CreateUser), Some(&2));
    assert_eq!(out.skipped.get(&ChangeKind::AddMembership), Some(&1));
    assert_eq!(out.applied.get(&ChangeKind::AddMembership), Some(&1));
    assert_eq!(out.failures.len(), 2);
    let user_failure = &out.failures[0];
    assert_eq!(user_failure.kind, ChangeKind::CreateUser);
    assert_eq!(user_failure.subject, "b@x.gov");
    assert_eq!(
        user_failure.reason.as_str(),
        "UserCreateFailed/email/DuplicateValue"
    );
    assert!(user_failure.detail.contains("already being used"));
    let membership_failure = &out.failures[1];
    assert_eq!(membership_failure.kind, ChangeKind::AddMembership);
    assert_eq!(membership_failure.subject, "c@x.gov in organization 5");
    assert_eq!(membership_failure.reason.as_str(), "DuplicateValue");

    let create = server
        .seen()
        .await
        .into_iter()
        .find(|s| s.path == "users/create_many")
        .unwrap();
    assert_eq!(
        create.body["users"][0],
        json!({"name": "Some One", "email": "a@x.gov", "role": "end-user",
               "external_id": "pages-user-7", "details": "Org A: user", "tags": [],
               "verified": true})
    );
    let memberships = server
        .seen()
        .await
        .into_iter()
        .find(|s| s.path == "organization_memberships/create_many")
        .unwrap();
    assert_eq!(
        memberships.body["organization_memberships"],
        json!([{"user_id": 30, "organization_id": 5}, {"user_id": 31, "organization_id": 5}])
    );
}

/// A failed membership in an organization this run created is named by the organization's
/// name as the plan creates it: the adapter needs nothing but the plan.
#[tokio::test]
async fn a_failed_membership_in_a_new_organization_is_named_from_the_plan() {
    let jobs = Arc::new(Jobs::default());
    let j = jobs.clone();
    let server = Server::start(move |s| match s.path.as_str() {
        "organizations/create_many" => j.submit(json!([{"id": 1001, "status": "Created"}])),
        "organizations/show_many" => Reply::json(
            200,
            json!({"organizations": [{"id": 1001, "name": "Org A", "details": "GSA"}]}),
        ),
        "organization_memberships/create_many" => j.submit(json!([
            {"index": 0, "error": "DuplicateValue", "details": "already a member"}
        ])),
        "job_statuses/show_many" => j.show_many(s),
        _ => Reply::not_found(),
    })
    .await;
    let z = zendesk(&server);
    let plan = Plan {
        changes: vec![
            Change::CreateOrganization {
                key: org_key("Org A"),
                name: "Org A".into(),
                details: "GSA".into(),
            },
            Change::AddMembership {
                user: UserRef::Existing(77),
                org: OrgRef::New(org_key("ORG A")),
            },
        ],
        notes: vec![],
    };
    let out = z.apply(&plan).await.unwrap();
    assert_eq!(out.applied.get(&ChangeKind::CreateOrganization), Some(&1));
    assert_eq!(out.failures.len(), 1);
    assert_eq!(out.failures[0].kind, ChangeKind::AddMembership);
    assert_eq!(out.failures[0].subject, "user 77 in Org A");
}

#[tokio::test]
async fn bulk_import_403_falls_back_to_single_creates() {
    let next_id = Arc::new(AtomicUsize::new(500));
    let n = next_id.clone();
    let server = Server::start(move |s| match s.path.as_str() {
        "users/create_many" => Reply::json(403, json!({"error": "Forbidden", "description": "Bulk user import is not enabled"})),
        "users" if s.method == "POST" => {
            if s.body["user"]["email"] == "taken@x.gov" {
                return Reply::json(422, json!({"error": "RecordInvalid", "description": "Record validation errors",
                    "details": {"email": [{"description": "Email: taken@x.gov is already being used by another user", "error": "DuplicateValue"}]}}));
            }
            let id = n.fetch_add(1, Ordering::SeqCst);
            Reply::json(201, json!({"user": {"id": id, "name": s.body["user"]["name"], "email": s.body["user"]["email"], "role": "end-user"}}))
        }
        _ => Reply::not_found(),
    })
    .await;
    let z = zendesk_mapped(
        &server,
        FieldMapping {
            roles_field: RolesField::Notes,
            send_verification_email: true,
        },
    );
    let mut changes: Vec<Change> = (0..101)
        .map(|i| create_user(&format!("u{i}@x.gov")))
        .collect();
    changes.push(create_user("taken@x.gov"));
    let out = z
        .apply(&Plan {
            changes,
            notes: vec![],
        })
        .await
        .unwrap();
    assert!(out.bulk_user_import_disabled);
    assert_eq!(out.applied.get(&ChangeKind::CreateUser), Some(&101));
    assert_eq!(out.failures.len(), 1);
    assert_eq!(out.failures[0].subject, "taken@x.gov");
    assert_eq!(
        out.failures[0].reason.as_str(),
        "RecordInvalid/email/DuplicateValue"
    );
    // The second batch never went to create_many once the first was refused.
    assert_eq!(server.count("POST", "users/create_many").await, 1);
    assert_eq!(server.count("POST", "users").await, 102);
    let single = server
        .seen()
        .await
        .into_iter()
        .find(|s| s.is("POST", "users"))
        .unwrap();
    assert_eq!(
        single.body,
        json!({"user": {"name": "Some One", "email": "u0@x.gov", "role": "end-user",
                        "external_id": "pages-user-8", "notes": "Org A: user", "tags": []}})
    );
}

#[tokio::test]
async fn user_updates_send_only_the_planned_fields() {
    let jobs = Arc::new(Jobs::default());
    let j = jobs.clone();
    let server = Server::start(move |s| match s.path.as_str() {
        "users/update_many" => j.submit(json!([
            {"id": 1, "action": "update", "status": "Updated", "success": true},
            {"index": 1, "id": 2, "error": "UserUpdateFailed",
             "details": {"external_id": [{"description": "External has already been taken", "error": "DuplicateValue"}]}}
        ])),
        "job_statuses/show_many" => j.show_many(s),
        _ => Reply::not_found(),
    })
    .await;
    let z = zendesk_mapped(
        &server,
        FieldMapping {
            roles_field: RolesField::UserField("pages_roles".into()),
            ..FieldMapping::default()
        },
    );
    let plan = Plan {
        changes: vec![
            Change::UpdateUser {
                user_id: 1,
                update: UserUpdate {
                    roles_text: Some("Org A: manager".into()),
                    tags: Some(vec!["keep".into(), "pages_org_manager".into()]),
                    ..UserUpdate::default()
                },
            },
            Change::UpdateUser {
                user_id: 2,
                update: UserUpdate {
                    name: Some("Jane Doe".into()),
                    external_id: Some("pages-user-2".into()),
                    ..UserUpdate::default()
                },
            },
        ],
        notes: vec![],
    };
    let out = z.apply(&plan).await.unwrap();
    assert_eq!(out.applied.get(&ChangeKind::UpdateUser), Some(&1));
    assert_eq!(out.failures.len(), 1);
    assert_eq!(out.failures[0].zendesk_id, Some(2));
    assert_eq!(
        out.failures[0].reason.as_str(),
        "UserUpdateFailed/external_id/DuplicateValue"
    );
    let sent = server
        .seen()
        .await
        .into_iter()
        .find(|s| s.path == "users/update_many")
        .unwrap();
    assert_eq!(sent.method, "PUT");
    assert_eq!(
        sent.body,
        json!({"users": [
            {"id": 1, "user_fields": {"pages_roles": "Org A: manager"}, "tags": ["keep", "pages_org_manager"]},
            {"id": 2, "name": "Jane Doe", "external_id": "pages-user-2"}
        ]})
    );
}

#[tokio::test]
async fn an_expired_job_fails_its_records_as_job_expired() {
    let server = Server::start(|s| match s.path.as_str() {
        "organization_memberships/destroy_many" => Reply::json(
            200,
            json!({"job_status": {"id": "V3-gone", "status": "queued", "results": null}}),
        ),
        _ => Reply::not_found(),
    })
    .await;
    let z = zendesk(&server);
    let plan = Plan {
        changes: vec![
            Change::RemoveMembership {
                membership_id: 70,
                user_id: 1,
                org_id: 2,
            },
            Change::RemoveMembership {
                membership_id: 71,
                user_id: 3,
                org_id: 2,
            },
        ],
        notes: vec![],
    };
    let out = z.apply(&plan).await.unwrap();
    assert_eq!(out.failures.len(), 2);
    assert!(out
        .failures
        .iter()
        .all(|f| f.reason.as_str() == "job_expired"));
    let destroy = server
        .seen()
        .await
        .into_iter()
        .find(|s| s.path == "organization_memberships/destroy_many")
        .unwrap();
    assert_eq!(destroy.method, "DELETE");
    assert_eq!(destroy.param("ids"), Some("70,71"));
    assert_eq!(server.count("GET", "job_statuses/show_many").await, 1);
    assert_eq!(server.count("GET", "job_statuses/V3-gone").await, 1);
}

#[tokio::test]
async fn too_many_jobs_waits_and_resubmits() {
    let jobs = Arc::new(Jobs::default());
    let j = jobs.clone();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let server = Server::start(move |s| match s.path.as_str() {
        "organization_memberships/destroy_many" if c.fetch_add(1, Ordering::SeqCst) == 0 => {
            Reply::json(
                429,
                json!({"error": "TooManyJobs",
                "description": "Too many jobs are currently queued or running. Try again later.",
                "current_job_ids": ["a"]}),
            )
            .header("retry-after", "1")
        }
        "organization_memberships/destroy_many" => j.submit(json!([
            {"id": 70, "action": "delete", "status": "Deleted", "success": true}
        ])),
        "job_statuses/show_many" => j.show_many(s),
        _ => Reply::not_found(),
    })
    .await;
    let z = zendesk(&server);
    let plan = Plan {
        changes: vec![Change::RemoveMembership {
            membership_id: 70,
            user_id: 1,
            org_id: 2,
        }],
        notes: vec![],
    };
    let out = z.apply(&plan).await.unwrap();
    assert_eq!(out.applied.get(&ChangeKind::RemoveMembership), Some(&1));
    assert_eq!(
        server
            .count("DELETE", "organization_memberships/destroy_many")
            .await,
        2
    );
    assert_eq!(z.stats().rate_limited, 1);
}

#[tokio::test]
async fn a_new_primary_email_is_added_then_made_primary() {
    let server = Server::start(|s| match (s.method.as_str(), s.path.as_str()) {
        ("POST", "users/40/identities") => Reply::json(
            201,
            json!({"identity": {"id": 400, "user_id": 40, "type": "email", "value": "new@x.gov", "primary": false}}),
        ),
        ("PUT", "users/40/identities/400/make_primary") | ("PUT", "users/41/identities/410/make_primary") => {
            Reply::json(200, json!({"identities": []}))
        }
        _ => Reply::not_found(),
    })
    .await;
    let z = zendesk(&server);
    let plan = Plan {
        changes: vec![
            Change::SetPrimaryEmail {
                user_id: 40,
                email: email("new@x.gov"),
                identity_id: None,
            },
            Change::SetPrimaryEmail {
                user_id: 41,
                email: email("old@x.gov"),
                identity_id: Some(410),
            },
        ],
        notes: vec![],
    };
    let out = z.apply(&plan).await.unwrap();
    assert_eq!(out.applied.get(&ChangeKind::SetPrimaryEmail), Some(&2));
    let seen = server.seen().await;
    let paths: Vec<(&str, &str)> = seen
        .iter()
        .map(|s| (s.method.as_str(), s.path.as_str()))
        .collect();
    assert_eq!(
        paths,
        vec![
            ("POST", "users/40/identities"),
            ("PUT", "users/40/identities/400/make_primary"),
            ("PUT", "users/41/identities/410/make_primary"),
        ]
    );
    assert_eq!(
        seen[0].body,
        json!({"identity": {"type": "email", "value": "new@x.gov", "verified": true, "skip_verify_email": true}})
    );
    // make_primary carries `{}` as JSON, as Zendesk's official client sends it.
    for s in &seen[1..] {
        assert_eq!(s.body, json!({}));
        assert_eq!(
            s.headers.get("content-type").map(String::as_str),
            Some("application/json")
        );
    }
}

/// Issue 10: a 403 on one user's identity or make_primary used to end the whole run
/// before memberships were written, every month.
#[tokio::test]
async fn a_403_on_one_users_email_is_recorded_against_that_user_and_the_run_goes_on() {
    let server = Server::start(|s| match (s.method.as_str(), s.path.as_str()) {
        ("POST", "users/40/identities") | ("PUT", "users/41/identities/410/make_primary") => {
            Reply::json(
                403,
                json!({"error": "Forbidden", "description": "You do not have access"}),
            )
        }
        ("PUT", "users/42/identities/420/make_primary") => {
            Reply::json(200, json!({"identities": []}))
        }
        _ => Reply::not_found(),
    })
    .await;
    let z = zendesk(&server);
    let change = |user_id, identity_id| Change::SetPrimaryEmail {
        user_id,
        email: email(&format!("u{user_id}@x.gov")),
        identity_id,
    };
    let plan = Plan {
        changes: vec![
            change(40, None),
            change(41, Some(410)),
            change(42, Some(420)),
        ],
        notes: vec![],
    };
    let out = z
        .apply(&plan)
        .await
        .expect("a protected user does not stop the run");
    assert_eq!(out.applied.get(&ChangeKind::SetPrimaryEmail), Some(&1));
    let failed: Vec<(Option<u64>, &str)> = out
        .failures
        .iter()
        .map(|f| (f.zendesk_id, f.reason.as_str()))
        .collect();
    assert_eq!(
        failed,
        vec![(Some(40), "forbidden"), (Some(41), "forbidden")]
    );
}

#[tokio::test]
async fn an_empty_plan_sends_nothing() {
    let server = Server::start(|_| Reply::not_found()).await;
    let z = zendesk(&server);
    let out = z.apply(&Plan::default()).await.unwrap();
    assert_eq!(out, ApplyOutcome::default());
    assert!(server.seen().await.is_empty());
}

/// A first sync of 250 users in 30 new organizations (one membership each) costs exactly
/// the bulk calls, the re-reads of created ids and one show_many per poll round:
/// 1 + 3 + 3 create_many, 1 + 3 show_many re-reads, 2 poll rounds per phase (the fake
/// jobs finish at their second poll).
#[tokio::test]
async fn a_first_sync_costs_the_minimum_number_of_requests() {
    let jobs = Arc::new(Jobs::default());
    let j = jobs.clone();
    let server = Server::start(move |s| {
        let ids = |field: &str, key: &str, offset: u64| -> Value {
            let items = s.body[field].as_array().unwrap();
            Value::Array(
                items
                    .iter()
                    .map(|i| {
                        let n: u64 = i[key].as_str().unwrap().trim_start_matches(|c: char| !c.is_ascii_digit())
                            .split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap();
                        json!({"id": offset + n, "status": "Created"})
                    })
                    .collect(),
            )
        };
        let show = |resource: &str, offset: u64| -> Reply {
            let records: Vec<Value> = s
                .param("ids")
                .unwrap()
                .split(',')
                .map(|id| {
                    let n = id.parse::<u64>().unwrap() - offset;
                    if resource == "users" {
                        json!({"id": offset + n, "name": "U", "email": format!("u{n}@x.gov"), "role": "end-user"})
                    } else {
                        json!({"id": offset + n, "name": format!("Org {n}")})
                    }
                })
                .collect();
            Reply::json(200, json!({ resource: records }))
        };
        match s.path.as_str() {
            "organizations/create_many" => j.submit(ids("organizations", "name", 1000)),
            "users/create_many" => j.submit(ids("users", "email", 5000)),
            "organization_memberships/create_many" => {
                let n = s.body["organization_memberships"].as_array().unwrap().len();
                j.submit(Value::Array((0..n).map(|i| json!({"id": i, "status": "Created"})).collect()))
            }
            "organizations/show_many" => show("organizations", 1000),
            "users/show_many" => show("users", 5000),
            "job_statuses/show_many" => j.show_many(s),
            _ => Reply::not_found(),
        }
    })
    .await;
    let z = zendesk(&server);
    let mut changes = Vec::new();
    let org_names: Vec<String> = (0..30).map(|i| format!("Org {i}")).collect();
    for name in &org_names {
        changes.push(Change::CreateOrganization {
            key: org_key(name),
            name: name.clone(),
            details: String::new(),
        });
    }
    for u in 0..250 {
        changes.push(create_user(&format!("u{u}@x.gov")));
    }
    for u in 0..250 {
        changes.push(Change::AddMembership {
            user: UserRef::New(email(&format!("u{u}@x.gov"))),
            org: OrgRef::New(org_key(&org_names[u % 30])),
        });
    }
    let out = z
        .apply(&Plan {
            changes,
            notes: vec![],
        })
        .await
        .unwrap();
    assert!(out.failures.is_empty(), "{:?}", out.failures);
    assert!(out.skipped.is_empty());
    assert_eq!(out.applied.get(&ChangeKind::CreateOrganization), Some(&30));
    assert_eq!(out.applied.get(&ChangeKind::CreateUser), Some(&250));
    assert_eq!(out.applied.get(&ChangeKind::AddMembership), Some(&250));
    let stats = z.stats();
    assert_eq!(stats.write_requests, 1 + 3 + 3);
    assert_eq!(server.count("GET", "organizations/show_many").await, 1);
    assert_eq!(server.count("GET", "users/show_many").await, 3);
    assert_eq!(server.count("GET", "job_statuses/show_many").await, 6);
    assert_eq!(stats.requests, 7 + 4 + 6);
    let first_membership = server
        .seen()
        .await
        .into_iter()
        .find(|s| s.path == "organization_memberships/create_many")
        .unwrap();
    assert_eq!(
        first_membership.body["organization_memberships"][31],
        json!({"user_id": 5031, "organization_id": 1001})
    );
}

// ---------------------------------------------------------------------------------------
// Against the stateful stand-in: job results, the job queue, the identities sideload
// ---------------------------------------------------------------------------------------

use standins::zendesk::{StandinOptions, UserSeed, ZendeskStandin};

fn standin_zendesk(zd: &ZendeskStandin) -> Zendesk {
    let creds = zd.credentials();
    let settings = ZendeskSettings::from_env_values(
        None,
        Some(zd.base_url().as_str()),
        Some(&creds.email),
        Some(SecretString::from(creds.token.clone())),
        tuning(),
    )
    .unwrap();
    Zendesk::new(settings, FieldMapping::default())
        .unwrap()
        .with_backoff_base(Duration::from_millis(5))
}

fn seed_end_user(zd: &ZendeskStandin, email: &str) -> u64 {
    zd.seed_user(UserSeed {
        name: "Some One".into(),
        email: Some(email.into()),
        ..UserSeed::default()
    })
    .unwrap()
}

fn requests_to(zd: &ZendeskStandin, method: &str, prefix: &str) -> usize {
    zd.requests()
        .iter()
        .filter(|r| r.method == method && r.path.starts_with(prefix))
        .count()
}

#[tokio::test]
async fn a_finished_job_that_show_many_returns_without_results_is_read_on_its_own() {
    let zd = ZendeskStandin::start(StandinOptions {
        show_many_results: false,
        ..StandinOptions::default()
    })
    .unwrap();
    let org = zd.seed_org("Agency", None).unwrap();
    let user = seed_end_user(&zd, "a@x.gov");
    let plan = Plan {
        changes: vec![Change::AddMembership {
            user: UserRef::Existing(user),
            org: OrgRef::Existing(org),
        }],
        notes: vec![],
    };
    let out = standin_zendesk(&zd).apply(&plan).await.unwrap();
    assert_eq!(out.failures, vec![]);
    assert_eq!(out.applied.get(&ChangeKind::AddMembership), Some(&1));
    // show_many said "completed" without results; the job itself was read once.
    assert!(requests_to(&zd, "GET", "/api/v2/job_statuses/show_many") >= 1);
    assert_eq!(requests_to(&zd, "GET", "/api/v2/job_statuses/V3-"), 1);
    assert_eq!(zd.snapshot().membership_pairs().len(), 1);
}

#[tokio::test]
async fn removals_whose_job_results_name_no_membership_are_settled_by_reading_them_again() {
    let zd = ZendeskStandin::start(StandinOptions {
        destroy_results_name_ids: false,
        ..StandinOptions::default()
    })
    .unwrap();
    let org = zd.seed_org("Agency", None).unwrap();
    let a = seed_end_user(&zd, "a@x.gov");
    let b = seed_end_user(&zd, "b@x.gov");
    let ma = zd.seed_membership(a, org).unwrap();
    let mb = zd.seed_membership(b, org).unwrap();
    let plan = Plan {
        changes: vec![
            Change::RemoveMembership {
                membership_id: ma,
                user_id: a,
                org_id: org,
            },
            Change::RemoveMembership {
                membership_id: mb,
                user_id: b,
                org_id: org,
            },
        ],
        notes: vec![],
    };
    let out = standin_zendesk(&zd).apply(&plan).await.unwrap();
    assert_eq!(out.failures, vec![], "settled from a re-read, not failed");
    assert_eq!(out.applied.get(&ChangeKind::RemoveMembership), Some(&2));
    assert_eq!(
        requests_to(&zd, "GET", "/api/v2/organization_memberships/"),
        2
    );
    assert!(zd.snapshot().memberships.is_empty());
}

#[tokio::test]
async fn too_many_jobs_waits_and_resubmits_whatever_the_http_status() {
    let jobs = Arc::new(Jobs::default());
    let j = jobs.clone();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let server = Server::start(move |s| match s.path.as_str() {
        // The status of a TooManyJobs answer is not documented; only its code is.
        "organization_memberships/destroy_many" if c.fetch_add(1, Ordering::SeqCst) == 0 => {
            Reply::json(
                400,
                json!({"error": "TooManyJobs",
                "description": "Too many jobs are currently queued or running. Try again later.",
                "current_job_ids": ["a"]}),
            )
            .header("retry-after", "0")
        }
        "organization_memberships/destroy_many" => j.submit(json!([
            {"id": 70, "action": "delete", "status": "Deleted", "success": true}
        ])),
        "job_statuses/show_many" => j.show_many(s),
        _ => Reply::not_found(),
    })
    .await;
    let z = zendesk(&server);
    let plan = Plan {
        changes: vec![Change::RemoveMembership {
            membership_id: 70,
            user_id: 1,
            org_id: 2,
        }],
        notes: vec![],
    };
    let out = z.apply(&plan).await.unwrap();
    assert_eq!(out.applied.get(&ChangeKind::RemoveMembership), Some(&1));
    assert_eq!(
        server
            .count("DELETE", "organization_memberships/destroy_many")
            .await,
        2
    );
    assert_eq!(z.stats().rate_limited, 1);
}

#[tokio::test]
async fn submissions_are_paced_by_the_job_queue_budget_zendesk_announces() {
    // The account's queue holds one job (Zendesk: 30, shared with every integration);
    // the sync is configured for ten. The `zendesk-ratelimit-inflight-jobs` header of
    // each submission says how many places are left.
    let zd = ZendeskStandin::start(StandinOptions {
        max_jobs_in_flight: 1,
        ..StandinOptions::default()
    })
    .unwrap();
    let changes: Vec<Change> = (0..201)
        .map(|i| {
            let name = format!("org-{i:03}");
            Change::CreateOrganization {
                key: org_key(&name),
                name,
                details: "Agency".into(),
            }
        })
        .collect();
    let z = standin_zendesk(&zd);
    let out = z
        .apply(&Plan {
            changes,
            notes: vec![],
        })
        .await
        .unwrap();
    assert_eq!(out.failures, vec![]);
    assert_eq!(out.applied.get(&ChangeKind::CreateOrganization), Some(&201));
    let refused: Vec<_> = zd
        .requests()
        .into_iter()
        .filter(|r| r.status == 429)
        .collect();
    assert_eq!(refused, vec![], "no submission ran into TooManyJobs");
    assert_eq!(z.stats().rate_limited, 0);
    assert_eq!(
        requests_to(&zd, "POST", "/api/v2/organizations/create_many"),
        3
    );
}

#[tokio::test]
async fn a_users_page_without_the_identities_sideload_stops_the_read_loudly() {
    let zd = ZendeskStandin::start(StandinOptions {
        sideload_identities: false,
        ..StandinOptions::default()
    })
    .unwrap();
    seed_end_user(&zd, "a@x.gov");
    let z = standin_zendesk(&zd);
    let err = z
        .check_identities_sideload()
        .await
        .expect_err("no sideload is an error");
    assert!(
        format!("{err:#}").contains("secondary emails would be invisible"),
        "{err:#}"
    );
    let err = z.read().await.expect_err("the read stops");
    assert!(
        format!("{err:#}").contains("`identities` sideload"),
        "{err:#}"
    );
}

#[tokio::test]
async fn the_identities_sideload_check_reports_what_one_page_showed() {
    let zd = ZendeskStandin::start(StandinOptions::default()).unwrap();
    let a = seed_end_user(&zd, "a@x.gov");
    zd.add_identity(a, "a.second@x.gov", false).unwrap();
    seed_end_user(&zd, "b@x.gov");
    let found = standin_zendesk(&zd)
        .check_identities_sideload()
        .await
        .unwrap();
    assert_eq!(
        found,
        IdentitiesSideload {
            users: 2,
            identities: 3,
            email_identities: 3,
        }
    );
    let r = &zd.requests()[0];
    assert_eq!(r.query_value("include"), Some("identities"));
    assert_eq!(r.query_value("page[size]"), Some("100"));
    // An empty account proves nothing either way and is not an error.
    let empty = ZendeskStandin::start(StandinOptions {
        sideload_identities: false,
        ..StandinOptions::default()
    })
    .unwrap();
    let found = standin_zendesk(&empty)
        .check_identities_sideload()
        .await
        .unwrap();
    assert_eq!(found.users, 0);
}
