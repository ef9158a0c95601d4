//! The HTTP rules both API clients follow (Zendesk in `zendesk::client`, GitHub in
//! `github::client`), written once: which answers are tried again, how long to wait
//! between tries (backoff with jitter, `Retry-After`), how a transport failure is worded,
//! and "a request that may have reached the server is not sent again blind: read back
//! first, then decide".
//!
//! Transport-agnostic: each client sends with its own stack (reqwest for Zendesk,
//! octocrab for GitHub), classifies each answer with [`class`] plus its service's own
//! refinements (Zendesk's full job queue and 409 on creates, GitHub's 403 rate limits),
//! and hands the outcome of each try to [`retry`]; creates that need a read-back go
//! through [`send_once`].
//!
//! Must never: re-send a request whose outcome is unknown unless the caller said it is
//! idempotent or a read-back showed it did not happen; put a URL's credentials or query
//! (ids, cursors, emails) into an error message.

use std::future::Future;
use std::time::Duration;

/// The class of an HTTP status, as far as trying again is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// 2xx.
    Success,
    /// 401: the credentials were refused; never tried again.
    Unauthorized,
    /// 429: the server asked to wait and did not carry the request out.
    TooManyRequests,
    /// 5xx: no final answer; the server may have carried the request out.
    ServerError,
    /// Anything else (other 4xx, 1xx, 3xx): a final answer the caller decides about.
    Other,
}

pub(crate) fn class(status: u16) -> Class {
    match status {
        200..=299 => Class::Success,
        401 => Class::Unauthorized,
        429 => Class::TooManyRequests,
        500..=599 => Class::ServerError,
        _ => Class::Other,
    }
}

/// What one try of a request came to.
#[derive(Debug)]
pub(crate) enum Attempt<T, E> {
    /// An answer for the caller (a success, or a final answer it decides about).
    Done(T),
    /// An error no retry can fix (refused credentials, a malformed request).
    Fatal(E),
    /// The server asked to wait (429, `Retry-After`, an exhausted budget); it did not
    /// carry the request out, so sending it again is always safe. `detail` names the
    /// answer ("HTTP 429") for the error when the waits run out.
    Wait { wait: Duration, detail: String },
    /// No final answer (5xx, timeout, connection lost). `reached` is false only when the
    /// request certainly never left this machine (the connection was refused).
    Unknown { reached: bool, detail: String },
}

/// Whether a request may be sent again when its outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resend {
    /// Reads, and writes that set absolute values: the same end state however often.
    Idempotent,
    /// Creates: sent again only when it certainly did not reach the server; otherwise the
    /// doubt goes back to the caller ([`GaveUp::MayHaveReached`]), who reads back first
    /// ([`send_once`]) or leaves it to the next run, which re-reads the server.
    OnlyIfNotSent,
}

/// How far [`retry`] goes before giving up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Tries in all, the first included (`u32::MAX`: bounded by the counts below only).
    pub(crate) max_attempts: u32,
    /// Re-sends after an unknown outcome.
    pub(crate) max_retries: u32,
    /// Waits the server asked for.
    pub(crate) max_waits: u32,
    /// A longer requested wait fails the call instead of hanging the run.
    pub(crate) max_wait: Duration,
    /// First backoff after an unknown outcome; doubles each time, up to `max_backoff`.
    pub(crate) backoff_base: Duration,
    pub(crate) max_backoff: Duration,
}

/// Why [`retry`] stopped without an answer.
#[derive(Debug)]
pub(crate) enum GaveUp<E> {
    Fatal(E),
    /// The request may have been carried out and may not be re-sent blind.
    MayHaveReached(String),
    /// Unknown outcomes until the retries (or tries) ran out; `last` is the last one.
    Unavailable {
        last: String,
        retries: u32,
    },
    /// Asked to wait too often, or for longer than [`Limits::max_wait`].
    RateLimited {
        last: String,
        wait: Duration,
        attempts: u32,
    },
}

