//! The Pages database source: the organizations and each user's (organization, role)
//! memberships and sign-in email, read straight from the Pages PostgreSQL database with
//! the selection of the admin reports (docs/references.md "Pages database": soft-deleted rows left out, the email of the live UAA identity, inactive and
//! sandbox organizations included unless the configuration says otherwise).
//!
//! Owns: the connection (TLS required off loopback, rustls with the ring provider), one
//! read-only REPEATABLE READ transaction for a consistent snapshot of both lists, the
//! statement and lock timeouts, the schema check, typed rows, and the `doctor` checks of
//! this source ([`doctor_checks`]). The rows go through the same builder as the parsed
//! reports (`build.rs`, with the reports' organization index), so both sources agree on
//! every rule.
//!
//! Must never: write to the database, print or log the URL or the password (errors name
//! the database as `host:port/dbname`, and every message is scrubbed of both), or put a
//! name or an email into an error.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, IsolationLevel};
use tracing::info;

use super::build::{self, UserRows};
use super::parse::{self, OrgIndex};
use super::{Reports, RowIssue, RowProblem, SourceStats};
use crate::config::{PagesOptions, Policy};
use crate::model::{EmailKey, InvalidEmail, OrgNameBuffer};

/// How long to wait for the server to answer a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// The longest any one statement may run; the reads of a large Pages take seconds.
const STATEMENT_TIMEOUT: &str = "120s";
/// Never queue behind a migration's exclusive lock for long.
const LOCK_TIMEOUT: &str = "15s";

/// The tables and columns this tool reads, checked before reading.
const REQUIRED: &[(&str, &[&str])] = &[
    (
        "organization",
        &["id", "name", "agency", "isSandbox", "isActive", "deletedAt"],
    ),
    ("user", &["id", "deletedAt"]),
    ("uaa_identity", &["userId", "email", "deletedAt"]),
    ("role", &["id", "name"]),
    ("organization_role", &["organizationId", "userId", "roleId"]),
];

/// organizations.csv: every organization not soft-deleted, by name (the report's order).
const ORGANIZATIONS_SQL: &str = r#"
SELECT o.id, o.name, o.agency, o."isSandbox", o."isActive"
FROM organization o
WHERE o."deletedAt" IS NULL
ORDER BY o.name, o.id"#;

/// users.csv ("All Users"): every user not soft-deleted, the email of the live sign-in
/// identity (NULL when none), the roles in live organizations ordered by organization
/// name, users in the order of their alphabetically first organization (the report's
/// order), users without organization last. A role in a soft-deleted organization is
/// ignored (the admin report fails on it; `doctor` counts it).
const USERS_SQL: &str = r#"
WITH roles AS (
  SELECT orl."userId" AS user_id, o.id AS org_id, o.name AS org_name, ro.name AS role_name
  FROM organization_role orl
  JOIN organization o ON o.id = orl."organizationId" AND o."deletedAt" IS NULL
  JOIN role ro ON ro.id = orl."roleId")
SELECT u.id,
       ui.email,
       COALESCE(array_agg(r.org_id ORDER BY r.org_name, r.org_id)
                FILTER (WHERE r.org_id IS NOT NULL), '{}') AS org_ids,
       COALESCE(array_agg(r.role_name::text ORDER BY r.org_name, r.org_id)
                FILTER (WHERE r.org_id IS NOT NULL), '{}') AS role_names
FROM "user" u
LEFT JOIN uaa_identity ui ON ui."userId" = u.id AND ui."deletedAt" IS NULL
LEFT JOIN roles r ON r.user_id = u.id
WHERE u."deletedAt" IS NULL
GROUP BY u.id, ui.email
ORDER BY MIN(r.org_name) ASC NULLS LAST, u.id"#;

/// Why reading the database failed, as the exit status needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseFailure {
    /// Configuration, credentials, TLS, permissions or an unsupported schema: nothing was
    /// written; fix the input (exit 2).
    Refused,
    /// The server could not be reached or went away mid-read: the next run may succeed
    /// (exit 3).
    Unavailable,
}

/// An error of the database source. Its message never holds the URL or the password.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct DatabaseError {
    pub failure: DatabaseFailure,
    pub message: String,
}

/// The Pages database, as given by `--pages-database`, `PAGES_DATABASE_URL` or
/// `VCAP_SERVICES`. `Debug` shows only the label.
#[derive(Clone)]
pub struct DatabaseSource {
    url: SecretString,
    config: tokio_postgres::Config,
    /// `host:port/dbname`, for messages.
    label: String,
    /// Every host is this machine (loopback address, `localhost` or a Unix socket).
    loopback: bool,
    /// Extra CA certificates (PEM) trusted besides the Mozilla roots, for example the
    /// AWS RDS bundle (`PAGES_DATABASE_CA_FILE`).
    ca_file: Option<PathBuf>,
}

