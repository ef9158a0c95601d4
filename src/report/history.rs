//! The last twelve months, carried from month to month in the hidden carry block of the
//! results comment (no other storage), and drawn as Mermaid `xychart-beta` charts that
//! GitHub renders in issue comments and job summaries.
//!
//! Pure. Counts only: a point is a month and six totals, never a name or an email.
//! Tolerant by design: a first month has no history (one point), a month without a run
//! is simply absent (the x axis lists the months that have data and the text names the
//! missing ones), and points that cannot be read are dropped.

use serde::{Deserialize, Serialize};

use crate::report::{Carry, Totals};

/// How many months a chart shows (the current month included).
pub const HISTORY_MONTHS: u32 = 12;

/// One month of totals in the carry block: `["2025-03", pages users, Zendesk users, Pages
/// organizations, Zendesk organizations, Pages memberships, Zendesk memberships]`, an
/// array to keep the hidden block short.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPoint(pub String, pub [usize; 6]);

impl HistoryPoint {
    pub fn new(month: &str, t: &Totals) -> Self {
        HistoryPoint(
            month.to_string(),
            [
                t.pages_users,
                t.zendesk_users,
                t.pages_organizations,
                t.zendesk_organizations,
                t.pages_memberships,
                t.zendesk_memberships,
            ],
        )
    }

    pub fn month(&self) -> &str {
        &self.0
    }
}

/// Whether `earlier` is the month right before `month` (both `YYYY-MM`).
pub fn is_month_before(earlier: &str, month: &str) -> bool {
    matches!((month_index(earlier), month_index(month)), (Some(a), Some(b)) if a + 1 == b)
}

/// `YYYY-MM` → months since year 0, or `None` for anything else.
fn month_index(month: &str) -> Option<u32> {
    let (y, m) = month.split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let y: u32 = y.parse().ok()?;
    let m: u32 = m.parse().ok()?;
    (1..=12).contains(&m).then_some(y * 12 + m - 1)
}

fn month_name(index: u32) -> String {
    format!("{:04}-{:02}", index / 12, index % 12 + 1)
}

/// The history after this run: the base carry's history and its own month, plus
/// `current` for `month` (replacing an earlier point of the same month), limited to the
/// twelve months ending with `month`, oldest first. A point whose totals are all zero
/// (a run that stopped before reading anything) is left out.
pub fn roll(base: Option<&Carry>, month: &str, current: Option<&Totals>) -> Vec<HistoryPoint> {
    let Some(end) = month_index(month) else {
        return Vec::new();
    };
    let start = end.saturating_sub(HISTORY_MONTHS - 1);
    let mut by_month: std::collections::BTreeMap<u32, HistoryPoint> = Default::default();
    let mut add = |p: HistoryPoint| {
        if let Some(i) = month_index(p.month()) {
            if (start..=end).contains(&i) && p.1.iter().any(|n| *n > 0) {
                by_month.insert(i, HistoryPoint(month_name(i), p.1));
            }
        }
    };
    if let Some(base) = base {
        for p in &base.history {
            add(p.clone());
        }
        add(HistoryPoint::new(&base.month, &base.totals));
    }
    if let Some(t) = current {
        add(HistoryPoint::new(month, t));
    }
    by_month.into_values().collect()
}

/// The months of the window ending with `month` that have no point, oldest first.
pub fn missing_months(points: &[HistoryPoint], month: &str) -> Vec<String> {
    let Some(end) = month_index(month) else {
        return Vec::new();
    };
    let Some(first) = points.iter().filter_map(|p| month_index(p.month())).min() else {
        return Vec::new();
    };
    (first..=end)
        .filter(|i| !points.iter().any(|p| month_index(p.month()) == Some(*i)))
        .map(month_name)
        .collect()
}

/// The three charts (partner users, organizations, memberships; bars: Pages, line:
/// Zendesk) and a line naming missing months. Empty when there is no point.
pub fn render_charts(points: &[HistoryPoint], month: &str) -> String {
    if points.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    for (title, axis, pages, zendesk) in [
        ("Partner users", "users", 0, 1),
        ("Organizations", "organizations", 2, 3),
        ("Memberships", "memberships", 4, 5),
    ] {
        out.push_str(&chart(points, title, axis, pages, zendesk));
        out.push('\n');
    }
    out.push_str("Bars: Pages. Line: Zendesk (end users in Pages organizations).");
    let missing = missing_months(points, month);
    if !missing.is_empty() {
        out.push_str(&format!(" No results for {}.", missing.join(", ")));
    }
    out.push('\n');
    out
}

