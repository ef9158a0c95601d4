//! The GitHub adapter (real client) against the GitHub stand-in: one issue per month,
//! no duplicate issue or comment after a lost answer, checklist ticking that keeps a
//! person's edit, close/reopen, limits and error messages.

use std::path::Path;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use pages_zendesk_sync::commands::run::tick_criteria;
use pages_zendesk_sync::github::{
    ClientOptions, GithubClient, GithubError, IssueTemplate, Month, RenderedIssue,
};
use pages_zendesk_sync::verify::Criterion;
use secrecy::SecretString;
use standins::github::{Endpoint, Fault, GithubStandin, LoggedRequest, SeedIssue, StandinOptions};

const LABEL: &str = "pages-zendesk-sync";

fn fast() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(5),
        retry_backoff: Duration::from_millis(5),
        rate_limit_fallback_wait: Duration::from_millis(5),
        ..ClientOptions::default()
    }
}

async fn start(options: StandinOptions) -> (GithubStandin, GithubClient) {
    let standin = GithubStandin::start(options).await.unwrap();
    let client = GithubClient::with_options(
        standin.api_url(),
        SecretString::from(standin.token().to_string()),
        "cloud-gov/pages-zendesk-sync",
        fast(),
    )
    .unwrap();
    (standin, client)
}

fn template() -> IssueTemplate {
    IssueTemplate::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/ISSUE_TEMPLATE/pages-zendesk-sync.md"),
    )
    .unwrap()
}

fn month(s: &str) -> Month {
    Month::parse(s).unwrap()
}

fn rendered(m: Month) -> RenderedIssue {
    template().render(m)
}

fn calls<'a>(log: &'a [LoggedRequest], method: &str, path: &str) -> Vec<&'a LoggedRequest> {
    log.iter()
        .filter(|r| r.method == method && r.path == path)
        .collect()
}

const ISSUES: &str = "/repos/cloud-gov/pages-zendesk-sync/issues";

fn verdicts(passed: bool) -> Vec<(Criterion, bool)> {
    Criterion::ALL.iter().map(|c| (*c, passed)).collect()
}

#[tokio::test]
async fn a_fresh_month_opens_exactly_one_issue_with_labels_and_the_rendered_title() {
    let (standin, client) = start(StandinOptions::default()).await;
    let m = month("2026-11");
    let (issue, created) = client
        .find_or_open_month_issue(&rendered(m), m, LABEL)
        .await
        .unwrap();
    assert!(created);
    assert!(issue.open);
    let issues = standin.issues();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].number, issue.number);
    assert_eq!(
        issues[0].title,
        "Run November 2026 Pages/Zendesk user, role, and org sync"
    );
    assert_eq!(issues[0].labels, [LABEL]);
    assert!(issues[0]
        .body
        .as_deref()
        .unwrap()
        .ends_with("<!-- pages-zendesk-sync:month=2026-11 -->\n"));
    assert_eq!(
        standin.labels(),
        [LABEL],
        "the label is created on first use"
    );

    let log = standin.requests();
    let list = &calls(&log, "GET", ISSUES)[0];
    let query = list.query.as_deref().unwrap();
    // Not filtered by label: a person may have opened the month's issue without it.
    assert!(!query.contains("labels="), "{query}");
    for part in [
        "state=all",
        "sort=created",
        "direction=desc",
        "per_page=100",
    ] {
        assert!(query.contains(part), "{query}");
    }
    assert_eq!(
        list.headers.get("accept").map(String::as_str),
        Some("application/vnd.github+json")
    );
    assert_eq!(
        list.headers.get("x-github-api-version").map(String::as_str),
        Some("2022-11-28")
    );
}

