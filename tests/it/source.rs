//! The report reader against a tiny HTTP/1.1 server on 127.0.0.1 that records what it
//! received and answers by path.

use std::sync::{Arc, Mutex};

use pages_zendesk_sync::config::Policy;
use pages_zendesk_sync::source::{self, Location, SourceError};
use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const ORGS: &str =
    "\"Organization\",\"Agency\",\"Self Authorized\"\n\"agency-a-web\",\"Agency A\",false\n";
const USERS: &str =
    "\"ID\",\"Email\",\"Organizations\",\"Details\",\"Created\",\"Last Signed In\"\n\
                     17,\"jane@example.gov\",\"agency-a-web\",\"agency-a-web: manager\",,\n";

/// Request heads the server received, in order.
type Seen = Arc<Mutex<Vec<String>>>;

/// Serves: `/organizations.csv`, `/users.csv`, `/missing.csv` (404), `/big.csv`
/// (Content-Length over any small cap) and `/endless.csv` (a chunked body that never ends).
async fn serve() -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let log = log.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                log.lock().unwrap().push(head.clone());
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                let path = path.split('?').next().unwrap_or("/");
                let reply = |status: &str, body: &str| {
                    format!(
                        "HTTP/1.1 {status}\r\ncontent-type: text/csv\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                };
                let answer = match path {
                    "/organizations.csv" => reply("200 OK", ORGS),
                    "/users.csv" => reply("200 OK", USERS),
                    "/big.csv" => {
                        "HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\nconnection: close\r\n\r\n"
                            .to_string()
                    }
                    "/endless.csv" => {
                        let _ = socket
                            .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n")
                            .await;
                        let chunk = format!("{:x}\r\n{}\r\n", 4096, "a".repeat(4096));
                        // Stops only when the client hangs up.
                        while socket.write_all(chunk.as_bytes()).await.is_ok() {}
                        return;
                    }
                    _ => reply("404 Not Found", "no such report"),
                };
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    (base, seen)
}

#[tokio::test]
async fn reports_are_read_over_http_with_the_authorization_header() {
    let (base, seen) = serve().await;
    let secret = SecretString::from("Bearer test-token-123");
    let reports = source::load(
        &format!("{base}/organizations.csv"),
        &format!("{base}/users.csv"),
        Some(&secret),
        &Policy::default(),
    )
    .await
    .unwrap();
    assert_eq!(reports.stats.partner_users, 1);
    assert_eq!(reports.stats.managers, 1);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    for head in seen.iter() {
        assert!(
            head.to_ascii_lowercase()
                .contains("authorization: bearer test-token-123"),
            "{head}"
        );
    }
}

#[tokio::test]
async fn an_error_status_is_a_source_error_naming_the_url_without_credentials_or_query() {
    let (base, _) = serve().await;
    let with_secrets =
        base.replace("http://", "http://user:pw-secret@") + "/missing.csv?sig=query-secret";
    let err = source::read(
        &Location::parse(&with_secrets).unwrap(),
        None,
        source::DEFAULT_MAX_BYTES,
    )
    .await
    .unwrap_err();
    let source_error = err.downcast_ref::<SourceError>().expect("a SourceError");
    assert_eq!(source_error.file, format!("{base}/missing.csv"));
    let text = format!("{err:#}");
    assert!(text.contains("404"), "{text}");
    assert!(!text.contains("secret"), "{text}");
}

#[tokio::test]
async fn a_declared_length_over_the_cap_is_refused_before_reading() {
    let (base, _) = serve().await;
    let location = Location::parse(&format!("{base}/big.csv")).unwrap();
    let err = source::read(&location, None, 1000).await.unwrap_err();
    let source_error = err.downcast_ref::<SourceError>().expect("a SourceError");
    assert!(source_error.problem.contains("larger than"), "{err}");
}

#[tokio::test]
async fn an_endless_body_is_cut_off_at_the_cap_while_streaming() {
    let (base, _) = serve().await;
    let location = Location::parse(&format!("{base}/endless.csv")).unwrap();
    let err = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        source::read(&location, None, 64 * 1024),
    )
    .await
    .expect("the reader stops at the cap instead of reading forever")
    .unwrap_err();
    assert!(err.downcast_ref::<SourceError>().is_some(), "{err:#}");
}

#[tokio::test]
async fn a_file_level_problem_in_a_downloaded_report_names_the_url() {
    let (base, _) = serve().await;
    let err = source::load(
        &format!("{base}/users.csv"),
        &format!("{base}/users.csv?token=abc"),
        None,
        &Policy::default(),
    )
    .await
    .unwrap_err();
    let source_error = err.downcast_ref::<SourceError>().expect("a SourceError");
    assert_eq!(source_error.file, format!("{base}/users.csv"));
    assert!(source_error.problem.contains("users report"), "{err}");
}

/// organizations.csv is parsed while users.csv is still being read; the error a run
/// reports stays the same: a report that cannot be read comes before a report whose
/// content is wrong, and organizations.csv's content before users.csv's.
#[tokio::test]
async fn errors_come_in_order_reading_then_organizations_then_users() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).display().to_string();
    std::fs::write(path("orgs.csv"), ORGS).unwrap();
    std::fs::write(path("users.csv"), USERS).unwrap();
    std::fs::write(path("bad-orgs.csv"), "\"Organization\"\n\"agency-a-web\"\n").unwrap();
    std::fs::write(
        path("bad-users.csv"),
        "\"ID\",\"Email\"\n17,\"jane@example.gov\"\n",
    )
    .unwrap();
    let failing = |orgs: String, users: String| async move {
        let err = source::load(&orgs, &users, None, &Policy::default())
            .await
            .unwrap_err();
        err.downcast::<SourceError>().expect("a SourceError")
    };

    // users.csv missing, organizations.csv's content wrong: the missing file.
    let err = failing(path("bad-orgs.csv"), path("missing.csv")).await;
    assert_eq!(err.file, path("missing.csv"));
    // organizations.csv missing, users.csv's content wrong: the missing file.
    let err = failing(path("missing.csv"), path("bad-users.csv")).await;
    assert_eq!(err.file, path("missing.csv"));
    // Both contents wrong: organizations.csv first.
    let err = failing(path("bad-orgs.csv"), path("bad-users.csv")).await;
    assert_eq!(err.file, path("bad-orgs.csv"));
    assert_eq!(err.column.as_deref(), Some("Agency"), "{err}");
    // Only users.csv's content wrong.
    let err = failing(path("orgs.csv"), path("bad-users.csv")).await;
    assert_eq!(err.file, path("bad-users.csv"));
    // Both right: the same desired state as parsing the bytes in one call.
    let loaded = source::load(
        &path("orgs.csv"),
        &path("users.csv"),
        None,
        &Policy::default(),
    )
    .await
    .unwrap();
    let parsed = source::parse(
        ORGS.as_bytes(),
        &path("orgs.csv"),
        USERS.as_bytes(),
        &path("users.csv"),
        &Policy::default(),
    )
    .unwrap();
    assert_eq!(loaded.desired, parsed.desired);
    assert_eq!(loaded.stats, parsed.stats);
}
