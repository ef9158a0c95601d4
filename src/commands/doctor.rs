//! `doctor`: a read-only preflight before the first real run, and whenever a run fails
//! strangely. Checks, in order, the Pages reports, the Zendesk account and (when
//! configured) GitHub, as a list of [`Check`]s; prints one line per check and a summary,
//! or `--json`. Exit 0 all pass, 1 warnings only, 2 something that would make a run fail.
//!
//! Must never write: every request here is a GET, to Zendesk and to GitHub alike.

use anyhow::Result;
use secrecy::SecretString;

use crate::account::{AccountSettings, Setting};
use crate::cli::DoctorArgs;
use crate::commands::flow::{env, pages_source};
use crate::commands::Exit;
use crate::config::FileSettings;
use crate::doctor::{Check, Checks};
use crate::github::probe::GithubProbe;
use crate::github::{IssueTemplate, Month};
use crate::source::database::{self, CheckStatus};
use crate::source::{self, PagesSource, Reports};
use crate::zendesk::{FieldMapping, RolesField, Zendesk, ZendeskError, ZendeskSettings};

const REPORTS: &str = "Pages reports";
const DATABASE: &str = "Pages database";
const ZENDESK: &str = "Zendesk";
const GITHUB: &str = "GitHub";

/// Where `doctor` looks: the reports, the Zendesk and GitHub connection values. Read from
/// the command line and the environment by [`DoctorEnv::from_args`]; `demo` builds one
/// pointing at its stand-ins.
pub struct DoctorEnv {
    pub config: Option<std::path::PathBuf>,
    /// The Pages source as the other commands would read it, or why none is set.
    pub pages: std::result::Result<PagesSource, String>,
    pub zendesk_subdomain: Option<String>,
    pub zendesk_url: Option<String>,
    pub zendesk_email: Option<String>,
    pub zendesk_token: Option<SecretString>,
    /// (API URL, token, `owner/name`), when both `GITHUB_TOKEN` and `GITHUB_REPOSITORY` are set.
    pub github: Option<(String, SecretString, String)>,
    pub template: Option<std::path::PathBuf>,
}

impl DoctorEnv {
    pub fn from_args(args: &DoctorArgs) -> DoctorEnv {
        DoctorEnv {
            config: args.input.config.clone(),
            pages: pages_source(&args.input).map_err(|e| format!("{e:#}")),
            zendesk_subdomain: env("ZENDESK_SUBDOMAIN"),
            zendesk_url: env("ZENDESK_URL"),
            zendesk_email: env("ZENDESK_EMAIL"),
            zendesk_token: env("ZENDESK_API_TOKEN").map(SecretString::from),
            github: match (env("GITHUB_TOKEN"), env("GITHUB_REPOSITORY")) {
                (Some(token), Some(repository)) => Some((
                    env("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".into()),
                    SecretString::from(token),
                    repository,
                )),
                _ => None,
            },
            template: args.template.clone(),
        }
    }
}

pub async fn doctor(args: &DoctorArgs) -> Result<Exit> {
    let checks = run_checks(&DoctorEnv::from_args(args)).await;
    if args.json {
        print!("{}", checks.render_json());
    } else {
        print!("{}", checks.render_text());
    }
    Ok(match checks.exit_code() {
        0 => Exit::Satisfied,
        1 => Exit::Unsatisfied,
        _ => Exit::BadInput,
    })
}

/// Every check, in order. Never fails as a whole: a problem is a failed check.
pub async fn run_checks(args: &DoctorEnv) -> Checks {
    let mut checks = Checks::default();
    let settings = match FileSettings::load(args.config.as_deref()) {
        Ok(s) => {
            if let Some(path) = &args.config {
                checks.push(Check::pass(
                    REPORTS,
                    "configuration",
                    format!("{} is valid", path.display()),
                ));
            }
            s
        }
        Err(e) => {
            checks.push(Check::fail(
                REPORTS,
                "configuration",
                format!("{e:#}"),
                "fix the configuration file (README \"Configuration\")",
            ));
            FileSettings::default()
        }
    };
    let reports = check_reports(args, &settings, &mut checks).await;
    check_zendesk(args, &settings, reports.as_ref(), &mut checks).await;
    check_github(args, &settings, &mut checks).await;
    checks
}

