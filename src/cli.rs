//! The command line (clap derive): one variant per command, shared arguments flattened in.
//! Every option that the workflow sets has an environment variable; secret values are
//! never shown in `--help` (`hide_env_values`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use secrecy::SecretString;

const ZENDESK_ENV: &str = "Environment:
  ZENDESK_SUBDOMAIN            the `example` of example.zendesk.com
  ZENDESK_URL                  base URL override (sandbox, local stand-in); https except on loopback
  ZENDESK_EMAIL                email of the Zendesk admin whose API token is used
  ZENDESK_API_TOKEN            Zendesk API token (never printed)
  PAGES_REPORTS_AUTHORIZATION  optional Authorization header for URL reports (never printed)
  PAGES_DATABASE_CA_FILE       extra CA certificates (PEM) for the Pages database's TLS, e.g. AWS RDS's
  VCAP_SERVICES                without reports or a database URL: the one PostgreSQL (aws-rds) service bound
  PAGES_ZENDESK_SYNC_LOG       log filter on stderr: info (default), debug, trace";

const RUN_ENV: &str = "Environment (besides the Zendesk ones of `sync --help`):
  GITHUB_TOKEN                 token with issues: write on the repository (never printed)
  GITHUB_REPOSITORY            owner/name of the repository that holds the monthly issues
  GITHUB_API_URL               default https://api.github.com
  GITHUB_SERVER_URL, GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT   link to the workflow run in the comment
  GITHUB_STEP_SUMMARY, GITHUB_OUTPUT, GITHUB_ACTIONS     job summary, step outputs, annotations
  ZENDESK_SUBDOMAIN or ZENDESK_URL, ZENDESK_EMAIL, ZENDESK_API_TOKEN, PAGES_REPORTS_AUTHORIZATION,
  PAGES_DATABASE_CA_FILE, VCAP_SERVICES";

#[derive(Debug, Parser)]
#[command(
    name = "pages-zendesk-sync",
    version,
    about = "Keep a Zendesk account in step with cloud.gov Pages organizations, users, memberships and roles",
    long_about = "Keep a Zendesk account in step with cloud.gov Pages: its organizations, its partner \
users, their organization memberships and their roles (org manager or not).\n\n\
Start with `plan` (reads both sides, writes nothing), then `sync --dry-run`, then `sync`. \
The monthly GitHub Actions job runs `run`. `demo` runs the whole monthly job against local \
stand-ins without credentials or network.\n\n\
Exit status: 0 all criteria satisfied; 1 the run finished but a criterion is unsatisfied or \
records failed; 2 bad input or configuration, nothing written (also a tripped safety guard); \
3 a remote API failed and the run stopped (the next run converges)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The monthly job: open this month's issue, sync, verify, comment, tick, close.
    #[command(after_help = RUN_ENV)]
    Run(RunArgs),
    /// Read the reports and Zendesk, print the changes a sync would make; write nothing.
    #[command(after_help = ZENDESK_ENV)]
    Plan(CommonArgs),
    /// Plan, apply the changes to Zendesk and verify; no GitHub.
    #[command(after_help = ZENDESK_ENV)]
    Sync(SyncArgs),
    /// Check every acceptance criterion against Zendesk; write nothing.
    #[command(after_help = ZENDESK_ENV)]
    Verify(CommonArgs),
    /// Write Zendesk data-importer CSV files from the reports (offline fallback).
    Export(ExportArgs),
    /// Run the whole monthly job against local Zendesk and GitHub stand-ins.
    // Only in builds with the default `demo` feature; without it, hidden and refused.
    #[cfg_attr(not(feature = "demo"), command(hide = true))]
    Demo(DemoArgs),
    /// Read-only preflight: the Pages reports, the Zendesk account and settings, GitHub.
    /// Writes nothing. Exit 0 all pass, 1 warnings only, 2 a run would fail.
    #[command(after_help = DOCTOR_ENV)]
    Doctor(DoctorArgs),
}

const DOCTOR_ENV: &str = "Environment: the Zendesk ones of `sync --help`; GitHub is checked when
  GITHUB_TOKEN and GITHUB_REPOSITORY are set (GITHUB_API_URL as for `run`).";

#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// The issue template to check (default: the config file's github.template).
    #[arg(long, value_name = "PATH")]
    pub template: Option<PathBuf>,

    /// Print the checks as JSON instead of one line each.
    #[arg(long)]
    pub json: bool,
}

