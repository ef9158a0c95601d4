//! The safety guard: runs on a plan before any write and refuses plans whose removals
//! exceed the configured limits (docs/design.md "Never lose data"). An empty or truncated
//! users report must never empty Zendesk.

use rustc_hash::FxHashSet as HashSet;

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
    let managed: HashSet<u64> = managed_org_ids(desired, actual).into_iter().collect();
    // The members of managed organizations, sorted, walked beside the end-users in id
    // order (the snapshot keys its users by id): no set of a million users, no lookup per
    // membership. A user with several managed memberships is one partner user.
    let mut members: Vec<u64> = actual
        .memberships
        .values()
        .filter(|m| managed.contains(&m.org_id))
        .map(|m| m.user_id)
        .collect();
    members.sort_unstable();
    let mut end_users = actual
        .users
        .values()
        .filter(|u| u.role == ZendeskRole::EndUser)
        .map(|u| u.id)
        .peekable();
    let (mut managed_memberships, mut partner_users) = (0, 0);
    for user in members.chunk_by(|a, b| a == b) {
        let id = user[0];
        while end_users.next_if(|&e| e < id).is_some() {}
        if end_users.peek() == Some(&id) {
            managed_memberships += user.len();
            partner_users += 1;
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
        zendesk_partner_users: partner_users,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::builders::{actual, desired, policy, ActualBuilder, DesiredBuilder, User};
    use crate::plan::plan;

    /// Ten end-users in Agency A; Pages lists the first `listed` of them.
    fn ten_members(listed: u64) -> (DesiredBuilder, ActualBuilder) {
        let mut d = desired().org("Agency A", "A");
        let mut a = actual().org(10, "Agency A", Some("A"));
        for i in 1..=10 {
            let email = format!("u{i}@x.gov");
            if i <= listed {
                d = d.user(&email, i, &[("Agency A", User)]);
            }
            a = a
                .user(100 + i, "U", &email)
                .external_id(100 + i, &format!("pages-user-{i}"))
                .roles_text(100 + i, "Agency A: user")
                .member(100 + i, 10);
        }
        (d, a)
    }

    fn check_of(
        d: DesiredBuilder,
        a: ActualBuilder,
        limits: &GuardLimits,
    ) -> Result<GuardFigures, GuardTripped> {
        let (d, a) = (d.build(), a.build());
        check(&plan(&d, &a, &policy()), &d, &a, limits)
    }

    #[test]
    fn a_plan_without_removals_passes_and_reports_its_figures() {
        let (d, a) = ten_members(10);
        let figures = check_of(d, a, &GuardLimits::default()).unwrap();
        assert_eq!(
            figures,
            GuardFigures {
                managed_memberships: 10,
                removals: 0,
                report_users: 10,
                zendesk_partner_users: 10
            }
        );
    }

    #[test]
    fn removals_at_exactly_the_limit_pass() {
        let (d, a) = ten_members(9);
        let figures = check_of(d, a, &GuardLimits::default()).unwrap();
        assert_eq!(figures.removals, 1);
    }

    #[test]
    fn removals_over_the_limit_trip_the_guard_with_counts_and_the_way_out() {
        let (d, a) = ten_members(8);
        let tripped = check_of(d, a, &GuardLimits::default()).unwrap_err();
        assert_eq!(tripped.figures.removals, 2);
        insta::assert_snapshot!(tripped.message);
    }

    #[test]
    fn a_truncated_users_report_trips_the_guard_even_under_the_removal_limit() {
        let (d, a) = ten_members(4);
        let limits = GuardLimits {
            max_membership_removal_percent: 100.0,
            ..GuardLimits::default()
        };
        let tripped = check_of(d, a, &limits).unwrap_err();
        assert!(
            tripped
                .message
                .contains("the users report lists 4 partner users"),
            "{}",
            tripped.message
        );
        assert!(
            !tripped.message.contains("limit 100%"),
            "{}",
            tripped.message
        );
    }

    #[test]
    fn an_empty_users_report_can_never_empty_zendesk() {
        let (d, a) = ten_members(0);
        let limits = GuardLimits {
            max_membership_removal_percent: 100.0,
            min_users_report_percent: 0.0,
            allow_mass_removal: false,
        };
        let tripped = check_of(d, a, &limits).unwrap_err();
        assert_eq!(tripped.figures.removals, 10);
    }

    #[test]
    fn allow_mass_removal_lets_any_plan_through() {
        let (d, a) = ten_members(0);
        let limits = GuardLimits {
            allow_mass_removal: true,
            ..GuardLimits::default()
        };
        assert_eq!(check_of(d, a, &limits).unwrap().removals, 10);
    }

    #[test]
    fn agents_and_unmanaged_organizations_do_not_count_as_managed_memberships() {
        let (d, a) = ten_members(10);
        let a = a
            .agent(200, "Agent", "agent@x.gov")
            .member(200, 10)
            .org(11, "Help desk", None)
            .member(101, 11);
        let figures = check_of(d, a, &GuardLimits::default()).unwrap();
        assert_eq!(figures.managed_memberships, 10);
        assert_eq!(figures.zendesk_partner_users, 10);
    }

    /// Every membership of an end-user in a managed organization counts; each such user
    /// counts once however many of them it has; members the snapshot does not hold, agents,
    /// admins and other organizations do not count.
    #[test]
    fn figures_count_each_membership_and_each_partner_user_once() {
        let (d, a) = ten_members(10);
        let d = d.org("Agency B", "B");
        let a = a
            .org(20, "Agency B", Some("B"))
            .org(21, "agency b", Some("B")) // a same-named duplicate: managed too
            .org(30, "Help desk", None)
            .member(101, 20)
            .member(101, 21)
            .member(102, 20)
            .member(103, 30)
            .agent(1, "Agent", "agent@x.gov") // an id below every end-user's
            .member(1, 20)
            .admin(300, "Admin", "admin@x.gov") // and one above
            .member(300, 10)
            .member(999, 10); // a user the snapshot does not hold
        let (d, a) = (d.build(), a.build());
        let figures = figures(&Plan::default(), &d, &a);
        assert_eq!(figures.managed_memberships, 10 + 3);
        assert_eq!(figures.zendesk_partner_users, 10);
    }
}