async fn check_reports(
    args: &DoctorEnv,
    settings: &FileSettings,
    checks: &mut Checks,
) -> Option<Reports> {
    let pages = match &args.pages {
        Ok(pages) => pages,
        Err(why) => {
            checks.push(Check::fail(
                REPORTS,
                "location",
                why.clone(),
                "pass --organizations PATH|URL and --users PATH|URL (or set \
                 PAGES_ORGANIZATIONS_REPORT and PAGES_USERS_REPORT), or --pages-database URL \
                 (PAGES_DATABASE_URL)",
            ));
            return None;
        }
    };
    if let PagesSource::Database(db) = pages {
        let mut failed = false;
        for c in database::doctor_checks(db).await {
            failed |= c.status == CheckStatus::Fail;
            let fix = c.fix.unwrap_or_default();
            checks.push(match c.status {
                CheckStatus::Pass => Check::pass(DATABASE, c.name, c.found),
                CheckStatus::Warn => Check::warn(DATABASE, c.name, c.found, fix),
                CheckStatus::Fail => Check::fail(DATABASE, c.name, c.found, fix),
            });
        }
        if failed {
            return None;
        }
    }
    match source::load_from(
        pages,
        &settings.policy,
        &settings.pages,
        settings.reports.max_bytes,
    )
    .await
    {
        Err(e) => {
            checks.push(Check::fail(
                REPORTS,
                "readable",
                format!("{e:#}"),
                "download fresh reports from Pages Admin, or fix the path/URL (and \
                 PAGES_REPORTS_AUTHORIZATION for URLs)",
            ));
            None
        }
        Ok(reports) => {
            let s = reports.stats;
            checks.push(Check::pass(
                REPORTS,
                "readable",
                format!(
                    "{} partner users, {} organizations, {} memberships, {} managers",
                    s.partner_users,
                    reports.desired.orgs.len(),
                    s.memberships,
                    s.managers
                ),
            ));
            if reports.issues.is_empty() {
                checks.push(Check::pass(REPORTS, "row issues", "none"));
            } else {
                let lines: Vec<String> = reports
                    .issues
                    .iter()
                    .take(10)
                    .map(|i| format!("{} line {}", report_name(i.report), i.line))
                    .collect();
                checks.push(Check::warn(
                    REPORTS,
                    "row issues",
                    format!(
                        "{} rows will be skipped ({}{})",
                        reports.issues.len(),
                        lines.join(", "),
                        if reports.issues.len() > 10 {
                            ", …"
                        } else {
                            ""
                        }
                    ),
                    "fix those rows in Pages; `pages-zendesk-sync plan --report-json FILE` \
                     lists each with its reason",
                ));
            }
            Some(reports)
        }
    }
}

fn report_name(kind: crate::source::ReportKind) -> &'static str {
    match kind {
        crate::source::ReportKind::Organizations => "organizations.csv",
        crate::source::ReportKind::Users => "users.csv",
    }
}

