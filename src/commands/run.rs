//! `run`: the monthly job. Find or open this month's issue from the template, sync,
//! comment the results, tick the verified criteria, close when every checkbox is ticked
//! (never on a dry run), reopen a closed issue when a criterion fails again, and report to
//! GitHub Actions (job summary, outputs, annotations).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};
use secrecy::SecretString;
use tracing::{info, warn};

use crate::cli::RunArgs;
use crate::commands::flow::{self, env, Inputs};
use crate::commands::{classify, Exit, UsageError};
use crate::github::{GithubClient, GithubError, IssueRef, IssueTemplate, Month};
use crate::plan::guard::GuardTripped;
use crate::report::checklist::{self, Ticked};
use crate::report::{self, comment, plural, Carry, RunMode, RunSummary, Stopped};
use crate::source::SourceError;
use crate::verify::Criterion;

/// GitHub connection and run metadata, from the environment Actions sets.
#[derive(Debug, Clone)]
pub struct GithubEnv {
    pub api_url: String,
    pub token: SecretString,
    pub repository: String,
    /// `GITHUB_SERVER_URL` + `GITHUB_RUN_ID`, for the link to the workflow run.
    pub run_url: Option<String>,
    /// Identifies this run's comment, so a retried post never duplicates it.
    pub run_marker: String,
    /// `$GITHUB_STEP_SUMMARY`, `$GITHUB_OUTPUT`, and whether to print annotations.
    pub step_summary: Option<PathBuf>,
    pub output: Option<PathBuf>,
    pub annotations: bool,
}

