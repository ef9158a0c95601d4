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

pub use client::{
    ClientOptions, CommentRef, GithubClient, GithubError, IssueRef, CARRY_MARKER_PREFIX,
    MAX_BODY_CHARS, RUN_MARKER_PREFIX,
};
pub use template::{IssueTemplate, Month, RenderedIssue, MONTH_MARKER_PREFIX};
