//! The Zendesk stand-in against plain HTTP (reqwest on 127.0.0.1): the limits, errors,
//! jobs and shapes it must share with the real API. Shapes are compared with the recorded
//! responses in tests/fixtures/zendesk/ (docs/references.md "Zendesk recorded responses").

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};
use standins::zendesk::{
    Fault, FaultRule, JobCompletion, StandinOptions, UserSeed, ZendeskStandin,
};

struct Api {
    zd: ZendeskStandin,
    http: reqwest::Client,
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Whatever the stand-in accepted (2xx) must be a request Zendesk's API description allows:
/// the stand-in must not serve routes, parameters or bodies Zendesk does not document.
impl Drop for Api {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let accepted: Vec<_> = self
                .zd
                .all_requests()
                .into_iter()
                .filter(|r| (200..300).contains(&r.status))
                .collect();
            crate::api_description::assert_requests_conform(
                "requests the stand-in accepted",
                &accepted,
            );
        }
    }
}

impl Api {
    fn start(options: StandinOptions) -> Api {
        Api {
            zd: ZendeskStandin::start(options).expect("stand-in starts"),
            http: reqwest::Client::new(),
        }
    }

    fn new() -> Api {
        Api::start(StandinOptions::default())
    }

    /// `path` is relative to /api/v2/ and may carry a query.
    fn url(&self, path: &str) -> String {
        format!("{}api/v2/{path}", self.zd.base_url())
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let creds = self.zd.credentials();
        let mut req = self
            .http
            .request(method, self.url(path))
            .basic_auth(format!("{}/token", creds.email), Some(&creds.token));
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.finish(req).await
    }

    async fn finish(&self, req: reqwest::RequestBuilder) -> Answer {
        let resp = req.send().await.expect("request reaches the stand-in");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn put(&self, path: &str, body: Value) -> Answer {
        self.call(Method::PUT, path, Some(body)).await
    }

    /// Polls a job until it is no longer queued or working.
    async fn finish_job(&self, queued: &Answer) -> Value {
        assert_eq!(queued.status, 200, "job accepted: {}", queued.body);
        let id = queued.body["job_status"]["id"]
            .as_str()
            .expect("job id")
            .to_string();
        for _ in 0..10 {
            let a = self.get(&format!("job_statuses/{id}")).await;
            assert_eq!(a.status, 200);
            let status = a.body["job_status"]["status"]
                .as_str()
                .unwrap_or("")
                .to_string();
            if status != "queued" && status != "working" {
                return a.body["job_status"].clone();
            }
        }
        panic!("job {id} did not finish in 10 polls");
    }

    fn user(&self, name: &str, email: &str) -> u64 {
        self.zd
            .seed_user(UserSeed {
                name: name.into(),
                email: Some(email.into()),
                ..UserSeed::default()
            })
            .expect("seed user")
    }
}

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/zendesk/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Same keys at every object level; same JSON type wherever both sides are non-null;
/// arrays compared through their first elements.
fn assert_same_shape(ours: &Value, recorded: &Value, at: &str) {
    match (ours, recorded) {
        (Value::Object(a), Value::Object(b)) => {
            let ka: BTreeSet<&String> = a.keys().collect();
            let kb: BTreeSet<&String> = b.keys().collect();
            assert_eq!(ka, kb, "keys differ at {at}");
            for k in ka {
                assert_same_shape(&a[k], &b[k], &format!("{at}.{k}"));
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if let (Some(x), Some(y)) = (a.first(), b.first()) {
                assert_same_shape(x, y, &format!("{at}[0]"));
            }
        }
        (Value::Null, _) | (_, Value::Null) => {}
        (a, b) => assert_eq!(type_name(a), type_name(b), "type differs at {at}"),
    }
}

fn assert_keys_within(v: &Value, allowed: &str, required: &[&str], what: &str) {
    let allowed: BTreeSet<&str> = allowed.split_whitespace().collect();
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("{what} is an object"));
    for k in obj.keys() {
        assert!(
            allowed.contains(k.as_str()),
            "{what}: `{k}` is not in the OpenAPI schema"
        );
    }
    for k in required {
        assert!(obj.contains_key(*k), "{what}: required `{k}` missing");
    }
}

fn ids_of(items: &Value) -> Vec<u64> {
    items
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v["id"].as_u64().expect("id"))
        .collect()
}

// ---- auth, headers, routing ----

#[tokio::test]
async fn requests_without_valid_credentials_get_the_401_shape() {
    let api = Api::new();
    let anonymous = api.finish(api.http.get(api.url("users"))).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.body,
        json!({"error": "Couldn't authenticate you"})
    );
    let wrong = api
        .finish(
            api.http
                .get(api.url("users"))
                .basic_auth("sync-bot@example.gov/token", Some("wrong")),
        )
        .await;
    assert_eq!(wrong.status, 401);
    let password_login = api
        .finish(
            api.http
                .get(api.url("users"))
                .basic_auth("sync-bot@example.gov", Some("standin-token")),
        )
        .await;
    assert_eq!(
        password_login.status, 401,
        "only the token login is accepted"
    );
    assert_eq!(api.get("users").await.status, 200);
}

#[tokio::test]
async fn every_response_carries_the_rate_limit_headers() {
    let api = Api::new();
    for a in [
        api.get("users").await,
        api.get("nonsense").await,
        api.get("users/1").await,
    ] {
        for h in [
            "x-rate-limit",
            "x-rate-limit-remaining",
            "ratelimit-limit",
            "ratelimit-remaining",
            "ratelimit-reset",
        ] {
            assert!(
                a.header(h).is_some(),
                "{h} missing on a {} answer",
                a.status
            );
        }
        assert_eq!(
            a.header("content-type"),
            Some("application/json; charset=utf-8")
        );
    }
    let a = api.get("users").await;
    let b = api.get("users").await;
    let remaining = |x: &Answer| {
        x.header("x-rate-limit-remaining")
            .unwrap()
            .parse::<u32>()
            .unwrap()
    };
    assert_eq!(remaining(&a), remaining(&b) + 1);
}