/// Sends a request until it has an answer, by the rules: waits the server asked for are
/// waited out (up to [`Limits::max_waits`], each at most [`Limits::max_wait`]); unknown
/// outcomes are retried after [`backoff`] when `resend` allows; everything else ends the
/// call. `attempt` gets the number of the try (1 for the first).
pub(crate) async fn retry<T, E, F, Fut>(
    limits: &Limits,
    resend: Resend,
    mut attempt: F,
) -> Result<T, GaveUp<E>>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Attempt<T, E>>,
{
    let mut tries = 0u32;
    let mut retries = 0u32;
    let mut waits = 0u32;
    loop {
        tries += 1;
        let out_of_tries = tries >= limits.max_attempts;
        match attempt(tries).await {
            Attempt::Done(t) => return Ok(t),
            Attempt::Fatal(e) => return Err(GaveUp::Fatal(e)),
            Attempt::Wait { wait, detail } => {
                waits += 1;
                if out_of_tries || waits > limits.max_waits || wait > limits.max_wait {
                    return Err(GaveUp::RateLimited {
                        last: detail,
                        wait,
                        attempts: tries,
                    });
                }
                tokio::time::sleep(wait).await;
            }
            Attempt::Unknown { reached, detail } => {
                if reached && resend == Resend::OnlyIfNotSent {
                    return Err(GaveUp::MayHaveReached(detail));
                }
                retries += 1;
                if out_of_tries || retries > limits.max_retries {
                    return Err(GaveUp::Unavailable {
                        last: detail,
                        retries: retries - 1,
                    });
                }
                tokio::time::sleep(backoff(limits.backoff_base, retries, limits.max_backoff)).await;
            }
        }
    }
}

/// One try of a create whose outcome may be unknown.
#[derive(Debug)]
pub(crate) enum Sent<E> {
    /// The request may or may not have been carried out.
    Unknown(String),
    Failed(E),
}

/// How [`send_once`] got its result.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Once<T> {
    /// This call's request was answered.
    Sent(T),
    /// The answer was lost, and the read-back found the request had been carried out.
    Found(T),
}

impl<T> Once<T> {
    pub(crate) fn into_inner(self) -> T {
        match self {
            Once::Sent(t) | Once::Found(t) => t,
        }
    }
}

/// Why [`send_once`] failed.
#[derive(Debug)]
pub(crate) enum OnceError<E> {
    Failed(E),
    /// Every try had an unknown outcome and every read-back found nothing.
    Exhausted {
        attempts: u32,
        last: String,
    },
}

/// The post-once rule: `send` is tried; when its outcome is unknown, `read_back` looks
/// (after a [`backoff`]) whether it was carried out, and only if it says no (`None`) is
/// `send` tried again, at most `attempts` times in all. Read-back errors end the call:
/// without knowing, nothing is re-sent.
pub(crate) async fn send_once<T, E, S, SF, R, RF>(
    attempts: u32,
    backoff_base: Duration,
    mut send: S,
    mut read_back: R,
) -> Result<Once<T>, OnceError<E>>
where
    S: FnMut(u32) -> SF,
    SF: Future<Output = Result<T, Sent<E>>>,
    R: FnMut(u32) -> RF,
    RF: Future<Output = Result<Option<T>, E>>,
{
    let mut last = String::new();
    for attempt in 1..=attempts.max(1) {
        match send(attempt).await {
            Ok(t) => return Ok(Once::Sent(t)),
            Err(Sent::Failed(e)) => return Err(OnceError::Failed(e)),
            Err(Sent::Unknown(detail)) => {
                tracing::warn!(attempt, %detail, "the request may not have been carried out; reading back before deciding");
                last = detail;
                tokio::time::sleep(backoff(backoff_base, attempt, backoff_base * 64)).await;
                if let Some(t) = read_back(attempt).await.map_err(OnceError::Failed)? {
                    return Ok(Once::Found(t));
                }
            }
        }
    }
    Err(OnceError::Exhausted {
        attempts: attempts.max(1),
        last,
    })
}

/// `base` doubled for each try after the first (`attempt` counts from 1), at most `cap`.
/// Milliseconds since `started`, for logs and request counts (saturating, never truncating).
pub(crate) fn elapsed_ms(started: std::time::Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

pub(crate) fn doubling(base: Duration, attempt: u32, cap: Duration) -> Duration {
    base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(cap)
}

/// The wait before retry number `attempt` (from 1): [`doubling`] with jitter, uniformly
/// in `[d/2, d]`, so the retries of parallel requests spread out.
pub(crate) fn backoff(base: Duration, attempt: u32, cap: Duration) -> Duration {
    let d = doubling(base, attempt, cap);
    d / 2 + d.mul_f64(fastrand::f64() / 2.0)
}

/// The `Retry-After` header of an answer, if present and readable (see
/// [`parse_retry_after`]).
pub(crate) fn retry_after(headers: &::http::HeaderMap) -> Option<Duration> {
    headers
        .get(::http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, chrono::Utc::now()))
}

