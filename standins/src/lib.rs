//! Local stand-ins of the Zendesk and GitHub APIs: stateful HTTP servers on 127.0.0.1 that
//! behave like the documented APIs (limits, pagination, async jobs, errors, rate limits).
//! They power the integration tests and the `demo` command. When the real API would
//! reject a request, the stand-in rejects it too.
//!
//! Test doubles, in their own crate so nothing but the API documentation shapes them:
//! this crate never depends on pages-zendesk-sync and models the APIs with its own types,
//! not the client's (docs/design.md, "Stand-ins").

pub mod github;
pub mod zendesk;
