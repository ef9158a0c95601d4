//! What a run reports, and how it is rendered: the results comment, the ticked checklist,
//! the job summary, the text on stdout, the Actions outputs and the JSON detail file.
//!
//! One pipeline: the run's outcome becomes one [`RunSummary`] (also for a run that stopped
//! before writing: [`RunSummary::stopped`]); the figures and sentences every report shares
//! are derived from it in [`figures`] and [`wording`]; the comment ([`comment`]), the job
//! summary ([`job_summary`]) and the terminal report ([`terminal`]) are each built as one
//! [`document::Document`] of sections, rendered by [`markdown`] or [`plain`]; the
//! `$GITHUB_OUTPUT` lines and annotations come from the summary in [`actions`].
//!
//! [`RunSummary`] is the public report: counts, reasons and verdicts only. It has no field
//! that can hold an email or a name, so public output cannot leak one. Per-record detail
//! lives in [`Detail`], which is written only to the file the operator asks for.

pub mod actions;
pub mod attention;
pub mod checklist;
pub mod comment;
pub mod document;
pub mod figures;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod history;
pub mod job_summary;
pub mod markdown;
pub mod plain;
mod sections;
pub mod terminal;
pub mod wording;

pub use wording::{plural, NOTHING_WRITTEN};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::outcome::{ApplyOutcome, Failure, Reason, RequestStats};
use crate::plan::guard::GuardFigures;
use crate::plan::{ChangeKind, NoteKind, Plan};
use crate::source::{ReportKind, RowIssue, SourceStats};
use crate::verify::{Criterion, MismatchKind, Verification};

/// Which command produced a report, and whether it wrote: decides "would be made" against
/// "made", whether changes are shown at all, and the command's name in the terminal report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// `plan`: read both sides and plan; nothing is written or verified.
    Plan,
    /// `verify`: check the criteria against Zendesk as it is.
    Verify,
    /// `sync`, or `sync --dry-run`.
    Sync { dry_run: bool },
    /// `run` (the monthly job), or `run --dry-run`.
    Run { dry_run: bool },
}

impl RunMode {
    /// The command's name.
    pub fn command(self) -> &'static str {
        match self {
            RunMode::Plan => "plan",
            RunMode::Verify => "verify",
            RunMode::Sync { .. } => "sync",
            RunMode::Run { .. } => "run",
        }
    }

    /// Nothing is written on purpose: counts are of changes that *would* be made.
    pub fn dry(self) -> bool {
        matches!(
            self,
            RunMode::Plan | RunMode::Sync { dry_run: true } | RunMode::Run { dry_run: true }
        )
    }

    /// Whether the command plans changes at all (`verify` does not).
    pub fn plans(self) -> bool {
        self != RunMode::Verify
    }
}

/// In the JSON report as the two fields it always had: `"command"` and `"dry_run"`.
impl Serialize for RunMode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("command", self.command())?;
        map.serialize_entry("dry_run", &self.dry())?;
        map.end()
    }
}

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

/// What decides a finished run's status: counts only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusFacts {
    pub mode: RunMode,
    /// Records Zendesk refused.
    pub failed_records: usize,
    /// Changes the account's settings held back.
    pub held_back: usize,
    /// Changes not attempted because one they depend on failed.
    pub skipped_changes: usize,
    /// Every verified criterion passed (true when none were checked).
    pub criteria_passed: bool,
}

impl JobStatus {
    /// The status rule of a finished run: a dry run says so; a run succeeded when nothing
    /// failed, nothing was held back or skipped, and every checked criterion passed;
    /// otherwise it partly failed. (A run that stopped is [`JobStatus::Failed`]; see
    /// [`RunSummary::stopped`].)
    pub fn of(f: StatusFacts) -> JobStatus {
        if f.mode.dry() {
            JobStatus::DryRun
        } else if f.failed_records == 0
            && f.held_back == 0
            && f.skipped_changes == 0
            && f.criteria_passed
        {
            JobStatus::Succeeded
        } else {
            JobStatus::PartlyFailed
        }
    }

    /// The machine form of a status (`partly_failed`), as in the carry JSON and the outputs.
    pub fn code(self) -> &'static str {
        match self {
            JobStatus::Succeeded => "succeeded",
            JobStatus::PartlyFailed => "partly_failed",
            JobStatus::Failed => "failed",
            JobStatus::DryRun => "dry_run",
        }
    }

    /// A mark that reads at a glance.
    pub fn mark(self) -> &'static str {
        match self {
            JobStatus::Succeeded => "✅",
            JobStatus::PartlyFailed => "⚠️",
            JobStatus::Failed => "❌",
            JobStatus::DryRun => "📝",
        }
    }

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
    /// The command, and whether it wrote (`"command"` and `"dry_run"` in the JSON report).
    #[serde(flatten)]
    pub mode: RunMode,
    pub status: JobStatus,
    /// The run stopped before a result (bad input, a tripped guard in `run`, a failed
    /// API): the public reason. The counts are then empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<Stopped>,
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

