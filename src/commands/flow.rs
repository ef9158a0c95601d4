//! The sync pipeline shared by `plan`, `sync`, `verify` and `run`:
//! read both sides → plan → guard → apply (once, unless plan-only or dry run) → read again →
//! verify → a public [`RunSummary`]. Which steps run is decided here by [`Mode`].

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use secrecy::SecretString;
use tracing::{info, warn};

use crate::account::AccountSettings;
use crate::cli::{CommonArgs, InputArgs, SyncArgs};
use crate::commands::{Exit, UsageError};
use crate::config::FileSettings;
use crate::model::ActualState;
use crate::outcome::{ApplyOutcome, RequestStats};
use crate::plan::guard::{self, GuardFigures};
use crate::plan::settings::HeldBack;
use crate::plan::{self, managed_org_ids, Plan};
use crate::report::{self, Detail, JobStatus, RunMode, RunSummary, StatusFacts, Totals};
use crate::source::database::DatabaseSource;
use crate::source::{self, PagesSource, Reports};
use crate::verify::{self, Verification};
use crate::zendesk::{Zendesk, ZendeskSettings};

/// Which steps of the pipeline run (from the command's [`RunMode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Read both sides and plan; write nothing, verify nothing.
    Plan,
    /// Plan, and verify the current Zendesk state; write nothing.
    DryRun,
    /// Plan, guard, apply, read again, verify.
    Apply,
    /// Verify the current Zendesk state only.
    Verify,
}

impl Mode {
    pub fn of(run: RunMode) -> Mode {
        match run {
            RunMode::Plan => Mode::Plan,
            RunMode::Verify => Mode::Verify,
            RunMode::Sync { dry_run: true } | RunMode::Run { dry_run: true } => Mode::DryRun,
            RunMode::Sync { dry_run: false } | RunMode::Run { dry_run: false } => Mode::Apply,
        }
    }
}

/// Everything a pipeline run needs, validated before any network call.
pub struct Inputs {
    pub settings: FileSettings,
    /// The Pages reports or the Pages database.
    pub source: PagesSource,
    pub zendesk: ZendeskSettings,
    pub allow_mass_removal: bool,
}

impl Inputs {
    /// From the common arguments and the environment (the names the workflow sets).
    pub fn from_args(args: &CommonArgs) -> Result<Self> {
        let settings = FileSettings::load(args.input.config.as_deref())?;
        let source = pages_source(&args.input)?;
        let zendesk = ZendeskSettings::from_env_values(
            env("ZENDESK_SUBDOMAIN").as_deref(),
            env("ZENDESK_URL").as_deref(),
            env("ZENDESK_EMAIL").as_deref(),
            env("ZENDESK_API_TOKEN").map(SecretString::from),
            settings.zendesk.clone(),
        )
        .map_err(|e| UsageError(format!("{e:#}")))?;
        Ok(Inputs {
            settings,
            source,
            zendesk,
            allow_mass_removal: args.allow_mass_removal,
        })
    }

    /// The Zendesk adapter for this run: the connection from the environment, the field
    /// mapping from the configuration file.
    pub fn zendesk_adapter(&self) -> Result<Zendesk> {
        Zendesk::new(self.zendesk.clone(), self.settings.mapping.clone())
    }
}

/// Where the Pages data comes from: `--pages-database` / `PAGES_DATABASE_URL`; else the two
/// reports; else, with neither, the one PostgreSQL service bound in `VCAP_SERVICES` (a Cloud
/// Foundry task bound to the Pages database). clap refuses a database URL given together
/// with a report (a usage error, exit 2).
pub fn pages_source(input: &InputArgs) -> Result<PagesSource> {
    use secrecy::ExposeSecret;
    let ca_file = env("PAGES_DATABASE_CA_FILE").map(std::path::PathBuf::from);
    if let Some(url) = &input.pages_database {
        let db = DatabaseSource::from_url(url.expose_secret(), ca_file)?;
        return Ok(PagesSource::Database(Box::new(db)));
    }
    if input.organizations.is_none() && input.users.is_none() {
        if let Some(vcap) = env("VCAP_SERVICES") {
            if let Some(db) = DatabaseSource::from_vcap_services(&vcap, ca_file)? {
                return Ok(PagesSource::Database(Box::new(db)));
            }
        }
    }
    let organizations = input.organizations.clone().ok_or_else(|| {
        UsageError("no organizations report: pass --organizations PATH|URL or set PAGES_ORGANIZATIONS_REPORT (or read the Pages database: --pages-database URL or PAGES_DATABASE_URL)".into())
    })?;
    let users = input.users.clone().ok_or_else(|| {
        UsageError("no users report: pass --users PATH|URL or set PAGES_USERS_REPORT".into())
    })?;
    Ok(PagesSource::Reports {
        organizations,
        users,
        authorization: env("PAGES_REPORTS_AUTHORIZATION").map(SecretString::from),
    })
}

