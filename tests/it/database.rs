//! The Pages database source against a REAL PostgreSQL server (no mock): each test creates
//! its own database from the Pages schema (tests/fixtures/pages-database/schema.sql),
//! seeds it, and reads it through the library or the real binary.
//!
//! The server comes from `PAGES_ZENDESK_SYNC_TEST_DATABASE_URL` (an admin URL of a
//! throwaway cluster). `scripts/test-postgres.sh run -- cargo test --locked` starts one,
//! runs the tests and removes it; `.ci/run` does the same. Without the variable these
//! tests say they were skipped and how to run them; with `CI=true` a missing server is a
//! failure, not a skip.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use pages_zendesk_sync::config::{PagesOptions, Policy};
use pages_zendesk_sync::model::Role;
use pages_zendesk_sync::source::database::{self, CheckStatus, DatabaseFailure, DatabaseSource};
use pages_zendesk_sync::source::{self, Reports, RowProblem};
use standins::github::{GithubStandin, StandinOptions as GithubOptions};
use standins::zendesk::{StandinOptions, ZendeskStandin};
use tokio_postgres::{Client, NoTls};

use crate::support::{q, Ran, BIN};

const URL_VAR: &str = "PAGES_ZENDESK_SYNC_TEST_DATABASE_URL";
const SCHEMA: &str = include_str!("../fixtures/pages-database/schema.sql");

/// The admin URL of the test server, or `None` (skipped) on a developer machine without
/// one. In CI (`CI` set to anything but `false`/`0`) a missing server fails the test.
fn server_url(test: &str) -> Option<String> {
    if let Some(url) = std::env::var(URL_VAR).ok().filter(|u| !u.trim().is_empty()) {
        return Some(url);
    }
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(
        !ci,
        "{test}: CI is set but {URL_VAR} is not: the PostgreSQL tests need a server \
         (.ci/run starts one with scripts/test-postgres.sh)"
    );
    // Straight to stderr, not through the test harness's capture, so the skip is seen.
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED database::{test}: no PostgreSQL server ({URL_VAR} is not set). Run the \
         database tests with: scripts/test-postgres.sh run -- cargo test --locked --test it \
         database"
    );
    None
}

async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("the test server accepts the connection");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A database of its own for one test, with the Pages schema and the two roles.
struct TestDb {
    admin_url: String,
    name: String,
    url: String,
    client: Client,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    async fn create(test: &str) -> Option<TestDb> {
        let admin_url = server_url(test)?;
        let name = format!(
            "pzs_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst),
            test.chars()
                .filter(char::is_ascii_alphanumeric)
                .take(30)
                .collect::<String>()
                .to_lowercase()
        );
        let admin = connect(&admin_url).await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("CREATE DATABASE");
        let mut url = url::Url::parse(&admin_url).expect("the admin URL is a URL");
        url.set_path(&format!("/{name}"));
        let url = url.to_string();
        let client = connect(&url).await;
        client
            .batch_execute(SCHEMA)
            .await
            .expect("the schema loads");
        client
            .batch_execute(
                "INSERT INTO role (id, name, \"createdAt\", \"updatedAt\") VALUES \
                 (1, 'manager', now(), now()), (2, 'user', now(), now())",
            )
            .await
            .unwrap();
        Some(TestDb {
            admin_url,
            name,
            url,
            client,
        })
    }

    fn source(&self) -> DatabaseSource {
        DatabaseSource::from_url(&self.url, None).expect("a loopback URL is accepted")
    }

    async fn org(&self, id: i32, name: &str, agency: Option<&str>) {
        self.org_with(id, name, agency, false, true, false).await;
    }

    async fn org_with(
        &self,
        id: i32,
        name: &str,
        agency: Option<&str>,
        sandbox: bool,
        active: bool,
        deleted: bool,
    ) {
        self.client
            .execute(
                "INSERT INTO organization (id, name, agency, \"isSandbox\", \"isActive\", \
                 \"isSelfAuthorized\", \"deletedAt\", \"createdAt\", \"updatedAt\") \
                 VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7 THEN now() END, now(), now())",
                &[
                    &id,
                    &name,
                    &agency,
                    &sandbox,
                    &active,
                    &(id % 2 == 0),
                    &deleted,
                ],
            )
            .await
            .unwrap();
    }