async fn check_zendesk(
    args: &DoctorEnv,
    settings: &FileSettings,
    reports: Option<&Reports>,
    checks: &mut Checks,
) {
    let connection = match ZendeskSettings::from_env_values(
        args.zendesk_subdomain.as_deref(),
        args.zendesk_url.as_deref(),
        args.zendesk_email.as_deref(),
        args.zendesk_token.clone(),
        settings.zendesk.clone(),
    ) {
        Ok(c) => c,
        Err(e) => {
            checks.push(Check::fail(
                ZENDESK,
                "configuration",
                format!("{e:#}"),
                "set ZENDESK_SUBDOMAIN (or ZENDESK_URL), ZENDESK_EMAIL and ZENDESK_API_TOKEN \
                 (README \"Environment\")",
            ));
            return;
        }
    };
    let base = connection.base_url.to_string();
    let zendesk = match Zendesk::new(connection, settings.mapping.clone()) {
        Ok(z) => z.with_backoff_base(std::time::Duration::from_millis(200)),
        Err(e) => {
            checks.push(Check::fail(
                ZENDESK,
                "client",
                format!("{e:#}"),
                "check ZENDESK_URL",
            ));
            return;
        }
    };

    // The base URL and the credentials, in one request.
    let me = match zendesk.token_user().await {
        Ok(me) => {
            checks.push(Check::pass(ZENDESK, "base URL", format!("{base} answers")));
            checks.push(Check::pass(
                ZENDESK,
                "credentials",
                "the API token was accepted",
            ));
            me
        }
        Err(e) => {
            match e.downcast_ref::<ZendeskError>() {
                Some(ZendeskError::Unauthorized) => {
                    checks.push(Check::pass(ZENDESK, "base URL", format!("{base} answers")));
                    checks.push(Check::fail(
                        ZENDESK,
                        "credentials",
                        "Zendesk refused them (401)",
                        "set ZENDESK_EMAIL to the admin who owns the token and ZENDESK_API_TOKEN \
                         to an active token (Admin Center > Apps and integrations > APIs > \
                         Zendesk API)",
                    ));
                }
                _ => checks.push(Check::fail(
                    ZENDESK,
                    "base URL",
                    format!("{base} did not answer as Zendesk: {e:#}"),
                    "check ZENDESK_SUBDOMAIN or ZENDESK_URL, and that this machine can reach it",
                )),
            }
            return;
        }
    };

    if me.role == "admin" {
        checks.push(Check::pass(
            ZENDESK,
            "admin",
            "the token's user is an admin",
        ));
    } else {
        checks.push(Check::fail(
            ZENDESK,
            "admin",
            format!(
                "the token's user is {} (agents cannot update agents, bulk-delete or \
                 verify identities)",
                if me.role.is_empty() {
                    "of unknown role"
                } else {
                    me.role.as_str()
                }
            ),
            "use an API token of a Zendesk admin (Admin Center > People > Team > Team \
             members: role Admin), set as ZENDESK_EMAIL/ZENDESK_API_TOKEN",
        ));
    }
    match zendesk.account_owner_id().await {
        Ok(Some(owner)) if Some(owner) == me.id => checks.push(Check::warn(
            ZENDESK,
            "account owner",
            "the token's user is the account owner (owners cannot verify identities, and \
             a run's changes then carry the owner's name)",
            "create a dedicated admin for the sync (Admin Center > People > Team > Team \
             members) and use its API token",
        )),
        Ok(Some(_)) => checks.push(Check::pass(
            ZENDESK,
            "account owner",
            "the token's user is not the account owner",
        )),
        Ok(None) | Err(_) => checks.push(Check::skip(
            ZENDESK,
            "account owner",
            "GET /api/v2/account did not name the owner; not checked",
        )),
    }

    let account = match zendesk.read_account_settings().await {
        Ok(Some(s)) => Some(s),
        Ok(None) => {
            checks.push(Check::warn(
                ZENDESK,
                "account settings",
                "GET /api/v2/account/settings was refused (403/404)",
                "use an admin's API token; without the settings a run cannot hold back writes \
                 Zendesk refuses",
            ));
            None
        }
        Err(e) => {
            checks.push(Check::fail(
                ZENDESK,
                "account settings",
                format!("{e:#}"),
                "see the error; run doctor again when Zendesk answers",
            ));
            None
        }
    };
    if let Some(account) = account {
        check_settings(
            &account,
            reports,
            &settings.policy,
            zendesk.mapping(),
            checks,
        );
    }

    match &zendesk.mapping().roles_field {
        RolesField::UserField(key) => match zendesk.user_field_type(key).await {
            Ok(Some(kind)) if matches!(kind.as_str(), "text" | "textarea") => {
                checks.push(Check::pass(
                    ZENDESK,
                    "roles field",
                    format!("user_field:{key} exists, type {kind}"),
                ))
            }
            Ok(Some(kind)) => checks.push(Check::fail(
                ZENDESK,
                "roles field",
                format!("user_field:{key} is of type {kind}; the roles text needs text"),
                format!(
                    "make `{key}` a Text or Multi-line field (Admin Center > People > \
                     Configuration > User fields), or set users.roles_field to details"
                ),
            )),
            Ok(None) => checks.push(Check::fail(
                ZENDESK,
                "roles field",
                format!("no custom user field with key `{key}`"),
                format!(
                    "add a Multi-line user field with key `{key}` (Admin Center > People > \
                     Configuration > User fields), or change users.roles_field"
                ),
            )),
            Err(e) => checks.push(Check::warn(
                ZENDESK,
                "roles field",
                format!("user fields could not be listed: {e:#}"),
                "use an admin's API token",
            )),
        },
        RolesField::Details => checks.push(Check::pass(
            ZENDESK,
            "roles field",
            "the built-in user field `details`",
        )),
        RolesField::Notes => checks.push(Check::pass(
            ZENDESK,
            "roles field",
            "the built-in user field `notes`",
        )),
    }

    // Sideload proof: one users page read the way the sync reads them. The client refuses
    // a page that has users and no `identities` key (secondary emails would be invisible).
    match zendesk.check_identities_sideload().await {
        Ok(found) if found.users == 0 => checks.push(Check::pass(
            ZENDESK,
            "identities sideload",
            "the account has no users yet; nothing to prove",
        )),
        Ok(found) => checks.push(Check::pass(
            ZENDESK,
            "identities sideload",
            format!(
                "a users page ({} users) came with `identities` ({} email identities)",
                found.users, found.email_identities
            ),
        )),
        Err(e) => checks.push(Check::fail(
            ZENDESK,
            "identities sideload",
            format!("{e:#}"),
            "report it to Zendesk support (include=identities with cursor pagination); do not run until it works",
        )),
    }

    match zendesk.jobs_in_flight().await {
        Ok(Some(n)) if n >= 30 => checks.push(Check::warn(
            ZENDESK,
            "jobs in flight",
            format!("{n} background jobs queued or running (Zendesk allows 30)"),
            "wait for them to finish before a run (another integration or import is busy)",
        )),
        Ok(Some(n)) => checks.push(Check::pass(
            ZENDESK,
            "jobs in flight",
            format!("{n} background jobs queued or running (Zendesk allows 30)"),
        )),
        Ok(None) | Err(_) => checks.push(Check::skip(
            ZENDESK,
            "jobs in flight",
            "GET /api/v2/job_statuses is not visible to this token",
        )),
    }

    // Read last: every answer so far carried the announced limit.
    match zendesk.announced_limit() {
        Some(limit) => checks.push(Check::pass(
            ZENDESK,
            "rate limit",
            format!(
                "Zendesk announces {limit} requests per minute; the sync will use at most {}",
                zendesk.request_budget()
            ),
        )),
        None => checks.push(Check::warn(
            ZENDESK,
            "rate limit",
            format!(
                "Zendesk announced no limit; the sync will use its configured {} per minute",
                zendesk.request_budget()
            ),
            "nothing to change unless runs meet 429s; then lower zendesk.requests_per_minute",
        )),
    }
}

