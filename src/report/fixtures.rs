//! Small builders for report tests: every figure is set explicitly by the test.

use std::collections::BTreeMap;

use crate::outcome::{Reason, RequestStats};
use crate::plan::guard::GuardFigures;
use crate::plan::{ChangeKind, NoteKind};
use crate::report::{
    Carry, CriterionResult, FailureCount, JobStatus, RunMode, RunSummary, Stopped, Totals,
};
use crate::source::{ReportKind, SourceStats};
use crate::verify::{Criterion, MismatchKind};

pub(crate) struct Builder(pub RunSummary);

/// A `run` for 2026-11 that stopped before writing, for `reason`.
pub(crate) fn stopped_run(reason: &str, guard_tripped: bool) -> RunSummary {
    RunSummary::stopped(
        RunMode::Run { dry_run: false },
        Some("2026-11".into()),
        Stopped {
            reason: reason.into(),
            before_writing: true,
            next: None,
        },
        guard_tripped,
    )
}

/// A `run` for 2025-03 with realistic source figures and nothing else set.
pub(crate) fn run() -> Builder {
    Builder(RunSummary {
        source: SourceStats {
            organization_rows: 42,
            user_rows: 318,
            users_without_organization: 11,
            partner_users: 305,
            memberships: 352,
            managers: 57,
            ..SourceStats::default()
        },
        guard: GuardFigures {
            managed_memberships: 350,
            removals: 0,
            report_users: 305,
            zendesk_partner_users: 300,
        },
        requests: RequestStats {
            requests: 12,
            write_requests: 0,
            rate_limited: 0,
            retries: 0,
        },
        elapsed_ms: 8_420,
        totals: Totals {
            pages_organizations: 42,
            pages_users: 305,
            pages_memberships: 352,
            pages_managers: 57,
            zendesk_organizations: 45,
            zendesk_memberships: 352,
            zendesk_users: 300,
        },
        run_url: Some("https://github.com/cloud-gov/pages-zendesk-sync/actions/runs/123".into()),
        ..RunSummary::empty(
            RunMode::Run { dry_run: false },
            JobStatus::Succeeded,
            Some("2025-03".into()),
        )
    })
}

impl Builder {
    pub(crate) fn build(self) -> RunSummary {
        self.0
    }
    pub(crate) fn mode(mut self, m: RunMode) -> Self {
        self.0.mode = m;
        self
    }
    pub(crate) fn status(mut self, s: JobStatus) -> Self {
        self.0.status = s;
        self
    }
    pub(crate) fn dry_run(mut self) -> Self {
        self.0.mode = match self.0.mode {
            RunMode::Sync { .. } => RunMode::Sync { dry_run: true },
            RunMode::Run { .. } => RunMode::Run { dry_run: true },
            m => m,
        };
        self.0.status = JobStatus::DryRun;
        self
    }
    pub(crate) fn no_run_url(mut self) -> Self {
        self.0.run_url = None;
        self
    }
    pub(crate) fn month(mut self, m: Option<&str>) -> Self {
        self.0.month = m.map(String::from);
        self
    }
    /// Planned and applied alike.
    pub(crate) fn changed(mut self, kind: ChangeKind, n: usize) -> Self {
        self.0.planned.insert(kind, n);
        self.0.applied.insert(kind, n);
        self
    }
    pub(crate) fn planned(mut self, kind: ChangeKind, n: usize) -> Self {
        self.0.planned.insert(kind, n);
        self
    }
    pub(crate) fn applied(mut self, kind: ChangeKind, n: usize) -> Self {
        self.0.applied.insert(kind, n);
        self
    }
    pub(crate) fn skipped(mut self, kind: ChangeKind, n: usize) -> Self {
        self.0.skipped.insert(kind, n);
        self
    }
    pub(crate) fn failed(mut self, kind: ChangeKind, reason: &str, n: usize) -> Self {
        self.0.failures.push(FailureCount {
            kind,
            reason: Reason::new(reason),
            count: n,
        });
        self
    }
    pub(crate) fn row_problem(mut self, code: &'static str, n: usize) -> Self {
        self.0.row_problems.insert(code, n);
        self
    }
    pub(crate) fn row_lines(mut self, report: ReportKind, lines: &[u64]) -> Self {
        self.0.row_lines.insert(report, lines.to_vec());
        self
    }
    pub(crate) fn note(mut self, kind: NoteKind, n: usize) -> Self {
        self.0.notes.insert(kind, n);
        self
    }
    pub(crate) fn guard(mut self, removals: usize, managed: usize) -> Self {
        self.0.guard.removals = removals;
        self.0.guard.managed_memberships = managed;
        self
    }
    pub(crate) fn guard_users(mut self, report: usize, zendesk: usize) -> Self {
        self.0.guard.report_users = report;
        self.0.guard.zendesk_partner_users = zendesk;
        self
    }
    pub(crate) fn guard_tripped(mut self) -> Self {
        self.0.guard_tripped = true;
        self.0.status = JobStatus::Failed;
        self
    }
    pub(crate) fn needs(mut self, item: crate::report::attention::NeedsAttention) -> Self {
        self.0.needs_attention.push(item);
        self
    }