impl GithubEnv {
    pub fn from_env() -> Result<Self> {
        let token = env("GITHUB_TOKEN").ok_or_else(|| {
            UsageError("GITHUB_TOKEN is not set: map secrets.GITHUB_TOKEN (or github.token) into the step's env".into())
        })?;
        let repository = env("GITHUB_REPOSITORY").ok_or_else(|| {
            UsageError(
                "GITHUB_REPOSITORY is not set (owner/name of the repository that holds the issues)"
                    .into(),
            )
        })?;
        let server = env("GITHUB_SERVER_URL");
        let run_id = env("GITHUB_RUN_ID");
        let run_url = match (&server, &run_id) {
            (Some(s), Some(id)) => Some(format!(
                "{}/{}/actions/runs/{}",
                s.trim_end_matches('/'),
                repository,
                id
            )),
            _ => None,
        };
        let run_marker = match &run_id {
            Some(id) => format!(
                "{id}-{}",
                env("GITHUB_RUN_ATTEMPT").unwrap_or_else(|| "1".into())
            ),
            None => format!(
                "local-{}-{:08x}",
                chrono::Utc::now().format("%Y%m%dT%H%M%S"),
                fastrand::u32(..)
            ),
        };
        Ok(GithubEnv {
            api_url: env("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".into()),
            token: SecretString::from(token),
            repository,
            run_url,
            run_marker,
            step_summary: env("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            output: env("GITHUB_OUTPUT").map(PathBuf::from),
            annotations: env("GITHUB_ACTIONS").as_deref() == Some("true"),
        })
    }
}

/// Everything `run` needs, validated before any network call.
pub struct RunConfig {
    pub inputs: Inputs,
    pub github: GithubEnv,
    pub month: Month,
    pub dry_run: bool,
    pub template: PathBuf,
    pub report_json: Option<PathBuf>,
}

impl RunConfig {
    pub fn from_args(args: &RunArgs) -> Result<Self> {
        let inputs = Inputs::from_args(&args.common)?;
        let month = match &args.month {
            Some(m) => Month::parse(m).map_err(|e| UsageError(format!("--month: {e:#}")))?,
            None => Month::current_utc(),
        };
        let template = args
            .template
            .clone()
            .unwrap_or_else(|| inputs.settings.github.template.clone());
        Ok(RunConfig {
            inputs,
            github: GithubEnv::from_env()?,
            month,
            dry_run: args.dry_run,
            template,
            report_json: args.common.report_json.clone(),
        })
    }
}

/// What a finished `run` did, for callers (the command, `demo`, tests).
#[derive(Debug)]
pub struct RunResult {
    pub exit: Exit,
    pub issue_number: u64,
    pub issue_url: String,
    pub issue_created: bool,
    pub closed: bool,
    pub comment: String,
    pub summary: Option<RunSummary>,
}

pub async fn run(args: &RunArgs) -> Result<Exit> {
    let config = RunConfig::from_args(args)?;
    let result = execute_run(&config).await?;
    if let Some(summary) = &result.summary {
        print!("{}", report::terminal::render_text(summary));
    }
    println!("issue: {}", result.issue_url);
    Ok(result.exit)
}

/// The monthly job against the GitHub and Zendesk named in `config`.
/// How many months back a run looks for the last results carrying totals and history.
const HISTORY_LOOKBACK_MONTHS: usize = 3;

pub async fn execute_run(config: &RunConfig) -> Result<RunResult> {
    let label = config.inputs.settings.github.label.clone();
    let template =
        IssueTemplate::load(&config.template).map_err(|e| UsageError(format!("{e:#}")))?;
    let rendered = template.render(config.month);
    let gh = GithubClient::new(
        &config.github.api_url,
        config.github.token.clone(),
        &config.github.repository,
    )?;

    let (issue, created) = gh
        .find_or_open_month_issue(&rendered, config.month, &label)
        .await
        .map_err(github_config_error)
        .context("finding or opening this month's issue")?;
    info!(issue = issue.number, created, "month issue");
    // Last month's results carry the totals and the history. When a month had no run
    // (or its results cannot be read), look a little further back so the chart's
    // history is not lost with it.
    let mut previous: Option<Carry> = None;
    let mut after = config.month;
    for _ in 0..HISTORY_LOOKBACK_MONTHS {
        let title = template.render(after.previous()).title;
        match gh.previous_carry_titled(after, &label, Some(&title)).await {
            Ok(body) => previous = body.as_deref().and_then(comment::parse_carry),
            Err(err) => {
                warn!(
                    "could not read the results of {}: {err:#}",
                    after.previous()
                );
                break;
            }
        }
        if previous.is_some() {
            break;
        }
        after = after.previous();
    }

    let mode = RunMode::Run {
        dry_run: config.dry_run,
    };
    let outcome = async {
        let reports = flow::load_reports(&config.inputs).await?;
        let zendesk = config.inputs.zendesk_adapter()?;
        flow::execute(&config.inputs, reports, &zendesk, mode).await
    }
    .await;

    let outcome = match outcome {
        Ok(o) => o,
        Err(err) => {
            report_stopped(config, &gh, issue.number, &issue.html_url, &err).await;
            return Err(err);
        }
    };

    let mut summary = outcome.summary.clone();
    summary.month = Some(config.month.to_string());
    summary.run_url = config.github.run_url.clone();

    let body = comment::render_comment(&summary, previous.as_ref(), &config.github.run_marker);
    // Zendesk has been written by now: whatever GitHub answers, the job summary, the
    // outputs and the detail file still say what happened before the error is returned.
    let on_github = update_issue(config, &gh, &issue, &summary, &body).await;
    write_actions_files(
        config,
        &summary,
        previous.as_ref(),
        issue.number,
        &issue.html_url,
    )?;
    if let Some(path) = &config.report_json {
        outcome.write_detail(path)?;
    }
    let closed = on_github?;
    Ok(RunResult {
        exit: flow::exit_for(&summary),
        issue_number: issue.number,
        issue_url: issue.html_url,
        issue_created: created,
        closed,
        comment: body,
        summary: Some(summary),
    })
}

/// A token GitHub refuses, or one without `issues: write`, is configuration (exit 2) when
/// it shows before anything was written; later it is a failure like any other.
fn github_config_error(err: anyhow::Error) -> anyhow::Error {
    let config = err.chain().any(|c| {
        matches!(
            c.downcast_ref::<GithubError>(),
            Some(GithubError::BadToken { .. } | GithubError::MissingPermission)
        )
    });
    if config {
        anyhow::Error::new(UsageError(format!("{err:#}")))
    } else {
        err
    }
}

/// Comments the results, ticks the verified criteria, then closes or reopens the issue.
/// A dry run only comments. Returns whether the issue is closed afterwards.
async fn update_issue(
    config: &RunConfig,
    gh: &GithubClient,
    issue: &IssueRef,
    summary: &RunSummary,
    body: &str,
) -> Result<bool> {
    gh.post_comment(issue.number, body, &config.github.run_marker)
        .await
        .context("posting the results comment")?;
    let mut closed = !issue.open;
    if config.dry_run {
        return Ok(closed);
    }
    let verdicts: Vec<_> = summary
        .criteria
        .iter()
        .map(|c| (c.criterion, c.passed))
        .collect();
    let ticked = tick_criteria(gh, issue.number, &verdicts)
        .await
        .context("ticking the acceptance criteria")?;
    // A criterion whose box a person deleted still counts: closing while it fails would
    // say "done" about something the run just found wrong.
    let failed_without_box = ticked
        .missing
        .iter()
        .any(|m| verdicts.iter().any(|(c, passed)| c == m && !passed));
    if failed_without_box {
        warn!(
            issue = issue.number,
            "a failing criterion has no box in the issue body; the issue stays open"
        );
    }
    let satisfied = ticked.all_checked && !failed_without_box;
    if satisfied && !closed {
        gh.close_completed(issue.number)
            .await
            .context("closing the issue")?;
        closed = true;
        info!(
            issue = issue.number,
            "every criterion satisfied: closed the issue"
        );
    } else if !satisfied && closed {
        gh.reopen(issue.number)
            .await
            .context("reopening the issue")?;
        closed = false;
        warn!(
            issue = issue.number,
            "a criterion is unsatisfied: reopened the issue"
        );
    }
    if ticked.unrecognised_unchecked > 0 {
        info!(
            issue = issue.number,
            boxes = ticked.unrecognised_unchecked,
            "unticked boxes the job does not recognise keep the issue open until a person ticks them"
        );
    }
    Ok(closed)
}

/// Ticks the acceptance-criteria checklist on the freshest issue body and writes it only if
/// a box changed (the GitHub adapter's [`GithubClient::edit_body`] does the read, the
/// write and the read-back; the rule of which box to tick is the report's). The returned
/// [`Ticked`] describes the body as written.
pub async fn tick_criteria(
    gh: &GithubClient,
    number: u64,
    verdicts: &[(Criterion, bool)],
) -> Result<Ticked> {
    let mut last: Option<Ticked> = None;
    let wrote = gh
        .edit_body(number, |body| {
            let ticked = checklist::tick(body, verdicts);
            let new_body = ticked.changed.then(|| ticked.body.clone());
            last = Some(ticked);
            new_body
        })
        .await?;
    let mut ticked =
        last.ok_or_else(|| anyhow!("ticking issue #{number}: the body was never read"))?;
    // After a lost answer the re-read body is already ticked; report what we wrote.
    ticked.changed = wrote;
    Ok(ticked)
}

/// The run stopped before a result: say so on the issue (a reason category and counts,
/// never the raw error, which may quote a report cell), in the job summary, the outputs
/// and an annotation, all rendered from one stopped [`RunSummary`]. Failures here are
/// logged, not returned: the caller returns the error that stopped the run.
async fn report_stopped(
    config: &RunConfig,
    gh: &GithubClient,
    number: u64,
    url: &str,
    err: &anyhow::Error,
) {
    let guard_tripped = err
        .chain()
        .any(|c| c.downcast_ref::<GuardTripped>().is_some());
    let mut summary = RunSummary::stopped(
        RunMode::Run {
            dry_run: config.dry_run,
        },
        Some(config.month.to_string()),
        stopped_reason(err),
        guard_tripped,
    );
    summary.run_url = config.github.run_url.clone();
    let body = comment::render_comment(&summary, None, &config.github.run_marker);
    if let Err(post_err) = gh
        .post_comment(number, &body, &config.github.run_marker)
        .await
    {
        warn!("could not comment on issue #{number}: {post_err:#}");
    }
    if let Err(e) = write_actions_files(config, &summary, None, number, url) {
        warn!("could not write the job summary or the step outputs: {e:#}");
    }
}

/// The job summary, the step outputs and the annotations of a run (finished or stopped).
/// Each is written even when another could not be; the first error is returned.
fn write_actions_files(
    config: &RunConfig,
    summary: &RunSummary,
    previous: Option<&Carry>,
    number: u64,
    url: &str,
) -> Result<()> {
    let mut result = Ok(());
    if let Some(path) = &config.github.step_summary {
        let text = report::job_summary::render_job_summary(summary, previous, Some((number, url)));
        result = result.and(append(path, &text));
    }
    if let Some(path) = &config.github.output {
        let text = report::actions::github_outputs(summary, Some((number, url)));
        result = result.and(append(path, &text));
    }
    if config.github.annotations {
        for line in report::actions::annotations(summary) {
            println!("{line}");
        }
    }
    result
}

fn append(path: &std::path::Path, text: &str) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// A public, data-free reason for a stopped run: counts for a tripped guard; file name,
/// line and column for a bad report (never the problem text, which may quote a cell).
fn stopped_reason(err: &anyhow::Error) -> Stopped {
    let before_writing = |reason: String| Stopped {
        reason,
        before_writing: true,
        next: None,
    };
    if let Some(t) = err.chain().find_map(|c| c.downcast_ref::<GuardTripped>()) {
        let f = t.figures;
        return Stopped {
            reason: format!(
                "the safety guard refused the plan: it would remove {} of {} managed memberships, \
                 with {} in the report against {} in Zendesk",
                f.removals,
                f.managed_memberships,
                plural(f.report_users, "partner user", "partner users"),
                plural(f.zendesk_partner_users, "partner user", "partner users"),
            ),
            before_writing: true,
            next: Some(
                "Check the Pages reports; if the removals are right, re-run with \
                 --allow-mass-removal."
                    .into(),
            ),
        };
    }
    if let Some(s) = err.chain().find_map(|c| c.downcast_ref::<SourceError>()) {
        let mut place = file_name(&s.file);
        if let Some(line) = s.line {
            place.push_str(&format!(" line {line}"));
        }
        if let Some(column) = &s.column {
            place.push_str(&format!(" column `{}`", public_word(column)));
        }
        return before_writing(format!(
            "a Pages report could not be used ({place}; the job log says why)"
        ));
    }
    if let Some(db) = err
        .chain()
        .find_map(|c| c.downcast_ref::<crate::source::database::DatabaseError>())
    {
        return match db.failure {
            crate::source::database::DatabaseFailure::Refused => {
                before_writing("the Pages database could not be used (the job log says why)".into())
            }
            crate::source::database::DatabaseFailure::Unavailable => Stopped {
                next: Some("The next run finishes the work.".into()),
                ..before_writing(
                    "the Pages database could not be read to the end (the job log says why)".into(),
                )
            },
        };
    }
    match classify(err) {
        Exit::BadInput => before_writing("bad input or configuration (see the job log)".into()),
        _ => Stopped {
            reason: "a remote API failed and the run stopped (see the job log)".into(),
            before_writing: false,
            next: Some("The next run finishes the work.".into()),
        },
    }
}

/// The last segment of a report path or URL: enough to say which report, without the
/// directory or host of a URL that someone may consider private.
fn file_name(file: &str) -> String {
    let name = file
        .rsplit(['/', '\\'])
        .find(|s| !s.is_empty())
        .unwrap_or("the report");
    public_word(name)
}

/// Keeps characters that cannot form markdown, HTML or an email address.
fn public_word(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ' '))
        .take(80)
        .collect()
}