/// The settings that change what the sync's writes do, against what the reports need.
fn check_settings(
    account: &AccountSettings,
    reports: Option<&Reports>,
    policy: &crate::config::Policy,
    mapping: &FieldMapping,
    checks: &mut Checks,
) {
    let multi_org_users = reports.map(|r| {
        r.desired
            .users
            .values()
            .filter(|u| u.roles.len() > 1)
            .count()
    });
    let managers = reports.map(|r| r.stats.managers);
    let setting = Setting::MultipleOrganizations;
    match (account.multiple_organizations, multi_org_users) {
        (Some(false), Some(n)) if n > 0 => checks.push(Check::fail(
            ZENDESK,
            "user.multiple_organizations",
            format!(
                "off, and {n} Pages users are in more than one organization: their other \
                 memberships cannot be added"
            ),
            format!("turn on {}", setting.location()),
        )),
        (Some(false), None) => checks.push(Check::warn(
            ZENDESK,
            "user.multiple_organizations",
            "off; without readable reports it cannot tell whether a Pages user needs several",
            format!("fix the reports, or turn on {}", setting.location()),
        )),
        (Some(false), Some(_)) => checks.push(Check::pass(
            ZENDESK,
            "user.multiple_organizations",
            "off; no Pages user is in more than one organization",
        )),
        (Some(true), _) => checks.push(Check::pass(ZENDESK, "user.multiple_organizations", "on")),
        (None, _) => checks.push(Check::warn(
            ZENDESK,
            "user.multiple_organizations",
            "not reported by the account",
            format!("check {}", setting.location()),
        )),
    }
    let setting = Setting::Tagging;
    match (account.tagging, managers) {
        (Some(false), Some(n)) if n > 0 => checks.push(Check::fail(
            ZENDESK,
            "user.tagging",
            format!(
                "off, and {n} Pages managers need the tag `{}`: Zendesk drops user tags \
                 silently, so the roles criterion cannot pass",
                policy.manager_tag
            ),
            format!("turn on {}", setting.location()),
        )),
        (Some(false), None) => checks.push(Check::warn(
            ZENDESK,
            "user.tagging",
            "off; without readable reports it cannot tell whether a manager needs the tag",
            format!("fix the reports, or turn on {}", setting.location()),
        )),
        (Some(false), Some(_)) => checks.push(Check::pass(
            ZENDESK,
            "user.tagging",
            "off; no Pages manager needs the tag",
        )),
        (Some(true), _) => checks.push(Check::pass(ZENDESK, "user.tagging", "on")),
        (None, _) => checks.push(Check::warn(
            ZENDESK,
            "user.tagging",
            "not reported by the account",
            format!("check {}", setting.location()),
        )),
    }
    let setting = Setting::AgentCreatedWelcomeEmails;
    let verification = if mapping.send_verification_email {
        "new users are created verified and sent Zendesk's verification email \
         (users.send_verification_email)"
    } else {
        "new users are created verified with skip_verify_email (no verification email)"
    };
    match account.agent_created_welcome_emails {
        Some(true) => checks.push(Check::warn(
            ZENDESK,
            "user.agent_created_welcome_emails",
            format!(
                "on: Zendesk may send its welcome email to every user the sync creates; \
                 {verification}"
            ),
            format!(
                "turn off {} if Pages users should get no mail from Zendesk",
                setting.location()
            ),
        )),
        Some(false) => checks.push(Check::pass(
            ZENDESK,
            "user.agent_created_welcome_emails",
            format!("off: no welcome email to users the sync creates; {verification}"),
        )),
        None => checks.push(Check::warn(
            ZENDESK,
            "user.agent_created_welcome_emails",
            format!("not reported by the account; {verification}"),
            format!("check {}", setting.location()),
        )),
    }
}