    pub(crate) fn bulk_disabled(mut self) -> Self {
        self.0.bulk_user_import_disabled = true;
        self
    }
    pub(crate) fn requests(
        mut self,
        requests: u64,
        writes: u64,
        limited: u64,
        retries: u64,
    ) -> Self {
        self.0.requests = RequestStats {
            requests,
            write_requests: writes,
            rate_limited: limited,
            retries,
        };
        self
    }
    pub(crate) fn elapsed_ms(mut self, ms: u64) -> Self {
        self.0.elapsed_ms = ms;
        self
    }
    pub(crate) fn totals(mut self, f: impl FnOnce(&mut Totals)) -> Self {
        f(&mut self.0.totals);
        self
    }
    /// Every criterion passing, with plausible checked counts.
    pub(crate) fn all_criteria_pass(mut self) -> Self {
        self.0.criteria = Criterion::ALL
            .iter()
            .map(|&criterion| CriterionResult {
                criterion,
                passed: true,
                checked: checked_for(criterion),
                mismatches: BTreeMap::new(),
            })
            .collect();
        self
    }
    /// Fails `criterion` (and its parent) with the given mismatches.
    pub(crate) fn criterion_fails(
        mut self,
        criterion: Criterion,
        m: &[(MismatchKind, usize)],
    ) -> Self {
        let mismatches: BTreeMap<MismatchKind, usize> = m.iter().copied().collect();
        for c in &mut self.0.criteria {
            if c.criterion == criterion || c.criterion.children().contains(&criterion) {
                c.passed = false;
                for (k, n) in &mismatches {
                    *c.mismatches.entry(*k).or_default() += n;
                }
            }
        }
        self
    }
}

fn checked_for(c: Criterion) -> usize {
    match c {
        Criterion::OrgsMatch => 42,
        Criterion::OrgUsersMatch | Criterion::Roles | Criterion::NamesAndEmails => 305,
        Criterion::OrgAssignments => 352,
    }
}

pub(crate) fn previous() -> Carry {
    Carry {
        version: 1,
        month: "2025-02".into(),
        status: JobStatus::Succeeded,
        totals: Totals {
            pages_organizations: 40,
            pages_users: 310,
            pages_memberships: 349,
            pages_managers: 57,
            zendesk_organizations: 43,
            zendesk_memberships: 349,
            zendesk_users: 308,
        },
        history: Vec::new(),
    }
}

// The scenarios every renderer is snapshotted with.

pub(crate) fn successful_first_run() -> RunSummary {
    run()
        .changed(ChangeKind::CreateOrganization, 42)
        .changed(ChangeKind::CreateUser, 280)
        .changed(ChangeKind::UpdateUser, 25)
        .changed(ChangeKind::AddMembership, 352)
        .note(NoteKind::OrganizationNotInPages, 3)
        .requests(61, 38, 0, 0)
        .elapsed_ms(94_310)
        .all_criteria_pass()
        .build()
}

pub(crate) fn partly_failed() -> RunSummary {
    partly_failed_builder().build()
}

