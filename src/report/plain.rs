//! Renders a [`Document`](super::document::Document) as plain text for a terminal: no
//! markdown, tables in aligned columns, sections as a title line over their indented body.
//! Charts and hidden markers are left out.

use super::document::{Align, Block, Item, Span, Table, Text};

/// How a section's body is indented.
const INDENT: &str = "  ";

/// Blocks separated by a blank line.
pub fn render(blocks: &[Block]) -> String {
    let mut out = String::new();
    let mut first = true;
    for b in blocks {
        let mut s = String::new();
        block(&mut s, b);
        if s.is_empty() {
            continue;
        }
        if !first {
            out.push('\n');
        }
        first = false;
        out.push_str(&s);
    }
    out
}

fn block(out: &mut String, b: &Block) {
    match b {
        Block::Title(t) | Block::Paragraph(t) => {
            out.push_str(&inline(t));
            out.push('\n');
        }
        Block::List(items) => list(out, items),
        Block::Table(t) => table(out, t),
        Block::Section { title, body }
        | Block::Details {
            summary: title,
            body,
        } => {
            out.push_str(title);
            out.push('\n');
            let mut inner = String::new();
            for b in body {
                block(&mut inner, b);
            }
            for line in inner.lines() {
                if line.is_empty() {
                    out.push('\n');
                } else {
                    out.push_str(&format!("{INDENT}{line}\n"));
                }
            }
        }
        Block::Chart(_) | Block::Hidden(_) => {}
        Block::Tight(blocks) => {
            for b in blocks {
                block(out, b);
            }
        }
    }
}

fn list(out: &mut String, items: &[Item]) {
    for item in items {
        out.push_str(&format!("- {}\n", inline(&item.text)));
        if let Some(next) = &item.next {
            out.push_str(&format!("  next: {}\n", inline(next)));
        }
    }
}

/// Aligned columns, two spaces apart; a header, if any, is the first row.
fn table(out: &mut String, t: &Table) {
    let mut rows: Vec<Vec<String>> = Vec::new();
    if let Some(h) = &t.header {
        rows.push(h.clone());
    }
    rows.extend(t.rows.iter().map(|r| r.iter().map(inline).collect()));
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in &rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = " ".repeat(widths[i].saturating_sub(cell.chars().count()));
            match t.align_of(i) {
                Align::Left => {
                    line.push_str(cell);
                    line.push_str(&pad);
                }
                Align::Right => {
                    line.push_str(&pad);
                    line.push_str(cell);
                }
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

/// Plain text of a [`Text`]: no markup; a link shows its text and its address.
pub fn inline(t: &Text) -> String {
    let mut out = String::new();
    for span in &t.0 {
        match span {
            Span::Text(s) | Span::Strong(s) | Span::Emphasis(s) | Span::Code(s) => out.push_str(s),
            Span::Coded(s) => out.push_str(&s.replace('`', "")),
            Span::Link { text, url } => out.push_str(&format!("{text} ({url})")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::document::Document;

    #[test]
    fn sections_indent_their_body_and_drop_markup() {
        let mut doc = Document::new();
        doc.push(Block::Section {
            title: "Needs attention".into(),
            body: vec![Block::List(vec![Item {
                text: Text::new().coded("blocked by `user.tagging`"),
                next: Some(Text::new().strong("Turn it on.")),
            }])],
        });
        doc.push(Block::Table(
            Table::headless(&[Align::Left, Align::Right])
                .row(["a", "1"])
                .row(["bbb", "22"]),
        ));
        doc.push(Block::Chart("```mermaid\n```\n".into()));
        assert_eq!(
            doc.plain(),
            "Needs attention\n  - blocked by user.tagging\n    next: Turn it on.\n\na     1\nbbb  22\n"
        );
    }
}