#[tokio::test]
async fn running_twice_finds_the_same_issue_even_while_search_lags() {
    let (standin, client) = start(StandinOptions {
        search_lag: 1000,
        ..StandinOptions::default()
    })
    .await;
    let m = month("2026-11");
    let (first, created) = client
        .find_or_open_month_issue(&rendered(m), m, LABEL)
        .await
        .unwrap();
    assert!(created);

    // The search index does not show the new issue yet ...
    let search: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "{}/search/issues?q=repo:cloud-gov/pages-zendesk-sync+is:issue+in:title+November",
            standin.api_url()
        ))
        .bearer_auth(standin.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(search["total_count"], 0);

    // ... but the issues list does, so the second run finds it.
    let (second, created) = client
        .find_or_open_month_issue(&rendered(m), m, LABEL)
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(second.number, first.number);
    assert_eq!(standin.issues().len(), 1);
    let log = standin.requests();
    assert_eq!(calls(&log, "POST", ISSUES).len(), 1);
    assert_eq!(
        log.iter().filter(|r| r.path == "/search/issues").count(),
        1,
        "only the test's own search"
    );
}

#[tokio::test]
async fn a_502_after_create_does_not_open_a_second_issue() {
    let (standin, client) = start(StandinOptions::default()).await;
    standin.fail_after_create(1, 502);
    let m = month("2026-11");
    let (issue, created) = client
        .find_or_open_month_issue(&rendered(m), m, LABEL)
        .await
        .unwrap();
    assert!(created);
    assert_eq!(standin.issues().len(), 1);
    assert_eq!(standin.issues()[0].number, issue.number);
    let log = standin.requests();
    let posts = calls(&log, "POST", ISSUES);
    assert_eq!(posts.len(), 1, "no second POST after the lost answer");
    assert_eq!(posts[0].status, 502);
}

#[tokio::test]
async fn a_502_before_create_is_retried_once_the_list_shows_nothing() {
    let (standin, client) = start(StandinOptions::default()).await;
    standin.inject(Endpoint::CreateIssue, 1, Fault::Status(502));
    let m = month("2026-11");
    let (_, created) = client
        .find_or_open_month_issue(&rendered(m), m, LABEL)
        .await
        .unwrap();
    assert!(created);
    assert_eq!(standin.issues().len(), 1);
    let log = standin.requests();
    let statuses: Vec<u16> = calls(&log, "POST", ISSUES)
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [502, 201]);
    assert_eq!(
        calls(&log, "GET", ISSUES).len(),
        3,
        "listed before creating, again before the retry, and once after to catch a racing run"
    );
}

#[tokio::test]
async fn a_create_that_times_out_after_happening_is_not_repeated() {
    let standin = GithubStandin::start(StandinOptions::default())
        .await
        .unwrap();
    let client = GithubClient::with_options(
        standin.api_url(),
        SecretString::from(standin.token().to_string()),
        "cloud-gov/pages-zendesk-sync",
        ClientOptions {
            timeout: Duration::from_millis(300),
            ..fast()
        },
    )
    .unwrap();
    standin.inject(
        Endpoint::CreateIssue,
        1,
        Fault::SlowAfterEffect(Duration::from_secs(3)),
    );
    let m = month("2026-11");
    let (issue, created) = client
        .find_or_open_month_issue(&rendered(m), m, LABEL)
        .await
        .unwrap();
    assert!(created);
    assert_eq!(standin.issues().len(), 1);
    assert_eq!(standin.issues()[0].number, issue.number);
    let log = standin.requests();
    assert_eq!(calls(&log, "POST", ISSUES).len(), 1);
    assert_eq!(
        calls(&log, "GET", ISSUES).len(),
        3,
        "the timed-out create was checked by listing again (then once more for a racing run)"
    );
}

#[tokio::test]
async fn a_502_after_comment_does_not_post_a_second_comment() {
    let (standin, client) = start(StandinOptions::default()).await;
    let m = month("2026-11");
    let (issue, _) = client
        .find_or_open_month_issue(&rendered(m), m, LABEL)
        .await
        .unwrap();
    standin.fail_after_create(1, 502);
    let posted = client
        .post_comment(issue.number, "## Results\n\nAll good.", "4242-1")
        .await
        .unwrap();
    let comments = standin.comments(issue.number);
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].id, posted.id);
    assert!(comments[0]
        .body
        .ends_with("<!-- pages-zendesk-sync:run=4242-1 -->\n"));
    let path = format!("{ISSUES}/{}/comments", issue.number);
    let log = standin.requests();
    assert_eq!(calls(&log, "POST", &path).len(), 1);
}