pub(crate) fn partly_failed_builder() -> Builder {
    run()
        .status(JobStatus::PartlyFailed)
        .changed(ChangeKind::CreateOrganization, 2)
        .planned(ChangeKind::CreateUser, 9)
        .applied(ChangeKind::CreateUser, 6)
        .planned(ChangeKind::UpdateUser, 14)
        .applied(ChangeKind::UpdateUser, 13)
        .planned(ChangeKind::AddMembership, 12)
        .applied(ChangeKind::AddMembership, 9)
        .skipped(ChangeKind::AddMembership, 3)
        .changed(ChangeKind::RemoveMembership, 4)
        .failed(
            ChangeKind::CreateUser,
            "RecordInvalid/email/DuplicateValue",
            2,
        )
        .failed(ChangeKind::CreateUser, "http_500", 1)
        .failed(ChangeKind::UpdateUser, "RecordInvalid/details/TooLong", 1)
        .row_problem("invalid_email", 2)
        .row_problem("unknown_organization", 1)
        .row_problem("duplicate_email_merged", 1)
        .row_lines(ReportKind::Users, &[14, 88, 120, 203])
        .note(NoteKind::AgentOrAdminLeftAlone, 2)
        .note(NoteKind::EmailOwnedByAnotherUser, 1)
        .guard(4, 350)
        .requests(84, 31, 3, 2)
        .elapsed_ms(131_005)
        .all_criteria_pass()
        .criterion_fails(
            Criterion::OrgAssignments,
            &[(MismatchKind::MembershipMissing, 3)],
        )
        .criterion_fails(Criterion::NamesAndEmails, &[(MismatchKind::UserMissing, 3)])
}

pub(crate) fn dry_run() -> RunSummary {
    run()
        .dry_run()
        .planned(ChangeKind::CreateOrganization, 2)
        .planned(ChangeKind::UpdateUser, 7)
        .planned(ChangeKind::AddMembership, 5)
        .planned(ChangeKind::RemoveMembership, 1)
        .guard(1, 350)
        .requests(10, 0, 0, 0)
        .elapsed_ms(3_250)
        .build()
}

pub(crate) fn plan() -> RunSummary {
    run()
        .mode(RunMode::Plan)
        .dry_run()
        .month(None)
        .no_run_url()
        .planned(ChangeKind::CreateUser, 3)
        .planned(ChangeKind::SetPrimaryEmail, 1)
        .planned(ChangeKind::AddMembership, 4)
        .row_problem("invalid_id", 1)
        .row_lines(ReportKind::Users, &[77])
        .note(NoteKind::OrganizationNotInPages, 3)
        .requests(9, 0, 1, 0)
        .elapsed_ms(2_480)
        .build()
}

pub(crate) fn with_previous() -> RunSummary {
    run()
        .changed(ChangeKind::CreateOrganization, 2)
        .changed(ChangeKind::CreateUser, 4)
        .changed(ChangeKind::UpdateUser, 6)
        .changed(ChangeKind::AddMembership, 7)
        .changed(ChangeKind::RemoveMembership, 4)
        .guard(4, 349)
        .requests(40, 12, 0, 0)
        .elapsed_ms(45_600)
        .all_criteria_pass()
        .build()
}

pub(crate) fn bulk_disabled() -> RunSummary {
    run()
        .bulk_disabled()
        .changed(ChangeKind::CreateUser, 30)
        .changed(ChangeKind::UpdateUser, 12)
        .changed(ChangeKind::AddMembership, 31)
        .requests(140, 117, 6, 0)
        .elapsed_ms(412_000)
        .all_criteria_pass()
        .build()
}

/// Every scenario above.
pub(crate) fn all() -> Vec<RunSummary> {
    vec![
        successful_first_run(),
        partly_failed(),
        dry_run(),
        plan(),
        with_previous(),
        bulk_disabled(),
        guard_tripped(),
    ]
}

pub(crate) fn guard_tripped() -> RunSummary {
    let mut b = run()
        .guard_tripped()
        .planned(ChangeKind::AddMembership, 2)
        .planned(ChangeKind::RemoveMembership, 310)
        .guard(310, 350)
        .guard_users(12, 300)
        .totals(|t| {
            t.pages_users = 12;
            t.pages_memberships = 14;
        })
        .requests(8, 0, 0, 0)
        .elapsed_ms(2_010);
    // A truncated users report: the reason the guard exists.
    b.0.source.user_rows = 13;
    b.0.source.partner_users = 12;
    b.0.source.memberships = 14;
    b.0.source.managers = 3;
    b.0.source.users_without_organization = 0;
    b.0.totals.pages_managers = 3;
    b.build()
}