/// `Retry-After` as seconds (integer or decimal) or an HTTP date (a date in the past is
/// no wait). Not clamped: each client applies its own bound. Garbage → `None`.
pub(crate) fn parse_retry_after(v: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<f64>() {
        if !secs.is_finite() || secs < 0.0 {
            return None;
        }
        // A year is far beyond any bound a client applies; it keeps the conversion exact.
        return Some(Duration::from_secs_f64(secs.min(365.0 * 86_400.0)));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let ms = (at.with_timezone(&chrono::Utc) - now).num_milliseconds();
    Some(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

/// A request that got no HTTP answer, worded for logs and errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TransportError {
    /// False only when the connection was refused: the request never left.
    pub(crate) reached: bool,
    /// "could not connect: ...", "timed out: ..." or "transport error: ...", with the
    /// causes and never a URL's credentials, query or fragment.
    pub(crate) message: String,
}

/// Longest transport-error message (proxies and TLS stacks can be verbose).
const TRANSPORT_MESSAGE_CHARS: usize = 300;

/// Words a transport failure of either client (reqwest, octocrab/hyper): its kind, then
/// its causes. URLs in the causes keep scheme, host and path only.
pub(crate) fn transport_error(err: &(dyn std::error::Error + 'static)) -> TransportError {
    let mut connect = false;
    let mut timeout = false;
    let mut parts: Vec<String> = Vec::new();
    let mut level: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = level {
        if let Some(r) = e.downcast_ref::<reqwest::Error>() {
            connect |= r.is_connect();
            timeout |= r.is_timeout();
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind;
            connect |= matches!(
                io.kind(),
                ErrorKind::ConnectionRefused | ErrorKind::AddrNotAvailable
            );
            timeout |= io.kind() == ErrorKind::TimedOut;
        }
        let text = scrub_urls(&e.to_string());
        timeout |= text.contains("timed out") || text.contains("deadline has elapsed");
        // reqwest's own line only adds the URL; its causes say what went wrong.
        let is_reqwest = e.downcast_ref::<reqwest::Error>().is_some() && e.source().is_some();
        if !is_reqwest && !text.is_empty() && parts.last() != Some(&text) {
            parts.push(text);
        }
        level = e.source();
    }
    let kind = if timeout {
        "timed out"
    } else if connect {
        "could not connect"
    } else {
        "transport error"
    };
    let mut message = kind.to_string();
    for p in parts {
        message.push_str(": ");
        message.push_str(&p);
    }
    if message.chars().count() > TRANSPORT_MESSAGE_CHARS {
        message = message.chars().take(TRANSPORT_MESSAGE_CHARS).collect();
        message.push('…');
    }
    TransportError {
        reached: !connect,
        message,
    }
}

/// Replaces every URL in `text` by its scheme, host, port and path: no user, password,
/// query or fragment.
fn scrub_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let bytes = rest.as_bytes();
        let mut start = i;
        while start > 0
            && (bytes[start - 1].is_ascii_alphanumeric()
                || matches!(bytes[start - 1], b'+' | b'.' | b'-'))
        {
            start -= 1;
        }
        let end = rest[i..]
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '<' | '>'))
            .map_or(rest.len(), |e| i + e);
        out.push_str(&rest[..start]);
        match url::Url::parse(&rest[start..end]) {
            Ok(u) if u.host_str().is_some() => {
                out.push_str(u.scheme());
                out.push_str("://");
                out.push_str(u.host_str().unwrap_or_default());
                if let Some(port) = u.port() {
                    out.push_str(&format!(":{port}"));
                }
                out.push_str(u.path());
            }
            _ => out.push_str("[url]"),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use chrono::TimeZone;

    use super::*;

    fn limits() -> Limits {
        Limits {
            max_attempts: u32::MAX,
            max_retries: 2,
            max_waits: 3,
            max_wait: Duration::from_secs(60),
            backoff_base: Duration::from_millis(1),
            max_backoff: Duration::from_millis(4),
        }
    }

    #[test]
    fn statuses_fall_into_classes() {
        for (status, want) in [
            (200, Class::Success),
            (201, Class::Success),
            (204, Class::Success),
            (401, Class::Unauthorized),
            (429, Class::TooManyRequests),
            (500, Class::ServerError),
            (502, Class::ServerError),
            (503, Class::ServerError),
            (504, Class::ServerError),
            (403, Class::Other),
            (404, Class::Other),
            (409, Class::Other),
            (422, Class::Other),
            (301, Class::Other),
        ] {
            assert_eq!(class(status), want, "{status}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_decimals_and_http_dates() {
        let now = chrono::Utc.with_ymd_and_hms(2026, 11, 3, 7, 28, 0).unwrap();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("Tue, 03 Nov 2026 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Tue, 03 Nov 2026 07:00:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past is no wait"
        );
        for garbage in [
            "",
            "soon",
            "-1",
            "NaN",
            "inf",
            "1e400",
            "30s",
            "Tue, 99 Nov",
        ] {
            assert_eq!(parse_retry_after(garbage, now), None, "{garbage:?}");
        }
        let mut h = ::http::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", ::http::HeaderValue::from_static("3"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
    }

    #[test]
    fn backoff_doubles_with_jitter_within_bounds() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(30);
        assert_eq!(doubling(base, 1, cap), base);
        assert_eq!(doubling(base, 3, cap), Duration::from_millis(400));
        assert_eq!(doubling(base, 40, cap), cap);
        for attempt in [1, 2, 5, 30] {
            let d = doubling(base, attempt, cap);
            let mut seen = std::collections::BTreeSet::new();
            for _ in 0..200 {
                let b = backoff(base, attempt, cap);
                assert!(b >= d / 2 && b <= d, "{b:?} outside [{:?}, {d:?}]", d / 2);
                seen.insert(b);
            }
            assert!(seen.len() > 1, "jitter varies the wait");
        }
    }

    #[test]
    fn transport_errors_are_worded_without_credentials_or_queries() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let t = transport_error(&refused);
        assert_eq!(t.message, "could not connect: refused");
        assert!(!t.reached);

        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("error sending request for url (https://me:s3cret@api.example/v2/users?email=a@b.gov#x)")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let lost = Outer(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset",
        ));
        let t = transport_error(&lost);
        assert!(t.reached, "a reset connection may have carried the request");
        assert_eq!(
            t.message,
            "transport error: error sending request for url (https://api.example/v2/users): connection reset"
        );
        let slow = Outer(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "operation timed out",
        ));
        assert!(transport_error(&slow).message.starts_with("timed out: "));

        assert_eq!(scrub_urls("see ftp://x"), "see ftp://x/");
        assert_eq!(scrub_urls("no url here"), "no url here");
        assert_eq!(scrub_urls("bad ://x"), "bad [url]");
        let long = std::io::Error::other("x".repeat(1000));
        assert!(transport_error(&long).message.chars().count() <= TRANSPORT_MESSAGE_CHARS + 1);
    }

    #[tokio::test]
    async fn retry_waits_as_asked_retries_unknowns_and_gives_up() {
        // Two waits, one unknown outcome, then an answer.
        let script = Cell::new(0);
        let got: Result<u32, GaveUp<()>> = retry(&limits(), Resend::Idempotent, |n| {
            script.set(script.get() + 1);
            async move {
                match n {
                    1 | 2 => Attempt::Wait {
                        wait: Duration::ZERO,
                        detail: "HTTP 429".into(),
                    },
                    3 => Attempt::Unknown {
                        reached: true,
                        detail: "HTTP 502".into(),
                    },
                    _ => Attempt::Done(n),
                }
            }
        })
        .await;
        assert_eq!(got.unwrap(), 4);

        // Unknown outcomes end after max_retries re-sends.
        let tries = Cell::new(0);
        let got: Result<(), GaveUp<()>> = retry(&limits(), Resend::Idempotent, |_| {
            tries.set(tries.get() + 1);
            async {
                Attempt::Unknown {
                    reached: true,
                    detail: "HTTP 500".into(),
                }
            }
        })
        .await;
        assert!(
            matches!(got, Err(GaveUp::Unavailable { ref last, retries: 2 }) if last == "HTTP 500")
        );
        assert_eq!(tries.get(), 3);

        // Too many waits, or one too long, fail the call.
        let got: Result<(), GaveUp<()>> = retry(&limits(), Resend::Idempotent, |_| async {
            Attempt::Wait {
                wait: Duration::ZERO,
                detail: "HTTP 429".into(),
            }
        })
        .await;
        assert!(matches!(got, Err(GaveUp::RateLimited { attempts: 4, .. })));
        let got: Result<(), GaveUp<()>> = retry(&limits(), Resend::Idempotent, |_| async {
            Attempt::Wait {
                wait: Duration::from_secs(61),
                detail: "HTTP 429".into(),
            }
        })
        .await;
        assert!(matches!(got, Err(GaveUp::RateLimited { attempts: 1, .. })));

        // A total number of tries bounds both.
        let few = Limits {
            max_attempts: 2,
            ..limits()
        };
        let got: Result<(), GaveUp<()>> = retry(&few, Resend::Idempotent, |_| async {
            Attempt::Unknown {
                reached: true,
                detail: "HTTP 503".into(),
            }
        })
        .await;
        assert!(matches!(got, Err(GaveUp::Unavailable { retries: 1, .. })));

        let got: Result<(), GaveUp<&str>> = retry(&limits(), Resend::Idempotent, |_| async {
            Attempt::Fatal("no")
        })
        .await;
        assert!(matches!(got, Err(GaveUp::Fatal("no"))));
    }

    #[tokio::test]
    async fn a_create_is_resent_only_when_it_never_left() {
        let tries = Cell::new(0);
        let got: Result<u32, GaveUp<()>> = retry(&limits(), Resend::OnlyIfNotSent, |n| {
            tries.set(n);
            async move {
                match n {
                    1 => Attempt::Unknown {
                        reached: false,
                        detail: "could not connect".into(),
                    },
                    _ => Attempt::Done(n),
                }
            }
        })
        .await;
        assert_eq!(got.unwrap(), 2, "a refused connection is sent again");

        let tries = Cell::new(0);
        let got: Result<(), GaveUp<()>> = retry(&limits(), Resend::OnlyIfNotSent, |n| {
            tries.set(n);
            async {
                Attempt::Unknown {
                    reached: true,
                    detail: "HTTP 502".into(),
                }
            }
        })
        .await;
        assert!(matches!(got, Err(GaveUp::MayHaveReached(ref d)) if d == "HTTP 502"));
        assert_eq!(tries.get(), 1, "never sent a second time");
    }

    #[tokio::test]
    async fn send_once_reads_back_before_sending_again() {
        // The first answer is lost but the create happened: found, not re-sent.
        let sends = Cell::new(0);
        let got: Result<Once<u32>, OnceError<()>> = send_once(
            4,
            Duration::from_millis(1),
            |_| {
                sends.set(sends.get() + 1);
                async { Err(Sent::Unknown("HTTP 502".into())) }
            },
            |_| async { Ok(Some(7)) },
        )
        .await;
        assert_eq!(got.unwrap(), Once::Found(7));
        assert_eq!(sends.get(), 1);

        // The read-back finds nothing: sent again, and that answer counts.
        let sends = Cell::new(0);
        let got: Result<Once<u32>, OnceError<()>> = send_once(
            4,
            Duration::from_millis(1),
            |n| {
                sends.set(n);
                async move {
                    if n == 1 {
                        Err(Sent::Unknown("timed out".into()))
                    } else {
                        Ok(n)
                    }
                }
            },
            |_| async { Ok(None) },
        )
        .await;
        assert_eq!(got.unwrap(), Once::Sent(2));

        // A failed read-back ends the call: without knowing, nothing is re-sent.
        let sends = Cell::new(0);
        let got: Result<Once<u32>, OnceError<&str>> = send_once(
            4,
            Duration::from_millis(1),
            |_| {
                sends.set(sends.get() + 1);
                async { Err(Sent::Unknown("HTTP 502".into())) }
            },
            |_| async { Err("listing failed") },
        )
        .await;
        assert!(matches!(got, Err(OnceError::Failed("listing failed"))));
        assert_eq!(sends.get(), 1);

        // Never answered, never found: bounded.
        let got: Result<Once<u32>, OnceError<()>> = send_once(
            3,
            Duration::from_millis(1),
            |_| async { Err(Sent::Unknown("HTTP 502".into())) },
            |_| async { Ok(None) },
        )
        .await;
        assert!(
            matches!(got, Err(OnceError::Exhausted { attempts: 3, ref last }) if last == "HTTP 502")
        );

        // A final answer is not retried.
        let got: Result<Once<u32>, OnceError<&str>> = send_once(
            3,
            Duration::from_millis(1),
            |_| async { Err(Sent::Failed("422")) },
            |_| async { Ok(None) },
        )
        .await;
        assert!(matches!(got, Err(OnceError::Failed("422"))));
    }
}
