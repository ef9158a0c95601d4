//! The document model every human-readable report is built as: sections of headings,
//! paragraphs, tables, lists, collapsed details, charts and hidden markers. Builders
//! ([`comment`](super::comment), [`job_summary`](super::job_summary),
//! [`terminal`](super::terminal)) say *what* a report holds; the renderers
//! ([`markdown`](super::markdown), [`plain`](super::plain)) say how it looks, so escaping
//! and layout rules live in one place each.
//!
//! Blocks are separated by a blank line; a [`Block::Tight`] group is not.

/// A run of inline text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Span {
    Text(String),
    /// Text whose `backtick` spans are code: kept as is in markdown, backticks dropped in
    /// plain text (the needs-attention items are written this way).
    Coded(String),
    Strong(String),
    Emphasis(String),
    Code(String),
    /// A link; markdown escapes the target and refuses anything but http(s).
    Link {
        text: String,
        url: String,
    },
}

/// Inline content: a sequence of spans.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text(pub Vec<Span>);

impl Text {
    pub fn new() -> Self {
        Text(Vec::new())
    }
    pub fn plain(s: impl Into<String>) -> Self {
        Text(vec![Span::Text(s.into())])
    }
    pub fn text(mut self, s: impl Into<String>) -> Self {
        self.0.push(Span::Text(s.into()));
        self
    }
    pub fn coded(mut self, s: impl Into<String>) -> Self {
        self.0.push(Span::Coded(s.into()));
        self
    }
    pub fn strong(mut self, s: impl Into<String>) -> Self {
        self.0.push(Span::Strong(s.into()));
        self
    }
    pub fn emphasis(mut self, s: impl Into<String>) -> Self {
        self.0.push(Span::Emphasis(s.into()));
        self
    }
    pub fn code(mut self, s: impl Into<String>) -> Self {
        self.0.push(Span::Code(s.into()));
        self
    }
    pub fn link(mut self, text: impl Into<String>, url: impl Into<String>) -> Self {
        self.0.push(Span::Link {
            text: text.into(),
            url: url.into(),
        });
        self
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text::plain(s)
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text::plain(s)
    }
}

/// Column alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A table: an optional header row, one alignment per column (columns beyond the list:
/// the first left, the rest right), and rows of cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub header: Option<Vec<String>>,
    pub align: Vec<Align>,
    pub rows: Vec<Vec<Text>>,
}

impl Table {
    pub fn new(header: &[&str], align: &[Align]) -> Self {
        Table {
            header: Some(header.iter().map(|h| h.to_string()).collect()),
            align: align.to_vec(),
            rows: Vec::new(),
        }
    }

    /// A table without a header row (plain text only: markdown tables need one).
    pub fn headless(align: &[Align]) -> Self {
        Table {
            header: None,
            align: align.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row<T: Into<Text>>(mut self, cells: impl IntoIterator<Item = T>) -> Self {
        self.rows.push(cells.into_iter().map(Into::into).collect());
        self
    }

    pub fn push<T: Into<Text>>(&mut self, cells: impl IntoIterator<Item = T>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// The alignment of column `i`.
    pub fn align_of(&self, i: usize) -> Align {
        self.align
            .get(i)
            .copied()
            .unwrap_or(if i == 0 { Align::Left } else { Align::Right })
    }
}

/// One list item and, optionally, what to do about it (rendered "**Next:**" / "next:").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub text: Text,
    pub next: Option<Text>,
}

impl Item {
    pub fn new(text: impl Into<Text>) -> Self {
        Item {
            text: text.into(),
            next: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// A document title (`##` in markdown, a plain line in text).
    Title(Text),
    Paragraph(Text),
    List(Vec<Item>),
    Table(Table),
    /// A titled section: `### title` and its blocks in markdown; in plain text the title
    /// line and its blocks indented, without blank lines.
    Section {
        title: String,
        body: Vec<Block>,
    },
    /// A collapsed section (`<details>`); markdown only, plain text shows the body.
    Details {
        summary: String,
        body: Vec<Block>,
    },
    /// Mermaid charts, already in markdown; plain text leaves them out.
    Chart(String),
    /// A hidden HTML comment line (run marker, carry block); plain text leaves it out.
    Hidden(String),
    /// Blocks with no blank line between them.
    Tight(Vec<Block>),
}

/// A whole report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    pub blocks: Vec<Block>,
}

impl Document {
    pub fn new() -> Self {
        Document::default()
    }
    pub fn push(&mut self, block: Block) {
        self.blocks.push(block);
    }
    pub fn paragraph(&mut self, text: impl Into<Text>) {
        self.blocks.push(Block::Paragraph(text.into()));
    }
    pub fn markdown(&self) -> String {
        super::markdown::render(&self.blocks)
    }
    pub fn plain(&self) -> String {
        super::plain::render(&self.blocks)
    }
}