/// Where the Pages reports and the configuration come from.
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// The Pages organizations report (organizations.csv): a file path or an https:// URL.
    #[arg(
        long,
        env = "PAGES_ORGANIZATIONS_REPORT",
        hide_env_values = true,
        value_name = "PATH|URL"
    )]
    pub organizations: Option<String>,

    /// The Pages users report (users.csv): a file path or an https:// URL.
    #[arg(
        long,
        env = "PAGES_USERS_REPORT",
        hide_env_values = true,
        value_name = "PATH|URL"
    )]
    pub users: Option<String>,

    /// The Pages PostgreSQL database instead of the two reports: a postgres:// URL, read
    /// in one read-only transaction; TLS required unless the host is this machine. A
    /// secret: never printed (prefer the environment variable to the command line).
    #[arg(
        long,
        env = "PAGES_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL",
        value_parser = secret,
        conflicts_with_all = ["organizations", "users"]
    )]
    pub pages_database: Option<SecretString>,

    /// YAML configuration file (see README "Configuration"); defaults apply without one.
    #[arg(long, env = "PAGES_ZENDESK_SYNC_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Options shared by the commands that read the Pages reports and Zendesk.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Write the full machine-readable result, per record, to this JSON file.
    /// It contains emails and names: keep it out of public places.
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,

    /// Apply a plan even when its membership removals exceed the safety guard's limits.
    #[arg(long)]
    pub allow_mass_removal: bool,
}

#[derive(Debug, Clone, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Plan and report, but write nothing to Zendesk.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// The month of the issue, YYYY-MM (default: the current month in UTC).
    #[arg(long, env = "PAGES_ZENDESK_SYNC_MONTH", value_name = "YYYY-MM")]
    pub month: Option<String>,

    /// Plan and comment, but write nothing to Zendesk, tick nothing and never close.
    /// From the environment: false, no, off, 0 or empty mean no; anything else yes.
    #[arg(long, env = "PAGES_ZENDESK_SYNC_DRY_RUN", value_parser = clap::builder::FalseyValueParser::new())]
    pub dry_run: bool,

    /// The issue template (default: .github/ISSUE_TEMPLATE/pages-zendesk-sync.md or the
    /// config file's github.template).
    #[arg(long, value_name = "PATH")]
    pub template: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Directory to write the importer CSV files into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Which Zendesk importer the files are for: `data-importer` (Zendesk's recommended
    /// data importer) or `bulk-actions` (the legacy Bulk actions import pages).
    #[arg(long, value_enum, default_value_t = crate::export::ImporterFormat::DataImporter)]
    pub format: crate::export::ImporterFormat,

    /// Write the row problems, per row, to this JSON file.
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,
}

/// Reads a secret argument straight into a `SecretString`, so no `Debug` can show it.
fn secret(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(value.to_string()))
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Directory with organizations.csv and users.csv (default: the shipped examples).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,

    /// The month of the demo's issue, YYYY-MM (default: the current month in UTC).
    /// Deliberately not read from the environment: the demo ignores the job's variables.
    #[arg(long, value_name = "YYYY-MM")]
    pub month: Option<String>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }

    /// `run` parsed as if PAGES_ZENDESK_SYNC_DRY_RUN held `value` (None: unset), without
    /// touching the process environment: the argument's own lookup is turned off and the
    /// value stands in as its default, which clap reads through the same value parser.
    fn dry_run_with(value: Option<&'static str>) -> bool {
        use clap::FromArgMatches;
        let cli = super::Cli::command().mut_subcommand("run", |run| {
            run.mut_arg("dry_run", |arg| {
                assert_eq!(
                    arg.get_env(),
                    Some(std::ffi::OsStr::new("PAGES_ZENDESK_SYNC_DRY_RUN"))
                );
                let arg = arg.env(None);
                match value {
                    Some(v) => arg.default_value(v),
                    None => arg,
                }
            })
        });
        let matches = cli
            .try_get_matches_from(["pages-zendesk-sync", "run"])
            .unwrap();
        match super::Cli::from_arg_matches(&matches).unwrap().command {
            super::Command::Run(args) => args.dry_run,
            other => panic!("parsed as {other:?}"),
        }
    }

    /// The action passes its `dry-run` input ("true"/"false") through this variable;
    /// tests/it/end_to_end.rs runs the binary with the variable set.
    #[test]
    fn dry_run_reads_the_workflow_input_from_the_environment() {
        assert!(dry_run_with(Some("true")));
        assert!(!dry_run_with(Some("false")));
        assert!(!dry_run_with(Some("")));
        assert!(!dry_run_with(None));
    }
}