#[tokio::test]
async fn the_same_run_posting_again_updates_its_comment_in_place() {
    let (standin, client) = start(StandinOptions::default()).await;
    let m = month("2026-11");
    let (issue, _) = client
        .find_or_open_month_issue(&rendered(m), m, LABEL)
        .await
        .unwrap();
    let a = client
        .post_comment(issue.number, "first", "77")
        .await
        .unwrap();
    let b = client
        .post_comment(issue.number, "second", "77")
        .await
        .unwrap();
    let c = client
        .post_comment(issue.number, "other run", "78")
        .await
        .unwrap();
    assert_eq!(a.id, b.id);
    assert_ne!(a.id, c.id);
    let comments = standin.comments(issue.number);
    assert_eq!(comments.len(), 2);
    assert!(comments[0].body.starts_with("second"));
}

#[tokio::test]
async fn a_closed_issue_is_found_and_can_be_reopened() {
    let (standin, client) = start(StandinOptions::default()).await;
    let m = month("2026-10");
    let r = rendered(m);
    let number = standin.seed_issue(SeedIssue {
        title: r.title.clone(),
        body: r.body.clone(),
        labels: vec![LABEL.into()],
        open: false,
        created_at: Utc.with_ymd_and_hms(2026, 10, 1, 0, 7, 0).unwrap(),
        pull_request: false,
    });
    let (issue, created) = client.find_or_open_month_issue(&r, m, LABEL).await.unwrap();
    assert!(!created);
    assert_eq!(issue.number, number);
    assert!(!issue.open);

    let reopened = client.reopen(number).await.unwrap();
    assert!(reopened.open);
    let record = standin.issue(number).unwrap();
    assert_eq!(record.state, "open");
    assert_eq!(record.state_reason.as_deref(), Some("reopened"));
    assert_eq!(record.closed_at, None);
    assert_eq!(standin.issues().len(), 1);
}

#[tokio::test]
async fn closing_sets_state_reason_completed() {
    let (standin, client) = start(StandinOptions::default()).await;
    let m = month("2026-11");
    let (issue, _) = client
        .find_or_open_month_issue(&rendered(m), m, LABEL)
        .await
        .unwrap();
    let closed = client.close_completed(issue.number).await.unwrap();
    assert!(!closed.open);
    let record = standin.issue(issue.number).unwrap();
    assert_eq!(record.state, "closed");
    assert_eq!(record.state_reason.as_deref(), Some("completed"));
    assert!(record.closed_at.is_some());
    let log = standin.requests();
    let patch = calls(&log, "PATCH", &format!("{ISSUES}/{}", issue.number))[0];
    let sent: serde_json::Value = serde_json::from_str(&patch.body).unwrap();
    assert_eq!(sent["state"], "closed");
    assert_eq!(sent["state_reason"], "completed");
}

