//! The month a run reports on, and the hidden HTML markers that tie what the job writes on
//! GitHub to a month and a run: the month marker at the end of the month's issue body, the
//! run marker and the carry block at the end of a results comment. One module owns their
//! spelling; the GitHub adapter, the issue template and the comment renderer use it.
//!
//! Pure. A marker never carries a name, an email or free text: a month, a run id made of
//! `[A-Za-z0-9._-]`, and the carry block's counts.

use std::fmt;
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Datelike, TimeZone, Utc};

/// The tag inside the hidden comment that ties an issue to its month, whatever its title
/// becomes: `<!-- pages-zendesk-sync:month=2026-11 -->`.
pub const MONTH_TAG: &str = "pages-zendesk-sync:month=";
/// Prefix of the month marker as written.
pub const MONTH_MARKER_PREFIX: &str = "<!-- pages-zendesk-sync:month=";

/// The tag of the hidden run marker that makes a results comment unique per run:
/// `<!-- pages-zendesk-sync:run=1234-1 -->`.
pub const RUN_TAG: &str = "pages-zendesk-sync:run=";
/// Prefix of the run marker as written.
pub const RUN_MARKER_PREFIX: &str = "<!-- pages-zendesk-sync:run=";

/// The tag of the hidden block that carries totals from one month to the next:
/// `<!-- pages-zendesk-sync:carry {json} -->`.
pub const CARRY_TAG: &str = "pages-zendesk-sync:carry";
/// Prefix of the carry block as written.
pub const CARRY_MARKER_PREFIX: &str = "<!-- pages-zendesk-sync:carry ";

/// The month a run reports on (`YYYY-MM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    /// 1..=12
    month: u32,
}

const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

impl Month {
    /// Strict `YYYY-MM` (four-digit year, two-digit month 01..=12); nothing around it.
    pub fn parse(text: &str) -> Result<Month> {
        let bytes = text.as_bytes();
        let shape_ok = bytes.len() == 7
            && bytes[4] == b'-'
            && bytes[..4].iter().all(u8::is_ascii_digit)
            && bytes[5..].iter().all(u8::is_ascii_digit);
        if !shape_ok {
            bail!("month must be written YYYY-MM (for example 2026-11), got {text:?}");
        }
        // The shape check above makes both parses infallible; keep the error path anyway.
        let year: i32 = text[..4].parse().context("parsing the year of a month")?;
        let month: u32 = text[5..].parse().context("parsing the month number")?;
        Month::new(year, month)
            .with_context(|| format!("month must be written YYYY-MM, got {text:?}"))
    }

    pub fn new(year: i32, month: u32) -> Result<Month> {
        if !(1..=12).contains(&month) {
            bail!("month number must be between 01 and 12, got {month:02}");
        }
        if !(1000..=9999).contains(&year) {
            bail!("year must have four digits, got {year}");
        }
        Ok(Month { year, month })
    }

    /// The month of the current date in UTC (the workflow's cron runs in UTC).
    pub fn current_utc() -> Month {
        Month::of(Utc::now())
    }

    /// The month of an instant, in UTC.
    pub fn of(at: DateTime<Utc>) -> Month {
        Month {
            year: at.year(),
            month: at.month(),
        }
    }

