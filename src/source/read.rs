//! Reading a report's bytes from a file path or a URL.
//!
//! Owns: telling paths from URLs, refusing plain `http://` off loopback, the size limit
//! (a setting, `reports.max_bytes`; enforced while streaming, so an endless body or a
//! growing file never fills memory), timeouts, and naming a location in errors without
//! its credentials or query string.
//!
//! Memory: the report ends up in one buffer of exactly its size (the parser works on
//! bytes). Files are read in one pass into a buffer sized from their length; a download
//! of unknown length is streamed to an unnamed temporary file first and then read the
//! same way, so no growing buffer ever holds two copies.
//!
//! Must never: log or return the Authorization header or a URL's userinfo or query
//! (pre-signed bucket URLs carry their credentials in the query).

use std::path::PathBuf;

use crate::loopback::is_loopback;
use std::time::Duration;

use anyhow::{Context, Result};
use reqwest::header::{HeaderValue, AUTHORIZATION};
use secrecy::{ExposeSecret, SecretString};

use super::{Location, SourceError};

/// The largest report accepted by default: 1 GiB, at least the 1 GB Zendesk's data
/// importer takes per file, so a large Pages installation is not refused. A wrong or
/// runaway download is still stopped. Configurable as `reports.max_bytes`.
pub const DEFAULT_MAX_BYTES: u64 = 1024 * 1024 * 1024;
const _: () = assert!(
    DEFAULT_MAX_BYTES >= 1_000_000_000,
    "at least the importer's 1 GB"
);

const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
const TOTAL_TIMEOUT: Duration = Duration::from_secs(300);
const MAX_REDIRECTS: usize = 5;

impl Location {
    /// `https://…` is a URL; `http://…` only on a loopback host (tests, local stand-ins);
    /// anything else is a file path.
    pub fn parse(raw: &str) -> Result<Location> {
        let trimmed = raw.trim();
        let lower = trimmed.get(..8).unwrap_or(trimmed).to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("http://") {
            // The URL may hold credentials: never echo it, not even in a parse error.
            let url = url::Url::parse(trimmed)
                .map_err(|e| anyhow::anyhow!("the report URL is not a valid URL: {e}"))?;
            if url.scheme() == "http" && !is_loopback(&url) {
                anyhow::bail!(
                    "the report URL {} uses plain http://, which is allowed only for a loopback \
                     host (127.0.0.1, ::1, localhost); use https://",
                    url_label(&url)
                );
            }
            return Ok(Location::Url(url));
        }
        if trimmed.is_empty() {
            anyhow::bail!("the report location is empty");
        }
        Ok(Location::Path(PathBuf::from(raw)))
    }
}

fn url_label(url: &url::Url) -> String {
    let mut clean = url.clone();
    // Setting these fails only for URLs that cannot have them (no host), which then
    // have none to hide.
    let _ = clean.set_username("");
    let _ = clean.set_password(None);
    clean.set_query(None);
    clean.set_fragment(None);
    clean.to_string()
}

/// How a location is named in errors: the path as given, or the URL without userinfo,
/// query or fragment.
pub fn label(location: &Location) -> String {
    match location {
        Location::Path(p) => p.display().to_string(),
        Location::Url(u) => url_label(u),
    }
}

/// Reads the whole report. Local problems (missing file, too big, an HTTP error status)
/// are [`SourceError`]s (bad input, nothing written); a transport failure (DNS, connect,
/// timeout) is a plain error, since a later run may well succeed.
pub async fn read(
    location: &Location,
    authorization: Option<&SecretString>,
    max_bytes: u64,
) -> Result<Vec<u8>> {
    match location {
        Location::Path(path) => read_file(path, &label(location), max_bytes).await,
        Location::Url(url) => read_url(url, authorization, max_bytes).await,
    }
}

fn too_big(label: &str, max_bytes: u64) -> SourceError {
    SourceError {
        file: label.to_string(),
        line: None,
        column: None,
        problem: format!("is larger than the limit of {max_bytes} bytes; refusing to read it"),
    }
}

