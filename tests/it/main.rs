//! The one integration-test binary. Module map:
//!
//! Each module tests one part against real files or local stand-in servers on 127.0.0.1;
//! no test reaches the internet.
//!
//! - plan_props: property tests of the pure core (plan, simulate, verify, guard).

mod plan_props;
