//! The issue template (`.github/ISSUE_TEMPLATE/*.md`: YAML front matter + markdown body)
//! and the rendering of this month's issue from it (the month and its hidden marker are
//! [`crate::month`]'s).
//!
//! Pure: no I/O except [`IssueTemplate::load`], which only reads the file. It never talks
//! to GitHub and never decides which issue is "this month's" (that is `github::client`).

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::month::Month;

/// An issue template as GitHub reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueTemplate {
    pub name: Option<String>,
    /// With `[month]` and `[year]` placeholders.
    pub title: String,
    pub about: Option<String>,
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
    /// The markdown after the front matter.
    pub body: String,
}

/// This month's issue, ready to be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedIssue {
    pub title: String,
    /// Ends with the hidden month marker.
    pub body: String,
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
}

#[derive(Deserialize)]
struct FrontMatter {
    name: Option<String>,
    title: Option<String>,
    about: Option<String>,
    #[serde(default)]
    labels: Option<StringOrList>,
    #[serde(default)]
    assignees: Option<StringOrList>,
}

/// GitHub accepts `labels: ''`, `labels: "a, b"` and `labels: [a, b]`.
#[derive(Deserialize)]
#[serde(untagged)]
enum StringOrList {
    One(String),
    Many(Vec<String>),
}