#[tokio::test]
async fn json_suffix_unknown_paths_and_methods() {
    let api = Api::new();
    let org = api.zd.seed_org("Agency", None).unwrap();
    assert_eq!(
        api.get(&format!("organizations/{org}.json")).await.status,
        200
    );
    assert_eq!(api.get(&format!("organizations/{org}")).await.status, 200);
    let missing = api.get("organizations/123").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body, fixture("error_404__record_not_found.json"));
    assert_eq!(api.get("users/not-a-number").await.status, 404);
    let unknown = api.get("tickets/search_everything").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.body["error"], "InvalidEndpoint");
    let wrong_method = api.call(Method::DELETE, "organizations", None).await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.header("allow"), Some("GET, POST"));
}

#[tokio::test]
async fn bulk_endpoints_refuse_undocumented_parameters_and_every_answer_has_a_request_id() {
    let api = Api::new();
    let org = api.zd.seed_org("Agency", None).unwrap();
    // update_many documents ids / external_ids; anything else is refused, not ignored.
    let misspelt = api
        .put(
            &format!("organizations/update_many?idz={org}"),
            json!({"organization": {"notes": "x"}}),
        )
        .await;
    assert_eq!(misspelt.status, 400);
    let create = api
        .post(
            "organizations/create_many?async=true",
            json!({"organizations": [{"name": "B"}]}),
        )
        .await;
    assert_eq!(create.status, 400);
    assert!(api.zd.snapshot().jobs.is_empty(), "nothing was queued");
    let documented = api
        .put(
            &format!("organizations/update_many?ids={org}"),
            json!({"organization": {"notes": "x"}}),
        )
        .await;
    assert_eq!(documented.status, 200);
    let ids: Vec<String> = api
        .zd
        .requests()
        .into_iter()
        .map(|r| r.request_id)
        .collect();
    assert_eq!(
        documented.header("x-zendesk-request-id"),
        ids.last().map(String::as_str)
    );
    let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "one id per answer");
}

