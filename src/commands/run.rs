//! `run`: the monthly job. Find or open this month's issue from the template, sync,
//! comment the results, tick the verified criteria, close when every checkbox is ticked
//! (never on a dry run), reopen a closed issue when a criterion fails again, and report to
//! GitHub Actions (job summary, outputs, annotations).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use secrecy::SecretString;
use tracing::{info, warn};

use crate::cli::RunArgs;
use crate::commands::flow::{self, env, Inputs, Mode};
use crate::commands::{classify, Exit, UsageError};
use crate::github::{GithubClient, IssueTemplate, Month};
use crate::plan::guard::GuardTripped;
use crate::report::{self, comment, Carry, RunSummary};
use crate::zendesk::Zendesk;

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
        print!("{}", report::text::render_text(summary));
    }
    println!("issue: {}", result.issue_url);
    Ok(result.exit)
}

/// The monthly job against the GitHub and Zendesk named in `config`.
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
        .context("finding or opening this month's issue")?;
    info!(issue = issue.number, created, "month issue");
    let previous: Option<Carry> = match gh.previous_carry(config.month, &label).await {
        Ok(body) => body.as_deref().and_then(comment::parse_carry),
        Err(err) => {
            warn!("could not read last month's results: {err:#}");
            None
        }
    };

    let mode = if config.dry_run {
        Mode::DryRun
    } else {
        Mode::Apply
    };
    let outcome = async {
        let reports = flow::load_reports(&config.inputs).await?;
        let zendesk = Zendesk::new(config.inputs.zendesk.clone())?;
        flow::execute(&config.inputs, reports, &zendesk, mode, "run").await
    }
    .await;

    let outcome = match outcome {
        Ok(o) => o,
        Err(err) => {
            // The run stopped: say so on the issue (a reason category, never the raw error,
            // which may quote a report cell), keep the issue open, and fail the job.
            let body = stopped_comment(config, &err);
            if let Err(post_err) = gh
                .post_comment(issue.number, &body, &config.github.run_marker)
                .await
            {
                warn!("could not comment on issue #{}: {post_err:#}", issue.number);
            }
            if config.github.annotations {
                println!(
                    "::error title=pages-zendesk-sync stopped::{}",
                    report::actions::escape_data(&stopped_reason(&err))
                );
            }
            return Err(err);
        }
    };

    let mut summary = outcome.summary.clone();
    summary.month = Some(config.month.to_string());
    summary.run_url = config.github.run_url.clone();

    let body = comment::render_comment(&summary, previous.as_ref(), &config.github.run_marker);
    gh.post_comment(issue.number, &body, &config.github.run_marker)
        .await
        .context("posting the results comment")?;

    let mut closed = !issue.open;
    if !config.dry_run {
        let verdicts: Vec<_> = summary
            .criteria
            .iter()
            .map(|c| (c.criterion, c.passed))
            .collect();
        let ticked = gh
            .tick_checklist(issue.number, &verdicts)
            .await
            .context("ticking the acceptance criteria")?;
        if ticked.all_checked && !closed {
            gh.close_completed(issue.number).await?;
            closed = true;
            info!(
                issue = issue.number,
                "every criterion satisfied: closed the issue"
            );
        } else if !ticked.all_checked && closed {
            gh.reopen(issue.number).await?;
            closed = false;
            warn!(
                issue = issue.number,
                "a criterion is unsatisfied: reopened the issue"
            );
        }
    }

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

fn write_actions_files(
    config: &RunConfig,
    summary: &RunSummary,
    previous: Option<&Carry>,
    number: u64,
    url: &str,
) -> Result<()> {
    if let Some(path) = &config.github.step_summary {
        append(
            path,
            &report::summary::render_job_summary(summary, previous, Some((number, url))),
        )?;
    }
    if let Some(path) = &config.github.output {
        append(
            path,
            &report::actions::github_outputs(summary, Some((number, url))),
        )?;
    }
    if config.github.annotations {
        for line in report::actions::annotations(summary) {
            println!("{line}");
        }
    }
    Ok(())
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

/// A public, data-free reason for a stopped run.
fn stopped_reason(err: &anyhow::Error) -> String {
    if let Some(t) = err.chain().find_map(|c| c.downcast_ref::<GuardTripped>()) {
        let f = t.figures;
        return format!(
            "the safety guard refused the plan: it would remove {} of {} managed memberships, \
             with {} users in the report against {} partner users in Zendesk. Nothing was written. \
             Check the Pages reports; if the removals are right, re-run with --allow-mass-removal.",
            f.removals, f.managed_memberships, f.report_users, f.zendesk_partner_users
        );
    }
    match classify(err) {
        Exit::BadInput => "bad input or configuration (see the job log for the file, line and column); nothing was written".into(),
        _ => "a remote API failed and the run stopped (see the job log); the next run finishes the work".into(),
    }
}

fn stopped_comment(config: &RunConfig, err: &anyhow::Error) -> String {
    let mut body = format!(
        "## Pages/Zendesk sync {}: failed\n\nThe run stopped: {}\n",
        config.month,
        stopped_reason(err)
    );
    if let Some(url) = &config.github.run_url {
        body.push_str(&format!("\n[Workflow run]({url})\n"));
    }
    body.push('\n');
    body.push_str(&comment::run_marker_line(&config.github.run_marker));
    body.push('\n');
    body
}