    async fn user(&self, id: i32, deleted: bool) {
        self.client
            .execute(
                "INSERT INTO \"user\" (id, username, \"createdAt\", \"updatedAt\", \"signedInAt\", \
                 \"deletedAt\") VALUES ($1::int4, 'user' || $1::int4, \
                 timestamptz '2024-03-05 14:07:09.123456+00' + $1::int4 * interval '1 hour', \
                 now(), \
                 CASE WHEN $1::int4 % 3 = 0 THEN NULL ELSE timestamp '2026-10-30 09:12:44.0019' END, \
                 CASE WHEN $2 THEN current_date END)",
                &[&id, &deleted],
            )
            .await
            .unwrap();
    }

    async fn identity(&self, user: i32, email: &str, deleted: bool) {
        self.client
            .execute(
                "INSERT INTO uaa_identity (\"uaaId\", \"userName\", email, origin, \"userId\", \
                 \"createdAt\", \"updatedAt\", \"deletedAt\") VALUES ('uaa-' || $1::int4, $2, $2, \
                 'cloud.gov', $1::int4, now(), now(), CASE WHEN $3 THEN now() END)",
                &[&user, &email, &deleted],
            )
            .await
            .unwrap();
    }

    async fn role(&self, user: i32, org: i32, role: &str) {
        self.client
            .execute(
                "INSERT INTO organization_role (\"organizationId\", \"userId\", \"roleId\", \
                 \"createdAt\", \"updatedAt\") \
                 SELECT $1, $2, id, now(), now() FROM role WHERE name = $3",
                &[&org, &user, &role],
            )
            .await
            .unwrap();
    }

    /// A user with a live identity and roles.
    async fn partner(&self, id: i32, email: &str, roles: &[(i32, &str)]) {
        self.user(id, false).await;
        self.identity(id, email, false).await;
        for (org, role) in roles {
            self.role(id, *org, role).await;
        }
    }

    async fn drop_database(self) {
        let TestDb {
            admin_url,
            name,
            client,
            ..
        } = self;
        drop(client);
        let admin = connect(&admin_url).await;
        let _ = admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
    }
}

/// A nullable string: json2csv writes null as an empty, unquoted cell.
fn q_or_empty(s: Option<&str>) -> String {
    s.map(q).unwrap_or_default()
}