#[tokio::test]
async fn a_person_edit_between_our_read_and_our_tick_survives() {
    let (standin, client) = start(StandinOptions::default()).await;
    let m = month("2026-11");
    let (issue, _) = client
        .find_or_open_month_issue(&rendered(m), m, LABEL)
        .await
        .unwrap();
    // Our read (e.g. when the run started) ...
    let ours = client.get_issue(issue.number).await.unwrap();
    // ... then a person adds a note and a box of their own in the browser (CRLF) ...
    let edited = ours
        .body
        .replace(
            "## Acceptance criteria\n",
            "## Acceptance criteria\n\nNote: Sam checked roles by hand.\n",
        )
        .replace('\n', "\r\n")
        + "- [ ] Agency names confirmed with the Pages team\r\n";
    assert!(standin.edit_issue_body(issue.number, &edited));
    // ... then we tick.
    let ticked = tick_criteria(&client, issue.number, &verdicts(true))
        .await
        .unwrap();
    assert!(ticked.changed);
    assert!(
        !ticked.all_checked,
        "the person's own box is still unticked"
    );
    assert_eq!(ticked.unrecognised_unchecked, 1);
    let body = standin.issue(issue.number).unwrap().body.unwrap();
    assert_eq!(
        body,
        edited
            .replace("- [ ] Org", "- [x] Org")
            .replace("- [ ] Roles", "- [x] Roles")
            .replace("- [ ] Names", "- [x] Names")
    );
    assert!(body.contains("Note: Sam checked roles by hand.\r\n"));

    // Nothing left to change: no second PATCH.
    let before = calls(
        &standin.requests(),
        "PATCH",
        &format!("{ISSUES}/{}", issue.number),
    )
    .len();
    let again = tick_criteria(&client, issue.number, &verdicts(true))
        .await
        .unwrap();
    assert!(!again.changed);
    let after = calls(
        &standin.requests(),
        "PATCH",
        &format!("{ISSUES}/{}", issue.number),
    )
    .len();
    assert_eq!(before, after);
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_before_sending() {
    let (standin, client) = start(StandinOptions::default()).await;
    let m = month("2026-11");
    let (issue, _) = client
        .find_or_open_month_issue(&rendered(m), m, LABEL)
        .await
        .unwrap();
    // 131,000 bytes but 65,500 characters: the limit counts characters.
    let long = "é".repeat(65_500);
    client
        .post_comment(issue.number, &long, "1")
        .await
        .expect("65,500 characters plus the marker fit");
    let too_long = "x".repeat(65_537);
    let err = client
        .post_comment(issue.number, &too_long, "2")
        .await
        .unwrap_err();
    assert!(matches!(
        err.downcast_ref::<GithubError>(),
        Some(GithubError::BodyTooLong { .. })
    ));
    assert_eq!(standin.comments(issue.number).len(), 1);
    let path = format!("{ISSUES}/{}/comments", issue.number);
    assert_eq!(calls(&standin.requests(), "POST", &path).len(), 1);

    // The stand-in itself refuses an over-long body as GitHub does.
    let answer = reqwest::Client::new()
        .post(format!("{}{path}", standin.api_url()))
        .bearer_auth(standin.token())
        .json(&serde_json::json!({ "body": too_long }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 422);
    let e: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(e["message"], "Validation Failed");
    assert_eq!(e["errors"][0]["field"], "body");
}

#[tokio::test]
async fn the_month_marker_wins_over_the_title_and_the_oldest_duplicate_is_used() {
    let (standin, client) = start(StandinOptions::default()).await;
    let m = month("2026-11");
    let r = rendered(m);
    let at = |d: u32| Utc.with_ymd_and_hms(2026, 11, d, 1, 0, 0).unwrap();
    let seed = |title: &str, body: &str, created, pull_request| {
        standin.seed_issue(SeedIssue {
            title: title.into(),
            body: body.into(),
            labels: vec![LABEL.into()],
            open: true,
            created_at: created,
            pull_request,
        })
    };
    let pr = seed(&r.title, &r.body, at(1), true);
    let title_only = seed(&r.title, "no marker", at(2), false);
    let retitled = seed("November sync (renamed by a person)", &r.body, at(3), false);
    let duplicate = seed(&r.title, &r.body, at(4), false);
    let other_month = seed(
        "Run October 2026 ...",
        &rendered(month("2026-10")).body,
        at(5),
        false,
    );
    let found = client
        .find_month_issue(m, LABEL, &r.title)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.number, retitled);
    assert!(![pr, title_only, duplicate, other_month].contains(&found.number));

    // Without any marker, the exact title decides.
    let found = client
        .find_month_issue(month("2026-09"), LABEL, "Run October 2026 ...")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.number, other_month);
}

