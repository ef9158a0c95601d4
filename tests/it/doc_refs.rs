//! Every document a code comment cites is in the repository, and every section it names by
//! title (`docs/design.md "Identity"`, `docs/references.md "Zendesk tags"`) is a heading of
//! that document. A comment that sends a reader to a file or section that is not there
//! fails here.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const TREES: &[&str] = &["src", "standins/src", "tests", "benches", "examples"];

/// One comment block: consecutive `//` lines of a file, joined with spaces.
struct Comment {
    line: usize,
    text: String,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn comments(file: &Path) -> Vec<Comment> {
    let source = fs::read_to_string(file).unwrap();
    let mut out = Vec::new();
    let mut current: Option<Comment> = None;
    for (i, line) in source.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("//") {
            let rest = rest.trim_start_matches(['/', '!']).trim();
            let block = current.get_or_insert_with(|| Comment {
                line: i + 1,
                text: String::new(),
            });
            block.text.push(' ');
            block.text.push_str(rest);
        } else if let Some(done) = current.take() {
            out.push(done);
        }
    }
    out.extend(current);
    out
}

/// The paths ending in `.md` that a comment names, each with the section titles quoted right
/// after it (`path "A"`, `path ("A", "B")`, `path: "A"`).
fn citations(text: &str) -> Vec<(String, Vec<String>)> {
    let is_path_char = |c: char| c.is_ascii_alphanumeric() || "_./-".contains(c);
    let mut out = Vec::new();
    let mut search = 0;
    while let Some(at) = text[search..].find(".md") {
        let end = search + at + 3;
        search = end;
        if text[end..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        {
            continue;
        }
        let start = text[..end - 3]
            .char_indices()
            .rev()
            .take_while(|&(_, c)| is_path_char(c))
            .last()
            .map_or(end - 3, |(i, _)| i);
        let mut path = &text[start..end];
        while let Some(rest) = path.strip_prefix("../").or_else(|| path.strip_prefix("./")) {
            path = rest;
        }
        let path = path.to_string();
        if path.len() <= 3 || path.ends_with("/.md") {
            continue;
        }
        let mut sections = Vec::new();
        let mut rest = text[end..].trim_start_matches([' ', '(', ':', '`']);
        while let Some(after) = rest.strip_prefix('"') {
            let Some(close) = after.find('"') else { break };
            sections.push(
                after[..close]
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            rest = after[close + 1..].trim_start_matches([' ', ',', ';']);
        }
        out.push((path, sections));
    }
    out
}

fn headings(doc: &str) -> BTreeSet<String> {
    doc.lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|l| l.trim_start_matches('#').trim().to_string())
        .collect()
}

/// The cited file, looked up from the repository root, then beside the citing file (for
/// `README.md` of a fixture folder, say).
fn resolve(citing: &Path, path: &str) -> Option<PathBuf> {
    let root = Path::new(ROOT);
    let candidates = [root.join(path), citing.parent().unwrap().join(path)];
    candidates.into_iter().find(|p| p.is_file())
}

#[test]
fn every_document_and_section_a_comment_cites_exists() {
    let mut files = Vec::new();
    for tree in TREES {
        rust_files(&Path::new(ROOT).join(tree), &mut files);
    }
    assert!(files.len() > 50, "found only {} Rust files", files.len());
    let mut cited = 0;
    let mut broken = Vec::new();
    for file in &files {
        for comment in comments(file) {
            for (path, sections) in citations(&comment.text) {
                let place = format!(
                    "{}:{}",
                    file.strip_prefix(ROOT).unwrap_or(file).display(),
                    comment.line
                );
                let Some(doc) = resolve(file, &path) else {
                    broken.push(format!(
                        "{place}: cites {path}, which is not in the repository"
                    ));
                    continue;
                };
                cited += 1;
                let titles = headings(&fs::read_to_string(&doc).unwrap());
                for section in sections {
                    if !titles.contains(&section) {
                        broken.push(format!("{place}: {path} has no section \"{section}\""));
                    }
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "broken references:\n{}",
        broken.join("\n")
    );
    // The design document is cited throughout; finding none means the scan is broken.
    assert!(cited >= 20, "only {cited} citations found");
}

#[test]
fn citations_are_read_with_their_sections() {
    let found = citations(r#" rules of docs/design.md ("Identity", "Mapping into Zendesk") are"#);
    assert_eq!(
        found,
        vec![(
            "docs/design.md".to_string(),
            vec!["Identity".to_string(), "Mapping into Zendesk".to_string()]
        )]
    );
    let found =
        citations(r#" (docs/references.md "GitHub workflow commands"): and BENCHMARKS.md."#);
    assert_eq!(found[0].1, vec!["GitHub workflow commands".to_string()]);
    assert_eq!(found[1], ("BENCHMARKS.md".to_string(), vec![]));
    assert!(citations(" the .mdx file and x.md5 sum").is_empty());
}
