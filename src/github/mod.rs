//! The GitHub adapter (octocrab): find or open this month's issue from the template,
//! comment the results, edit the checklist, close or reopen. Nothing outside this module
//! sees a GitHub URL, token or octocrab type.
//!
//! It never prints the token, never uses the search API to decide whether an issue exists
//! (its index lags writes), and never re-sends a create that may have reached GitHub
//! without first reading back whether it did.

mod client;
pub mod probe;
pub mod template;

/// The month and its markers are [`crate::month`]'s; re-exported here for callers that
/// still name them through the adapter.
pub use crate::month::{Month, CARRY_MARKER_PREFIX, MONTH_MARKER_PREFIX, RUN_MARKER_PREFIX};
pub use client::{ClientOptions, CommentRef, GithubClient, GithubError, IssueRef, MAX_BODY_CHARS};
pub use template::{IssueTemplate, RenderedIssue};