#[tokio::test]
async fn listing_pages_until_issues_predate_the_month() {
    let (standin, client) = start(StandinOptions::default()).await;
    let m = month("2026-11");
    let r = rendered(m);
    let target = standin.seed_issue(SeedIssue {
        title: r.title.clone(),
        body: r.body.clone(),
        labels: vec![LABEL.into()],
        open: true,
        created_at: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
        pull_request: false,
    });
    for i in 0..150 {
        standin.seed_issue(SeedIssue {
            title: format!("noise {i}"),
            body: String::new(),
            labels: vec![LABEL.into()],
            open: true,
            created_at: Utc
                .with_ymd_and_hms(2026, 11, 2, 0, i / 60, i % 60)
                .unwrap(),
            pull_request: false,
        });
    }
    let found = client.find_month_issue(m, LABEL, &r.title).await.unwrap();
    assert_eq!(found.unwrap().number, target);
    let log = standin.requests();
    assert_eq!(calls(&log, "GET", ISSUES).len(), 2);

    // An issue older than the previous month stops the listing early.
    let (standin, client) = start(StandinOptions::default()).await;
    for i in 0..100 {
        standin.seed_issue(SeedIssue {
            title: format!("old {i}"),
            body: String::new(),
            labels: vec![LABEL.into()],
            open: false,
            created_at: Utc.with_ymd_and_hms(2025, 1, 1, 0, i / 60, i % 60).unwrap(),
            pull_request: false,
        });
    }
    assert_eq!(
        client.find_month_issue(m, LABEL, &r.title).await.unwrap(),
        None
    );
    assert_eq!(calls(&standin.requests(), "GET", ISSUES).len(), 1);
}

#[tokio::test]
async fn previous_carry_returns_the_latest_carry_comment_of_last_month() {
    let (standin, client) = start(StandinOptions::default()).await;
    let m = month("2026-11");
    assert_eq!(client.previous_carry(m, LABEL).await.unwrap(), None);
    let october = standin.seed_issue(SeedIssue {
        title: "Run October 2026 Pages/Zendesk user, role, and org sync".into(),
        body: rendered(m.previous()).body,
        labels: vec![LABEL.into()],
        open: false,
        created_at: Utc.with_ymd_and_hms(2026, 10, 1, 0, 7, 0).unwrap(),
        pull_request: false,
    });
    standin.seed_comment(
        october,
        "results\n<!-- pages-zendesk-sync:carry {\"version\":1,\"n\":1} -->",
    );
    standin.seed_comment(
        october,
        "results\n<!-- pages-zendesk-sync:carry {\"version\":1,\"n\":2} -->",
    );
    standin.seed_comment(october, "a person's comment");
    let carry = client.previous_carry(m, LABEL).await.unwrap().unwrap();
    assert!(carry.contains("\"n\":2"), "{carry}");
}

#[tokio::test]
async fn a_bad_token_and_a_missing_permission_say_what_to_do() {
    let standin = GithubStandin::start(StandinOptions::default())
        .await
        .unwrap();
    let client = GithubClient::with_options(
        standin.api_url(),
        SecretString::from("wrong-token-value"),
        "cloud-gov/pages-zendesk-sync",
        fast(),
    )
    .unwrap();
    let m = month("2026-11");
    let err = client
        .find_or_open_month_issue(&rendered(m), m, LABEL)
        .await
        .unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("GITHUB_TOKEN"), "{text}");
    assert!(!text.contains("wrong-token-value"));
    assert!(matches!(
        err.downcast_ref::<GithubError>(),
        Some(GithubError::BadToken { .. })
    ));

    let (standin, client) = start(StandinOptions::default()).await;
    standin.inject(Endpoint::CreateIssue, 1, Fault::NotAccessible);
    let err = client
        .find_or_open_month_issue(&rendered(m), m, LABEL)
        .await
        .unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("issues: write"), "{text}");
    assert!(standin.issues().is_empty());
}