/// One Mermaid block of the exact form the grammar test checks.
fn chart(points: &[HistoryPoint], title: &str, axis: &str, pages: usize, zendesk: usize) -> String {
    let labels: Vec<String> = points
        .iter()
        .map(|p| format!("\"{}\"", p.month()))
        .collect();
    let values = |i: usize| -> Vec<String> { points.iter().map(|p| p.1[i].to_string()).collect() };
    let max = points
        .iter()
        .flat_map(|p| [p.1[pages], p.1[zendesk]])
        .max()
        .unwrap_or(0);
    // A little headroom, and never a zero-height axis.
    let top = (max + max / 10).max(1);
    format!(
        "```mermaid\nxychart-beta\n    title \"{title}\"\n    x-axis [{}]\n    y-axis \"{axis}\" 0 --> {top}\n    bar [{}]\n    line [{}]\n```\n",
        labels.join(", "),
        values(pages).join(", "),
        values(zendesk).join(", "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::JobStatus;

    fn totals(n: usize) -> Totals {
        Totals {
            pages_organizations: n,
            pages_users: 10 * n,
            pages_memberships: 12 * n,
            pages_managers: n,
            zendesk_organizations: n + 1,
            zendesk_users: 10 * n - 1,
            zendesk_memberships: 12 * n - 2,
        }
    }

    fn carry(month: &str, n: usize, history: Vec<HistoryPoint>) -> Carry {
        Carry {
            version: 1,
            month: month.into(),
            status: JobStatus::Succeeded,
            totals: totals(n),
            history,
        }
    }

    #[test]
    fn a_first_month_has_one_point() {
        let h = roll(None, "2026-11", Some(&totals(3)));
        assert_eq!(h, [HistoryPoint("2026-11".into(), [30, 29, 3, 4, 36, 34])]);
        assert!(missing_months(&h, "2026-11").is_empty());
    }

    #[test]
    fn history_rolls_keeps_twelve_months_and_replaces_the_same_month() {
        let old: Vec<HistoryPoint> = (1..=12usize)
            .map(|m| HistoryPoint::new(&format!("2025-{m:02}"), &totals(m)))
            .collect();
        let base = carry("2026-01", 20, old);
        let h = roll(Some(&base), "2026-02", Some(&totals(21)));
        let months: Vec<&str> = h.iter().map(HistoryPoint::month).collect();
        assert_eq!(months.len(), 12);
        assert_eq!(months[0], "2025-03");
        assert_eq!(months[10], "2026-01");
        assert_eq!(months[11], "2026-02");
        // A second run in February replaces February's point.
        let again = carry("2026-02", 21, h.clone());
        let h2 = roll(Some(&again), "2026-02", Some(&totals(22)));
        assert_eq!(h2.len(), 12);
        assert_eq!(h2[11].1[0], 220);
    }

    #[test]
    fn gaps_and_unreadable_points_are_tolerated() {
        let base = carry(
            "2026-09",
            9,
            vec![
                HistoryPoint::new("2026-05", &totals(5)),
                HistoryPoint("garbage".into(), [1; 6]),
                HistoryPoint("2026-13".into(), [1; 6]),
                HistoryPoint("2026-06".into(), [0; 6]),
            ],
        );
        let h = roll(Some(&base), "2026-11", Some(&totals(11)));
        let months: Vec<&str> = h.iter().map(HistoryPoint::month).collect();
        assert_eq!(months, ["2026-05", "2026-09", "2026-11"]);
        assert_eq!(
            missing_months(&h, "2026-11"),
            ["2026-06", "2026-07", "2026-08", "2026-10"]
        );
    }

    /// A strict grammar of the exact block form GitHub's Mermaid renders as an xy chart:
    /// the fence, `xychart-beta`, a quoted title, a categorical x axis of quoted
    /// `YYYY-MM` labels, a quoted y label with a numeric range, one bar and one line
    /// series with exactly as many unsigned integers as there are labels.
    fn check_chart_block(block: &str) -> Result<(), String> {
        let lines: Vec<&str> = block.lines().collect();
        let [fence, kind, title, x, y, bar, line, close] = lines.as_slice() else {
            return Err(format!("expected 8 lines, got {}", lines.len()));
        };
        let quoted = |s: &str| -> Result<String, String> {
            let inner = s
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .ok_or(format!("not quoted: {s}"))?;
            if inner.is_empty() || inner.contains(['"', '\n', '`']) {
                return Err(format!("bad quoted text: {s}"));
            }
            Ok(inner.to_string())
        };
        let list = |s: &str| -> Result<Vec<String>, String> {
            let inner = s
                .strip_prefix('[')
                .and_then(|s| s.strip_suffix(']'))
                .ok_or(format!("not a list: {s}"))?;
            Ok(inner.split(", ").map(str::to_string).collect())
        };
        let numbers = |s: &str| -> Result<Vec<u64>, String> {
            list(s)?
                .iter()
                .map(|n| n.parse::<u64>().map_err(|_| format!("not a count: {n}")))
                .collect()
        };
        if *fence != "```mermaid" || *close != "```" || *kind != "xychart-beta" {
            return Err("fence or chart type".into());
        }
        quoted(title.strip_prefix("    title ").ok_or("title")?)?;
        let labels = list(x.strip_prefix("    x-axis ").ok_or("x-axis")?)?;
        for l in &labels {
            let m = quoted(l)?;
            if month_index(&m).is_none() {
                return Err(format!("x label is not YYYY-MM: {m}"));
            }
        }
        let y = y.strip_prefix("    y-axis ").ok_or("y-axis")?;
        let (label, range) = y.rsplit_once("\" ").ok_or("y-axis label")?;
        quoted(&format!("{label}\""))?;
        let (lo, hi) = range.split_once(" --> ").ok_or("y range")?;
        let (lo, hi): (u64, u64) = (
            lo.parse().map_err(|_| "y min")?,
            hi.parse().map_err(|_| "y max")?,
        );
        let bars = numbers(bar.strip_prefix("    bar ").ok_or("bar")?)?;
        let line = numbers(line.strip_prefix("    line ").ok_or("line")?)?;
        if bars.len() != labels.len() || line.len() != labels.len() {
            return Err("series length differs from the x axis".into());
        }
        if lo != 0 || hi == 0 || bars.iter().chain(&line).any(|v| *v > hi) {
            return Err("values outside the y range".into());
        }
        Ok(())
    }

    fn blocks(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("```mermaid") {
            let after = &rest[start..];
            let end = after[3..].find("```").expect("closing fence") + 6;
            out.push(after[..end].to_string());
            rest = &after[end..];
        }
        out
    }

    #[test]
    fn every_chart_block_follows_the_strict_grammar() {
        let base = carry("2026-09", 9, vec![HistoryPoint::new("2026-01", &totals(1))]);
        for h in [
            roll(None, "2026-11", Some(&totals(3))),
            roll(Some(&base), "2026-11", Some(&totals(11))),
            roll(Some(&base), "2026-11", Some(&Totals::default())),
        ] {
            let text = render_charts(&h, "2026-11");
            let found = blocks(&text);
            assert_eq!(found.len(), 3, "{text}");
            for b in found {
                check_chart_block(&b).unwrap_or_else(|e| panic!("{e}:\n{b}"));
            }
        }
        assert_eq!(render_charts(&[], "2026-11"), "");
    }

    #[test]
    fn the_grammar_check_rejects_what_mermaid_would_not_draw() {
        let good = "```mermaid\nxychart-beta\n    title \"T\"\n    x-axis [\"2026-01\", \"2026-02\"]\n    y-axis \"users\" 0 --> 10\n    bar [1, 2]\n    line [3, 4]\n```";
        assert!(check_chart_block(good).is_ok());
        for bad in [
            good.replace("xychart-beta", "xychart"),
            good.replace("[1, 2]", "[1]"),
            good.replace("[3, 4]", "[3, -4]"),
            good.replace("\"T\"", "T"),
            good.replace("\"2026-02\"", "\"Feb\""),
            good.replace("0 --> 10", "0 --> 3"),
            good.replace("    bar", "bar"),
        ] {
            assert!(check_chart_block(&bad).is_err(), "{bad}");
        }
    }
}