impl StringOrList {
    fn into_names(self) -> Vec<String> {
        let raw = match self {
            StringOrList::One(s) => s.split(',').map(str::to_string).collect::<Vec<_>>(),
            StringOrList::Many(v) => v,
        };
        let mut names: Vec<String> = Vec::new();
        for name in raw {
            let name = name.trim();
            if !name.is_empty() && !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
        names
    }
}

impl IssueTemplate {
    /// Reads and parses a template file; errors name the file.
    pub fn load(path: &Path) -> Result<IssueTemplate> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the issue template {}", path.display()))?;
        IssueTemplate::parse(&text)
            .with_context(|| format!("parsing the issue template {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<IssueTemplate> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text.split_inclusive('\n');
        let first = lines.next().unwrap_or("");
        if first.trim_end() != "---" {
            bail!(
                "the issue template has no YAML front matter: its first line must be `---`, \
                 followed by `title: ...` and a closing `---`"
            );
        }
        let mut yaml = String::new();
        let mut closed = false;
        let mut consumed = first.len();
        for line in lines.by_ref() {
            consumed += line.len();
            if line.trim_end() == "---" {
                closed = true;
                break;
            }
            yaml.push_str(line);
        }
        if !closed {
            bail!("the issue template's front matter is not closed: add a line `---` after it");
        }
        let front: FrontMatter = if yaml.trim().is_empty() {
            bail!("the issue template's front matter is empty: it needs at least `title:`");
        } else {
            serde_yaml::from_str(&yaml)
                .context("reading the issue template's front matter (YAML)")?
        };
        let title = match front.title {
            Some(t) if !t.trim().is_empty() => t.trim().to_string(),
            _ => bail!("the issue template's front matter has no `title:`"),
        };
        // GitHub drops the blank lines between the front matter and the body.
        let body = text[consumed..]
            .trim_start_matches(['\r', '\n'])
            .to_string();
        Ok(IssueTemplate {
            name: front.name,
            title,
            about: front.about,
            labels: front
                .labels
                .map(StringOrList::into_names)
                .unwrap_or_default(),
            assignees: front
                .assignees
                .map(StringOrList::into_names)
                .unwrap_or_default(),
            body,
        })
    }

    /// Fills `[month]` and `[year]` in the title and body and appends the hidden month
    /// marker to the body (unless the template already carries it).
    pub fn render(&self, month: Month) -> RenderedIssue {
        let fill = |s: &str| {
            s.replace("[month]", month.name())
                .replace("[year]", &month.year().to_string())
        };
        let mut body = fill(&self.body);
        let marker = month.marker();
        if !body.contains(&marker) {
            let newline = if body.contains("\r\n") { "\r\n" } else { "\n" };
            // Only newlines: a trailing space can be part of a checklist line.
            let trimmed = body.trim_end_matches(['\r', '\n']).len();
            body.truncate(trimmed);
            if !body.is_empty() {
                body.push_str(newline);
                body.push_str(newline);
            }
            body.push_str(&marker);
            body.push_str(newline);
        }
        RenderedIssue {
            title: fill(&self.title),
            body,
            labels: self.labels.clone(),
            assignees: self.assignees.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFERENCE: &str = "---\nname: Run Pages/Zendesk user, role, and org sync\ntitle: \"Run [month] [year] Pages/Zendesk user, role, and org sync\"\nabout: INTERNAL ONLY schedule pages/zendesk syncs\nlabels: ''\nassignees: ''\n---\n\nMonthly review.\n\n## Acceptance criteria\n\n- [ ] Orgs in Zendesk match current Pages orgs\n";

    #[test]
    fn the_reference_template_parses_with_no_labels_or_assignees() {
        let t = IssueTemplate::parse(REFERENCE).unwrap();
        assert_eq!(
            t.title,
            "Run [month] [year] Pages/Zendesk user, role, and org sync"
        );
        assert!(t.labels.is_empty());
        assert!(t.assignees.is_empty());
        assert!(t.body.starts_with("Monthly review."));
    }

    #[test]
    fn labels_may_be_a_comma_separated_string_or_a_list() {
        let with = |labels: &str| {
            IssueTemplate::parse(&format!("---\ntitle: T\nlabels: {labels}\n---\nbody\n"))
                .unwrap()
                .labels
        };
        assert_eq!(with("\"a, b\""), ["a", "b"]);
        assert_eq!(with("[a, b]"), ["a", "b"]);
        assert_eq!(with("a"), ["a"]);
        assert_eq!(with("''"), Vec::<String>::new());
        assert_eq!(with("[a, ' a ', '']"), ["a"]);
    }

    #[test]
    fn missing_front_matter_or_title_is_a_clear_error() {
        let err = IssueTemplate::parse("# Just markdown\n").unwrap_err();
        assert!(format!("{err:#}").contains("no YAML front matter"));
        let err = IssueTemplate::parse("---\nname: x\n---\nbody").unwrap_err();
        assert!(format!("{err:#}").contains("no `title:`"));
        let err = IssueTemplate::parse("---\ntitle: x\nbody").unwrap_err();
        assert!(format!("{err:#}").contains("not closed"));
    }

    #[test]
    fn load_names_the_file_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.md");
        std::fs::write(&path, "no front matter").unwrap();
        let err = IssueTemplate::load(&path).unwrap_err();
        assert!(format!("{err:#}").contains("broken.md"), "{err:#}");
    }

    #[test]
    fn rendering_fills_every_placeholder_and_appends_the_month_marker() {
        let t = IssueTemplate::parse(
            "---\ntitle: \"Run [month] [year] sync\"\nlabels: [x]\n---\n\n# [month] [year]\nAgain: [month].\n\n",
        )
        .unwrap();
        let r = t.render(Month::parse("2026-11").unwrap());
        assert_eq!(r.title, "Run November 2026 sync");
        assert_eq!(
            r.body,
            "# November 2026\nAgain: November.\n\n<!-- pages-zendesk-sync:month=2026-11 -->\n"
        );
        assert_eq!(r.labels, ["x"]);
    }

    #[test]
    fn the_shipped_template_renders() {
        let text = include_str!("../../.github/ISSUE_TEMPLATE/pages-zendesk-sync.md");
        let t = IssueTemplate::parse(text).unwrap();
        assert_eq!(t.labels, ["pages-zendesk-sync"]);
        let r = t.render(Month::parse("2026-03").unwrap());
        assert_eq!(
            r.title,
            "Run March 2026 Pages/Zendesk user, role, and org sync"
        );
        assert!(!r.body.contains("[month]") && !r.body.contains("[year]"));
        assert!(r
            .body
            .contains("- [ ] Orgs in Zendesk match current Pages orgs"));
        assert!(r
            .body
            .ends_with("<!-- pages-zendesk-sync:month=2026-03 -->\n"));
    }
}