#[tokio::test]
async fn rate_limits_are_waited_out_and_then_give_up() {
    let (standin, client) = start(StandinOptions::default()).await;
    standin.inject(
        Endpoint::ListIssues,
        1,
        Fault::RateLimited {
            status: 429,
            retry_after: Some(0),
        },
    );
    standin.inject(
        Endpoint::CreateIssue,
        1,
        Fault::RateLimited {
            status: 403,
            retry_after: Some(0),
        },
    );
    let m = month("2026-11");
    let (_, created) = client
        .find_or_open_month_issue(&rendered(m), m, LABEL)
        .await
        .unwrap();
    assert!(created);
    assert_eq!(standin.issues().len(), 1);
    let log = standin.requests();
    let statuses: Vec<u16> = calls(&log, "POST", ISSUES)
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(
        statuses,
        [403, 201],
        "a rate-limited create did not happen: sent again"
    );

    standin.inject(
        Endpoint::GetIssue,
        10,
        Fault::RateLimited {
            status: 403,
            retry_after: Some(0),
        },
    );
    let err = client.get_issue(1).await.unwrap_err();
    assert!(matches!(
        err.downcast_ref::<GithubError>(),
        Some(GithubError::RateLimited { .. })
    ));
    let gets = calls(&standin.requests(), "GET", &format!("{ISSUES}/1")).len();
    assert_eq!(gets, fast().max_attempts as usize);
}

#[tokio::test]
async fn assignees_who_cannot_be_assigned_are_dropped_not_fatal() {
    let (standin, client) = start(StandinOptions::default()).await;
    let m = month("2026-11");
    let mut r = rendered(m);
    r.assignees = vec!["someone-who-left".into()];
    let (issue, created) = client.find_or_open_month_issue(&r, m, LABEL).await.unwrap();
    assert!(created);
    assert!(standin.issue(issue.number).unwrap().assignees.is_empty());
    let statuses: Vec<u16> = calls(&standin.requests(), "POST", ISSUES)
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [422, 201]);

    let (standin, client) = start(StandinOptions::default()).await;
    let mut r = rendered(m);
    r.assignees = vec!["pages-operator".into()];
    r.labels = vec!["monthly".into()];
    let (issue, _) = client.find_or_open_month_issue(&r, m, LABEL).await.unwrap();
    let record = standin.issue(issue.number).unwrap();
    assert_eq!(record.assignees, ["pages-operator"]);
    assert_eq!(record.labels, ["monthly", LABEL]);
}

#[tokio::test]
async fn an_enterprise_server_path_prefix_is_kept() {
    let (standin, client) = start(StandinOptions {
        path_prefix: "/api/v3".into(),
        ..StandinOptions::default()
    })
    .await;
    assert!(standin.api_url().ends_with("/api/v3"));
    let m = month("2026-11");
    client
        .find_or_open_month_issue(&rendered(m), m, LABEL)
        .await
        .unwrap();
    assert_eq!(standin.issues().len(), 1);
}

#[test]
fn template_variants_and_month_rendering() {
    let parse = |labels: &str| {
        IssueTemplate::parse(&format!(
            "---\nname: n\ntitle: \"Run [month] [year] sync\"\nabout: a\nlabels: {labels}\nassignees: ''\n---\n\n[month] [year]\n"
        ))
        .unwrap()
    };
    assert!(parse("''").labels.is_empty());
    assert_eq!(parse("\"a, b\"").labels, ["a", "b"]);
    assert_eq!(parse("[a, b]").labels, ["a", "b"]);
    let r = parse("''").render(month("2027-01"));
    assert_eq!(r.title, "Run January 2027 sync");
    assert!(r.body.starts_with("January 2027\n"));
    assert_eq!(month("2027-01").previous().to_string(), "2026-12");
    assert_eq!(template().labels, [LABEL]);
}