/// The two admin reports for the data in `db`, written the way Pages Admin writes them:
/// the selection of docs/references.md "Pages database" (checked against pages-core's
/// own Sequelize queries) and json2csv's output format (`@json2csv/plainjs` defaults as
/// pages-core calls them in api/admin/controllers/{organization,user}.js: a quoted
/// header, strings quoted, booleans and numbers bare, null empty, `\n` between rows and
/// none after the last).
async fn admin_reports(db: &TestDb) -> (String, String) {
    let mut orgs = vec!["\"Organization\",\"Agency\",\"Self Authorized\"".to_string()];
    for row in db
        .client
        .query(
            "SELECT o.name, o.agency, o.\"isSelfAuthorized\" FROM organization o \
             WHERE o.\"deletedAt\" IS NULL ORDER BY o.name",
            &[],
        )
        .await
        .unwrap()
    {
        let agency: Option<String> = row.get(1);
        let self_authorized: bool = row.get(2);
        orgs.push(format!(
            "{},{},{self_authorized}",
            q(row.get(0)),
            q_or_empty(agency.as_deref())
        ));
    }
    let mut users = vec![
        "\"ID\",\"Email\",\"Organizations\",\"Details\",\"Created\",\"Last Signed In\"".to_string(),
    ];
    for row in db
        .client
        .query(
            r#"WITH roles AS (
                 SELECT orl."userId", o.name AS org_name, ro.name AS role_name
                 FROM organization_role orl
                 JOIN organization o ON o.id = orl."organizationId" AND o."deletedAt" IS NULL
                 JOIN role ro ON ro.id = orl."roleId")
               SELECT u.id,
                      ui.email,
                      string_agg(r.org_name, '|' ORDER BY r.org_name) AS organizations,
                      string_agg(r.org_name || ': ' || r.role_name, ', ' ORDER BY r.org_name)
                        AS details,
                      to_char(u."createdAt" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                      to_char(u."signedInAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                      MIN(r.org_name) AS sort_key
               FROM "user" u
               LEFT JOIN uaa_identity ui ON ui."userId" = u.id AND ui."deletedAt" IS NULL
               LEFT JOIN roles r ON r."userId" = u.id
               WHERE u."deletedAt" IS NULL
               GROUP BY u.id, ui.email
               ORDER BY sort_key ASC NULLS LAST, u.id"#,
            &[],
        )
        .await
        .unwrap()
    {
        let id: i32 = row.get(0);
        let email: Option<String> = row.get(1);
        let organizations: Option<String> = row.get(2);
        let details: Option<String> = row.get(3);
        let created: Option<String> = row.get(4);
        let signed_in: Option<String> = row.get(5);
        users.push(format!(
            "{id},{},{},{},{},{}",
            q_or_empty(email.as_deref()),
            // A user without roles: an empty join, written as an empty quoted string.
            q(organizations.as_deref().unwrap_or("")),
            q(details.as_deref().unwrap_or("")),
            q_or_empty(created.as_deref()),
            q_or_empty(signed_in.as_deref()),
        ));
    }
    (orgs.join("\n"), users.join("\n"))
}

/// The desired state from the CSV text and from the database, same policy and options.
async fn both_sources(db: &TestDb) -> (Reports, Reports) {
    let policy = Policy::default();
    let (orgs_csv, users_csv) = admin_reports(db).await;
    let from_csv = source::parse(
        orgs_csv.as_bytes(),
        "organizations.csv",
        users_csv.as_bytes(),
        "users.csv",
        &policy,
    )
    .expect("the written reports parse");
    let from_db = database::load(&db.source(), &policy, &PagesOptions::default())
        .await
        .expect("the database reads");
    (from_csv, from_db)
}

/// The edge cases of docs/references.md "Pages database", all the CSV can express.
async fn seed_edge_cases(db: &TestDb) {
    db.org(1, "agency-a-web", Some("Agency A")).await;
    // Null agency and empty agency: both an empty Zendesk `details`.
    db.org(2, "null-agency", None).await;
    db.org(3, "empty-agency", Some("")).await;
    // Quotes, commas and `: ` inside names.
    db.org(
        4,
        "Dept. of \"Examples\", Office: Tests",
        Some("Dept. \"E\", Inc."),
    )
    .await;
    db.org(5, "Research & Development (R&D)", Some("Agency B"))
        .await;
    // Inactive and sandbox organizations are in the report.
    db.org_with(6, "retired-program", Some("Agency C"), false, false, false)
        .await;
    db.org_with(7, "sandbox.owner@example.gov", None, true, true, false)
        .await;
    // A soft-deleted organization: not in the report, its roles ignored.
    db.org_with(8, "deleted-org", Some("Agency D"), false, true, true)
        .await;
    // Two names that differ only in case: the second is a duplicate for Zendesk.
    db.org(9, "Case Study", Some("Agency E")).await;
    db.org(10, "case study", Some("Agency E")).await;
    db.org(11, "Ünïcode Øffice", Some("Agence É")).await;

    db.partner(
        17,
        "jane.doe@agency-a.example.gov",
        &[(1, "manager"), (4, "user"), (8, "manager")],
    )
    .await;
    db.partner(18, "pat.lee@example.gov", &[(2, "user"), (3, "manager")])
        .await;
    db.partner(19, "Morgan.Quill@Agency-B.example.gov", &[(5, "manager")])
        .await;
    db.partner(20, "retiree@example.gov", &[(6, "user")]).await;
    db.partner(21, "sandbox.owner@example.gov", &[(7, "manager")])
        .await;
    // Same organization in two cases with one role each: merged into one membership.
    db.partner(22, "case.one@example.gov", &[(9, "user"), (10, "user")])
        .await;
    // ... with two different roles: a row problem, the same on both paths.
    db.partner(23, "case.two@example.gov", &[(9, "user"), (10, "manager")])
        .await;
    db.partner(24, "uni@example.gov", &[(11, "user"), (1, "user")])
        .await;
    // The same address in two cases on two users: merged into the first row.
    db.partner(25, "Dup@Example.gov", &[(1, "user")]).await;
    db.partner(26, "dup@example.gov", &[(5, "user")]).await;
    // No organization: not a partner user.
    db.partner(27, "no.org@example.gov", &[]).await;
    // Only a role in the soft-deleted organization: no organization.
    db.partner(28, "only.deleted@example.gov", &[(8, "user")])
        .await;
    // Never signed in through UAA: no identity at all.
    db.user(29, false).await;
    db.role(29, 1, "user").await;
    // The identity was soft-deleted: no sign-in email either.
    db.user(30, false).await;
    db.identity(30, "gone@example.gov", true).await;
    db.role(30, 5, "manager").await;
    // A soft-deleted user with a live identity and roles: not in the report.
    db.user(31, true).await;
    db.identity(31, "deleted.user@example.gov", false).await;
    db.role(31, 1, "manager").await;
    // A soft-deleted user without identity.
    db.user(32, true).await;
    db.role(32, 2, "user").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_gives_the_desired_state_the_admin_reports_give() {
    let Some(db) = TestDb::create("equivalence").await else {
        return;
    };
    seed_edge_cases(&db).await;
    let (from_csv, from_db) = both_sources(&db).await;

    assert_eq!(from_db.desired, from_csv.desired);
    assert_eq!(from_db.issues, from_csv.issues);
    let mut csv_stats = from_csv.stats;
    csv_stats.from_database = true;
    assert_eq!(from_db.stats, csv_stats);

    // And that state is the one the edge cases call for.
    let r = &from_db;
    assert_eq!(
        r.stats.organization_rows, 10,
        "the soft-deleted one is left out"
    );
    assert_eq!(
        r.desired.orgs.len(),
        9,
        "`case study` duplicates `Case Study`"
    );
    let details = |name: &str| {
        r.desired
            .orgs
            .values()
            .find(|o| o.name == name)
            .map(|o| o.details.clone())
    };
    assert_eq!(details("null-agency").as_deref(), Some(""));
    assert_eq!(details("empty-agency").as_deref(), Some(""));
    assert_eq!(
        details("Dept. of \"Examples\", Office: Tests").as_deref(),
        Some("Dept. \"E\", Inc.")
    );
    assert!(details("retired-program").is_some() && details("sandbox.owner@example.gov").is_some());
    assert!(details("deleted-org").is_none());

    let emails: BTreeSet<&str> = r.desired.users.keys().map(|k| k.as_str()).collect();
    assert_eq!(
        emails,
        BTreeSet::from([
            "case.one@example.gov",
            "dup@example.gov",
            "jane.doe@agency-a.example.gov",
            "morgan.quill@agency-b.example.gov",
            "pat.lee@example.gov",
            "retiree@example.gov",
            "sandbox.owner@example.gov",
            "uni@example.gov",
        ])
    );
    let jane = r.desired.users.values().find(|u| u.pages_id == 17).unwrap();
    let roles: Vec<(&str, Role)> = r
        .desired
        .roles_of(jane)
        .map(|(k, r)| (k.as_str(), r))
        .collect();
    assert_eq!(
        roles,
        vec![
            ("agency-a-web", Role::Manager),
            ("dept. of \"examples\", office: tests", Role::User)
        ],
        "the role in the soft-deleted organization is ignored"
    );
    assert_eq!(r.stats.users_without_identity, 2, "users 29 and 30");
    assert_eq!(r.stats.users_without_organization, 2, "users 27 and 28");
    assert_eq!(
        r.stats.user_rows, 14,
        "the soft-deleted users 31 and 32 are left out"
    );
    // `case study`, user 23's two roles in it, user 26's address; nothing for the users
    // without a sign-in identity (not a row problem).
    let mut codes: Vec<&str> = r.issues.iter().map(|i| i.problem.code()).collect();
    codes.sort_unstable();
    assert_eq!(
        codes,
        [
            "details_mismatch",
            "duplicate_email_merged",
            "duplicate_organization"
        ],
        "{:?}",
        r.issues
    );
    let merged = r
        .issues
        .iter()
        .find_map(|i| match i.problem {
            RowProblem::DuplicateEmailMerged { first_line } => Some(first_line),
            _ => None,
        })
        .unwrap();
    // Users 25 and 26 share an address: the earlier row keeps it, the later is merged.
    let dup = r
        .desired
        .users
        .values()
        .find(|u| u.email.as_str() == "dup@example.gov")
        .unwrap();
    assert_eq!(merged, dup.line);
    assert_eq!(dup.roles.len(), 2, "both rows' organizations");
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_with_a_pipe_is_right_only_on_the_database_path() {
    let Some(db) = TestDb::create("pipe").await else {
        return;
    };
    db.org(1, "Design | Build", Some("Agency P")).await;
    db.org(2, "plain", Some("Agency Q")).await;
    db.partner(5, "pipe.user@example.gov", &[(1, "manager"), (2, "user")])
        .await;
    let (from_csv, from_db) = both_sources(&db).await;

    // The report joins organization names with `|`: `Design | Build|plain` cannot be
    // split back, so the CSV path cannot place this user.
    assert_eq!(from_csv.desired.users.len(), 0, "{:?}", from_csv.issues);
    assert_eq!(from_csv.issues.len(), 1);
    // Typed rows keep the name whole.
    assert!(from_db.issues.is_empty(), "{:?}", from_db.issues);
    let user = from_db.desired.users.values().next().expect("the user");
    let roles: Vec<(&str, Role)> = from_db
        .desired
        .roles_of(user)
        .map(|(k, r)| (k.as_str(), r))
        .collect();
    assert_eq!(
        roles,
        vec![("design | build", Role::Manager), ("plain", Role::User)]
    );
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_leave_out_sandbox_and_inactive_organizations() {
    let Some(db) = TestDb::create("options").await else {
        return;
    };
    seed_edge_cases(&db).await;
    let options = PagesOptions {
        include_sandbox_organizations: false,
        include_inactive_organizations: false,
    };
    let r = database::load(&db.source(), &Policy::default(), &options)
        .await
        .unwrap();
    assert_eq!(r.stats.sandbox_organizations_left_out, Some(1));
    assert_eq!(r.stats.inactive_organizations_left_out, Some(1));
    assert!(!r
        .desired
        .orgs
        .values()
        .any(|o| o.name == "retired-program" || o.name == "sandbox.owner@example.gov"));
    let emails: Vec<&str> = r.desired.users.keys().map(|k| k.as_str()).collect();
    assert!(!emails.contains(&"retiree@example.gov"));
    assert!(!emails.contains(&"sandbox.owner@example.gov"));
    assert_eq!(r.stats.users_without_organization, 4);
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_column_is_named_and_refused() {
    let Some(db) = TestDb::create("schema").await else {
        return;
    };
    db.client
        .batch_execute(
            "ALTER TABLE organization DROP COLUMN \"isSandbox\"; DROP TABLE role CASCADE",
        )
        .await
        .unwrap();
    let err = database::read_rows(&db.source()).await.unwrap_err();
    assert_eq!(err.failure, DatabaseFailure::Refused);
    assert!(
        err.message
            .contains("this version of Pages is not supported")
            && err
                .message
                .contains("column organization.isSandbox missing")
            && err.message.contains("table role"),
        "{}",
        err.message
    );
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_is_one_read_only_snapshot() {
    let Some(db) = TestDb::create("readonly").await else {
        return;
    };
    db.org(1, "o", None).await;
    // While the source's transaction is open, the server lists it as read-only
    // REPEATABLE READ; checked from the doctor's own view of it.
    let checks = database::doctor_checks(&db.source()).await;
    let read_only = checks.iter().find(|c| c.name == "read-only").unwrap();
    assert_ne!(read_only.status, CheckStatus::Fail, "{read_only:?}");
    assert!(read_only.found.contains("READ ONLY, REPEATABLE READ"));
    // The superuser of the test cluster may write: the doctor says so.
    assert_eq!(read_only.status, CheckStatus::Warn, "{read_only:?}");

    // A role that may only read passes. Roles are cluster-wide: one per test database.
    let reader_role = format!("{}_ro", db.name);
    db.client
        .batch_execute(&format!(
            "CREATE ROLE {reader_role} LOGIN PASSWORD 'reader-pw'; \
             GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader_role}"
        ))
        .await
        .unwrap();
    let mut reader = url::Url::parse(&db.url).unwrap();
    reader.set_username(&reader_role).unwrap();
    reader.set_password(Some("reader-pw")).unwrap();
    let source = DatabaseSource::from_url(reader.as_str(), None).unwrap();
    let checks = database::doctor_checks(&source).await;
    let read_only = checks.iter().find(|c| c.name == "read-only").unwrap();
    assert_eq!(read_only.status, CheckStatus::Pass, "{checks:?}");
    // That user reads the whole source too.
    database::read_rows(&source)
        .await
        .expect("SELECT is enough");
    // Without SELECT on a table the schema check says so, rather than "missing".
    db.client
        .batch_execute(&format!("REVOKE SELECT ON uaa_identity FROM {reader_role}"))
        .await
        .unwrap();
    let err = database::read_rows(&source).await.unwrap_err();
    assert_eq!(err.failure, DatabaseFailure::Refused);
    assert!(
        err.message.contains("may not read table uaa_identity") && !err.message.contains("missing"),
        "{}",
        err.message
    );
    db.client
        .batch_execute(&format!(
            "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {reader_role}"
        ))
        .await
        .unwrap();
    let admin_url = db.admin_url.clone();
    db.drop_database().await;
    let admin = connect(&admin_url).await;
    admin
        .batch_execute(&format!("DROP ROLE IF EXISTS {reader_role}"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_connect_schema_counts_and_roles_in_deleted_organizations() {
    let Some(db) = TestDb::create("doctor").await else {
        return;
    };
    seed_edge_cases(&db).await;
    let checks = database::doctor_checks(&db.source()).await;
    let names: Vec<&str> = checks.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "database connects",
            "read-only",
            "schema",
            "counts",
            "roles in deleted organizations"
        ]
    );
    let by = |n: &str| checks.iter().find(|c| c.name == n).unwrap();
    assert_eq!(by("database connects").status, CheckStatus::Pass);
    assert!(by("database connects").found.contains("PostgreSQL"));
    assert_eq!(by("schema").status, CheckStatus::Pass);
    assert_eq!(by("counts").status, CheckStatus::Pass);
    assert_eq!(
        by("counts").found,
        "10 organizations (1 sandbox, 1 inactive), 14 users (12 with a sign-in identity), \
         17 memberships"
    );
    // Users 17 and 28 (live) hold roles in the soft-deleted organization.
    let deleted = by("roles in deleted organizations");
    assert_eq!(deleted.status, CheckStatus::Warn, "{deleted:?}");
    assert!(
        deleted.found.starts_with("2 live user(s) hold 2 role(s)"),
        "{deleted:?}"
    );
    assert!(deleted.fix.is_some());
    for c in &checks {
        assert!(!c.found.contains('@'), "no email in a check: {c:?}");
    }

    // No connection: one failing check, without the password.
    let mut wrong = url::Url::parse(&db.url).unwrap();
    wrong.set_password(Some("not-the-password")).unwrap();
    let checks =
        database::doctor_checks(&DatabaseSource::from_url(wrong.as_str(), None).unwrap()).await;
    assert_eq!(checks.len(), 1, "{checks:?}");
    assert_eq!(checks[0].status, CheckStatus::Fail);
    assert!(!checks[0].found.contains("not-the-password"), "{checks:?}");

    // An unsupported schema: the list ends at the schema check.
    db.client
        .batch_execute("ALTER TABLE uaa_identity DROP COLUMN email; DROP TABLE role CASCADE")
        .await
        .unwrap();
    let checks = database::doctor_checks(&db.source()).await;
    let last = checks.last().unwrap();
    assert_eq!((last.name, last.status), ("schema", CheckStatus::Fail));
    assert!(
        last.found.contains("column uaa_identity.email missing")
            && last.found.contains("table role missing"),
        "{last:?}"
    );
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_off_loopback_is_required_and_its_certificate_verified() {
    let Some(db) = TestDb::create("tls").await else {
        return;
    };
    db.org(1, "o", None).await;
    // scripts/test-postgres.sh gives the server a certificate for 127.0.0.1 from its own CA.
    let ca = std::env::var("PAGES_ZENDESK_SYNC_TEST_DATABASE_CA")
        .expect("the test server's CA (scripts/test-postgres.sh exports it)");

    // Treated as a remote host: with the CA the certificate is verified and the read works
    // over TLS.
    let trusted = DatabaseSource::from_url(&db.url, Some(PathBuf::from(&ca)))
        .unwrap()
        .require_verified_tls();
    let rows = database::read_rows(&trusted).await.expect("verified TLS");
    assert_eq!(rows.organizations.len(), 1);
    let checks = database::doctor_checks(&trusted).await;
    assert!(checks[0].found.ends_with(", TLS"), "{checks:?}");

    // Without it (Mozilla roots only) the certificate is refused: bad input, exit 2.
    let untrusted = DatabaseSource::from_url(&db.url, None)
        .unwrap()
        .require_verified_tls();
    let err = database::read_rows(&untrusted).await.unwrap_err();
    assert_eq!(err.failure, DatabaseFailure::Refused, "{}", err.message);
    assert!(err.message.contains("TLS"), "{}", err.message);
    let password = url::Url::parse(&db.url)
        .unwrap()
        .password()
        .unwrap()
        .to_string();
    assert!(!err.message.contains(&password), "{}", err.message);

    // On loopback the server's TLS is used without checking the name or the chain.
    let loopback = database::doctor_checks(&db.source()).await;
    assert!(loopback[0].found.ends_with(", TLS"), "{loopback:?}");
    db.drop_database().await;
}

// --- the real binary ---------------------------------------------------------------

impl Ran {
    /// Neither the URL nor the password appears anywhere in what the binary printed.
    fn assert_no_secret(&self, url: &str) {
        let password = url::Url::parse(url)
            .unwrap()
            .password()
            .unwrap_or_default()
            .to_string();
        assert!(!password.is_empty());
        for text in [&self.stdout, &self.stderr] {
            assert!(!text.contains(url), "the URL leaked:\n{}", self.describe());
            assert!(
                !text.contains(&password),
                "the password leaked:\n{}",
                self.describe()
            );
        }
    }
}

/// The Zendesk stand-in, a config file, and the binary run with a cleared environment
/// whose Pages source is `PAGES_DATABASE_URL`.
struct Bin {
    zd: ZendeskStandin,
    dir: tempfile::TempDir,
}

impl Bin {
    fn new() -> Bin {
        let zd = ZendeskStandin::start(StandinOptions::default()).expect("stand-in starts");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.yml"),
            "zendesk: {job_poll_interval_ms: 5}\n",
        )
        .unwrap();
        Bin { zd, dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self, args: &[&str], database_url: &str) -> std::process::Command {
        let mut cmd = std::process::Command::new(BIN);
        let creds = self.zd.credentials();
        cmd.args(args)
            .env_clear()
            .env("ZENDESK_URL", self.zd.base_url().as_str())
            .env("ZENDESK_EMAIL", &creds.email)
            .env("ZENDESK_API_TOKEN", &creds.token)
            .env("PAGES_DATABASE_URL", database_url)
            .env("PAGES_ZENDESK_SYNC_CONFIG", self.path("config.yml"))
            .env("PAGES_ZENDESK_SYNC_LOG", "info");
        cmd
    }

    async fn run(&self, args: &[&str], database_url: &str) -> Ran {
        Ran::of(self.command(args, database_url)).await
    }

    fn writes(&self) -> usize {
        self.zd.requests().iter().filter(|r| r.is_write()).count()
    }
}

async fn seed_small(db: &TestDb) {
    db.org(1, "agency-a-web", Some("Agency A")).await;
    db.org(2, "Design | Build", Some("Agency B")).await;
    db.partner(
        17,
        "jane.doe@agency-a.example.gov",
        &[(1, "manager"), (2, "user")],
    )
    .await;
    db.partner(18, "pat.lee@example.gov", &[(2, "manager")])
        .await;
    db.user(19, false).await;
    db.role(19, 1, "user").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_from_the_database_then_the_same_again_has_nothing_to_do() {
    let Some(db) = TestDb::create("e2esync").await else {
        return;
    };
    seed_small(&db).await;
    let bin = Bin::new();

    let first = bin.run(&["sync"], &db.url).await;
    assert_eq!(first.code, 0, "{}", first.describe());
    first.assert_no_secret(&db.url);
    assert!(first.stdout.contains("Pages database"), "{}", first.stdout);
    assert!(
        first
            .stdout
            .contains("1 Pages user has organizations but no sign-in identity; not synced."),
        "{}",
        first.stdout
    );
    let world = bin.zd.snapshot();
    let names: BTreeSet<String> = world
        .organizations
        .values()
        .map(|o| o.name.clone())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["agency-a-web".to_string(), "Design | Build".to_string()])
    );
    assert_eq!(world.users.len(), 2);
    assert_eq!(world.memberships.len(), 3);

    let writes = bin.writes();
    let again = bin.run(&["sync"], &db.url).await;
    assert_eq!(again.code, 0, "{}", again.describe());
    assert_eq!(bin.writes(), writes, "the same month again writes nothing");
    again.assert_no_secret(&db.url);
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_from_the_database_closes_the_month_and_the_next_run_has_nothing_to_do() {
    let Some(db) = TestDb::create("e2erun").await else {
        return;
    };
    seed_small(&db).await;
    let bin = Bin::new();
    let gh = GithubStandin::start(GithubOptions::default())
        .await
        .expect("the GitHub stand-in starts");
    let template =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/ISSUE_TEMPLATE/pages-zendesk-sync.md");
    let run = |run_id: &'static str| {
        let mut cmd = bin.command(
            &[
                "run",
                "--month",
                "2026-11",
                "--template",
                template.to_str().unwrap(),
            ],
            &db.url,
        );
        cmd.env("GITHUB_API_URL", gh.api_url())
            .env("GITHUB_TOKEN", gh.token())
            .env("GITHUB_REPOSITORY", "cloud-gov/pages-zendesk-sync")
            .env("GITHUB_RUN_ID", run_id);
        Ran::of(cmd)
    };
    let first = run("8001").await;
    assert_eq!(first.code, 0, "{}", first.describe());
    first.assert_no_secret(&db.url);
    let issues = gh.issues();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].state, "closed");
    let comments = gh.comments(issues[0].number);
    assert!(
        comments[0]
            .body
            .contains("1 Pages user has organizations but no sign-in identity; not synced."),
        "{}",
        comments[0].body
    );
    for c in &comments {
        for secret_or_personal in [
            db.url.as_str(),
            "jane.doe@agency-a.example.gov",
            "pat.lee@example.gov",
            "Jane Doe",
        ] {
            assert!(!c.body.contains(secret_or_personal), "{}", c.body);
        }
    }

    let writes = bin.writes();
    let second = run("8002").await;
    assert_eq!(second.code, 0, "{}", second.describe());
    assert_eq!(bin.writes(), writes, "nothing to do the second time");
    assert_eq!(gh.issues().len(), 1);
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_exits_2_without_printing_it() {
    let Some(db) = TestDb::create("password").await else {
        return;
    };
    seed_small(&db).await;
    let bin = Bin::new();
    let mut wrong = url::Url::parse(&db.url).unwrap();
    wrong.set_password(Some("Wrong-Pass-7731")).unwrap();
    let ran = bin.run(&["sync"], wrong.as_str()).await;
    assert_eq!(ran.code, 2, "{}", ran.describe());
    assert!(
        ran.stderr.contains("password authentication failed"),
        "{}",
        ran.describe()
    );
    ran.assert_no_secret(wrong.as_str());
    ran.assert_no_secret(&db.url);
    assert_eq!(bin.writes(), 0);
    assert!(bin.zd.requests().is_empty(), "Zendesk is not even read");
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_goes_away_mid_read_exits_3_with_nothing_written() {
    let Some(db) = TestDb::create("goesaway").await else {
        return;
    };
    seed_small(&db).await;
    let bin = Bin::new();

    // Hold a lock that the users query must wait for, so the binary is caught mid-read
    // (after its schema check and organizations query), then end its backend as a
    // server going away would.
    let mut locker = connect(&db.url).await;
    let lock = locker.transaction().await.unwrap();
    lock.batch_execute("LOCK TABLE \"user\" IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let child = tokio::spawn(Ran::of(bin.command(&["sync"], &db.url)));
    let watcher = connect(&db.admin_url).await;
    let started = Instant::now();
    let mut killed = false;
    while started.elapsed() < Duration::from_secs(10) {
        let rows = watcher
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = $1 AND wait_event_type = 'Lock' \
                 AND application_name LIKE 'pages-zendesk-sync%'",
                &[&db.name],
            )
            .await
            .unwrap();
        if !rows.is_empty() {
            killed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(killed, "the binary never waited on the users table");
    let ran = child.await.unwrap();
    lock.rollback().await.unwrap();
    drop(locker);
    assert_eq!(ran.code, 3, "{}", ran.describe());
    assert!(
        ran.stderr
            .contains("reading the users of the Pages database"),
        "{}",
        ran.describe()
    );
    ran.assert_no_secret(&db.url);
    assert_eq!(bin.writes(), 0, "nothing written to Zendesk");
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_verify_and_export_read_the_database_too() {
    let Some(db) = TestDb::create("commands").await else {
        return;
    };
    seed_small(&db).await;
    let bin = Bin::new();
    let plan = bin.run(&["plan"], &db.url).await;
    assert_eq!(plan.code, 0, "{}", plan.describe());
    plan.assert_no_secret(&db.url);
    assert_eq!(bin.writes(), 0);

    let verify = bin.run(&["verify"], &db.url).await;
    assert_eq!(verify.code, 1, "nothing synced yet: {}", verify.describe());

    let out = bin.path("export");
    let export = bin
        .run(&["export", "--out", out.to_str().unwrap()], &db.url)
        .await;
    assert_eq!(export.code, 0, "{}", export.describe());
    export.assert_no_secret(&db.url);
    let orgs = std::fs::read_to_string(out.join("organizations-001.csv")).unwrap();
    assert!(orgs.contains("Design | Build"), "{orgs}");
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_the_database_source_and_writes_nothing() {
    let Some(db) = TestDb::create("doctor").await else {
        return;
    };
    seed_small(&db).await;
    // A live user holding a role in a soft-deleted organization: the admin report chokes on it.
    db.org_with(3, "retired-org", Some("Agency C"), false, true, true)
        .await;
    db.role(18, 3, "user").await;
    let bin = Bin::new();

    let ran = bin.run(&["doctor"], &db.url).await;
    ran.assert_no_secret(&db.url);
    let line = |area: &str, name: &str| -> String {
        ran.stdout
            .lines()
            .find(|l| l.contains(area) && l.contains(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no {area} {name} line:\n{}", ran.stdout))
            .to_string()
    };
    for name in ["database connects", "schema", "counts"] {
        let l = line("Pages database", name);
        assert!(l.starts_with("pass"), "{l}");
    }
    // The test's user owns the tables it made: the read is read-only, the user is not.
    assert!(line("Pages database", "read-only").starts_with("warn"));
    assert!(line("Pages reports", "readable").starts_with("pass"));
    let warned = line("Pages database", "roles in deleted organizations");
    assert!(warned.starts_with("warn"), "{warned}");
    assert_eq!(ran.code, 1, "warnings only: {}", ran.describe());
    assert_eq!(bin.writes(), 0, "doctor writes nothing");
    db.drop_database().await;
}