    /// The English month name, as the template's `[month]` placeholder wants it.
    pub fn name(self) -> &'static str {
        MONTH_NAMES[(self.month - 1) as usize]
    }

    pub fn year(self) -> i32 {
        self.year
    }

    /// 1..=12
    pub fn number(self) -> u32 {
        self.month
    }

    pub fn previous(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// Midnight UTC on the first day of the month.
    pub fn start_utc(self) -> DateTime<Utc> {
        // Day 1 at midnight exists for every valid month, so `single` cannot be None.
        Utc.with_ymd_and_hms(self.year, self.month, 1, 0, 0, 0)
            .single()
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// The hidden marker written into the month's issue body.
    pub fn marker(self) -> String {
        format!("{MONTH_MARKER_PREFIX}{self} -->")
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for Month {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        Month::parse(s)
    }
}

/// The run marker for `run_id` (the workflow run id and attempt, `1234-2`). Strict: an id
/// that could end the HTML comment or carry markup is refused, not cleaned.
pub fn run_marker(run_id: &str) -> Result<String> {
    if run_id.is_empty()
        || run_id.len() > 100
        || run_id.contains("--")
        || !run_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        bail!(
            "run id for the comment marker must be 1-100 letters, digits, - _ or . (no \"--\"), got {run_id:?}"
        );
    }
    Ok(format!("{RUN_MARKER_PREFIX}{run_id} -->"))
}

/// The run marker line a results comment ends with, for any `run_marker` text: characters
/// that could end the HTML comment or start markup are dropped (see [`clean_run_marker`]),
/// so rendering never fails. For an id [`run_marker`] accepts, both give the same line.
pub fn run_marker_line(run_marker: &str) -> String {
    format!("{RUN_MARKER_PREFIX}{} -->", clean_run_marker(run_marker))
}

/// `run_marker` keeping only characters that cannot end an HTML comment or start markup,
/// at most 200 of them, with no `--` left in it.
fn clean_run_marker(run_marker: &str) -> String {
    let mut marker: String = run_marker
        .chars()
        .filter(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '/' | '=' | '+' | '-')
        })
        .take(200)
        .collect();
    // "--" is not allowed inside an HTML comment by older parsers.
    while marker.contains("--") {
        marker = marker.replace("--", "-");
    }
    marker
}

/// The carry block for `json`, a serialised carry (`report::Carry`), made safe inside the
/// HTML comment by [`comment_safe_json`].
pub fn carry_marker(json: &str) -> String {
    format!("{CARRY_MARKER_PREFIX}{} -->", comment_safe_json(json))
}

/// The text of each carry block in `body`, in order, trimmed: what follows [`CARRY_TAG`]
/// up to the next `-->`. Tolerates any text around the blocks and spaces inside them; a
/// tag with no `-->` after it yields nothing. Judging the JSON is the reader's job.
pub fn carry_blocks(body: &str) -> impl Iterator<Item = &str> {
    let mut rest = body;
    std::iter::from_fn(move || loop {
        let i = rest.find(CARRY_TAG)?;
        let after = &rest[i + CARRY_TAG.len()..];
        rest = after;
        if let Some(end) = after.find("-->") {
            return Some(after[..end].trim());
        }
    })
}

/// Makes JSON safe inside an HTML comment without changing its meaning: inside strings,
/// `<`, `>` and `&` become `\u003c`, `\u003e`, `\u0026`, and a `-` followed by another `-`
/// becomes `\u002d`, so neither `-->` nor `--` can appear. Outside strings valid JSON has
/// none of these characters except a single `-` sign, so nothing else needs touching.
fn comment_safe_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = json.chars().peekable();
    while let Some(c) = chars.next() {
        if !in_string {
            if c == '"' {
                in_string = true;
            }
            out.push(c);
            continue;
        }
        if escaped {
            escaped = false;
            out.push(c);
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                out.push(c);
            }
            '"' => {
                in_string = false;
                out.push(c);
            }
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '-' if chars.peek() == Some(&'-') => out.push_str("\\u002d"),
            c => out.push(c),
        }
    }
    out
}