/// The stand-in itself: filters, pagination and write rules as GitHub documents them,
/// read through octocrab's own typed API (so its shapes fit octocrab's models).
#[tokio::test]
async fn the_standin_answers_like_github() {
    use octocrab::params;

    let standin = GithubStandin::start(StandinOptions::default())
        .await
        .unwrap();
    let crab = octocrab::Octocrab::builder()
        .base_uri(standin.api_url())
        .unwrap()
        .personal_token(standin.token().to_string())
        .build()
        .unwrap();
    let at = |d: u32| Utc.with_ymd_and_hms(2026, 11, d, 0, 0, 0).unwrap();
    for d in 1..=5 {
        standin.seed_issue(SeedIssue {
            title: format!("issue {d}"),
            body: String::new(),
            labels: if d % 2 == 0 {
                vec!["a".into(), "b".into()]
            } else {
                vec!["a".into()]
            },
            open: d != 5,
            created_at: at(d),
            pull_request: false,
        });
    }
    let issues = crab.issues("cloud-gov", "pages-zendesk-sync");

    // Default state is open; newest first; labels are ANDed.
    let open = issues.list().send().await.unwrap();
    assert_eq!(
        open.items.iter().map(|i| i.number).collect::<Vec<_>>(),
        [4, 3, 2, 1]
    );
    let both = issues
        .list()
        .state(params::State::All)
        .labels(&["a".to_string(), "B".to_string()])
        .send()
        .await
        .unwrap();
    assert_eq!(
        both.items.iter().map(|i| i.number).collect::<Vec<_>>(),
        [4, 2]
    );

    // Pages of 2, followed through absolute `Link` URLs (with the token still sent).
    let first = issues
        .list()
        .state(params::State::All)
        .direction(params::Direction::Ascending)
        .per_page(2)
        .send()
        .await
        .unwrap();
    assert!(first.next.is_some());
    let all = crab.all_pages(first).await.unwrap();
    assert_eq!(
        all.iter().map(|i| i.number).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );

    // A reason without a state change is ignored; with one it is applied.
    let same = issues
        .update(1)
        .state_reason(octocrab::models::issues::IssueStateReason::NotPlanned)
        .send()
        .await
        .unwrap();
    assert_eq!(same.state_reason, None);
    let closed = issues
        .update(1)
        .state(octocrab::models::IssueState::Closed)
        .state_reason(octocrab::models::issues::IssueStateReason::NotPlanned)
        .send()
        .await
        .unwrap();
    assert_eq!(
        closed.state_reason,
        Some(octocrab::models::issues::IssueStateReason::NotPlanned)
    );
    assert!(closed.closed_at.is_some());

    // octocrab edits comments with POST; the stand-in accepts it as GitHub does.
    let comment = issues.create_comment(2, "hello").await.unwrap();
    let edited = issues
        .update_comment(comment.id, "hello again")
        .await
        .unwrap();
    assert_eq!(edited.body.as_deref(), Some("hello again"));
    assert_eq!(standin.comments(2)[0].body, "hello again");

    // No token: 401 with GitHub's error shape.
    let anonymous = reqwest::get(format!(
        "{}/repos/cloud-gov/pages-zendesk-sync/issues",
        standin.api_url()
    ))
    .await
    .unwrap();
    assert_eq!(anonymous.status(), 401);
    let e: serde_json::Value = anonymous.json().await.unwrap();
    assert_eq!(e["message"], "Bad credentials");
}