async fn check_github(args: &DoctorEnv, settings: &FileSettings, checks: &mut Checks) {
    let Some((api_url, token, repository)) = &args.github else {
        checks.push(Check::skip(
            GITHUB,
            "repository",
            "GITHUB_TOKEN and GITHUB_REPOSITORY are not both set; GitHub not checked \
             (only `run` needs it)",
        ));
        return;
    };
    let probe = match GithubProbe::new(api_url, token, repository) {
        Ok(p) => p,
        Err(e) => {
            checks.push(Check::fail(
                GITHUB,
                "client",
                format!("{e:#}"),
                "check GITHUB_TOKEN",
            ));
            return;
        }
    };
    let repo = match probe.repository().await {
        Ok(a) if a.status == 200 => {
            checks.push(Check::pass(
                GITHUB,
                "repository",
                format!("{repository} is reachable"),
            ));
            Some(a)
        }
        Ok(a) => {
            let fix = match a.status {
                401 => "GITHUB_TOKEN was refused (401): use the workflow's token or an active one",
                _ => "check GITHUB_REPOSITORY (owner/name) and that the token can see it",
            };
            checks.push(Check::fail(
                GITHUB,
                "repository",
                format!("{repository}: HTTP {} {}", a.status, a.message()),
                fix,
            ));
            None
        }
        Err(e) => {
            checks.push(Check::fail(
                GITHUB,
                "repository",
                format!("{e:#}"),
                "check GITHUB_API_URL and the network",
            ));
            None
        }
    };
    let repo_ok = repo.is_some();
    if let Some(repo) = repo {
        match probe.list_issues().await {
            Ok(a) if a.status == 200 => checks.push(Check::pass(
                GITHUB,
                "issues: read",
                "the token can list issues",
            )),
            Ok(a) => checks.push(Check::fail(
                GITHUB,
                "issues: read",
                format!(
                    "listing issues answered HTTP {} {}{}",
                    a.status,
                    a.message(),
                    a.accepted_permissions
                        .as_deref()
                        .map(|p| format!(" (needs {p})"))
                        .unwrap_or_default()
                ),
                "give the token issues: write (workflow `permissions: issues: write`, or the \
                 fine-grained token's Issues permission)",
            )),
            Err(e) => checks.push(Check::fail(
                GITHUB,
                "issues: read",
                format!("{e:#}"),
                "see the error",
            )),
        }
        checks.push(write_check(&repo));
    }

    // The template renders this month's title.
    let template_path = args
        .template
        .clone()
        .unwrap_or_else(|| settings.github.template.clone());
    let month = Month::current_utc();
    match IssueTemplate::load(&template_path) {
        Ok(t) => checks.push(Check::pass(
            GITHUB,
            "issue template",
            format!(
                "{} renders this month's title \"{}\"",
                template_path.display(),
                t.render(month).title
            ),
        )),
        Err(e) => checks.push(Check::fail(
            GITHUB,
            "issue template",
            format!("{e:#}"),
            "pass --template PATH or set github.template in the configuration",
        )),
    }
    if repo_ok {
        let label = &settings.github.label;
        match probe.label(label).await {
            Ok(a) if a.status == 200 => {
                checks.push(Check::pass(GITHUB, "label", format!("`{label}` exists")))
            }
            Ok(a) if a.status == 404 => checks.push(Check::pass(
                GITHUB,
                "label",
                format!("`{label}` does not exist yet; the first run's issue creates it"),
            )),
            Ok(a) => checks.push(Check::warn(
                GITHUB,
                "label",
                format!("reading `{label}` answered HTTP {}", a.status),
                "check the token's access to the repository",
            )),
            Err(e) => checks.push(Check::warn(
                GITHUB,
                "label",
                format!("{e:#}"),
                "see the error",
            )),
        }
    }
}

