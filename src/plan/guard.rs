//! The safety guard: runs on a plan before any write and refuses plans whose removals
//! exceed the configured limits (DESIGN.md "Never lose data"). An empty or truncated
//! users report must never empty Zendesk.

use serde::Serialize;

use crate::config::GuardLimits;
use crate::model::{ActualState, DesiredState};
use crate::plan::Plan;

/// The figures the guard looked at; part of every report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct GuardFigures {
    /// End-user memberships in Pages-managed organizations, before the sync.
    pub managed_memberships: usize,
    pub removals: usize,
    /// Partner users in the users report.
    pub report_users: usize,
    /// End-users with a membership in a Pages-managed organization, before the sync.
    pub zendesk_partner_users: usize,
}

/// The guard refused the plan. Nothing has been written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct GuardTripped {
    pub figures: GuardFigures,
    pub message: String,
}

pub fn check(
    plan: &Plan,
    desired: &DesiredState,
    actual: &ActualState,
    limits: &GuardLimits,
) -> Result<GuardFigures, GuardTripped> {
    let _ = (plan, desired, actual, limits);
    unimplemented!("guard: being written")
}
