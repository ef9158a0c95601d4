//! What a run reports, and how it is rendered: the results comment, the ticked checklist,
//! the job summary, the text on stdout and the JSON detail file.
//!
//! [`RunSummary`] is the public report: counts, reasons and verdicts only. It has no field
//! that can hold an email or a name, so public output cannot leak one. Per-record detail
//! lives in [`Detail`], which is written only to the file the operator asks for.

pub mod actions;
pub mod attention;
pub mod checklist;
pub mod comment;
pub mod history;
pub mod summary;
pub mod text;
mod view;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::outcome::{ApplyOutcome, Failure, Reason, RequestStats};
use crate::plan::guard::GuardFigures;
use crate::plan::{ChangeKind, NoteKind, Plan};
use crate::source::{ReportKind, RowIssue, SourceStats};
use crate::verify::{Criterion, MismatchKind, Verification};

/// How the run ended, for people and for `$GITHUB_OUTPUT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Every change applied and every criterion verified.
    Succeeded,
    /// The run finished, but records failed or a criterion is unsatisfied.
    PartlyFailed,
    /// The run stopped (remote failure, tripped guard, bad input).
    Failed,
    /// Nothing was written on purpose (`--dry-run`, `plan`).
    DryRun,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Succeeded => "succeeded",
            JobStatus::PartlyFailed => "partly failed",
            JobStatus::Failed => "failed",
            JobStatus::DryRun => "dry run",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CriterionResult {
    pub criterion: Criterion,
    pub passed: bool,
    pub checked: usize,
    pub mismatches: BTreeMap<MismatchKind, usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureCount {
    pub kind: ChangeKind,
    pub reason: Reason,
    pub count: usize,
}

/// Totals carried from month to month (hidden in the results comment) to show the change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub pages_organizations: usize,
    pub pages_users: usize,
    pub pages_memberships: usize,
    pub pages_managers: usize,
    /// Zendesk organizations and end-user memberships in them, after the sync.
    pub zendesk_organizations: usize,
    pub zendesk_memberships: usize,
    /// Zendesk end users with a membership in a Pages organization (0 in carry blocks
    /// written before this field existed).
    #[serde(default)]
    pub zendesk_users: usize,
}

/// The machine-readable block hidden in each results comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Carry {
    pub version: u32,
    /// `YYYY-MM` of the run.
    pub month: String,
    pub status: JobStatus,
    pub totals: Totals,
    /// The months before, oldest first (at most the last twelve), for the chart.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<history::HistoryPoint>,
}

/// The public report of a run. Counts, reasons and verdicts only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    /// `run`, `sync`, `plan` or `verify`.
    pub command: &'static str,
    pub status: JobStatus,
    pub dry_run: bool,
    /// `YYYY-MM`, for `run`.
    pub month: Option<String>,
    pub source: SourceStats,
    /// Row problems by reason code.
    pub row_problems: BTreeMap<&'static str, usize>,
    /// Lines of skipped or merged rows, per report, at most [`MAX_LINES`] each.
    pub row_lines: BTreeMap<ReportKind, Vec<u64>>,
    pub planned: BTreeMap<ChangeKind, usize>,
    pub applied: BTreeMap<ChangeKind, usize>,
    pub skipped: BTreeMap<ChangeKind, usize>,
    pub failures: Vec<FailureCount>,
    pub notes: BTreeMap<NoteKind, usize>,
    pub guard: GuardFigures,
    /// The safety guard refused the plan: nothing was written (exit 2).
    pub guard_tripped: bool,
    /// Empty when the command does not verify (`plan`, a dry run's plan-only path).
    pub criteria: Vec<CriterionResult>,
    pub bulk_user_import_disabled: bool,
    /// Held-back changes, known failure causes and staff logins, in words and counts
    /// ([`attention::needs_attention`]); the renderers list them under "needs attention".
    pub needs_attention: Vec<attention::NeedsAttention>,
    pub requests: RequestStats,
    pub elapsed_ms: u64,
    pub totals: Totals,
    /// Link to the workflow run, when running in GitHub Actions.
    pub run_url: Option<String>,
}

pub const MAX_LINES: usize = 50;

impl RunSummary {
    pub fn all_criteria_passed(&self) -> bool {
        !self.criteria.is_empty() && self.criteria.iter().all(|c| c.passed)
    }

    pub fn failed_records(&self) -> usize {
        self.failures.iter().map(|f| f.count).sum()
    }

    /// The block next month's run reads. Dry runs carry none: their Zendesk totals are
    /// the state before the sync, not a result to compare against.
    pub fn carry(&self) -> Option<Carry> {
        if self.dry_run {
            return None;
        }
        self.month.as_ref().map(|month| Carry {
            version: 1,
            month: month.clone(),
            status: self.status,
            totals: self.totals,
            history: Vec::new(),
        })
    }
}

/// Public criterion results from a verification (examples dropped).
pub fn criterion_results(verification: &Verification) -> Vec<CriterionResult> {
    verification
        .verdicts
        .iter()
        .map(|v| CriterionResult {
            criterion: v.criterion,
            passed: v.passed,
            checked: v.checked,
            mismatches: v.mismatches.clone(),
        })
        .collect()
}

/// Public failure counts from an apply outcome (subjects and details dropped).
pub fn failure_counts(outcome: &ApplyOutcome) -> Vec<FailureCount> {
    outcome
        .failures_by_reason()
        .into_iter()
        .map(|((kind, reason), count)| FailureCount {
            kind,
            reason,
            count,
        })
        .collect()
}

/// Public row-problem counts and line lists from the row issues.
pub fn row_problem_counts(
    issues: &[RowIssue],
) -> (
    BTreeMap<&'static str, usize>,
    BTreeMap<ReportKind, Vec<u64>>,
) {
    let mut counts = BTreeMap::new();
    let mut lines: BTreeMap<ReportKind, Vec<u64>> = BTreeMap::new();
    for issue in issues {
        *counts.entry(issue.problem.code()).or_default() += 1;
        let l = lines.entry(issue.report).or_default();
        if l.len() < MAX_LINES {
            l.push(issue.line);
        }
    }
    (counts, lines)
}

/// Everything about a run, per record: written only to `--report-json FILE`.
#[derive(Debug, Clone, Serialize)]
pub struct Detail<'a> {
    pub summary: &'a RunSummary,
    pub row_issues: &'a [RowIssue],
    pub plan: Option<&'a Plan>,
    pub failures: &'a [Failure],
    /// Changes the account's settings held back, per user (emails of new users included).
    pub held_back: &'a [crate::plan::settings::HeldBack],
    pub verification: Option<&'a Verification>,
}
