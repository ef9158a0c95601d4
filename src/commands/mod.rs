//! One module per command: the only place that wires adapters to the pure core.
//! Plan-only and dry-run are decided here, once, not by `if dry_run` in every write.

#[cfg(feature = "demo")]
pub mod demo;
pub mod doctor;
pub mod export;
pub mod flow;
pub mod run;

use std::io::IsTerminal;

use crate::cli::Command;
use crate::config::ConfigError;
use crate::plan::guard::GuardTripped;
use crate::source::database::{DatabaseError, DatabaseFailure};
use crate::source::SourceError;
use crate::zendesk::ZendeskError;

/// Exit status (docs/design.md "Exit status").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// All criteria satisfied (or, for `plan`/`export`, the command did its job).
    Satisfied = 0,
    /// The run finished but a criterion is unsatisfied or records failed.
    Unsatisfied = 1,
    /// Bad input or configuration, or a tripped safety guard: nothing written.
    BadInput = 2,
    /// A remote API failed and the run stopped; the next run converges.
    RemoteFailure = 3,
}

/// Bad configuration or environment, found before any network call.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Maps an error to its exit status by what it carries: input and configuration problems
/// (nothing was written) are 2; everything else stopped a run against a remote API, 3.
pub fn classify(err: &anyhow::Error) -> Exit {
    for cause in err.chain() {
        if cause.is::<SourceError>()
            || cause.is::<GuardTripped>()
            || cause.is::<UsageError>()
            || cause.is::<ConfigError>()
        {
            return Exit::BadInput;
        }
        if let Some(db) = cause.downcast_ref::<DatabaseError>() {
            return match db.failure {
                DatabaseFailure::Refused => Exit::BadInput,
                DatabaseFailure::Unavailable => Exit::RemoteFailure,
            };
        }
        if let Some(z) = cause.downcast_ref::<ZendeskError>() {
            return match z {
                ZendeskError::Unauthorized | ZendeskError::Forbidden { .. } => Exit::BadInput,
                _ => Exit::RemoteFailure,
            };
        }
    }
    Exit::RemoteFailure
}

/// Logging to stderr, one line per event; `PAGES_ZENDESK_SYNC_LOG` (or `RUST_LOG`) sets the
/// filter, else `default` (`info`; `demo` uses `warn` so its stdout reads cleanly next to
/// the log). No colour unless stderr is a terminal outside CI.
pub fn init_logging_with_default(default: &str) {
    let filter = std::env::var("PAGES_ZENDESK_SYNC_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| default.into());
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .try_init();
}

pub async fn dispatch(command: Command) -> Exit {
    let result = match command {
        Command::Run(args) => run::run(&args).await,
        Command::Plan(args) => flow::plan_command(&args).await,
        Command::Sync(args) => flow::sync_command(&args).await,
        Command::Verify(args) => flow::verify_command(&args).await,
        Command::Export(args) => export::export(&args).await.map(|summary| {
            print!("{summary}");
            Exit::Satisfied
        }),
        #[cfg(feature = "demo")]
        Command::Demo(args) => demo::demo(&args).await,
        #[cfg(not(feature = "demo"))]
        Command::Demo(_) => Err(UsageError(
            "this build has no `demo`: it was built without the default `demo` feature \
             (the stand-ins it runs against); build with the default features to get it"
                .to_string(),
        )
        .into()),
        Command::Doctor(args) => doctor::doctor(&args).await,
    };
    match result {
        Ok(exit) => exit,
        Err(err) => {
            let exit = classify(&err);
            eprintln!("error: {err:#}");
            exit
        }
    }
}
