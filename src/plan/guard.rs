//! The safety guard: runs on a plan before any write and refuses plans whose removals
//! exceed the configured limits (DESIGN.md "Never lose data"). An empty or truncated
//! users report must never empty Zendesk.

use std::collections::HashSet;

use serde::Serialize;

use crate::config::GuardLimits;
use crate::model::{ActualState, DesiredState, ZendeskRole};
use crate::plan::{managed_org_ids, ChangeKind, Plan};

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

/// Counts what the plan would remove against what Zendesk holds and refuses the plan when
/// the removals look like a broken report rather than real departures.
///
/// Unless `limits.allow_mass_removal`, trips when
/// - removals are more than `max_membership_removal_percent` of the end-user memberships
///   in Pages-managed organizations (strictly more; a plan with no removal never trips), or
/// - the plan removes anything and the users report holds fewer partner users than
///   `min_users_report_percent` of the partner users Zendesk holds, or
/// - the plan removes anything and the users report is empty.
pub fn check(
    plan: &Plan,
    desired: &DesiredState,
    actual: &ActualState,
    limits: &GuardLimits,
) -> Result<GuardFigures, GuardTripped> {
    let figures = figures(plan, desired, actual);
    if limits.allow_mass_removal || figures.removals == 0 {
        return Ok(figures);
    }
    let mut reasons = Vec::new();
    let removal_pct = percent(figures.removals, figures.managed_memberships);
    // why: "refuse a plan whose removals exceed the configured limits".
    if figures.removals as f64 * 100.0
        > limits.max_membership_removal_percent * figures.managed_memberships as f64
    {
        reasons.push(format!(
            "it would remove {} of the {} end-user memberships in Pages organizations \
             ({removal_pct:.1}%, limit {}%, guard.max_membership_removal_percent)",
            figures.removals, figures.managed_memberships, limits.max_membership_removal_percent,
        ));
    }
    // why: "a users report much smaller than what Zendesk holds ... must never empty Zendesk".
    let report_pct = percent(figures.report_users, figures.zendesk_partner_users);
    if figures.report_users == 0
        || (figures.report_users as f64 * 100.0)
            < limits.min_users_report_percent * figures.zendesk_partner_users as f64
    {
        reasons.push(format!(
            "the users report lists {} partner users, {report_pct:.1}% of the {} partner users \
             Zendesk holds (minimum {}%, guard.min_users_report_percent), and the plan removes \
             {} memberships ({removal_pct:.1}%)",
            figures.report_users,
            figures.zendesk_partner_users,
            limits.min_users_report_percent,
            figures.removals,
        ));
    }
    if reasons.is_empty() {
        return Ok(figures);
    }
    let message = format!(
        "safety guard: refused the plan, nothing was written: {}. If these removals are \
         intended, read the plan first (`pages-zendesk-sync plan --report-json plan.json`), \
         then run again with --allow-mass-removal, or change guard.max_membership_removal_percent \
         / guard.min_users_report_percent in the config file.",
        reasons.join("; and "),
    );
    Err(GuardTripped { figures, message })
}

/// The figures of the guard, whether it trips or not.
pub fn figures(plan: &Plan, desired: &DesiredState, actual: &ActualState) -> GuardFigures {
    let managed = managed_org_ids(desired, actual);
    let mut managed_memberships = 0;
    let mut partner_users = HashSet::new();
    for m in actual.memberships.values() {
        let end_user = actual
            .users
            .get(&m.user_id)
            .is_some_and(|u| u.role == ZendeskRole::EndUser);
        if end_user && managed.contains(&m.org_id) {
            managed_memberships += 1;
            partner_users.insert(m.user_id);
        }
    }
    GuardFigures {
        managed_memberships,
        removals: plan
            .changes
            .iter()
            .filter(|c| c.kind() == ChangeKind::RemoveMembership)
            .count(),
        report_users: desired.users.len(),
        zendesk_partner_users: partner_users.len(),
    }
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        if part == 0 {
            0.0
        } else {
            100.0
        }
    } else {
        part as f64 * 100.0 / whole as f64
    }
}
