//! pages-zendesk-sync: keeps a Zendesk account in step with cloud.gov Pages.
//! See docs/design.md for the data flow: source → plan → apply → verify → report.

pub mod account;
pub mod cli;
// The commands are the one place in the library that prints (Cargo.toml [lints]).
#[allow(clippy::print_stdout, clippy::print_stderr)]
pub mod commands;
pub mod config;
pub mod doctor;
pub mod export;
pub mod github;
mod http;
mod id_table;
pub mod loopback;
pub mod model;
pub mod month;
pub mod outcome;
pub mod plan;
mod prefetch;
pub mod report;
mod sorted_map;
pub mod source;
mod threads;
pub mod verify;
pub mod zendesk;