/// `body` with `marker` on its own line at the end, after a blank line; newlines at the
/// end of `body` are dropped first (spaces stay: they can belong to a checklist line).
pub fn append_marker(body: &str, marker: &str) -> String {
    format!("{}\n\n{marker}\n", body.trim_end_matches(['\r', '\n']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_strictly() {
        let m = Month::parse("2026-11").unwrap();
        assert_eq!((m.year(), m.number(), m.name()), (2026, 11, "November"));
        assert_eq!(m.to_string(), "2026-11");
        for bad in [
            "2026-13",
            "2026-00",
            "2026-1",
            "26-11",
            "2026/11",
            " 2026-11",
            "2026-11 ",
            "2026-11-01",
            "",
            "２０２６-11",
        ] {
            assert!(Month::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn previous_and_next_cross_years() {
        let jan = Month::parse("2027-01").unwrap();
        assert_eq!(jan.previous().to_string(), "2026-12");
        assert_eq!(jan.previous().next(), jan);
        assert_eq!(Month::parse("2026-05").unwrap().previous().name(), "April");
        assert_eq!(
            Month::parse("2026-11").unwrap().start_utc().to_rfc3339(),
            "2026-11-01T00:00:00+00:00"
        );
    }

    #[test]
    fn markers_are_spelled_from_their_tags() {
        assert_eq!(MONTH_MARKER_PREFIX, format!("<!-- {MONTH_TAG}"));
        assert_eq!(RUN_MARKER_PREFIX, format!("<!-- {RUN_TAG}"));
        assert_eq!(CARRY_MARKER_PREFIX, format!("<!-- {CARRY_TAG} "));
        assert_eq!(
            Month::parse("2026-11").unwrap().marker(),
            "<!-- pages-zendesk-sync:month=2026-11 -->"
        );
    }

    #[test]
    fn run_markers_refuse_odd_ids() {
        assert_eq!(
            run_marker("1234-2").unwrap(),
            "<!-- pages-zendesk-sync:run=1234-2 -->"
        );
        assert!(run_marker("x -->").is_err());
        assert!(run_marker("a--b").is_err());
        assert!(run_marker("").is_err());
    }

    #[test]
    fn run_marker_lines_cannot_close_the_comment_early() {
        assert_eq!(
            run_marker_line("abc --> <script> --- x"),
            "<!-- pages-zendesk-sync:run=abc-script-x -->"
        );
        // An id the strict builder accepts gives the same line either way.
        assert_eq!(
            run_marker_line("1234-2.a_b"),
            run_marker("1234-2.a_b").unwrap()
        );
    }

    #[test]
    fn carry_markers_read_back_and_stay_inside_their_comment() {
        let json = r#"{"month":"--> <b>a&b</b> ---","n":-1}"#;
        let marker = carry_marker(json);
        assert!(marker.starts_with(CARRY_MARKER_PREFIX) && marker.ends_with(" -->"));
        assert_eq!(marker.matches("-->").count(), 1, "{marker}");
        let inner = carry_blocks(&marker).collect::<Vec<_>>();
        assert_eq!(
            inner,
            [
                r#"{"month":"\u002d-\u003e \u003cb\u003ea\u0026b\u003c/b\u003e \u002d\u002d-","n":-1}"#
            ]
        );
        let back: serde_json::Value = serde_json::from_str(inner[0]).unwrap();
        assert_eq!(
            back,
            serde_json::from_str::<serde_json::Value>(json).unwrap()
        );
    }

    #[test]
    fn carry_blocks_are_found_in_any_surrounding_text() {
        let body = "text <!--   pages-zendesk-sync:carry   {1}-->x\n\
                    pages-zendesk-sync:carry {2} -->\n<!-- pages-zendesk-sync:carry {3}";
        assert_eq!(carry_blocks(body).collect::<Vec<_>>(), ["{1}", "{2}"]);
        assert_eq!(carry_blocks("no block").count(), 0);
    }

    #[test]
    fn markers_go_on_their_own_line_at_the_end() {
        assert_eq!(
            append_marker("text\r\n\n", "<!-- m -->"),
            "text\n\n<!-- m -->\n"
        );
        assert_eq!(
            append_marker("- [ ] box ", "<!-- m -->"),
            "- [ ] box \n\n<!-- m -->\n"
        );
    }
}