#[tokio::test]
async fn a_persons_unlabelled_issue_on_a_later_page_is_adopted_not_duplicated() {
    let (standin, client) = start(StandinOptions::default()).await;
    let m = month("2026-11");
    let r = rendered(m);
    let person_body = "Opened by hand.\n\n## Acceptance criteria\n\n- [ ] Orgs in Zendesk match current Pages orgs\n";
    let person = standin.seed_issue_by(
        SeedIssue {
            title: r.title.clone(),
            body: person_body.into(),
            labels: vec!["triage".into()],
            open: false,
            created_at: Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap(),
            pull_request: false,
        },
        "pages-operator",
    );
    // 120 newer issues and pull requests, one of them with the same title: the
    // person's issue is on the second page, and a pull request is never the month's issue.
    for i in 0..120 {
        standin.seed_issue_by(
            SeedIssue {
                title: if i == 7 {
                    r.title.clone()
                } else {
                    format!("noise {i}")
                },
                body: String::new(),
                labels: vec![],
                open: true,
                created_at: Utc
                    .with_ymd_and_hms(2026, 11, 2, 0, i / 60, i % 60)
                    .unwrap(),
                pull_request: i % 3 == 0,
            },
            "someone",
        );
    }
    let (issue, created) = client.find_or_open_month_issue(&r, m, LABEL).await.unwrap();
    assert!(!created);
    assert_eq!(issue.number, person);
    assert_eq!(standin.issues().len(), 121, "no issue opened");
    let record = standin.issue(person).unwrap();
    assert_eq!(
        record.labels,
        ["triage", LABEL],
        "the label is added, others kept"
    );
    assert_eq!(record.state, "closed", "adopting does not reopen");
    assert_eq!(
        record.body.as_deref().unwrap(),
        format!("{}\n\n{}\n", person_body.trim_end(), m.marker()),
        "the person's text is kept; the hidden month marker is appended"
    );
    let log = standin.requests();
    assert_eq!(calls(&log, "GET", ISSUES).len(), 2, "two pages listed");
    let add = calls(&log, "POST", &format!("{ISSUES}/{person}/labels"));
    assert_eq!(add.len(), 1);
    assert_eq!(add[0].body, r#"{"labels":["pages-zendesk-sync"]}"#);

    // Found again by its marker: nothing more to adopt.
    let (again, _) = client.find_or_open_month_issue(&r, m, LABEL).await.unwrap();
    assert_eq!(again.number, person);
    let log = standin.requests();
    assert_eq!(
        calls(&log, "POST", &format!("{ISSUES}/{person}/labels")).len(),
        1
    );
    assert_eq!(calls(&log, "PATCH", &format!("{ISSUES}/{person}")).len(), 1);
}

#[tokio::test]
async fn the_standin_lists_issues_like_github_with_pull_requests_since_and_links() {
    let standin = GithubStandin::start(StandinOptions::default())
        .await
        .unwrap();
    for i in 0..5u32 {
        standin.seed_issue_by(
            SeedIssue {
                title: format!("item {i}"),
                body: String::new(),
                labels: if i == 3 { vec!["x".into()] } else { vec![] },
                open: i != 1,
                created_at: Utc.with_ymd_and_hms(2026, 11, 1 + i, 0, 0, 0).unwrap(),
                pull_request: i == 2,
            },
            "someone",
        );
    }
    let http = reqwest::Client::new();
    let get = |query: &str| {
        let req = http
            .get(format!("{}{ISSUES}?{query}", standin.api_url()))
            .bearer_auth(standin.token())
            .send();
        async move {
            let resp = req.await.unwrap();
            let status = resp.status().as_u16();
            let link = resp
                .headers()
                .get("link")
                .map(|v| v.to_str().unwrap().to_string());
            let body: serde_json::Value = resp.json().await.unwrap();
            (status, link, body)
        }
    };
    let titles = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|i| i["title"].as_str().unwrap().to_string())
            .collect()
    };
    // Default: open only, newest created first, pull requests mixed in (with the key).
    let (status, link, body) = get("").await;
    assert_eq!(status, 200);
    assert_eq!(link, None);
    assert_eq!(titles(&body), ["item 4", "item 3", "item 2", "item 0"]);
    assert!(body[2]["pull_request"].is_object());
    assert!(body[0].get("pull_request").is_none());
    // state=all, ascending, two per page, with absolute Link URLs keeping the filters.
    let (_, link, body) = get("state=all&direction=asc&per_page=2&page=2").await;
    assert_eq!(titles(&body), ["item 2", "item 3"]);
    let link = link.unwrap();
    assert!(link.contains(&format!(
        "<{}{ISSUES}?direction=asc&per_page=2&state=all&page=3>; rel=\"next\"",
        standin.api_url()
    )));
    assert!(link.contains("rel=\"prev\"") && link.contains("rel=\"first\""));
    // `since` filters on the last update, not on creation.
    standin.edit_issue_body(1, "touched");
    let (_, _, body) = get("state=all&since=2026-11-20T00:00:00Z").await;
    assert_eq!(titles(&body), ["item 0"]);
    // Labels filter; per_page is capped at 100; a bad direction is a 422.
    let (_, _, body) = get("state=all&labels=X").await;
    assert_eq!(titles(&body), ["item 3"]);
    let (_, link, body) = get("state=all&per_page=500").await;
    assert_eq!((titles(&body).len(), link), (5, None));
    assert_eq!(get("direction=sideways").await.0, 422);
}
