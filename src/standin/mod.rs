//! Local stand-ins of the Zendesk and GitHub APIs: stateful HTTP servers on 127.0.0.1 that
//! behave like the documented APIs (limits, pagination, async jobs, errors, rate limits).
//! They power the integration tests and the `demo` command. When the real API would
//! reject a request, the stand-in rejects it too.

pub mod github;
pub mod zendesk;
