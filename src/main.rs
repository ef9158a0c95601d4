//! Entry point: parse the command line, start logging, run the command, map the result to
//! the exit codes of docs/design.md ("Exit status") in one place.

#![allow(clippy::print_stdout, clippy::print_stderr)] // the command line prints its results

use std::process::ExitCode;

use clap::Parser;

use pages_zendesk_sync::cli::{Cli, Command};
use pages_zendesk_sync::commands::{self, Exit};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo prints a story on stdout; its info lines would drown it.
    let default_log = match cli.command {
        Command::Demo(_) | Command::Doctor(_) => "warn",
        _ => "info",
    };
    commands::init_logging_with_default(default_log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: starting the async runtime: {err}");
            return ExitCode::from(Exit::RemoteFailure as u8);
        }
    };
    let exit = runtime.block_on(commands::dispatch(cli.command));
    ExitCode::from(exit as u8)
}
