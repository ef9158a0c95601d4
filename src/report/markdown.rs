//! Renders a [`Document`](super::document::Document) as GitHub-flavoured markdown (the
//! results comment and the job summary). Escaping lives here: table cells cannot break
//! their row, link targets cannot break out of `[text](...)`.

use super::document::{Align, Block, Item, Span, Table, Text};

/// Blocks separated by a blank line.
pub fn render(blocks: &[Block]) -> String {
    let mut out = String::new();
    for (i, b) in blocks.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        block(&mut out, b);
    }
    out
}

fn block(out: &mut String, b: &Block) {
    match b {
        Block::Title(t) => {
            out.push_str("## ");
            out.push_str(&inline(t));
            out.push('\n');
        }
        Block::Paragraph(t) => {
            out.push_str(&inline(t));
            out.push('\n');
        }
        Block::List(items) => list(out, items),
        Block::Table(t) => table(out, t),
        Block::Section { title, body } => {
            out.push_str(&format!("### {title}\n"));
            if !body.is_empty() {
                out.push('\n');
                out.push_str(&render(body));
            }
        }
        Block::Details { summary, body } => {
            // GitHub needs the blank line to render markdown inside.
            out.push_str(&format!(
                "<details><summary>{summary}</summary>\n\n{}\n</details>\n",
                render(body).trim_end()
            ));
        }
        Block::Chart(md) => {
            out.push_str(md.trim_end());
            out.push('\n');
        }
        Block::Hidden(line) => {
            out.push_str(line);
            out.push('\n');
        }
        Block::Tight(blocks) => {
            for b in blocks {
                block(out, b);
            }
        }
    }
}

fn list(out: &mut String, items: &[Item]) {
    for item in items {
        out.push_str("- ");
        out.push_str(&inline(&item.text));
        out.push('\n');
        if let Some(next) = &item.next {
            out.push_str("  **Next:** ");
            out.push_str(&inline(next));
            out.push('\n');
        }
    }
}

/// A GitHub-flavoured table; a `|` in a cell is escaped.
fn table(out: &mut String, t: &Table) {
    let header = t.header.clone().unwrap_or_default();
    out.push('|');
    for h in &header {
        out.push_str(&format!(" {h} |"));
    }
    out.push_str("\n|");
    for i in 0..header.len() {
        out.push_str(match t.align.get(i).copied().unwrap_or(Align::Left) {
            Align::Right => " ---: |",
            Align::Left => " --- |",
        });
    }
    out.push('\n');
    for row in &t.rows {
        out.push('|');
        for cell in row {
            out.push_str(&format!(" {} |", inline(cell).replace('|', "\\|")));
        }
        out.push('\n');
    }
}

/// Inline markdown of a [`Text`].
pub fn inline(t: &Text) -> String {
    let mut out = String::new();
    for span in &t.0 {
        match span {
            Span::Text(s) | Span::Coded(s) => out.push_str(s),
            Span::Strong(s) => out.push_str(&format!("**{s}**")),
            Span::Emphasis(s) => out.push_str(&format!("_{s}_")),
            Span::Code(s) => out.push_str(&format!("`{s}`")),
            Span::Link { text, url } => match link_target(url) {
                Some(url) => out.push_str(&format!("[{text}]({url})")),
                None => out.push_str(text),
            },
        }
    }
    out
}

/// A link target that cannot break out of `[text](...)`: characters that end or confuse
/// the link are percent-encoded; anything but http(s) is refused.
pub fn link_target(url: &str) -> Option<String> {
    let url = url.trim();
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return None;
    }
    let mut out = String::with_capacity(url.len());
    for c in url.chars().take(2000) {
        match c {
            ' ' => out.push_str("%20"),
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '"' => out.push_str("%22"),
            '[' => out.push_str("%5B"),
            ']' => out.push_str("%5D"),
            '|' => out.push_str("%7C"),
            '`' => out.push_str("%60"),
            c if c.is_control() || c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::document::Document;

    #[test]
    fn a_link_cannot_break_out_and_only_http_is_linked() {
        let t = Text::new().link("Workflow run", "https://x/a) [b](javascript:y");
        assert_eq!(
            inline(&t),
            "[Workflow run](https://x/a%29%20%5Bb%5D%28javascript:y)"
        );
        let t = Text::new().link("run", "javascript:alert(1)");
        assert_eq!(inline(&t), "run");
    }

    #[test]
    fn blocks_are_separated_by_one_blank_line_and_tight_groups_by_none() {
        let mut doc = Document::new();
        doc.push(Block::Tight(vec![
            Block::Title("T".into()),
            Block::Paragraph(Text::new().strong("a").text(" b")),
        ]));
        doc.push(Block::Table(
            Table::new(&["x", "n"], &[Align::Left, Align::Right]).row(["a|b", "1"]),
        ));
        doc.push(Block::Details {
            summary: "S".into(),
            body: vec![Block::Paragraph("p".into())],
        });
        assert_eq!(
            doc.markdown(),
            "## T\n**a** b\n\n| x | n |\n| --- | ---: |\n| a\\|b | 1 |\n\n\
             <details><summary>S</summary>\n\np\n</details>\n"
        );
    }
}