#[tokio::test]
async fn show_many_can_answer_without_results_like_the_published_example() {
    let api = Api::start(StandinOptions {
        show_many_results: false,
        job_completion: JobCompletion::AfterPolls(1),
        ..StandinOptions::default()
    });
    let submitted = api
        .post(
            "organizations/create_many",
            json!({"organizations": [{"name": "B"}]}),
        )
        .await;
    let id = submitted.body["job_status"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let many = api.get(&format!("job_statuses/show_many?ids={id}")).await;
    assert_eq!(many.body["job_statuses"][0]["status"], "completed");
    assert!(many.body["job_statuses"][0].get("results").is_none());
    let one = api.get(&format!("job_statuses/{id}")).await;
    assert_eq!(one.body["job_status"]["results"][0]["status"], "Created");
}

// ---- pagination ----

#[tokio::test]
async fn cursor_pagination_walks_every_record_exactly_once() {
    let api = Api::new();
    let mut seeded = Vec::new();
    for i in 0..23 {
        seeded.push(api.zd.seed_org(&format!("Org {i:02}"), None).unwrap());
    }
    let mut seen = Vec::new();
    let mut next = api.url("organizations?page[size]=5");
    let mut pages = 0;
    let last = loop {
        let creds = api.zd.credentials();
        let a = api
            .finish(
                api.http
                    .get(&next)
                    .basic_auth(format!("{}/token", creds.email), Some(&creds.token)),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        pages += 1;
        seen.extend(ids_of(&a.body["organizations"]));
        // links.next is present even on the last page; has_more is what ends the walk.
        next = a.body["links"]["next"]
            .as_str()
            .expect("links.next")
            .to_string();
        assert!(a.body["links"]["prev"].is_string());
        if !a.body["meta"]["has_more"].as_bool().expect("has_more") {
            break a.body;
        }
        assert!(pages < 10, "the walk does not end");
    };
    assert_eq!(pages, 5);
    assert_eq!(seen, seeded, "every organization once, in id order");
    // Going back from the last page gives the page before it.
    let before = last["meta"]["before_cursor"].as_str().unwrap();
    let back = api
        .get(&format!(
            "organizations?page[size]=5&page[before]={}",
            urlencode(before)
        ))
        .await;
    assert_eq!(ids_of(&back.body["organizations"]), seeded[15..20].to_vec());
    assert_eq!(back.body["meta"]["has_more"], true);
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn users_pages_sideload_only_the_identities_of_their_users() {
    let api = Api::new();
    let a = api.user("A", "a@example.gov");
    api.zd.add_identity(a, "a2@example.gov", false).unwrap();
    let b = api.user("B", "b@example.gov");
    let c = api.user("C", "c@example.gov");
    let first = api.get("users?page[size]=2&include=identities").await;
    assert_eq!(ids_of(&first.body["users"]), vec![a, b]);
    let owners: Vec<u64> = first.body["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["user_id"].as_u64().unwrap())
        .collect();
    assert_eq!(owners, vec![a, a, b]);
    let next = first.body["links"]["next"].as_str().unwrap();
    assert!(
        next.contains("include=identities"),
        "links keep the sideload: {next}"
    );
    let after = first.body["meta"]["after_cursor"].as_str().unwrap();
    let second = api
        .get(&format!(
            "users?page[size]=2&include=identities&page[after]={}",
            urlencode(after)
        ))
        .await;
    assert_eq!(ids_of(&second.body["users"]), vec![c]);
    assert_eq!(second.body["identities"].as_array().unwrap().len(), 1);
    assert_eq!(second.body["meta"]["has_more"], false);
    let plain = api.get("users?page[size]=2").await;
    assert!(plain.body.get("identities").is_none());
}

#[tokio::test]
async fn page_size_above_100_and_bad_cursors_are_rejected() {
    let api = Api::new();
    for path in [
        "users?page[size]=101",
        "organizations?page[size]=500",
        "organization_memberships?page[size]=101",
    ] {
        let a = api.get(path).await;
        assert_eq!(a.status, 400, "{path}");
        assert_eq!(a.body["error"], "InvalidPaginationParameter");
    }
    assert_eq!(api.get("users?page[size]=100").await.status, 200);
    assert_eq!(
        api.get("users?page[size]=10&page[after]=garbage")
            .await
            .status,
        400
    );
}

// ---- limits ----

fn many(n: usize, f: impl Fn(usize) -> Value) -> Value {
    Value::Array((0..n).map(f).collect())
}

#[tokio::test]
async fn every_bulk_endpoint_and_show_many_refuse_more_than_100_items() {
    let api = Api::new();
    let generic = fixture("error_400__too_many_values__orgs_create_many.json");
    let users = fixture("error_400__too_many_values__users_create_many.json");
    let orgs_101 = json!({"organizations": many(101, |i| json!({"name": format!("O{i}")}))});
    let users_101 = json!({"users": many(101, |i| json!({"name": format!("U{i}"), "email": format!("u{i}@example.gov")}))});
    let updates_101 = json!({"users": many(101, |i| json!({"id": i + 1, "notes": "x"}))});
    let org_updates_101 =
        json!({"organizations": many(101, |i| json!({"id": i + 1, "notes": "x"}))});
    let memberships_101 = json!({"organization_memberships": many(101, |i| json!({"user_id": i + 1, "organization_id": 1}))});
    let ids_101: Vec<String> = (1..=101).map(|i| i.to_string()).collect();
    let ids_101 = ids_101.join(",");
    let cases = [
        (
            Method::POST,
            "organizations/create_many".to_string(),
            Some(orgs_101.clone()),
            &generic,
        ),
        (
            Method::PUT,
            "organizations/update_many".to_string(),
            Some(org_updates_101),
            &generic,
        ),
        (
            Method::POST,
            "users/create_many".to_string(),
            Some(users_101.clone()),
            &users,
        ),
        (
            Method::POST,
            "users/create_or_update_many".to_string(),
            Some(users_101),
            &generic,
        ),
        (
            Method::PUT,
            "users/update_many".to_string(),
            Some(updates_101),
            &generic,
        ),
        (
            Method::POST,
            "organization_memberships/create_many".to_string(),
            Some(memberships_101),
            &generic,
        ),
        (
            Method::DELETE,
            format!("organization_memberships/destroy_many?ids={ids_101}"),
            None,
            &generic,
        ),
        (
            Method::GET,
            format!("users/show_many?ids={ids_101}"),
            None,
            &generic,
        ),
        (
            Method::GET,
            format!("organizations/show_many?ids={ids_101}"),
            None,
            &generic,
        ),
        (
            Method::GET,
            format!("job_statuses/show_many?ids={ids_101}"),
            None,
            &generic,
        ),
    ];
    for (method, path, body, expected) in cases {
        let a = api.call(method.clone(), &path, body).await;
        assert_eq!(a.status, 400, "{method} {path}");
        assert_eq!(&a.body, expected, "{method} {path}");
    }
    assert!(api.zd.snapshot().jobs.is_empty(), "no job was queued");
    let orgs_100 = json!({"organizations": many(100, |i| json!({"name": format!("O{i}")}))});
    let job = api.post("organizations/create_many", orgs_100).await;
    assert_eq!(job.status, 200);
    assert_eq!(job.body["job_status"]["total"], 100);
}

#[tokio::test]
async fn the_31st_job_in_flight_gets_too_many_jobs() {
    let api = Api::new();
    let mut ids = Vec::new();
    for i in 0..30 {
        let a = api
            .post(
                "organizations/create_many",
                json!({"organizations": [{"name": format!("O{i}")}]}),
            )
            .await;
        assert_eq!(a.status, 200);
        assert_eq!(
            a.header("zendesk-ratelimit-inflight-jobs"),
            Some(format!("total=30; remaining={}; resets=60", 29 - i).as_str())
        );
        ids.push(a.body["job_status"]["id"].as_str().unwrap().to_string());
    }
    let refused = api
        .put(
            "users/update_many",
            json!({"users": [{"id": 1, "notes": "x"}]}),
        )
        .await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.body["error"], "TooManyJobs");
    let current: Vec<String> =
        serde_json::from_value(refused.body["current_job_ids"].clone()).unwrap();
    assert_eq!(current, ids);
    assert!(refused
        .header("retry-after")
        .unwrap()
        .parse::<u64>()
        .is_ok());
    assert!(refused
        .header("zendesk-ratelimit-inflight-jobs")
        .unwrap()
        .contains("remaining=0"));
    // Finishing one job frees a slot.
    let first = api.get(&format!("job_statuses/{}", ids[0])).await;
    assert_eq!(first.body["job_status"]["status"], "working");
    let done = api.get(&format!("job_statuses/{}", ids[0])).await;
    assert_eq!(done.body["job_status"]["status"], "completed");
    let again = api
        .put(
            "users/update_many",
            json!({"users": [{"id": 1, "notes": "x"}]}),
        )
        .await;
    assert_eq!(again.status, 200);
}

#[tokio::test]
async fn over_the_account_budget_answers_429_with_retry_after() {
    let api = Api::start(StandinOptions {
        requests_per_minute: 3,
        ..StandinOptions::default()
    });
    for _ in 0..3 {
        assert_eq!(api.get("organizations").await.status, 200);
    }
    let a = api.get("organizations").await;
    assert_eq!(a.status, 429);
    let retry: u64 = a
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("integer seconds");
    assert!((1..=60).contains(&retry));
    assert_eq!(a.header("x-rate-limit"), Some("3"));
    assert_eq!(a.header("x-rate-limit-remaining"), Some("0"));
    assert_eq!(a.body["errors"][0]["code"], "TooManyRequests");
    assert_eq!(
        api.zd.requests().iter().filter(|r| r.status == 429).count(),
        1
    );
}

#[tokio::test]
async fn the_budget_comes_back_after_the_window() {
    let api = Api::start(StandinOptions {
        requests_per_minute: 1,
        rate_limit_window: Duration::from_millis(200),
        ..StandinOptions::default()
    });
    assert_eq!(api.get("users").await.status, 200);
    let refused = api.get("users").await;
    assert_eq!(refused.status, 429);
    assert_eq!(
        refused.header("retry-after"),
        Some("1"),
        "rounded up to whole seconds"
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(api.get("users").await.status, 200);
}

#[tokio::test]
async fn a_user_can_be_updated_five_times_a_minute() {
    let api = Api::new();
    let a = api.user("A", "a@example.gov");
    let b = api.user("B", "b@example.gov");
    for i in 0..5 {
        let r = api
            .put(
                &format!("users/{a}"),
                json!({"user": {"notes": format!("n{i}")}}),
            )
            .await;
        assert_eq!(r.status, 200, "update {i}");
    }
    let sixth = api
        .put(&format!("users/{a}"), json!({"user": {"notes": "n5"}}))
        .await;
    assert_eq!(sixth.status, 429);
    assert!(sixth.header("retry-after").is_some());
    assert_eq!(
        api.zd.snapshot().users[&a].notes.as_deref(),
        Some("n4"),
        "refused update not applied"
    );
    let other = api
        .put(&format!("users/{b}"), json!({"user": {"notes": "x"}}))
        .await;
    assert_eq!(other.status, 200, "the budget is per user");
}

// ---- uniqueness and validation ----

#[tokio::test]
async fn duplicate_emails_fail_per_item_across_all_identities_ignoring_case() {
    let api = Api::new();
    let owner = api.user("Owner", "first@example.gov");
    api.zd
        .add_identity(owner, "second@example.gov", false)
        .unwrap();
    let job = api
        .post(
            "users/create_many",
            json!({"users": [
                {"name": "New 1", "email": "new1@example.gov"},
                {"name": "Dup primary", "email": "FIRST@example.gov"},
                {"name": "Dup secondary", "email": "Second@Example.gov"},
                {"name": "New 2", "email": "new2@example.gov"},
                {"name": "Dup in batch", "email": "NEW2@example.gov"},
            ]}),
        )
        .await;
    let done = api.finish_job(&job).await;
    let results = done["results"].as_array().unwrap();
    let failed: Vec<u64> = results
        .iter()
        .filter(|r| r.get("error").is_some())
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(failed, vec![1, 2, 4]);
    for r in results.iter().filter(|r| r.get("error").is_some()) {
        assert!(
            r["details"]
                .as_str()
                .unwrap()
                .contains("already being used"),
            "{r}"
        );
    }
    let world = api.zd.snapshot();
    assert_eq!(world.users.len(), 3);
    assert_eq!(world.user_by_email("FIRST@EXAMPLE.GOV").unwrap().id, owner);
    // The single create answers 422 with the documented details.
    let single = api
        .post(
            "users",
            json!({"user": {"name": "X", "email": "second@EXAMPLE.gov"}}),
        )
        .await;
    assert_eq!(single.status, 422);
    assert_eq!(single.body["error"], "RecordInvalid");
    assert_eq!(
        single.body["details"]["email"][0]["error"],
        "DuplicateValue"
    );
    // So does adding the email as an identity to someone else.
    let new1 = world.user_by_email("new1@example.gov").unwrap().id;
    let ident = api
        .post(
            &format!("users/{new1}/identities"),
            json!({"identity": {"type": "email", "value": "First@example.gov", "verified": true}}),
        )
        .await;
    assert_eq!(ident.status, 422);
    assert_eq!(ident.body["details"]["value"][0]["error"], "DuplicateValue");
}

#[tokio::test]
async fn duplicate_organization_names_are_refused_ignoring_case() {
    let api = Api::new();
    api.zd.seed_org("Agency of Things", None).unwrap();
    let job = api
        .post(
            "organizations/create_many",
            json!({"organizations": [{"name": "Other"}, {"name": "agency of THINGS"}]}),
        )
        .await;
    let done = api.finish_job(&job).await;
    let failure = done["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r.get("error").is_some())
        .expect("one failure")
        .clone();
    assert_eq!(failure["index"], 1);
    assert_eq!(failure["error"], "OrganizationCreateFailed");
    assert!(failure["details"]
        .as_str()
        .unwrap()
        .ends_with("has already been taken"));
    let single = api
        .post(
            "organizations",
            json!({"organization": {"name": "AGENCY of things"}}),
        )
        .await;
    assert_eq!(single.status, 422);
    assert_eq!(single.body["details"]["name"][0]["error"], "DuplicateValue");
    assert_eq!(api.zd.snapshot().organizations.len(), 2);
}

#[tokio::test]
async fn external_ids_are_unique_ignoring_case() {
    let api = Api::new();
    let a = api.user("A", "a@example.gov");
    let b = api.user("B", "b@example.gov");
    let first = api
        .put(
            &format!("users/{a}"),
            json!({"user": {"external_id": "pages-user-7"}}),
        )
        .await;
    assert_eq!(first.status, 200);
    let job = api
        .put(
            "users/update_many",
            json!({"users": [{"id": b, "external_id": "PAGES-USER-7"}]}),
        )
        .await;
    let done = api.finish_job(&job).await;
    assert_eq!(done["results"][0]["error"], "UserUpdateFailed");
    assert_eq!(done["results"][0]["id"], b);
    let single = api
        .put(
            &format!("users/{b}"),
            json!({"user": {"external_id": "Pages-User-7"}}),
        )
        .await;
    assert_eq!(single.status, 422);
    assert_eq!(
        single.body["details"]["external_id"][0]["error"],
        "DuplicateValue"
    );
}

#[tokio::test]
async fn names_are_required_and_roles_are_checked() {
    let api = Api::new();
    let blank = api
        .post(
            "users",
            json!({"user": {"name": " ", "email": "x@example.gov"}}),
        )
        .await;
    assert_eq!(blank.status, 422);
    assert_eq!(
        blank.body["details"]["name"][0],
        json!({"type": "blank", "description": "can't be blank"})
    );
    let role = api
        .post("users", json!({"user": {"name": "X", "role": "owner"}}))
        .await;
    assert_eq!(role.status, 422);
    assert_eq!(role.body["details"]["role"][0]["error"], "InvalidValue");
    let job = api
        .post(
            "users/create_many",
            json!({"users": [{"email": "y@example.gov"}, {"name": "Y", "role": "agent"}]}),
        )
        .await;
    let done = api.finish_job(&job).await;
    let results = done["results"].as_array().unwrap();
    assert_eq!(results[0]["index"], 0);
    assert_eq!(results[0]["error"], "UserCreateFailed");
    assert_eq!(results[1]["status"], "Created");
    let world = api.zd.snapshot();
    assert_eq!(world.users.len(), 1);
    assert_eq!(world.users.values().next().unwrap().role, "agent");
}

#[tokio::test]
async fn rejected_emails_fail_per_item() {
    let api = Api::start(StandinOptions {
        reject_emails: BTreeSet::from(["Bounce@Example.gov".to_string()]),
        ..StandinOptions::default()
    });
    let job = api
        .post(
            "users/create_many",
            json!({"users": [{"name": "A", "email": "bounce@example.gov"}, {"name": "B", "email": "ok@example.gov"}]}),
        )
        .await;
    let done = api.finish_job(&job).await;
    assert_eq!(done["results"][0]["index"], 0);
    assert_eq!(done["results"][0]["error"], "UserCreateFailed");
    assert_eq!(done["results"][1]["status"], "Created");
    let single = api
        .post(
            "users",
            json!({"user": {"name": "A", "email": "BOUNCE@example.gov"}}),
        )
        .await;
    assert_eq!(single.status, 422);
    assert_eq!(single.body["details"]["email"][0]["error"], "InvalidValue");
}

// ---- memberships ----

#[tokio::test]
async fn a_duplicate_membership_answers_the_recorded_422() {
    let api = Api::new();
    let org = api.zd.seed_org("Agency", None).unwrap();
    let user = api.user("A", "a@example.gov");
    let body = json!({"organization_membership": {"user_id": user, "organization_id": org}});
    let created = api.post("organization_memberships", body.clone()).await;
    assert_eq!(created.status, 201);
    assert_same_shape(
        &created.body,
        &fixture("organization_membership__create_201__secondary.json"),
        "membership",
    );
    assert_eq!(created.body["organization_membership"]["default"], true);
    let again = api.post("organization_memberships", body).await;
    assert_eq!(again.status, 422);
    assert_eq!(
        again.body,
        fixture("error_422__membership_duplicate__secondary.json")
    );
    let unknown = api
        .post(
            "organization_memberships",
            json!({"organization_membership": {"user_id": user, "organization_id": 1}}),
        )
        .await;
    assert_eq!(unknown.status, 422);
    assert_eq!(
        unknown.body["details"]["organization"][0]["error"],
        "BlankValue"
    );
}

#[tokio::test]
async fn membership_jobs_create_and_destroy_with_per_item_failures() {
    let api = Api::new();
    let a = api.zd.seed_org("A", None).unwrap();
    let b = api.zd.seed_org("B", None).unwrap();
    let u = api.user("U", "u@example.gov");
    let existing = api.zd.seed_membership(u, a).unwrap();
    let job = api
        .post(
            "organization_memberships/create_many",
            json!({"organization_memberships": [
                {"user_id": u, "organization_id": a},
                {"user_id": u, "organization_id": b},
                {"user_id": 42, "organization_id": b},
            ]}),
        )
        .await;
    let done = api.finish_job(&job).await;
    let results = done["results"].as_array().unwrap();
    assert_eq!(results[0]["index"], 0);
    assert_eq!(results[0]["error"], "DuplicateValue");
    assert_eq!(results[1]["action"], "create");
    assert_eq!(results[1]["status"], "Created");
    assert_eq!(results[1]["success"], true);
    assert_eq!(results[2]["index"], 2);
    // The second membership is not the default: `null`, never `false`.
    let list = api.get("organization_memberships?page[size]=100").await;
    let defaults: Vec<Value> = list.body["organization_memberships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["default"].clone())
        .collect();
    assert_eq!(defaults, vec![json!(true), Value::Null]);
    let del = api
        .call(
            Method::DELETE,
            &format!("organization_memberships/destroy_many?ids={existing},77"),
            None,
        )
        .await;
    let done = api.finish_job(&del).await;
    assert_eq!(
        done["results"][0],
        json!({"id": existing, "action": "delete", "status": "Deleted", "success": true})
    );
    assert_eq!(done["results"][1]["error"], "RecordNotFound");
    assert_eq!(done["results"][1]["index"], 1);
    let world = api.zd.snapshot();
    assert_eq!(world.membership_pairs(), BTreeSet::from([(u, b)]));
    assert!(
        world.memberships.values().all(|m| m.default),
        "the remaining one became the default"
    );
}

// ---- jobs ----

#[tokio::test]
async fn jobs_go_queued_working_completed_and_apply_their_work_on_completion() {
    let api = Api::new(); // default: completed at the second poll
    let job = api
        .post(
            "organizations/create_many",
            json!({"organizations": [{"name": "A"}, {"name": "B"}]}),
        )
        .await;
    assert_eq!(job.status, 200);
    assert_eq!(job.body["job_status"]["status"], "queued");
    assert_eq!(job.body["job_status"]["progress"], Value::Null);
    assert_eq!(job.body["job_status"]["results"], Value::Null);
    let id = job.body["job_status"]["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("V3-") && id.len() == 35, "{id}");
    assert!(
        api.zd.snapshot().organizations.is_empty(),
        "nothing is created while queued"
    );
    let working = api.get(&format!("job_statuses/{id}")).await;
    assert_eq!(working.body["job_status"]["status"], "working");
    assert!(working.body["job_status"]["progress"].is_u64());
    assert_eq!(working.body["job_status"]["results"], Value::Null);
    let done = api.get(&format!("job_statuses/{id}")).await;
    assert_eq!(done.body["job_status"]["status"], "completed");
    assert_eq!(done.body["job_status"]["progress"], 2);
    assert!(done.body["job_status"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Completed at "));
    assert_eq!(api.zd.snapshot().organizations.len(), 2);
    let unknown = api
        .get("job_statuses/V3-00000000000000000000000000000000")
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.body, fixture("error_404__record_not_found.json"));
}

#[tokio::test]
async fn jobs_can_complete_at_the_first_poll() {
    let api = Api::start(StandinOptions {
        job_completion: JobCompletion::AfterPolls(1),
        ..StandinOptions::default()
    });
    let a = api
        .post(
            "organizations/create_many",
            json!({"organizations": [{"name": "A"}]}),
        )
        .await;
    let b = api
        .post(
            "organizations/create_many",
            json!({"organizations": [{"name": "B"}]}),
        )
        .await;
    let ids = format!(
        "{},{}",
        a.body["job_status"]["id"].as_str().unwrap(),
        b.body["job_status"]["id"].as_str().unwrap()
    );
    let polled = api.get(&format!("job_statuses/show_many?ids={ids}")).await;
    let statuses: Vec<&str> = polled.body["job_statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["completed", "completed"]);
}

#[tokio::test]
async fn jobs_can_complete_after_a_duration_without_polls() {
    let api = Api::start(StandinOptions {
        job_completion: JobCompletion::AfterDuration(Duration::from_millis(40)),
        ..StandinOptions::default()
    });
    let job = api
        .post(
            "organizations/create_many",
            json!({"organizations": [{"name": "A"}]}),
        )
        .await;
    assert_eq!(job.body["job_status"]["status"], "queued");
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(api.zd.snapshot().organizations.len(), 1);
}

#[tokio::test]
async fn bulk_create_results_have_no_index_and_are_not_in_request_order() {
    let api = Api::new();
    let names: Vec<String> = (0..12).map(|i| format!("Org {i:02}")).collect();
    let job = api
        .post(
            "organizations/create_many",
            json!({"organizations": names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>()}),
        )
        .await;
    let done = api.finish_job(&job).await;
    let results = done["results"].as_array().unwrap();
    for r in results {
        assert_eq!(
            r.as_object().unwrap().keys().collect::<Vec<_>>(),
            vec!["id", "status"]
        );
        assert_eq!(r["status"], "Created");
    }
    let world = api.zd.snapshot();
    // Ids are handed out in request order, so request order is ascending id order.
    let in_request_order: Vec<u64> = names
        .iter()
        .map(|n| world.org_by_name(n).unwrap().id)
        .collect();
    let reported = ids_of(&done["results"]);
    assert_ne!(reported, in_request_order);
    let mut sorted = reported.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted, in_request_order,
        "every created organization reported once"
    );
}

#[tokio::test]
async fn bulk_user_import_off_refuses_create_many_but_not_update_many() {
    let api = Api::start(StandinOptions {
        bulk_user_import: false,
        ..StandinOptions::default()
    });
    let u = api.user("A", "a@example.gov");
    let create = api
        .post(
            "users/create_many",
            json!({"users": [{"name": "B", "email": "b@example.gov"}]}),
        )
        .await;
    assert_eq!(create.status, 403);
    assert_eq!(create.body["error"], "Forbidden");
    let upsert = api
        .post(
            "users/create_or_update_many",
            json!({"users": [{"name": "B"}]}),
        )
        .await;
    assert_eq!(upsert.status, 403);
    let update = api
        .put(
            "users/update_many",
            json!({"users": [{"id": u, "notes": "n"}]}),
        )
        .await;
    let done = api.finish_job(&update).await;
    assert_eq!(
        done["results"][0],
        json!({"id": u, "action": "update", "status": "Updated", "success": true})
    );
    let single = api
        .post(
            "users",
            json!({"user": {"name": "B", "email": "b@example.gov", "skip_verify_email": true}}),
        )
        .await;
    assert_eq!(single.status, 201);
    assert!(single.header("location").unwrap().ends_with(".json"));
}

#[tokio::test]
async fn failed_jobs_report_failed_and_change_nothing() {
    let api = Api::new();
    api.zd.fail_next_jobs(1);
    let job = api
        .post(
            "organizations/create_many",
            json!({"organizations": [{"name": "A"}]}),
        )
        .await;
    let done = api.finish_job(&job).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["results"], Value::Null);
    assert!(api.zd.snapshot().organizations.is_empty());
}

// ---- user write quirks ----

#[tokio::test]
async fn user_updates_replace_tags_add_emails_and_organization_id_replaces_memberships() {
    let api = Api::new();
    let a = api.zd.seed_org("A", None).unwrap();
    let b = api.zd.seed_org("B", None).unwrap();
    let c = api.zd.seed_org("C", None).unwrap();
    let u = api
        .zd
        .seed_user(UserSeed {
            name: "U".into(),
            email: Some("u@example.gov".into()),
            tags: vec!["old".into(), "keep".into()],
            ..UserSeed::default()
        })
        .unwrap();
    api.zd.seed_membership(u, a).unwrap();
    api.zd.seed_membership(u, b).unwrap();
    let job = api
        .put(
            "users/update_many",
            json!({"users": [{"id": u, "tags": ["keep", "new"], "email": "second@example.gov", "details": "Manager"}]}),
        )
        .await;
    api.finish_job(&job).await;
    let world = api.zd.snapshot();
    let user = &world.users[&u];
    assert_eq!(user.tags, vec!["keep", "new"]);
    assert_eq!(
        user.email(),
        Some("u@example.gov"),
        "email on update does not change the primary"
    );
    assert_eq!(user.identities.len(), 2);
    assert_eq!(user.details.as_deref(), Some("Manager"));
    assert_eq!(world.membership_pairs().len(), 2);
    let put = api
        .put(
            &format!("users/{u}"),
            json!({"user": {"organization_id": c}}),
        )
        .await;
    assert_eq!(put.status, 200);
    assert_eq!(put.body["user"]["organization_id"], c);
    assert_eq!(
        api.zd.snapshot().membership_pairs(),
        BTreeSet::from([(u, c)])
    );
}

#[tokio::test]
async fn make_primary_swaps_the_primary_and_the_users_email() {
    let api = Api::new();
    let u = api.user("U", "old@example.gov");
    let added = api
        .post(
            &format!("users/{u}/identities"),
            json!({"identity": {"type": "email", "value": "new@example.gov", "verified": true, "skip_verify_email": true}}),
        )
        .await;
    assert_eq!(added.status, 201);
    assert_eq!(added.body["identity"]["primary"], false);
    let iid = added.body["identity"]["id"].as_u64().unwrap();
    let swapped = api
        .put(
            &format!("users/{u}/identities/{iid}/make_primary"),
            json!({}),
        )
        .await;
    assert_eq!(swapped.status, 200);
    let primaries: Vec<(String, bool)> = swapped.body["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["value"].as_str().unwrap().to_string(),
                i["primary"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        primaries,
        vec![
            ("old@example.gov".to_string(), false),
            ("new@example.gov".to_string(), true)
        ]
    );
    let user = api.get(&format!("users/{u}")).await;
    assert_eq!(user.body["user"]["email"], "new@example.gov");
    let wrong = api
        .put(&format!("users/{u}/identities/1/make_primary"), json!({}))
        .await;
    assert_eq!(wrong.status, 404);
}

#[tokio::test]
async fn show_many_finds_by_ids_and_external_ids_and_sideloads_identities() {
    let api = Api::new();
    let a = api
        .zd
        .seed_user(UserSeed {
            name: "A".into(),
            email: Some("a@example.gov".into()),
            external_id: Some("pages-user-1".into()),
            ..UserSeed::default()
        })
        .unwrap();
    let b = api.user("B", "b@example.gov");
    let by_ids = api
        .get(&format!(
            "users/show_many?ids={b},{a},999&include=identities"
        ))
        .await;
    assert_eq!(
        ids_of(&by_ids.body["users"]),
        vec![b, a],
        "unknown ids are left out"
    );
    assert_eq!(by_ids.body["identities"].as_array().unwrap().len(), 2);
    let by_ext = api.get("users/show_many?external_ids=PAGES-USER-1").await;
    assert_eq!(ids_of(&by_ext.body["users"]), vec![a]);
    assert!(by_ext.body.get("identities").is_none());
}

// ---- faults, log, lifecycle ----

#[tokio::test]
async fn injected_faults_answer_before_or_after_the_work() {
    let api = Api::new();
    api.zd.fail_next(2, 503);
    for _ in 0..2 {
        let a = api.get("users").await;
        assert_eq!(a.status, 503);
        assert_eq!(a.header("retry-after"), Some("1"));
    }
    assert_eq!(api.get("users").await.status, 200);
    api.zd.inject(FaultRule {
        method: Some("POST".into()),
        path_contains: Some("organizations/create_many".into()),
        times: 1,
        fault: Fault::status(502).after_processing(),
    });
    assert_eq!(
        api.get("organizations").await.status,
        200,
        "other routes are untouched"
    );
    let lost = api
        .post(
            "organizations/create_many",
            json!({"organizations": [{"name": "A"}]}),
        )
        .await;
    assert_eq!(lost.status, 502);
    api.zd.complete_jobs();
    assert_eq!(
        api.zd.snapshot().organizations.len(),
        1,
        "the work was done anyway"
    );
    api.zd.fail_next(1, 500);
    let internal = api.get("users").await;
    assert_eq!(internal.status, 500);
    assert!(internal.header("retry-after").is_none());
}

#[tokio::test]
async fn the_request_log_shows_what_was_received() {
    let api = Api::new();
    api.get("users?page[size]=100&include=identities").await;
    api.put(
        "users/update_many",
        json!({"users": [{"id": 1, "notes": "x"}]}),
    )
    .await;
    let log = api.zd.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].method, "GET");
    assert_eq!(log[0].path, "/api/v2/users");
    assert_eq!(log[0].query_value("page[size]"), Some("100"));
    assert_eq!(log[0].body, None);
    assert!(!log[0].is_write());
    assert_eq!(
        log[1].body,
        Some(json!({"users": [{"id": 1, "notes": "x"}]}))
    );
    assert_eq!(log[1].status, 200);
    assert_eq!(log.iter().filter(|r| r.is_write()).count(), 1);
    api.zd.clear_requests();
    assert!(api.zd.requests().is_empty());
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let zd = ZendeskStandin::start(StandinOptions::default()).unwrap();
    let url = zd.base_url();
    zd.shutdown();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut refused = false;
    for _ in 0..50 {
        if client.get(url.clone()).send().await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused, "the stand-in still answers after shutdown");
}

// ---- shapes against the recordings and the OpenAPI schemas ----

// Property names of the schemas in tests/fixtures/zendesk/openapi.yaml.
const OAS_ORGANIZATION: &str = "created_at details domain_names external_id group_id id name notes organization_fields shared_comments shared_tickets tags updated_at url";
const OAS_USER_FOR_ADMIN: &str = "active alias chat_only created_at custom_role_id default_group_id details email external_id iana_time_zone id last_login_at locale locale_id moderator name notes only_private_comments organization_id phone photo remote_photo_url report_csv restricted_agent role role_type shared shared_agent shared_phone_number signature suspended tags ticket_restriction time_zone two_factor_auth_enabled updated_at url user_fields verified";
const OAS_IDENTITY: &str = "created_at deliverable_state id primary type undeliverable_count updated_at url user_id value verification_method verified verified_at";
const OAS_MEMBERSHIP: &str =
    "created_at default id organization_id organization_name updated_at url user_id view_tickets";
const OAS_JOB_STATUS: &str = "id job_type message progress results status total url";

#[tokio::test]
async fn users_and_organizations_have_the_recorded_shapes() {
    let api = Api::new();
    let created = api
        .post("users", json!({"user": {"name": "testUser"}}))
        .await;
    assert_eq!(created.status, 201);
    let recorded = fixture("user__create_201.json");
    assert_same_shape(&created.body, &recorded, "user");
    assert_eq!(created.body["user"]["role_type"], Value::Null);
    assert_eq!(created.body["user"]["ticket_restriction"], "requested");
    assert_keys_within(&created.body["user"], OAS_USER_FOR_ADMIN, &["name"], "user");
    let url = created.body["user"]["url"].as_str().unwrap();
    assert!(
        url.starts_with(api.zd.base_url().as_str()),
        "url points at the stand-in: {url}"
    );
    // Every user field of a full user matches the recording too.
    let full = api.user("Full", "full@example.gov");
    let shown = api.get(&format!("users/{full}")).await;
    assert_same_shape(&shown.body, &recorded, "user");

    let org = api
        .post(
            "organizations",
            json!({"organization": {"name": "testOrganizationNone"}}),
        )
        .await;
    assert_eq!(org.status, 201);
    assert_same_shape(
        &org.body,
        &fixture("organization__create_201.json"),
        "organization",
    );
    assert_keys_within(
        &org.body["organization"],
        OAS_ORGANIZATION,
        &["name"],
        "organization",
    );

    let identities = api.get(&format!("users/{full}/identities")).await;
    assert_keys_within(
        &identities.body["identities"][0],
        OAS_IDENTITY,
        &["user_id", "type", "value"],
        "identity",
    );
}

#[tokio::test]
async fn cursor_pages_have_the_recorded_shapes() {
    let api = Api::new();
    api.zd.seed_org("A", None).unwrap();
    api.zd.seed_org("B", None).unwrap();
    api.user("The Customer", "customer@example.com");
    api.user("Other", "other@example.com");
    let orgs = api.get("organizations.json?page[size]=1").await;
    assert_same_shape(
        &orgs.body,
        &fixture("organizations__cursor_page_first.json"),
        "orgs page",
    );
    let next = orgs.body["links"]["next"].as_str().unwrap();
    assert!(
        next.contains("/api/v2/organizations.json?page%5Bafter%5D="),
        "{next}"
    );
    assert!(next.ends_with("&page%5Bsize%5D=1"), "{next}");
    let users = api.get("users?page[size]=1").await;
    let recorded = fixture("users__cursor_page_first.json");
    // The recording's user has a photo object; the stand-in's users have none (null).
    assert_same_shape(&users.body, &recorded, "users page");
}

#[tokio::test]
async fn memberships_have_the_recorded_and_documented_shape() {
    let api = Api::new();
    let org = api.zd.seed_org("JinmuTraining123", None).unwrap();
    let user = api.user("U", "u@example.gov");
    api.zd.seed_membership(user, org).unwrap();
    let page = api.get("organization_memberships?page[size]=100").await;
    let m = &page.body["organization_memberships"][0];
    let recorded = fixture("organization_membership__create_201__secondary.json");
    assert_same_shape(m, &recorded["organization_membership"], "membership");
    assert_keys_within(
        m,
        OAS_MEMBERSHIP,
        &["user_id", "organization_id", "default"],
        "membership",
    );
    assert_eq!(m["organization_name"], "JinmuTraining123");
}

#[tokio::test]
async fn job_statuses_have_the_recorded_shapes() {
    let api = Api::new();
    let u = api.user("U", "u@example.gov");
    let queued = api
        .put(
            "users/update_many",
            json!({"users": [{"id": u, "notes": "x"}]}),
        )
        .await;
    assert_same_shape(
        &queued.body,
        &fixture("job_status_queued__users_create_many.json"),
        "queued",
    );
    assert_keys_within(
        &queued.body["job_status"],
        OAS_JOB_STATUS,
        &[],
        "job status",
    );
    let id = queued.body["job_status"]["id"].as_str().unwrap();
    let working = api.get(&format!("job_statuses/{id}.json")).await;
    assert_same_shape(
        &working.body,
        &fixture("job_status_working__users_create_many.json"),
        "working",
    );
    let done = api.get(&format!("job_statuses/{id}")).await;
    assert_same_shape(
        &done.body,
        &fixture("job_status_completed__users_update_many.json"),
        "completed",
    );
    // UpdateResourceResult requires id, action, success, status.
    assert_keys_within(
        &done.body["job_status"]["results"][0],
        "id action success status",
        &["id", "action", "success", "status"],
        "update result",
    );

    let created = api
        .post(
            "users/create_many",
            json!({"users": [{"name": "N", "email": "n@example.gov"}]}),
        )
        .await;
    let created = api.finish_job(&created).await;
    assert_same_shape(
        &json!({"job_status": created}),
        &fixture("job_status_completed__users_create_many.json"),
        "create completed",
    );

    let org = api.zd.seed_org("Taken", None).unwrap();
    let other = api.zd.seed_org("Other", None).unwrap();
    let partial = api
        .put(
            "organizations/update_many",
            json!({"organizations": [{"id": org, "notes": "n"}, {"id": other, "name": "taken"}]}),
        )
        .await;
    let partial = api.finish_job(&partial).await;
    let recorded = fixture("job_status_completed__orgs_update_many_partial_failure.json");
    assert_same_shape(
        &partial["results"][0],
        &recorded["job_status"]["results"][0],
        "update success",
    );
    assert_same_shape(
        &partial["results"][1],
        &recorded["job_status"]["results"][1],
        "update failure",
    );
    assert_eq!(partial["results"][1]["error"], "OrganizationUpdateFailed");
}

#[tokio::test]
async fn create_or_update_many_matches_by_email_or_external_id() {
    let api = Api::new();
    let by_email = api.user("A", "a@example.gov");
    let by_ext = api
        .zd
        .seed_user(UserSeed {
            name: "B".into(),
            external_id: Some("pages-user-2".into()),
            ..UserSeed::default()
        })
        .unwrap();
    let job = api
        .post(
            "users/create_or_update_many",
            json!({"users": [
                {"name": "A2", "email": "A@example.gov"},
                {"name": "B2", "external_id": "PAGES-USER-2"},
                {"name": "C", "email": "c@example.gov"},
            ]}),
        )
        .await;
    let done = api.finish_job(&job).await;
    let statuses: Vec<(u64, &str)> = done["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_u64().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    let world = api.zd.snapshot();
    let created = world.user_by_email("c@example.gov").unwrap().id;
    assert_eq!(
        statuses,
        vec![
            (by_email, "Updated"),
            (by_ext, "Updated"),
            (created, "Created")
        ]
    );
    assert_eq!(world.users[&by_email].name, "A2");
    assert_eq!(world.users[&by_ext].name, "B2");
}

#[tokio::test]
async fn update_many_by_ids_applies_one_change_to_each() {
    let api = Api::new();
    let a = api.zd.seed_org("A", None).unwrap();
    let b = api.zd.seed_org("B", None).unwrap();
    let job = api
        .put(
            &format!("organizations/update_many?ids={a},{b}"),
            json!({"organization": {"notes": "synced"}}),
        )
        .await;
    let done = api.finish_job(&job).await;
    assert_eq!(ids_of(&done["results"]), vec![a, b]);
    let world = api.zd.snapshot();
    assert!(world
        .organizations
        .values()
        .all(|o| o.notes.as_deref() == Some("synced")));
}