impl fmt::Debug for DatabaseSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSource")
            .field("database", &self.label)
            .field("loopback", &self.loopback)
            .finish_non_exhaustive()
    }
}

impl DatabaseSource {
    /// Validates a `postgres://` URL: TLS is required unless every host is this machine.
    /// Errors never echo the URL.
    pub fn from_url(raw: &str, ca_file: Option<PathBuf>) -> Result<Self, DatabaseError> {
        let url = SecretString::from(raw.trim().to_string());
        let refused = |message: String| DatabaseError {
            failure: DatabaseFailure::Refused,
            message: scrub(&message, &url),
        };
        let lower = raw.trim().get(..13).unwrap_or("").to_ascii_lowercase();
        if !(lower.starts_with("postgres://") || lower.starts_with("postgresql://")) {
            return Err(refused(
                "the Pages database URL must start with postgres:// or postgresql://".into(),
            ));
        }
        let mut config: tokio_postgres::Config =
            url.expose_secret()
                .parse()
                .map_err(|e: tokio_postgres::Error| {
                    refused(format!("the Pages database URL is not valid: {e}"))
                })?;
        if config.get_hosts().is_empty() {
            return Err(refused("the Pages database URL names no host".into()));
        }
        if config.get_dbname().is_none() {
            return Err(refused(
                "the Pages database URL names no database (postgres://…/DBNAME)".into(),
            ));
        }
        let loopback = config.get_hosts().iter().all(host_is_local);
        let label = label_of(&config);
        if !loopback {
            if config.get_ssl_mode() == SslMode::Disable {
                return Err(refused(format!(
                    "the Pages database {label} is not on this machine: TLS is required \
                     (remove sslmode=disable from the URL)"
                )));
            }
            config.ssl_mode(SslMode::Require);
        }
        config
            .connect_timeout(CONNECT_TIMEOUT)
            .application_name(concat!("pages-zendesk-sync/", env!("CARGO_PKG_VERSION")));
        Ok(DatabaseSource {
            url,
            config,
            label,
            loopback,
            ca_file,
        })
    }