async fn read_file(path: &std::path::Path, label: &str, max_bytes: u64) -> Result<Vec<u8>> {
    let unreadable = |e: std::io::Error| SourceError {
        file: label.to_string(),
        line: None,
        column: None,
        problem: format!("cannot be read: {e}"),
    };
    let meta = tokio::fs::metadata(path).await.map_err(unreadable)?;
    if meta.is_dir() {
        return Err(SourceError {
            file: label.to_string(),
            line: None,
            column: None,
            problem: "is a directory, not a report file".into(),
        }
        .into());
    }
    if meta.len() > max_bytes {
        return Err(too_big(label, max_bytes).into());
    }
    // The length is a hint: a pipe says 0 and a file may grow while it is read. Never
    // read more than the limit plus one byte, which tells "too big" from "exactly full".
    // One blocking read into a buffer of the right size (tokio's file reads hop to the
    // blocking pool once per 2 MiB chunk).
    let path = path.to_path_buf();
    let size_hint = meta.len();
    let read = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        use std::io::Read;
        let file = std::fs::File::open(&path)?;
        let capacity = usize::try_from(size_hint.min(max_bytes)).unwrap_or(0);
        let mut body = Vec::with_capacity(capacity.saturating_add(1));
        file.take(max_bytes.saturating_add(1))
            .read_to_end(&mut body)?;
        Ok(body)
    })
    .await
    .map_err(|e| unreadable(std::io::Error::other(e)))?;
    let body = read.map_err(unreadable)?;
    if body.len() as u64 > max_bytes {
        return Err(too_big(label, max_bytes).into());
    }
    Ok(body)
}

enum Limited {
    TooBig,
    Io(std::io::Error),
}

/// Reads `reader` to the end into a buffer sized `size_hint` (capped at the limit),
/// stopping with [`Limited::TooBig`] as soon as more than `max_bytes` arrive.
async fn read_limited<R: tokio::io::AsyncRead + Unpin>(
    reader: R,
    size_hint: u64,
    max_bytes: u64,
) -> std::result::Result<Vec<u8>, Limited> {
    use tokio::io::AsyncReadExt;
    let capacity = usize::try_from(size_hint.min(max_bytes)).unwrap_or(0);
    // One byte more than the hint, so that reaching the end needs no reallocation.
    let mut body = Vec::with_capacity(capacity.saturating_add(1));
    reader
        .take(max_bytes.saturating_add(1))
        .read_to_end(&mut body)
        .await
        .map_err(Limited::Io)?;
    if body.len() as u64 > max_bytes {
        return Err(Limited::TooBig);
    }
    Ok(body)
}

fn client(url: &url::Url) -> Result<reqwest::Client> {
    let redirects = reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else if attempt.url().scheme() != "https" && !is_loopback(attempt.url()) {
            // Never follow a redirect down to plain http off loopback.
            attempt.error("redirect to a non-https URL refused")
        } else {
            // reqwest drops the Authorization header when a redirect leaves the host.
            attempt.follow()
        }
    });
    let mut builder = reqwest::Client::builder();
    if is_loopback(url) {
        // A local server is never behind the proxy that HTTPS_PROXY may name.
        builder = builder.no_proxy();
    }
    builder
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TOTAL_TIMEOUT)
        .redirect(redirects)
        .user_agent(concat!("pages-zendesk-sync/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the HTTP client for the Pages reports")
}