/// A non-empty environment variable.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// What one pipeline run produced, public and private parts together.
pub struct Outcome {
    pub summary: RunSummary,
    pub reports: Reports,
    pub plan: Option<Plan>,
    /// Changes the account's settings made impossible: reported, not sent.
    pub held_back: Vec<HeldBack>,
    pub apply: ApplyOutcome,
    pub verification: Option<Verification>,
}

impl Outcome {
    /// Writes the per-record detail file the operator asked for.
    pub fn write_detail(&self, path: &Path) -> Result<()> {
        let detail = Detail {
            summary: &self.summary,
            row_issues: &self.reports.issues,
            plan: self.plan.as_ref(),
            failures: &self.apply.failures,
            held_back: &self.held_back,
            verification: self.verification.as_ref(),
        };
        let json = serde_json::to_string_pretty(&detail).context("serialising the JSON report")?;
        std::fs::write(path, json)
            .with_context(|| format!("writing the JSON report to {}", path.display()))
    }
}

/// Loads the Pages data (both reports, or the database). A file-level or database
/// problem stops here, before anything is written.
pub async fn load_reports(inputs: &Inputs) -> Result<Reports> {
    let started = Instant::now();
    let reports = source::load_from(
        &inputs.source,
        &inputs.settings.policy,
        &inputs.settings.pages,
        inputs.settings.reports.max_bytes,
    )
    .await?;
    info!(
        organizations = reports.desired.orgs.len(),
        partner_users = reports.desired.users.len(),
        row_issues = reports.issues.len(),
        ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "read the Pages reports"
    );
    Ok(reports)
}

/// Runs the pipeline against Zendesk. `Err` only when the run stopped: a tripped guard
/// (before any write) or a failure of the API as a whole.
pub async fn execute(
    inputs: &Inputs,
    reports: Reports,
    zendesk: &Zendesk,
    run: RunMode,
) -> Result<Outcome> {
    let started = Instant::now();
    let mode = Mode::of(run);
    let policy = &inputs.settings.policy;
    let desired = &reports.desired;

    // One request, before planning: the settings decide which writes can be sent.
    let mut settings_unreadable = false;
    let settings = if mode == Mode::Verify {
        None
    } else {
        let settings = zendesk.read_account_settings().await?;
        if settings.is_none() {
            warn!("the Zendesk account settings could not be read; nothing is held back");
            settings_unreadable = true;
        }
        settings
    };
    let actual = zendesk.read().await?;
    info!(
        organizations = actual.orgs.len(),
        users = actual.users.len(),
        memberships = actual.memberships.len(),
        ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "read Zendesk"
    );

    let mut plan_out = None;
    let mut held_back = Vec::new();
    let mut apply = ApplyOutcome::default();
    let mut guard_figures = GuardFigures::default();
    let mut guard_tripped = false;
    let mut after = None;
    if mode != Mode::Verify {
        let planning = Instant::now();
        let mut plan = plan::plan(desired, &actual, policy);
        let account = settings.unwrap_or_else(AccountSettings::permissive);
        held_back = plan::settings::hold_back(&mut plan, &actual, &account);
        if !held_back.is_empty() {
            warn!(
                held_back = held_back.len(),
                "changes the Zendesk account settings would refuse or drop are not sent"
            );
        }
        let mut limits = inputs.settings.guard.clone();
        limits.allow_mass_removal |= inputs.allow_mass_removal;
        match guard::check(&plan, desired, &actual, &limits) {
            Ok(figures) => guard_figures = figures,
            Err(tripped) if mode == Mode::Apply => return Err(tripped.into()),
            Err(tripped) => {
                warn!("{tripped}");
                guard_figures = tripped.figures;
                guard_tripped = true;
            }
        }
        info!(
            changes = plan.changes.len(),
            ms = u64::try_from(planning.elapsed().as_millis()).unwrap_or(u64::MAX),
            "planned"
        );
        if mode == Mode::Apply && !plan.is_empty() {
            apply = zendesk.apply(&plan).await?;
            // Verify on a fresh read: what Zendesk holds now, not what we think we wrote.
            after = Some(zendesk.read().await?);
        }
        plan_out = Some(plan);
    }

    let verification = match mode {
        Mode::Plan => None,
        _ => Some(verify::verify(
            desired,
            after.as_ref().unwrap_or(&actual),
            policy,
        )),
    };
    let summary = summarise(SummaryParts {
        mode: run,
        reports: &reports,
        plan: plan_out.as_ref(),
        apply: &apply,
        verification: verification.as_ref(),
        guard: guard_figures,
        guard_tripped,
        actual_after: after.as_ref().unwrap_or(&actual),
        held_back: &held_back,
        settings_unreadable,
        requests: zendesk.stats(),
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    });
    Ok(Outcome {
        summary,
        reports,
        plan: plan_out,
        held_back,
        apply,
        verification,
    })
}

pub struct SummaryParts<'a> {
    pub mode: RunMode,
    pub reports: &'a Reports,
    pub plan: Option<&'a Plan>,
    pub apply: &'a ApplyOutcome,
    pub verification: Option<&'a Verification>,
    pub guard: GuardFigures,
    pub guard_tripped: bool,
    pub actual_after: &'a ActualState,
    pub held_back: &'a [HeldBack],
    /// The account settings were asked for and refused.
    pub settings_unreadable: bool,
    pub requests: RequestStats,
    pub elapsed_ms: u64,
}

