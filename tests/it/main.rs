//! The one integration-test binary. Each module tests one part against real files or local
//! stand-in servers on 127.0.0.1; no test reaches the internet. Module map:
//!
//! - `api_description`: Zendesk's published API description; every request the stand-ins of
//!   `sync`, `end_to_end`, `sync_requests` and (answered 2xx) `zendesk_standin` received is
//!   checked against it when the test's stand-in is dropped.
//! - `cli`: help text and exit status 2 for mistakes caught before any network call.
//! - `source`: reading the Pages reports from files and from a local HTTP server
//!   (Authorization header, error statuses, the streaming size cap), then parsing them.
//! - `plan_props`: property tests of the pure core (plan, simulate, verify, guard).
//! - `zendesk_standin`: the Zendesk stand-in: limits, errors, jobs, recorded shapes.
//! - `github`: the GitHub adapter (real client) against the GitHub stand-in.
//! - `demo`: the real binary's `demo` (both stand-ins in-process, two runs), judged by what
//!   it printed. Built without the default `demo` feature, `no_demo` checks instead that
//!   the subcommand is hidden and refused with a way to get it.
//! - `end_to_end`: the real binary's monthly `run` against both stand-ins: one issue per
//!   month, comments, ticking, close/reopen, Actions files, no personal data on GitHub.
//! - `sync`: `plan`, `sync` and `verify` end to end: the real binary against the Zendesk
//!   stand-in (first sync, no-op, drift, guard, failures, rate limits, restarts).
//! - `doctor`: the real binary's read-only preflight against both stand-ins, in each
//!   configuration of issue 10; asserts its lines, exit status and that nothing was written.
//! - `account_settings`: `sync` and `run` against an account with a setting off (held-back
//!   writes, named in the output), then on (the next run finishes the work).
//! - `database`: the Pages database source against a real PostgreSQL server (started by
//!   `scripts/test-postgres.sh`; skipped with a message without one, a failure in CI):
//!   equivalence with the reports, schema check, doctor checks, and the real binary's
//!   `sync`, `run`, `plan`, `verify` and `export` from the database.
//! - `sync_requests`: request efficiency of a first sync of 5,000 users in 500 orgs
//!   against the minimum the API allows (figures in BENCHMARKS.md).
//! - `support`: helpers the modules share (the binary, report CSVs, one run's result, the
//!   Zendesk stand-in case, request tallies, checklist boxes).
//! - `faults`: fault matrix (issue 14): the real binary's `sync` against the Zendesk
//!   stand-in with seeded 429 bursts, 500/503 before and after a write, slow answers,
//!   failed jobs and job items, bulk import off, and the process killed after the n-th
//!   write; at most two runs reach the clean run's state without duplicates.

#![allow(clippy::print_stdout, clippy::print_stderr)] // tests print what they measure or saw

mod account_settings;
mod api_description;
mod cli;
mod database;
#[cfg(feature = "demo")]
mod demo;
mod doc_refs;
mod doctor;
mod end_to_end;
mod faults;
mod github;
#[cfg(not(feature = "demo"))]
mod no_demo;
mod plan_props;
mod source;
mod support;
mod sync;
mod sync_requests;
mod zendesk_standin;
