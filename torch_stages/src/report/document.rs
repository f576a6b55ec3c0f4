//! The report as a tree of sections and blocks, rendered two ways: one
//! self-contained HTML file (inline SVG and CSS, no script, no external
//! resource) and Markdown that links the figures as separate SVG files.

use std::fmt::Write;

/// Where the Markdown finds the figures, relative to itself.
pub const FIGURE_DIR: &str = "figures";

pub struct Document {
    pub title: String,
    pub sections: Vec<Section>,
}

pub struct Section {
    /// The HTML anchor.
    pub id: &'static str,
    pub title: String,
    pub blocks: Vec<Block>,
}

pub enum Block {
    Text(String),
    /// What could not be shown and why.
    Missing(String),
    Figure(Figure),
    Table(Table),
    /// Preformatted text shown verbatim (HTML: folded under `summary`).
    Verbatim {
        summary: String,
        text: String,
    },
}

pub struct Figure {
    /// File stem: the figure is `figures/<name>.svg`.
    pub name: String,
    pub caption: String,
    pub svg: String,
}

pub struct Table {
    pub caption: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

pub struct Cell {
    pub text: String,
    pub bold: bool,
}

impl Cell {
    pub fn plain(text: impl Into<String>) -> Self {
        Cell {
            text: text.into(),
            bold: false,
        }
    }
}

impl Section {
    pub fn new(id: &'static str, title: impl Into<String>) -> Self {
        Section {
            id,
            title: title.into(),
            blocks: Vec::new(),
        }
    }

    pub fn push(&mut self, block: Block) {
        self.blocks.push(block);
    }

    pub fn text(&mut self, text: impl Into<String>) {
        self.push(Block::Text(text.into()));
    }

    pub fn missing(&mut self, text: impl Into<String>) {
        self.push(Block::Missing(text.into()));
    }
}

impl Figure {
    pub fn path(&self) -> String {
        format!("{FIGURE_DIR}/{}.svg", self.name)
    }
}

impl Document {
    pub fn figures(&self) -> impl Iterator<Item = &Figure> {
        self.sections
            .iter()
            .flat_map(|s| &s.blocks)
            .filter_map(|b| match b {
                Block::Figure(f) => Some(f),
                _ => None,
            })
    }

    /// Well-formed (XML-parsable) HTML5.
    pub fn to_html(&self) -> String {
        let mut out = String::new();
        let title = escape(&self.title);
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
             <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n<nav><ol>\n"
        );
        for s in &self.sections {
            let _ = writeln!(
                out,
                "<li><a href=\"#{}\">{}</a></li>",
                s.id,
                escape(&s.title)
            );
        }
        out.push_str("</ol></nav>\n");
        for s in &self.sections {
            let _ = writeln!(
                out,
                "<section id=\"{}\">\n<h2>{}</h2>",
                s.id,
                escape(&s.title)
            );
            for block in &s.blocks {
                html_block(&mut out, block);
            }
            out.push_str("</section>\n");
        }
        out.push_str("</body>\n</html>\n");
        out
    }

    pub fn to_markdown(&self) -> String {
        let mut out = format!("# {}\n\n", self.title);
        for s in &self.sections {
            let _ = write!(out, "## {}\n\n", s.title);
            for block in &s.blocks {
                markdown_block(&mut out, block);
            }
        }
        out
    }
}

const STYLE: &str = "body{font-family:sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;\
color:#222;line-height:1.45}h2{border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2.5rem}\
figure{margin:1rem 0}figure svg{max-width:100%;height:auto;display:block}\
figcaption{font-size:.9rem;color:#444;margin-top:.3rem}\
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}caption{text-align:left;\
font-weight:bold;padding:.3rem 0}th,td{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}\
th{background:#f2f2f2}td.num{text-align:right;font-variant-numeric:tabular-nums}\
.missing{background:#fff6d6;border-left:4px solid #e0a800;padding:.4rem .6rem}\
pre{background:#f6f6f6;padding:.6rem;overflow:auto;font-size:.8rem}";

fn html_block(out: &mut String, block: &Block) {
    match block {
        Block::Text(text) => {
            let _ = writeln!(out, "<p>{}</p>", inline(text));
        }
        Block::Missing(text) => {
            let _ = writeln!(out, "<p class=\"missing\">Missing: {}</p>", inline(text));
        }
        Block::Figure(f) => {
            let _ = writeln!(
                out,
                "<figure id=\"fig-{}\">\n{}<figcaption>{}</figcaption>\n</figure>",
                f.name,
                f.svg,
                escape(&f.caption)
            );
        }
        Block::Table(t) => {
            let _ = writeln!(
                out,
                "<table>\n<caption>{}</caption>\n<thead><tr>",
                escape(&t.caption)
            );
            for h in &t.header {
                let _ = write!(out, "<th>{}</th>", escape(h));
            }
            out.push_str("</tr></thead>\n<tbody>\n");
            for row in &t.rows {
                out.push_str("<tr>");
                for cell in row {
                    let class = if looks_numeric(&cell.text) {
                        " class=\"num\""
                    } else {
                        ""
                    };
                    let text = escape(&cell.text);
                    if cell.bold {
                        let _ = write!(out, "<td{class}><strong>{text}</strong></td>");
                    } else {
                        let _ = write!(out, "<td{class}>{text}</td>");
                    }
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</tbody>\n</table>\n");
        }
        Block::Verbatim { summary, text } => {
            let _ = writeln!(
                out,
                "<details><summary>{}</summary><pre>{}</pre></details>",
                escape(summary),
                escape(text)
            );
        }
    }
}

fn markdown_block(out: &mut String, block: &Block) {
    match block {
        Block::Text(text) => {
            let _ = write!(out, "{text}\n\n");
        }
        Block::Missing(text) => {
            let _ = write!(out, "> **Missing:** {text}\n\n");
        }
        Block::Figure(f) => {
            let _ = write!(out, "![{}]({})\n\n*{}*\n\n", f.name, f.path(), f.caption);
        }
        Block::Table(t) => {
            let _ = write!(out, "**{}**\n\n", t.caption);
            let row = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
            out.push_str(&row(t.header.iter().map(|h| md_cell(h)).collect()));
            out.push_str(&row(t.header.iter().map(|_| "---".to_string()).collect()));
            for r in &t.rows {
                out.push_str(&row(r
                    .iter()
                    .map(|c| {
                        if c.bold {
                            format!("**{}**", md_cell(&c.text))
                        } else {
                            md_cell(&c.text)
                        }
                    })
                    .collect()));
            }
            out.push('\n');
        }
        Block::Verbatim { summary, text } => {
            let _ = write!(out, "{summary}:\n\n```\n{text}\n```\n\n");
        }
    }
}

/// Escaped text with Markdown's `code` spans as <code>; unbalanced
/// backticks are left as they are.
fn inline(text: &str) -> String {
    let parts: Vec<&str> = text.split('`').collect();
    if parts.len().is_multiple_of(2) {
        return escape(text);
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{}</code>", escape(part))
            } else {
                escape(part)
            }
        })
        .collect()
}

fn looks_numeric(text: &str) -> bool {
    text == "NA" || text.parse::<f64>().is_ok()
}

fn md_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}