async fn read_url(
    url: &url::Url,
    authorization: Option<&SecretString>,
    max_bytes: u64,
) -> Result<Vec<u8>> {
    let label = url_label(url);
    let mut request = client(url)?.get(url.clone());
    if let Some(secret) = authorization {
        let mut value = HeaderValue::from_str(secret.expose_secret()).map_err(|_| {
            anyhow::anyhow!("PAGES_REPORTS_AUTHORIZATION is not a valid HTTP header value")
        })?;
        value.set_sensitive(true);
        request = request.header(AUTHORIZATION, value);
    }
    // `without_url`: reqwest errors print the full URL, query string included.
    let mut response = request
        .send()
        .await
        .map_err(|e| e.without_url())
        .with_context(|| format!("downloading the report {label}"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(SourceError {
            file: label,
            line: None,
            column: None,
            problem: format!("the server answered HTTP {status}"),
        }
        .into());
    }
    if response.content_length().is_some_and(|n| n > max_bytes) {
        return Err(too_big(&label, max_bytes).into());
    }
    let download = |e: reqwest::Error| {
        anyhow::Error::new(e.without_url()).context(format!("downloading the report {label}"))
    };
    if let Some(length) = response.content_length() {
        // Known length: one buffer of that size, filled as the chunks arrive.
        let mut body = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
        while let Some(chunk) = response.chunk().await.map_err(download)? {
            if body.len() as u64 + chunk.len() as u64 > max_bytes {
                return Err(too_big(&label, max_bytes).into());
            }
            body.extend_from_slice(&chunk);
        }
        return Ok(body);
    }
    // Unknown length: spool to an unnamed temporary file (removed by the system when
    // closed), then read it back into one buffer of the right size.
    let spool = tempfile::tempfile().context("creating a temporary file for the download")?;
    let mut spool = tokio::fs::File::from_std(spool);
    let mut total: u64 = 0;
    {
        use tokio::io::AsyncWriteExt;
        while let Some(chunk) = response.chunk().await.map_err(download)? {
            total += chunk.len() as u64;
            if total > max_bytes {
                return Err(too_big(&label, max_bytes).into());
            }
            spool
                .write_all(&chunk)
                .await
                .context("writing the download to a temporary file")?;
        }
        spool
            .flush()
            .await
            .context("writing the download to a temporary file")?;
    }
    {
        use tokio::io::AsyncSeekExt;
        spool
            .seek(std::io::SeekFrom::Start(0))
            .await
            .context("reading the downloaded report back")?;
    }
    read_limited(spool, total, max_bytes)
        .await
        .map_err(|e| match e {
            Limited::TooBig => too_big(&label, max_bytes).into(),
            Limited::Io(e) => anyhow::Error::new(e).context("reading the downloaded report back"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_addresses_are_urls() {
        let loc = Location::parse("https://reports.example.gov/users.csv").unwrap();
        assert!(matches!(loc, Location::Url(u) if u.host_str() == Some("reports.example.gov")));
    }

    #[test]
    fn plain_http_is_accepted_on_loopback_hosts() {
        for raw in [
            "http://127.0.0.1:8080/u.csv",
            "http://127.1.2.3/u.csv",
            "http://[::1]:9/u.csv",
            "http://localhost/u.csv",
            "HTTP://LOCALHOST/u.csv",
        ] {
            assert!(
                matches!(Location::parse(raw), Ok(Location::Url(_))),
                "{raw}"
            );
        }
    }

    #[test]
    fn plain_http_to_another_host_is_refused_without_echoing_credentials() {
        let err = Location::parse("http://user:hunter2@reports.example.gov/u.csv?sig=abc")
            .unwrap_err()
            .to_string();
        assert!(err.contains("https://"), "{err}");
        assert!(err.contains("reports.example.gov"), "{err}");
        assert!(
            !err.contains("hunter2") && !err.contains("sig=abc"),
            "{err}"
        );
    }

    #[test]
    fn anything_else_is_a_file_path() {
        assert_eq!(
            Location::parse("reports/users.csv").unwrap(),
            Location::Path(PathBuf::from("reports/users.csv"))
        );
        assert_eq!(
            Location::parse("ftp.csv").unwrap(),
            Location::Path(PathBuf::from("ftp.csv"))
        );
        assert!(Location::parse("  ").is_err());
    }

    #[test]
    fn labels_drop_userinfo_query_and_fragment() {
        let loc = Location::parse("https://me:secret@bucket.example.gov/r/users.csv?X-Sig=abc#top")
            .unwrap();
        assert_eq!(label(&loc), "https://bucket.example.gov/r/users.csv");
        let path = Location::parse("./in/users.csv").unwrap();
        assert_eq!(label(&path), "./in/users.csv");
    }

    #[tokio::test]
    async fn a_missing_file_is_a_source_error_naming_it() {
        let loc = Location::parse("/nonexistent/dir/users.csv").unwrap();
        let err = read(&loc, None, DEFAULT_MAX_BYTES).await.unwrap_err();
        let source = err.downcast_ref::<SourceError>().expect("a SourceError");
        assert_eq!(source.file, "/nonexistent/dir/users.csv");
    }

    #[tokio::test]
    async fn a_file_over_the_size_cap_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.csv");
        std::fs::write(&path, vec![b'a'; 101]).unwrap();
        let loc = Location::Path(path.clone());
        let err = read(&loc, None, 100).await.unwrap_err();
        assert!(err.downcast_ref::<SourceError>().is_some(), "{err:#}");
        assert_eq!(read(&loc, None, 101).await.unwrap().len(), 101);
    }

    #[tokio::test]
    async fn a_report_larger_than_64_mib_is_accepted_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.csv");
        // A sparse file: no disk and no time spent writing it.
        let size = 64 * 1024 * 1024 + 4096;
        std::fs::File::create(&path).unwrap().set_len(size).unwrap();
        let body = read(&Location::Path(path), None, DEFAULT_MAX_BYTES)
            .await
            .unwrap();
        assert_eq!(body.len() as u64, size);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_file_that_says_it_is_empty_but_never_ends_is_cut_off_at_the_limit() {
        let loc = Location::Path("/dev/zero".into());
        let err = read(&loc, None, 10_000).await.unwrap_err();
        let source = err.downcast_ref::<SourceError>().expect("a SourceError");
        assert!(source.problem.contains("larger than the limit"), "{err:#}");
    }

    #[tokio::test]
    async fn a_stream_without_a_length_is_cut_off_at_the_limit() {
        // A reader that never ends (like a pipe or a growing file whose length said 0).
        let endless = tokio::io::repeat(b'a');
        let got = read_limited(endless, 0, 10_000).await;
        assert!(matches!(got, Err(Limited::TooBig)));
        let exact = read_limited(&[b'a'; 10_000][..], 0, 10_000).await;
        assert!(matches!(exact, Ok(b) if b.len() == 10_000));
    }
}
