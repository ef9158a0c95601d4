//! The one integration-test binary. Module map:
//!
//! Each module tests one part against real files or local stand-in servers on 127.0.0.1;
//! no test reaches the internet.

mod zendesk_standin; // the Zendesk stand-in: limits, errors, jobs, recorded shapes
mod github; // GitHub adapter (real client) against the GitHub stand-in
//!
//! - `source`: reading the Pages reports from files and from a local HTTP server
//!   (Authorization header, error statuses, the streaming size cap), then parsing them.

mod source;
