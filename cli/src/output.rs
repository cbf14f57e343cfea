//! What commands print: a JSON value for `--json` and text for people, plus the
//! helpers that make the text readable (aligned tables that count a Chinese
//! character as two columns, local times, short ids).
//!
//! Every command returns an [`Output`] holding both forms; `main` prints one.
//! Commands never print themselves, so `--json` can never be polluted by a stray
//! human line, and a test can rely on stdout being exactly one JSON document.

use chrono::{DateTime, Local, Utc};
use serde_json::{Value, json};

use crate::error::CliError;

/// A command's result in both forms.
#[derive(Debug)]
pub struct Output {
    /// For `--json`.
    pub json: Value,
    /// For people; printed as is (a trailing newline is added if missing).
    pub human: String,
}

impl Output {
    /// Both forms.
    pub fn new(json: Value, human: impl Into<String>) -> Output {
        Output {
            json,
            human: human.into(),
        }
    }

    /// Print the chosen form to stdout. The human form is made inert first
    /// ([`inert`]); JSON is exact (serde escapes control characters itself). A
    /// closed stdout (`fieldbook status | head -2`) ends the program quietly.
    pub fn print(&self, as_json: bool) {
        let text = if as_json {
            let mut j = serde_json::to_string_pretty(&self.json).unwrap_or_else(|_| "null".into());
            j.push('\n');
            j
        } else if self.human.is_empty() {
            return;
        } else {
            let mut h = inert(&self.human);
            if !h.ends_with('\n') {
                h.push('\n');
            }
            h
        };
        write_stdout(&text);
    }
}

/// Write to stdout; a reader that went away (a broken pipe) is not an error of ours.
fn write_stdout(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error[io.stdout]: {e}");
        std::process::exit(1);
    }
}

/// Human text made inert for a terminal: another person's field may hold escape
/// sequences (ESC, BEL, CR, any C0 or C1 control) or bidi overrides that would
/// rewrite the screen or reorder what is shown. Each becomes a visible escape
/// (`\x1b`, `\u{202e}`); newlines and tabs stay. This is the one place human
/// output passes through.
pub fn inert(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            c if (c as u32) < 0x20 || (0x7f..=0x9f).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            '\u{200e}'
            | '\u{200f}'
            | '\u{061c}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}' => {
                out.push_str(&format!("\\u{{{:04x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// Print an error to stderr in the chosen form.
pub fn print_error(e: &CliError, as_json: bool) {
    if as_json {
        let body = json!({ "error": { "code": e.code(), "message": e.to_string() } });
        eprintln!("{body}");
    } else {
        eprintln!("error[{}]: {}", e.code(), inert(&e.to_string()));
    }
}

/// Serialize anything serde can, for JSON output.
pub fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Columns a character takes in a terminal: 2 for East Asian wide and full-width
/// characters and most emoji, 0 for combining marks and zero-width characters.
///
/// A small table rather than a dependency: it only has to be right for what
/// cards hold (CJK text, full-width punctuation, the odd emoji).
pub fn char_width(c: char) -> usize {
    let u = c as u32;
    match u {
        0 => 0,
        _ if c.is_control() => 0,
        0x0300..=0x036F
        | 0x200B..=0x200F
        | 0x20D0..=0x20FF
        | 0xFE00..=0xFE0F
        | 0xE0100..=0xE01EF => 0,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

/// Columns a string takes in a terminal.
pub fn width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// Cut a string to at most `max` columns, marking the cut with `…`.
pub fn truncate(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = char_width(c);
        if used + w + 1 > max {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// Pad a string with spaces to `cols` columns.
pub fn pad(s: &str, cols: usize) -> String {
    let w = width(s);
    let mut out = s.to_string();
    out.extend(std::iter::repeat_n(' ', cols.saturating_sub(w)));
    out
}

/// A text table with a header row, columns aligned by display width.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    max_col: usize,
}

impl Table {
    /// A table with these column headers; cells wider than 40 columns are cut.
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: vec![],
            max_col: 40,
        }
    }

    /// Add a row (one cell per column; missing cells are blank). Newlines in a
    /// cell are flattened so one row stays one line; every column but the last
    /// (which needs no padding) is cut to a readable width.
    pub fn row(&mut self, cells: Vec<String>) {
        let last = self.header.len().saturating_sub(1);
        let cells = cells
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let c = c.replace(['\n', '\r'], " ");
                if i < last {
                    truncate(&c, self.max_col)
                } else {
                    c
                }
            })
            .collect();
        self.rows.push(cells);
    }

    /// Render with two spaces between columns; the last column is not padded.
    pub fn render(&self) -> String {
        let cols = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(cols) {
                widths[i] = widths[i].max(width(cell));
            }
        }
        let line = |cells: &[String]| {
            let mut out = String::new();
            for (i, w) in widths.iter().enumerate() {
                let cell = cells.get(i).map(String::as_str).unwrap_or("");
                if i + 1 == cols {
                    out.push_str(cell);
                } else {
                    out.push_str(&pad(cell, *w));
                    out.push_str("  ");
                }
            }
            out.trim_end().to_string()
        };
        let mut out = line(&self.header);
        out.push('\n');
        for row in &self.rows {
            out.push_str(&line(row));
            out.push('\n');
        }
        out
    }
}

/// A time as a person reads it: local time, to the minute.
pub fn local_time(t: &DateTime<Utc>) -> String {
    t.with_timezone(&Local).format("%Y-%m-%d %H:%M").to_string()
}

/// An optional time, `-` when absent.
pub fn opt_time(t: Option<&DateTime<Utc>>) -> String {
    t.map(local_time).unwrap_or_else(|| "-".into())
}

/// The first 8 characters of a long id, enough to tell devices or cards apart on screen.
pub fn short(id: &str) -> String {
    id.chars().take(8).collect()
}

/// `-` for an absent value.
pub fn or_dash(s: Option<&str>) -> String {
    match s {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => "-".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_bidi_overrides_become_visible_escapes() {
        assert_eq!(
            inert("a\u{1b}[2Jb\u{7}c\rd\u{9b}e\u{202e}f\n\tg"),
            "a\\x1b[2Jb\\x07c\\x0dd\\x9be\\u{202e}f\n\tg"
        );
        assert_eq!(inert("上海华东 😅"), "上海华东 😅");
    }

    #[test]
    fn chinese_counts_double() {
        assert_eq!(width("abc"), 3);
        assert_eq!(width("客户"), 4);
        assert_eq!(width("华东区A"), 7);
        assert_eq!(pad("客户", 6), "客户  ");
    }

    #[test]
    fn truncation_respects_width() {
        let t = truncate("上海华东客户服务有限公司", 9);
        assert!(width(&t) <= 9, "{t}");
        assert!(t.ends_with('…'));
    }

    #[test]
    fn table_aligns_mixed_text() {
        let mut t = Table::new(&["名称", "电话"]);
        t.row(vec!["上海客户".into(), "1".into()]);
        t.row(vec!["abc".into(), "2".into()]);
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        let col = |l: &str| width(&l[..l.rfind(' ').map(|i| i + 1).unwrap_or(0)]);
        assert_eq!(col(lines[1]), col(lines[2]));
    }
}