/// Why a run stopped, in public words (counts and categories, never data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stopped {
    /// What stopped the run, without a final full stop.
    pub reason: String,
    /// Whether the run stopped before its first write to Zendesk.
    pub before_writing: bool,
    /// What to do next, if there is something to say beyond the job log.
    pub next: Option<String>,
}

impl Stopped {
    /// The reason as one public sentence (or two): "…. Nothing was written. …".
    pub fn sentence(&self) -> String {
        let mut out = self.reason.clone();
        if self.before_writing {
            out.push_str(&format!(
                ". {}.",
                wording::capitalised(wording::NOTHING_WRITTEN)
            ));
        } else {
            out.push('.');
        }
        if let Some(next) = &self.next {
            out.push(' ');
            out.push_str(next);
        }
        out
    }
}

impl RunSummary {
    /// A summary with no counts, no criteria and no run link: what the other
    /// constructors, the fixtures and the tests fill in.
    pub fn empty(mode: RunMode, status: JobStatus, month: Option<String>) -> Self {
        RunSummary {
            mode,
            status,
            stopped: None,
            month,
            source: SourceStats::default(),
            row_problems: BTreeMap::new(),
            row_lines: BTreeMap::new(),
            planned: BTreeMap::new(),
            applied: BTreeMap::new(),
            skipped: BTreeMap::new(),
            failures: Vec::new(),
            notes: BTreeMap::new(),
            guard: GuardFigures::default(),
            guard_tripped: false,
            criteria: Vec::new(),
            bulk_user_import_disabled: false,
            needs_attention: Vec::new(),
            requests: RequestStats::default(),
            elapsed_ms: 0,
            totals: Totals::default(),
            run_url: None,
        }
    }

    /// The summary of a run that stopped before a result: status failed, no counts.
    pub fn stopped(
        mode: RunMode,
        month: Option<String>,
        stopped: Stopped,
        guard_tripped: bool,
    ) -> Self {
        RunSummary {
            stopped: Some(stopped),
            guard_tripped,
            ..RunSummary::empty(mode, JobStatus::Failed, month)
        }
    }

    /// Counts are of changes that would be made, not of changes made.
    pub fn would(&self) -> bool {
        self.mode.dry() || self.status == JobStatus::DryRun
    }

    pub fn all_criteria_passed(&self) -> bool {
        !self.criteria.is_empty() && self.criteria.iter().all(|c| c.passed)
    }

    pub fn failed_records(&self) -> usize {
        self.failures.iter().map(|f| f.count).sum()
    }

    /// The block next month's run reads. Dry runs carry none: their Zendesk totals are
    /// the state before the sync, not a result to compare against.
    pub fn carry(&self) -> Option<Carry> {
        if self.mode.dry() || self.stopped.is_some() {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(mode: RunMode) -> StatusFacts {
        StatusFacts {
            mode,
            failed_records: 0,
            held_back: 0,
            skipped_changes: 0,
            criteria_passed: true,
        }
    }

    #[test]
    fn the_status_rule() {
        let sync = RunMode::Sync { dry_run: false };
        assert_eq!(JobStatus::of(facts(sync)), JobStatus::Succeeded);
        for bad in [
            StatusFacts {
                failed_records: 1,
                ..facts(sync)
            },
            StatusFacts {
                held_back: 1,
                ..facts(sync)
            },
            StatusFacts {
                skipped_changes: 1,
                ..facts(sync)
            },
            StatusFacts {
                criteria_passed: false,
                ..facts(sync)
            },
        ] {
            assert_eq!(JobStatus::of(bad), JobStatus::PartlyFailed, "{bad:?}");
        }
        for dry in [RunMode::Plan, RunMode::Run { dry_run: true }] {
            let f = StatusFacts {
                failed_records: 3,
                ..facts(dry)
            };
            assert_eq!(JobStatus::of(f), JobStatus::DryRun);
        }
    }

    #[test]
    fn the_json_report_keeps_command_and_dry_run() {
        let summary = fixtures::plan();
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["command"], "plan");
        assert_eq!(json["dry_run"], true);
        assert!(json.get("mode").is_none() && json.get("stopped").is_none());
        let json = serde_json::to_value(fixtures::partly_failed()).unwrap();
        assert_eq!(
            (&json["command"], &json["dry_run"]),
            (&"run".into(), &false.into())
        );
    }
}