/// Builds the public report: counts, reasons and verdicts only.
pub fn summarise(p: SummaryParts<'_>) -> RunSummary {
    let (row_problems, row_lines) = report::row_problem_counts(&p.reports.issues);
    let failures = report::failure_counts(p.apply);
    let criteria = p
        .verification
        .map(report::criterion_results)
        .unwrap_or_default();
    let dry_run = p.mode.dry();
    let notes = p.plan.map(Plan::note_counts).unwrap_or_default();
    let needs_attention = report::attention::needs_attention(&report::attention::AttentionInputs {
        held_back: p.held_back,
        failures: &failures,
        notes: &notes,
        settings_unreadable: p.settings_unreadable,
        dry_run,
    });
    let status = JobStatus::of(StatusFacts {
        mode: p.mode,
        failed_records: failures.iter().map(|f| f.count).sum(),
        held_back: p.held_back.len(),
        skipped_changes: p.apply.skipped.values().sum(),
        criteria_passed: criteria.iter().all(|c| c.passed),
    });
    let managed = managed_org_ids(&p.reports.desired, p.actual_after);
    let is_end_user = |user_id: &_| {
        p.actual_after
            .users
            .get(user_id)
            .is_some_and(|u| u.role == crate::model::ZendeskRole::EndUser)
    };
    let zendesk_users = p
        .actual_after
        .memberships
        .values()
        .filter(|m| managed.contains(&m.org_id) && is_end_user(&m.user_id))
        .map(|m| m.user_id)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let totals = Totals {
        pages_organizations: p.reports.desired.orgs.len(),
        pages_users: p.reports.desired.users.len(),
        pages_memberships: p.reports.stats.memberships,
        pages_managers: p.reports.stats.managers,
        zendesk_organizations: managed.len(),
        zendesk_memberships: p
            .actual_after
            .memberships
            .values()
            .filter(|m| {
                managed.contains(&m.org_id)
                    && p.actual_after
                        .users
                        .get(&m.user_id)
                        .is_some_and(|u| u.role == crate::model::ZendeskRole::EndUser)
            })
            .count(),
        zendesk_users,
    };
    RunSummary {
        mode: p.mode,
        status,
        stopped: None,
        month: None,
        source: p.reports.stats,
        row_problems,
        row_lines,
        planned: p.plan.map(Plan::counts).unwrap_or_default(),
        applied: p.apply.applied.clone(),
        skipped: p.apply.skipped.clone(),
        failures,
        notes,
        guard: p.guard,
        guard_tripped: p.guard_tripped,
        criteria,
        bulk_user_import_disabled: p.apply.bulk_user_import_disabled,
        needs_attention,
        requests: p.requests,
        elapsed_ms: p.elapsed_ms,
        totals,
        run_url: None,
    }
}

/// The exit status of `verify`, `sync` and `run` from a finished pipeline run.
pub fn exit_for(summary: &RunSummary) -> Exit {
    match summary.status {
        JobStatus::Succeeded => Exit::Satisfied,
        JobStatus::DryRun => {
            if summary.criteria.is_empty() || summary.all_criteria_passed() {
                Exit::Satisfied
            } else {
                Exit::Unsatisfied
            }
        }
        JobStatus::PartlyFailed => Exit::Unsatisfied,
        JobStatus::Failed => Exit::RemoteFailure,
    }
}

async fn pipeline_command(args: &CommonArgs, mode: RunMode) -> Result<Exit> {
    let inputs = Inputs::from_args(args)?;
    let reports = load_reports(&inputs).await?;
    let zendesk = inputs.zendesk_adapter()?;
    let outcome = execute(&inputs, reports, &zendesk, mode).await;
    // A tripped guard is an error like any other: `dispatch` prints it once, on stderr.
    let outcome = outcome?;
    let rendering = Instant::now();
    let text = report::terminal::render_text(&outcome.summary);
    print!("{text}");
    // With the `ms` of "read the Pages reports", "read Zendesk" and "planned": where a
    // run's time went, phase by phase.
    info!(
        ms = u64::try_from(rendering.elapsed().as_millis()).unwrap_or(u64::MAX),
        "rendered the summary"
    );
    if let Some(path) = &args.report_json {
        outcome.write_detail(path)?;
        eprintln!("per-record detail written to {}", path.display());
    }
    Ok(match mode {
        RunMode::Plan => Exit::Satisfied,
        _ => exit_for(&outcome.summary),
    })
}

pub async fn plan_command(args: &CommonArgs) -> Result<Exit> {
    pipeline_command(args, RunMode::Plan).await
}

pub async fn sync_command(args: &SyncArgs) -> Result<Exit> {
    pipeline_command(
        &args.common,
        RunMode::Sync {
            dry_run: args.dry_run,
        },
    )
    .await
}

pub async fn verify_command(args: &CommonArgs) -> Result<Exit> {
    pipeline_command(args, RunMode::Verify).await
}