/// Whether the token can write issues, from what GitHub says without a write.
fn write_check(repo: &crate::github::probe::ProbeAnswer) -> Check {
    let name = "issues: write";
    if let Some(scopes) = &repo.oauth_scopes {
        let has = scopes
            .split(',')
            .map(str::trim)
            .any(|s| s == "repo" || s == "public_repo");
        return if has {
            Check::pass(
                GITHUB,
                name,
                format!("proven: the classic token's scopes ({scopes}) include repo access"),
            )
        } else {
            Check::fail(
                GITHUB,
                name,
                format!("the classic token's scopes ({scopes}) do not include repo or public_repo"),
                "use a token with the repo (or public_repo) scope, or the workflow's GITHUB_TOKEN",
            )
        };
    }
    match (repo.permission("triage"), repo.permission("push")) {
        (Some(true), _) | (_, Some(true)) => Check::pass(
            GITHUB,
            name,
            "proven: the repository's `permissions` give this token triage or push",
        ),
        (Some(false), Some(false)) => Check::fail(
            GITHUB,
            name,
            "the repository's `permissions` show read access only",
            "give the token issues: write (workflow `permissions: issues: write`, or the \
             fine-grained token's Issues permission: Read and write)",
        ),
        _ => Check::warn(
            GITHUB,
            name,
            "not provable without writing: GitHub reports no scopes or permissions for this \
             token (an installation token such as the workflow's GITHUB_TOKEN); listing works",
            "make sure the workflow grants `permissions: issues: write`",
        ),
    }
}