    /// The database of the one PostgreSQL service (`aws-rds`, `credentials.uri`) bound to
    /// this Cloud Foundry app or task. `Ok(None)` when none is bound; an error when
    /// `VCAP_SERVICES` is not JSON or more than one PostgreSQL service is bound.
    pub fn from_vcap_services(
        vcap: &str,
        ca_file: Option<PathBuf>,
    ) -> Result<Option<Self>, DatabaseError> {
        let refused = |message: String| DatabaseError {
            failure: DatabaseFailure::Refused,
            message,
        };
        let services: serde_json::Value = serde_json::from_str(vcap)
            .map_err(|_| refused("VCAP_SERVICES is set but is not JSON".into()))?;
        let mut found: Vec<(String, String)> = Vec::new();
        if let Some(instances) = services.get("aws-rds").and_then(|v| v.as_array()) {
            for instance in instances {
                let Some(uri) = instance
                    .pointer("/credentials/uri")
                    .and_then(|v| v.as_str())
                else {
                    continue;
                };
                let scheme = uri.split("://").next().unwrap_or("").to_ascii_lowercase();
                if scheme == "postgres" || scheme == "postgresql" {
                    let name = instance
                        .get("name")
                        .and_then(|v| v.as_str())
                        .unwrap_or("(unnamed)")
                        .to_string();
                    found.push((name, uri.to_string()));
                }
            }
        }
        match found.len() {
            0 => Ok(None),
            1 => {
                let (_, uri) = found.remove(0);
                Self::from_url(&uri, ca_file).map(Some)
            }
            _ => Err(refused(format!(
                "VCAP_SERVICES binds {} PostgreSQL services ({}): pass --pages-database or \
                 set PAGES_DATABASE_URL to say which holds the Pages data",
                found.len(),
                found
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// Requires TLS with a verified certificate (chain and name) even when the host is
    /// this machine: what every host off loopback gets. For a local server known to hold
    /// a proper certificate, and for the tests of the verification itself.
    pub fn require_verified_tls(mut self) -> Self {
        self.loopback = false;
        self.config.ssl_mode(SslMode::Require);
        self
    }

    /// `host:port/dbname`: how messages name this database.
    pub fn label(&self) -> &str {
        &self.label
    }

    fn error(&self, doing: &str, err: &tokio_postgres::Error) -> DatabaseError {
        let failure = classify(err);
        let mut message = format!("{doing} the Pages database {}: {err}", self.label);
        // tokio-postgres keeps the server's message and io or TLS causes in the chain.
        let mut cause = std::error::Error::source(err);
        while let Some(c) = cause {
            let text = c.to_string();
            if !message.ends_with(&text) {
                message.push_str(&format!(": {text}"));
            }
            cause = c.source();
        }
        if let Some(detail) = err.as_db_error().and_then(|db| db.detail()) {
            message.push_str(&format!(" ({detail})"));
        }
        DatabaseError {
            failure,
            message: scrub(&message, &self.url),
        }
    }

    /// Connects and spawns the connection's task.
    async fn connect(&self) -> Result<Client, DatabaseError> {
        let tls = tls_connector(self.loopback, self.ca_file.as_deref()).map_err(|message| {
            DatabaseError {
                failure: DatabaseFailure::Refused,
                message,
            }
        })?;
        let connecting = self.config.connect(tls);
        let (client, connection) = match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => return Err(self.error("connecting to", &e)),
            Err(_) => {
                return Err(DatabaseError {
                    failure: DatabaseFailure::Unavailable,
                    message: format!(
                        "connecting to the Pages database {}: no answer within {} s",
                        self.label,
                        CONNECT_TIMEOUT.as_secs()
                    ),
                })
            }
        };
        tokio::spawn(async move {
            // A dropped connection surfaces as the error of the query that needed it.
            let _ = connection.await;
        });
        Ok(client)
    }
}

fn host_is_local(host: &Host) -> bool {
    match host {
        Host::Tcp(name) => {
            let name = name.trim_start_matches('[').trim_end_matches(']');
            name.eq_ignore_ascii_case("localhost")
                || name
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        #[cfg(unix)]
        Host::Unix(_) => true,
    }
}

fn label_of(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "?".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", config.get_dbname().unwrap_or_default())
}

/// Removes the URL and the password from a message, whatever produced it.
fn scrub(message: &str, url: &SecretString) -> String {
    let url = url.expose_secret();
    let mut out = message.replace(url, "[redacted]");
    if let Ok(config) = url.parse::<tokio_postgres::Config>() {
        if let Some(password) = config
            .get_password()
            .and_then(|p| std::str::from_utf8(p).ok())
        {
            if !password.is_empty() {
                out = out.replace(password, "[redacted]");
            }
        }
    }
    out
}

/// Which failures are the input's fault (exit 2) and which the server's (exit 3).
/// tokio-postgres keeps its error kinds private; its `Display` names them.
fn classify(err: &tokio_postgres::Error) -> DatabaseFailure {
    if let Some(code) = err.code() {
        let code = code.code();
        return match &code[..2] {
            // connection exception, insufficient resources, operator intervention
            // (admin shutdown, statement timeout, cancel), lock not available, system
            // error, serialization failure: transient.
            "08" | "53" | "57" | "58" | "40" | "55" | "XX" => DatabaseFailure::Unavailable,
            // invalid authorization (28), database missing (3D), undefined table or
            // column and insufficient privilege (42), everything else: the input.
            _ => DatabaseFailure::Refused,
        };
    }
    if err.is_closed() {
        return DatabaseFailure::Unavailable;
    }
    let text = err.to_string();
    let transient = [
        "error connecting to server",
        "timeout waiting for server",
        "error communicating with the server",
        "connection closed",
        "unexpected message from server",
        "error parsing response from server",
    ];
    if transient.iter().any(|t| text.starts_with(t)) {
        DatabaseFailure::Unavailable
    } else {
        // TLS handshake (certificate refused), authentication, connection string,
        // configuration, and anything unexpected about our own queries.
        DatabaseFailure::Refused
    }
}

/// TLS: the Mozilla roots plus `ca_file`. On loopback the name cannot match (a
/// `cf ssh -L` tunnel renames the host) and the tunnel is the authenticated hop, so the
/// certificate is accepted there (the connection is still encrypted when the server
/// offers TLS); off loopback the chain and the name are verified and TLS is required.
fn tls_connector(
    loopback: bool,
    ca_file: Option<&std::path::Path>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("setting up TLS for the Pages database: {e}"))?;
    let config = if loopback {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(LoopbackVerifier(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        if let Some(path) = ca_file {
            use rustls::pki_types::pem::PemObject;
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    format!(
                        "reading the CA certificates of PAGES_DATABASE_CA_FILE {}: {e}",
                        path.display()
                    )
                })?;
            let (added, _ignored) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!(
                    "PAGES_DATABASE_CA_FILE {} holds no usable CA certificate",
                    path.display()
                ));
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Accepts the server's certificate on loopback only (see [`tls_connector`]); signatures
/// are still checked, so the handshake itself is sound.
#[derive(Debug)]
struct LoopbackVerifier(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for LoopbackVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// An organization row, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationRow {
    pub id: i32,
    pub name: String,
    /// NULL and empty both become an empty Zendesk `details`, as in the report.
    pub agency: Option<String>,
    pub is_sandbox: bool,
    pub is_active: bool,
}

/// A user row, typed: the live identity's email and the roles in live organizations,
/// ordered by organization name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: i32,
    pub email: Option<String>,
    /// (organization id, role name) pairs.
    pub roles: Vec<(i32, String)>,
}

/// Both lists, read in one snapshot, in the reports' row order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatabaseRows {
    pub organizations: Vec<OrganizationRow>,
    pub users: Vec<UserRow>,
}

/// What the schema check found wrong: tables or columns this tool reads that do not exist
/// (`table x`, `column x.y`), and existing tables the database user may not read.
#[derive(Debug, Default)]
struct SchemaProblems {
    missing: Vec<String>,
    unreadable: Vec<String>,
}

impl SchemaProblems {
    fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.unreadable.is_empty()
    }

    fn into_error(self, label: &str) -> DatabaseError {
        let message = if self.missing.is_empty() {
            format!(
                "the database user may not read {} in the Pages database {label} (grant it \
                 SELECT)",
                self.unreadable.join(", ")
            )
        } else {
            format!(
                "this version of Pages is not supported: {} (in the Pages database {label})",
                self.missing
                    .iter()
                    .map(|m| format!("{m} missing"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        DatabaseError {
            failure: DatabaseFailure::Refused,
            message,
        }
    }
}

/// Checks the tables and columns this tool reads, from the catalog (which, unlike
/// `information_schema`, lists columns whatever the user's privileges).
async fn check_schema(
    client: &tokio_postgres::Transaction<'_>,
) -> Result<SchemaProblems, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT c.relname::text, a.attname::text, has_table_privilege(c.oid, 'SELECT') \
             FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f') \
             AND c.relname = ANY($1)",
            &[&REQUIRED.iter().map(|(t, _)| *t).collect::<Vec<&str>>()],
        )
        .await?;
    let mut present: HashMap<String, (bool, Vec<String>)> = HashMap::new();
    for row in rows {
        let entry = present
            .entry(row.get::<_, String>(0))
            .or_insert((row.get::<_, bool>(2), Vec::new()));
        entry.1.push(row.get::<_, String>(1));
    }
    let mut problems = SchemaProblems::default();
    for (table, columns) in REQUIRED {
        match present.get(*table) {
            None => problems.missing.push(format!("table {table}")),
            Some((readable, have)) => {
                problems.missing.extend(
                    columns
                        .iter()
                        .filter(|c| !have.iter().any(|h| h == *c))
                        .map(|c| format!("column {table}.{c}")),
                );
                if !readable {
                    problems.unreadable.push(format!("table {table}"));
                }
            }
        }
    }
    Ok(problems)
}

/// Opens the read-only snapshot: REPEATABLE READ, READ ONLY, with statement and lock
/// timeouts local to the transaction.
async fn begin<'c>(
    source: &DatabaseSource,
    client: &'c mut Client,
) -> Result<tokio_postgres::Transaction<'c>, DatabaseError> {
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(|e| source.error("starting a read-only transaction on", &e))?;
    tx.batch_execute(&format!(
        "SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'; \
         SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"
    ))
    .await
    .map_err(|e| source.error("setting the timeouts on", &e))?;
    Ok(tx)
}

/// Reads both lists in one read-only snapshot, after checking the schema.
pub async fn read_rows(source: &DatabaseSource) -> Result<DatabaseRows, DatabaseError> {
    let mut client = source.connect().await?;
    let tx = begin(source, &mut client).await?;
    let problems = check_schema(&tx)
        .await
        .map_err(|e| source.error("checking the schema of", &e))?;
    if !problems.is_empty() {
        return Err(problems.into_error(&source.label));
    }
    let organizations = tx
        .query(ORGANIZATIONS_SQL, &[])
        .await
        .map_err(|e| source.error("reading the organizations of", &e))?
        .into_iter()
        .map(|row| OrganizationRow {
            id: row.get(0),
            name: row.get(1),
            agency: row.get(2),
            is_sandbox: row.get(3),
            is_active: row.get(4),
        })
        .collect();
    let user_rows = tx
        .query(USERS_SQL, &[])
        .await
        .map_err(|e| source.error("reading the users of", &e))?;
    let mut users = Vec::with_capacity(user_rows.len());
    for row in user_rows {
        let org_ids: Vec<i32> = row.get(2);
        let role_names: Vec<String> = row.get(3);
        users.push(UserRow {
            id: row.get(0),
            email: row.get(1),
            roles: org_ids.into_iter().zip(role_names).collect(),
        });
    }
    // Read-only: nothing to commit; ending it promptly frees the snapshot.
    tx.rollback()
        .await
        .map_err(|e| source.error("ending the transaction on", &e))?;
    Ok(DatabaseRows {
        organizations,
        users,
    })
}

/// Builds the desired state from typed rows, through the reports' builder. Row numbers
/// are the lines the admin reports would print the rows on (header = line 1).
pub fn build(rows: &DatabaseRows, policy: &Policy, options: &PagesOptions) -> Reports {
    let mut issues: Vec<RowIssue> = Vec::new();
    let mut stats = SourceStats {
        from_database: true,
        organization_rows: rows.organizations.len(),
        user_rows: rows.users.len(),
        sandbox_organizations_left_out: (!options.include_sandbox_organizations).then_some(0),
        inactive_organizations_left_out: (!options.include_inactive_organizations).then_some(0),
        ..SourceStats::default()
    };

    let mut org_rows = build::OrgRows::default();
    // Organization id → its name, for the organizations kept.
    let mut names: HashMap<i32, &str> = HashMap::with_capacity(rows.organizations.len());
    for (i, org) in rows.organizations.iter().enumerate() {
        if org.is_sandbox && !options.include_sandbox_organizations {
            if let Some(n) = stats.sandbox_organizations_left_out.as_mut() {
                *n += 1;
            }
            continue;
        }
        if !org.is_active && !options.include_inactive_organizations {
            if let Some(n) = stats.inactive_organizations_left_out.as_mut() {
                *n += 1;
            }
            continue;
        }
        names.insert(org.id, org.name.as_str());
        org_rows.add(
            &mut issues,
            line(i),
            &org.name,
            org.agency.as_deref().unwrap_or(""),
        );
    }
    let orgs = org_rows.finish();

    let org_names = OrgNameBuffer::new(orgs.values());
    let org_index = OrgIndex::new(&orgs, &org_names);
    let mut user_rows = UserRows::with_capacity(rows.users.len());
    for (i, user) in rows.users.iter().enumerate() {
        let line = line(i);
        // Roles in organizations left out by the options do not count, nor (as in the
        // report's Organizations cell) an organization whose name is blank.
        let roles: Vec<(&str, &str)> = user
            .roles
            .iter()
            .filter_map(|(org, role)| names.get(org).map(|n| (*n, role.as_str())))
            .filter(|(name, _)| !name.trim().is_empty())
            .collect();
        if roles.is_empty() {
            // Not a partner user (docs/design.md "Pages data"): counted, not an issue.
            stats.users_without_organization += 1;
            continue;
        }
        let id = u64::try_from(user.id).ok();
        let email = EmailKey::parse(user.email.as_deref().unwrap_or(""));
        if matches!(email, Err(InvalidEmail::Empty)) {
            user_rows.without_identity(id, policy, &mut stats);
            continue;
        }
        let mut problem = match &email {
            Err(reason) => Some(RowProblem::InvalidEmail { reason: *reason }),
            Ok(_) if id.is_none() => Some(RowProblem::InvalidId),
            Ok(_) => None,
        };
        let start = user_rows.memberships.len();
        if problem.is_none() {
            for (name, role) in &roles {
                let Some(role) = parse::parse_role(role) else {
                    problem = Some(RowProblem::UnknownRole);
                    break;
                };
                let Some(org) = org_index.find(name.trim()) else {
                    problem = Some(RowProblem::UnknownOrganization);
                    break;
                };
                user_rows.memberships.push((org, role));
            }
        }
        if problem.is_none() {
            problem = user_rows.close_memberships(start).err();
        }
        user_rows.accept(line, problem, email, id, start, policy, &mut issues);
    }
    let users = user_rows.finish(policy, &mut issues, &mut stats);
    build::assemble(orgs, users, issues, stats)
}

/// The 1-based report line of the row at `index` (line 1 is the header).
fn line(index: usize) -> u64 {
    index as u64 + 2
}

/// Reads the Pages database and derives the desired state.
pub async fn load(
    source: &DatabaseSource,
    policy: &Policy,
    options: &PagesOptions,
) -> anyhow::Result<Reports> {
    let started = Instant::now();
    let rows = read_rows(source).await?;
    let read_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let policy = policy.clone();
    let options = *options;
    let reports = tokio::task::spawn_blocking(move || build(&rows, &policy, &options))
        .await
        .map_err(|e| anyhow::anyhow!("building the desired state from the database: {e}"))?;
    info!(
        database = source.label(),
        organizations = reports.stats.organization_rows,
        users = reports.stats.user_rows,
        read_ms,
        "read the Pages database"
    );
    Ok(reports)
}

/// The outcome of one `doctor` check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Pass,
    Warn,
    Fail,
}

/// One `doctor` check of the database source: counts and names of tables only, never a
/// row's data, the URL or the password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatabaseCheck {
    pub name: &'static str,
    pub status: CheckStatus,
    /// What was found.
    pub found: String,
    /// What to do about a warning or a failure.
    pub fix: Option<String>,
}

impl DatabaseCheck {
    fn new(name: &'static str, status: CheckStatus, found: String, fix: Option<&str>) -> Self {
        DatabaseCheck {
            name,
            status,
            found,
            fix: fix.map(str::to_string),
        }
    }
}

const COUNTS_SQL: &str = r#"
SELECT
  (SELECT count(*) FROM organization WHERE "deletedAt" IS NULL),
  (SELECT count(*) FROM organization WHERE "deletedAt" IS NULL AND "isSandbox"),
  (SELECT count(*) FROM organization WHERE "deletedAt" IS NULL AND NOT "isActive"),
  (SELECT count(*) FROM "user" WHERE "deletedAt" IS NULL),
  (SELECT count(*) FROM "user" u JOIN uaa_identity ui
     ON ui."userId" = u.id AND ui."deletedAt" IS NULL WHERE u."deletedAt" IS NULL),
  (SELECT count(*) FROM organization_role orl
     JOIN "user" u ON u.id = orl."userId" AND u."deletedAt" IS NULL
     JOIN organization o ON o.id = orl."organizationId" AND o."deletedAt" IS NULL)"#;

/// Live users holding a role in a soft-deleted organization: the admin users reports
/// fail on them; this source ignores such roles.
const ROLES_IN_DELETED_ORGS_SQL: &str = r#"
SELECT count(DISTINCT u.id), count(*)
FROM organization_role orl
JOIN "user" u ON u.id = orl."userId" AND u."deletedAt" IS NULL
JOIN organization o ON o.id = orl."organizationId" AND o."deletedAt" IS NOT NULL"#;

/// Pages tables the database user may write (from the catalog: never an error, even with
/// a table missing, which would abort the transaction).
const WRITE_PRIVILEGES_SQL: &str = r#"
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema()
  AND c.relname = ANY(ARRAY['organization', 'user', 'uaa_identity', 'role', 'organization_role'])
  AND has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')"#;

/// `doctor`'s checks of the database source, in order: connects, read-only, schema,
/// counts, roles in soft-deleted organizations. A failure that makes the later checks
/// meaningless (no connection, an unsupported schema) ends the list.
pub async fn doctor_checks(source: &DatabaseSource) -> Vec<DatabaseCheck> {
    use CheckStatus::{Fail, Pass, Warn};
    let mut checks = Vec::new();
    let mut client = match source.connect().await {
        Ok(c) => c,
        Err(e) => {
            let fix = match e.failure {
                DatabaseFailure::Refused => {
                    "check the URL's user, password and database name, and TLS \
                     (PAGES_DATABASE_CA_FILE for a private CA such as AWS RDS's)"
                }
                DatabaseFailure::Unavailable => {
                    "check that the database is reachable from here (a `cf ssh -L` tunnel \
                     still open, or a task bound to the service)"
                }
            };
            checks.push(DatabaseCheck::new(
                "database connects",
                Fail,
                e.message,
                Some(fix),
            ));
            return checks;
        }
    };
    let version_and_tls = client
        .query_one(
            "SELECT current_setting('server_version'), \
             COALESCE((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)",
            &[],
        )
        .await;
    match version_and_tls {
        Ok(row) => {
            let version: String = row.get(0);
            let tls: bool = row.get(1);
            checks.push(DatabaseCheck::new(
                "database connects",
                Pass,
                format!(
                    "PostgreSQL {version} at {}, {}",
                    source.label(),
                    if tls { "TLS" } else { "no TLS (loopback)" }
                ),
                None,
            ));
        }
        Err(e) => {
            checks.push(DatabaseCheck::new(
                "database connects",
                Fail,
                source.error("querying", &e).message,
                None,
            ));
            return checks;
        }
    }

    let tx = match begin(source, &mut client).await {
        Ok(tx) => tx,
        Err(e) => {
            checks.push(DatabaseCheck::new("read-only", Fail, e.message, None));
            return checks;
        }
    };
    let read_only = tx
        .query_one("SHOW transaction_read_only", &[])
        .await
        .map(|r| r.get::<_, String>(0));
    let writable_tables = tx
        .query_one(WRITE_PRIVILEGES_SQL, &[])
        .await
        .map(|r| r.get::<_, i64>(0))
        .unwrap_or(0);
    match read_only.as_deref() {
        Ok("on") if writable_tables == 0 => checks.push(DatabaseCheck::new(
            "read-only",
            Pass,
            "reads in a READ ONLY, REPEATABLE READ transaction; the database user cannot \
             write the Pages tables"
                .into(),
            None,
        )),
        Ok("on") => checks.push(DatabaseCheck::new(
            "read-only",
            Warn,
            format!(
                "reads in a READ ONLY, REPEATABLE READ transaction, but the database user \
                 may write {writable_tables} of the 5 Pages tables"
            ),
            Some(
                "use a database user with SELECT only (the transaction is read-only either \
                 way)",
            ),
        )),
        Ok(other) => checks.push(DatabaseCheck::new(
            "read-only",
            Fail,
            format!("transaction_read_only is {other:?}"),
            None,
        )),
        Err(e) => checks.push(DatabaseCheck::new(
            "read-only",
            Fail,
            source.error("checking", e).message,
            None,
        )),
    }

    match check_schema(&tx).await {
        Ok(problems) if problems.is_empty() => checks.push(DatabaseCheck::new(
            "schema",
            Pass,
            format!(
                "the {} tables and the columns this tool reads are present",
                REQUIRED.len()
            ),
            None,
        )),
        Ok(problems) => {
            let fix = if problems.missing.is_empty() {
                "grant the database user SELECT on the five Pages tables"
            } else {
                "update pages-zendesk-sync for this version of Pages, or use the CSV reports"
            };
            checks.push(DatabaseCheck::new(
                "schema",
                Fail,
                problems.into_error(source.label()).message,
                Some(fix),
            ));
            return checks;
        }
        Err(e) => {
            checks.push(DatabaseCheck::new(
                "schema",
                Fail,
                source.error("checking the schema of", &e).message,
                None,
            ));
            return checks;
        }
    }

    match tx.query_one(COUNTS_SQL, &[]).await {
        Ok(row) => {
            let n = |i: usize| row.get::<_, i64>(i);
            checks.push(DatabaseCheck::new(
                "counts",
                if n(0) == 0 { Warn } else { Pass },
                format!(
                    "{} organizations ({} sandbox, {} inactive), {} users ({} with a sign-in \
                     identity), {} memberships",
                    n(0),
                    n(1),
                    n(2),
                    n(3),
                    n(4),
                    n(5)
                ),
                (n(0) == 0).then_some("no organization: is this the Pages database?"),
            ));
        }
        Err(e) => checks.push(DatabaseCheck::new(
            "counts",
            Fail,
            source.error("counting the rows of", &e).message,
            None,
        )),
    }

    match tx.query_one(ROLES_IN_DELETED_ORGS_SQL, &[]).await {
        Ok(row) => {
            let users: i64 = row.get(0);
            let roles: i64 = row.get(1);
            if users == 0 {
                checks.push(DatabaseCheck::new(
                    "roles in deleted organizations",
                    Pass,
                    "no live user holds a role in a soft-deleted organization".into(),
                    None,
                ));
            } else {
                checks.push(DatabaseCheck::new(
                    "roles in deleted organizations",
                    Warn,
                    format!(
                        "{users} live user(s) hold {roles} role(s) in soft-deleted \
                         organizations: Pages Admin's users reports fail on this data; \
                         this tool ignores those roles"
                    ),
                    Some(
                        "remove those organization_role rows in Pages (or restore the \
                         organizations) so the admin reports work again",
                    ),
                ));
            }
        }
        Err(e) => checks.push(DatabaseCheck::new(
            "roles in deleted organizations",
            Fail,
            source.error("counting the roles of", &e).message,
            None,
        )),
    }
    let _ = tx.rollback().await;
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_off_loopback_requires_tls_and_errors_never_echo_it() {
        let err = DatabaseSource::from_url(
            "postgres://pages:s3cret-pw@db.example.gov:5432/pages?sslmode=disable",
            None,
        )
        .unwrap_err();
        assert_eq!(err.failure, DatabaseFailure::Refused);
        assert!(err.message.contains("TLS is required"), "{}", err.message);
        assert!(err.message.contains("db.example.gov:5432/pages"));
        assert!(!err.message.contains("s3cret-pw"), "{}", err.message);

        let ok =
            DatabaseSource::from_url("postgres://pages:pw@db.example.gov/pages", None).unwrap();
        assert!(!ok.loopback);
        assert_eq!(ok.config.get_ssl_mode(), SslMode::Require);
        assert!(!format!("{ok:?}").contains("pw@"), "{ok:?}");
    }

    #[test]
    fn loopback_hosts_may_go_without_tls() {
        for url in [
            "postgres://u:p@127.0.0.1:5433/pages?sslmode=disable",
            "postgresql://u:p@localhost/pages",
            "postgres://u:p@[::1]:5432/pages",
        ] {
            let s = DatabaseSource::from_url(url, None).unwrap();
            assert!(s.loopback, "{url}");
        }
        assert_eq!(
            DatabaseSource::from_url("postgres://u:p@127.0.0.1:5433/pages", None)
                .unwrap()
                .label(),
            "127.0.0.1:5433/pages"
        );
    }

    #[test]
    fn not_a_postgres_url_is_refused_without_echoing_it() {
        for bad in [
            "mysql://u:hunter2@h/db",
            "hunter2",
            "postgres://u:hunter2@h:notaport/db",
            "postgres://u:hunter2@h:5432",
        ] {
            let err = DatabaseSource::from_url(bad, None).unwrap_err();
            assert_eq!(err.failure, DatabaseFailure::Refused);
            assert!(!err.message.contains("hunter2"), "{bad}: {}", err.message);
        }
    }

    #[test]
    fn vcap_services_gives_the_one_postgres_service() {
        let one = r#"{"aws-rds":[{"name":"federalist-prod-rds","credentials":{"uri":"postgres://u:pw@db.example.gov:5432/pages","db_type":"postgres"}}],
                      "s3":[{"name":"bucket","credentials":{"uri":"s3://x"}}]}"#;
        let s = DatabaseSource::from_vcap_services(one, None)
            .unwrap()
            .unwrap();
        assert_eq!(s.label(), "db.example.gov:5432/pages");

        let none = r#"{"aws-rds":[{"name":"mysql-db","credentials":{"uri":"mysql://u:pw@h/db"}}]}"#;
        assert!(DatabaseSource::from_vcap_services(none, None)
            .unwrap()
            .is_none());
        assert!(DatabaseSource::from_vcap_services("{}", None)
            .unwrap()
            .is_none());

        let two = r#"{"aws-rds":[{"name":"a-rds","credentials":{"uri":"postgres://u:pw1@h1/d"}},
                                 {"name":"b-rds","credentials":{"uri":"postgresql://u:pw2@h2/d"}}]}"#;
        let err = DatabaseSource::from_vcap_services(two, None).unwrap_err();
        assert!(err.message.contains("a-rds, b-rds"), "{}", err.message);
        assert!(!err.message.contains("pw1") && !err.message.contains("pw2"));

        assert!(DatabaseSource::from_vcap_services("not json", None).is_err());
    }

    fn org(id: i32, name: &str, agency: Option<&str>) -> OrganizationRow {
        OrganizationRow {
            id,
            name: name.into(),
            agency: agency.map(str::to_string),
            is_sandbox: false,
            is_active: true,
        }
    }

    fn user(id: i32, email: Option<&str>, roles: &[(i32, &str)]) -> UserRow {
        UserRow {
            id,
            email: email.map(str::to_string),
            roles: roles.iter().map(|(o, r)| (*o, r.to_string())).collect(),
        }
    }

    #[test]
    fn typed_rows_build_the_desired_state_and_names_with_separators_stay_whole() {
        let rows = DatabaseRows {
            organizations: vec![org(1, "a|b: c, d", Some("Agency")), org(2, "plain", None)],
            users: vec![
                user(
                    7,
                    Some("Jane.Doe@Example.gov"),
                    &[(1, "manager"), (2, "user")],
                ),
                user(8, None, &[(2, "user")]),
                user(9, Some("x@example.gov"), &[]),
            ],
        };
        let r = build(&rows, &Policy::default(), &PagesOptions::default());
        assert!(r.issues.is_empty(), "{:?}", r.issues);
        assert_eq!(r.desired.orgs.len(), 2);
        let jane = r.desired.users.values().next().unwrap();
        assert_eq!(jane.pages_id, 7);
        assert_eq!(jane.line, 2);
        let roles: Vec<(String, crate::model::Role)> = r
            .desired
            .roles_of(jane)
            .map(|(k, r)| (k.as_str().to_string(), r))
            .collect();
        assert_eq!(
            roles,
            vec![
                ("a|b: c, d".to_string(), crate::model::Role::Manager),
                ("plain".to_string(), crate::model::Role::User)
            ]
        );
        assert_eq!(r.stats.users_without_identity, 1);
        assert_eq!(r.stats.users_without_organization, 1);
        assert!(r.stats.from_database);
        assert!(r.desired.protected_external_ids.contains("pages-user-8"));
    }

    #[test]
    fn options_leave_out_sandbox_and_inactive_organizations_and_count_them() {
        let mut sandbox = org(1, "someone@example.gov", None);
        sandbox.is_sandbox = true;
        let mut inactive = org(2, "old", None);
        inactive.is_active = false;
        let rows = DatabaseRows {
            organizations: vec![sandbox, inactive, org(3, "live", None)],
            users: vec![
                user(1, Some("a@example.gov"), &[(1, "manager")]),
                user(2, Some("b@example.gov"), &[(2, "user"), (3, "user")]),
            ],
        };
        let everything = build(&rows, &Policy::default(), &PagesOptions::default());
        assert_eq!(everything.desired.orgs.len(), 3);
        assert_eq!(everything.stats.sandbox_organizations_left_out, None);

        let options = PagesOptions {
            include_sandbox_organizations: false,
            include_inactive_organizations: false,
        };
        let r = build(&rows, &Policy::default(), &options);
        assert_eq!(r.desired.orgs.len(), 1);
        assert_eq!(r.stats.sandbox_organizations_left_out, Some(1));
        assert_eq!(r.stats.inactive_organizations_left_out, Some(1));
        assert_eq!(r.stats.users_without_organization, 1);
        assert_eq!(r.desired.users.len(), 1);
        assert_eq!(r.stats.memberships, 1);
    }

    #[test]
    fn an_unknown_role_is_a_row_problem_like_in_the_report() {
        let rows = DatabaseRows {
            organizations: vec![org(1, "o", None)],
            users: vec![user(1, Some("a@example.gov"), &[(1, "owner")])],
        };
        let r = build(&rows, &Policy::default(), &PagesOptions::default());
        assert_eq!(r.issues.len(), 1);
        assert_eq!(r.issues[0].problem, RowProblem::UnknownRole);
        assert_eq!(r.issues[0].line, 2);
    }
}
