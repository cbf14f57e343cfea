//! Writing cards and reports as CSV or XLSX, with Chinese headers from the schema's
//! labels: the same headers an import recognises, so an exported list imports back.
//!
//! CSV is UTF-8 with a byte-order mark (without one Excel reads it as the system's
//! code page and garbles Chinese) and CRLF line ends. **Formula injection:** a
//! spreadsheet takes a CSV cell starting with `=`, `+`, `-`, `@`, a tab or a CR for a
//! formula (`=HYPERLINK(…)` in a customer's name would run when a manager opens the
//! file), so such a cell is written with a leading `'`, which makes Excel and LibreOffice
//! show it as text ([`neutralise`]); an import takes the quote off again
//! ([`unneutralise`]). An XLSX cell is written with `write_string`, typed as text in
//! the file: it never is a formula, so it needs no quote. Amounts and counts are
//! written to XLSX as numbers, so they sum in Excel.

use rust_xlsxwriter::{Format, Workbook};
use serde::{Deserialize, Serialize};

use super::error::TransferError;
use super::mapping::{SALES_HEADER, contact_header};
use crate::analysis::abc::AbcReport;
use crate::analysis::visits::DayPlan;
use crate::card::{self, Card, Contact, Keyed, Record};
use crate::ids::YearMonth;
use crate::value::FieldKind;

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// UTF-8 CSV with a byte-order mark.
    Csv,
    /// An Excel workbook of one sheet.
    Xlsx,
}

/// One cell of an export.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// A number (amounts in yuan, counts, degrees).
    Number(f64),
    /// Nothing.
    Empty,
}

/// One sheet to write: a name, headers, rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Sheet {
    /// The sheet's name in an XLSX (at most 31 characters).
    pub name: String,
    /// The header row.
    pub headers: Vec<String>,
    /// The rows.
    pub rows: Vec<Vec<Cell>>,
}

fn needs_quote(s: &str) -> bool {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => true,
        Some('\'') => needs_quote(&s[1..]),
        _ => false,
    }
}

/// A CSV cell made inert: text a spreadsheet would run as a formula gets a leading `'`
/// (and so does text that already starts with `'` before such a character, so that
/// [`unneutralise`] gives back exactly what was written).
pub fn neutralise(s: &str) -> std::borrow::Cow<'_, str> {
    if needs_quote(s) {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

/// Undo [`neutralise`] on an imported cell.
pub fn unneutralise(s: &str) -> &str {
    match s.strip_prefix('\'') {
        Some(rest) if needs_quote(rest) => rest,
        _ => s,
    }
}

/// The columns of a cards export, in order: `(header, path)`. Sections in schema
/// order with the territory first, the notes, the tags, the main contact, then one
/// column per month of sales any of the cards has.
fn card_columns(cards: &[Card]) -> Vec<(String, String)> {
    let mut cols: Vec<(String, String)> = vec![];
    for f in card::schema() {
        if f.path.contains(".*.") {
            continue;
        }
        cols.push((f.info.label.to_string(), f.path));
    }
    cols.push(("标签".into(), "tags".into()));
    for f in Contact::FIELDS {
        if let Some(h) = contact_header(f.key) {
            cols.push((h, format!("contacts.*.{}", f.key)));
        }
    }
    let months: std::collections::BTreeSet<YearMonth> =
        cards.iter().flat_map(|c| c.sales.keys().copied()).collect();
    for m in months {
        cols.push((format!("{SALES_HEADER} {m}"), format!("sales.{m}")));
    }
    cols
}

/// The contact a row shows: the main one, else the first.
fn main_contact(card: &Card) -> Option<&Keyed<Contact>> {
    card.contacts
        .iter()
        .find(|c| c.primary == Some(true))
        .or_else(|| card.contacts.first())
}

fn typed(kind: Option<FieldKind>, text: String) -> Cell {
    let numeric = matches!(
        kind,
        Some(
            FieldKind::Money
                | FieldKind::Count
                | FieldKind::Int
                | FieldKind::Latitude
                | FieldKind::Longitude
                | FieldKind::DayOfMonth
        )
    );
    match text.parse::<f64>() {
        Ok(n) if numeric && n.is_finite() => Cell::Number(n),
        _ => Cell::Text(text),
    }
}

/// Cards as a sheet (客户资料), one row per card.
pub fn cards_sheet(cards: &[Card]) -> Sheet {
    let cols = card_columns(cards);
    let rows = cards
        .iter()
        .map(|c| {
            let contact = main_contact(c);
            cols.iter()
                .map(|(_, path)| {
                    let value = if path == "tags" {
                        (!c.tags.is_empty())
                            .then(|| c.tags.iter().cloned().collect::<Vec<_>>().join("、"))
                    } else if let Some(key) = path.strip_prefix("contacts.*.") {
                        contact.and_then(|k| k.value.get_display(key).ok().flatten())
                    } else {
                        c.get_path(path).ok().flatten()
                    };
                    let kind = if let Some(key) = path.strip_prefix("contacts.*.") {
                        Contact::FIELDS
                            .iter()
                            .find(|f| f.key == key)
                            .map(|f| f.kind)
                    } else {
                        card::kind_of(path)
                    };
                    value.map_or(Cell::Empty, |v| typed(kind, v))
                })
                .collect()
        })
        .collect();
    Sheet {
        name: "客户资料".into(),
        headers: cols.into_iter().map(|(h, _)| h).collect(),
        rows,
    }
}

fn yuan(m: crate::value::Money) -> Cell {
    Cell::Number(m.fen() as f64 / 100.0)
}

fn text(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

fn opt_text(s: Option<impl ToString>) -> Cell {
    s.map_or(Cell::Empty, |s| Cell::Text(s.to_string()))
}

/// The ABC report as a sheet (ABC分类), one row per card in rank order.
pub fn abc_sheet(report: &AbcReport) -> Sheet {
    let headers = [
        "排名",
        "客户名称",
        "计算分类",
        "手动分类",
        "窗口销售额",
        "月均销售额",
        "占比",
        "累计占比",
        "卡片ID",
    ];
    let rows = report
        .rows
        .iter()
        .map(|r| {
            vec![
                Cell::Number(f64::from(r.rank)),
                opt_text(r.name.as_deref()),
                text(r.computed.code()),
                opt_text(r.manual.map(|c| c.code())),
                yuan(r.window_sales),
                yuan(r.monthly_average),
                text(r.share.to_string()),
                text(r.cumulative_share.to_string()),
                text(r.card.as_str()),
            ]
        })
        .collect();
    Sheet {
        name: "ABC分类".into(),
        headers: headers.map(String::from).to_vec(),
        rows,
    }
}

/// The day plan as a sheet (拜访计划): the routed stops in route order, then the due
/// stops that could not be routed, each with why.
pub fn plan_sheet(plan: &DayPlan) -> Sheet {
    let headers = [
        "路序",
        "客户名称",
        "路线区域",
        "分类",
        "上次拜访",
        "应访日期",
        "逾期天数",
        "距上一站(米)",
        "累计(米)",
        "未排路线原因",
        "卡片ID",
    ];
    let schedule: std::collections::HashMap<_, _> = plan
        .visits
        .due
        .iter()
        .map(|s| (s.card.clone(), s))
        .collect();
    let row =
        |order: Cell, stop: &crate::analysis::route::Stop, legs: (Cell, Cell), reason: Cell| {
            let s = schedule.get(&stop.card);
            vec![
                order,
                text(stop.name.clone()),
                opt_text(stop.area.as_deref()),
                opt_text(s.and_then(|s| s.class).map(|c| c.code())),
                opt_text(s.and_then(|s| s.last_visit)),
                opt_text(s.map(|s| s.next_due)),
                s.map_or(Cell::Empty, |s| Cell::Number(f64::from(s.days_overdue))),
                legs.0,
                legs.1,
                reason,
                text(stop.card.as_str()),
            ]
        };
    let mut rows = Vec::new();
    for (i, r) in plan.route.stops().enumerate() {
        rows.push(row(
            Cell::Number((i + 1) as f64),
            &r.stop,
            (
                Cell::Number(r.leg_m.round()),
                Cell::Number(r.cumulative_m.round()),
            ),
            Cell::Empty,
        ));
    }
    for u in &plan.route.unrouted {
        let reason = match u.reason {
            crate::analysis::route::UnroutedReason::NoCoordinates => "没有坐标",
            crate::analysis::route::UnroutedReason::OverLimit => "超出当日上限",
        };
        rows.push(row(
            Cell::Empty,
            &u.stop,
            (Cell::Empty, Cell::Empty),
            text(reason),
        ));
    }
    Sheet {
        name: "拜访计划".into(),
        headers: headers.map(String::from).to_vec(),
        rows,
    }
}

/// A number as a CSV cell: whole numbers without a fraction.
fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// Write a sheet in a format.
pub fn write(sheet: &Sheet, format: ExportFormat) -> Result<Vec<u8>, TransferError> {
    match format {
        ExportFormat::Csv => write_csv(sheet),
        ExportFormat::Xlsx => write_xlsx(sheet),
    }
}

fn write_csv(sheet: &Sheet) -> Result<Vec<u8>, TransferError> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .flexible(false)
        .from_writer(b"\xef\xbb\xbf".to_vec());
    let bad = |e: csv::Error| TransferError::Write(e.to_string());
    w.write_record(sheet.headers.iter().map(|h| neutralise(h).into_owned()))
        .map_err(bad)?;
    for row in &sheet.rows {
        let cells: Vec<String> = row
            .iter()
            .map(|c| match c {
                Cell::Text(t) => neutralise(t).into_owned(),
                Cell::Number(n) => number_text(*n),
                Cell::Empty => String::new(),
            })
            .collect();
        w.write_record(&cells).map_err(bad)?;
    }
    w.into_inner()
        .map_err(|e| TransferError::Write(e.error().to_string()))
}

fn write_xlsx(sheet: &Sheet) -> Result<Vec<u8>, TransferError> {
    let bad = |e: rust_xlsxwriter::XlsxError| TransferError::Write(e.to_string());
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let name: String = sheet
        .name
        .chars()
        .filter(|c| !matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\'))
        .take(31)
        .collect();
    if !name.is_empty() {
        ws.set_name(name).map_err(bad)?;
    }
    let bold = Format::new().set_bold();
    for (c, h) in sheet.headers.iter().enumerate() {
        let c = u16::try_from(c).map_err(|_| TransferError::Write("too many columns".into()))?;
        ws.write_string_with_format(0, c, h, &bold).map_err(bad)?;
    }
    for (r, row) in sheet.rows.iter().enumerate() {
        let r = u32::try_from(r + 1).map_err(|_| TransferError::Write("too many rows".into()))?;
        for (c, cell) in row.iter().enumerate() {
            let c =
                u16::try_from(c).map_err(|_| TransferError::Write("too many columns".into()))?;
            match cell {
                Cell::Text(t) => {
                    ws.write_string(r, c, t).map_err(bad)?;
                }
                Cell::Number(n) => {
                    ws.write_number(r, c, *n).map_err(bad)?;
                }
                Cell::Empty => {}
            }
        }
    }
    ws.set_freeze_panes(1, 0).map_err(bad)?;
    wb.save_to_buffer().map_err(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_like_text_is_quoted_and_comes_back_unchanged() {
        for s in [
            "=HYPERLINK(\"http://x\",\"点我\")",
            "+86 138 0000 0000",
            "-5",
            "@SUM(A1)",
            "\tx",
            "\rx",
            "'=1",
            "''+1",
        ] {
            let n = neutralise(s);
            assert!(n.starts_with('\''), "{s:?} → {n:?}");
            assert_eq!(unneutralise(&n), s);
        }
        for s in ["上海华东食品", "'引号开头", "021-6234", "a=b", ""] {
            assert_eq!(neutralise(s), s);
            assert_eq!(unneutralise(s), s);
        }
    }

    #[test]
    fn export_headers_are_unique_and_import_back_to_their_field() {
        let mut c = Card::new();
        c.sales.insert(
            "2026-10".parse().expect("month"),
            crate::value::Money::yuan(1).expect("m"),
        );
        let sheet = cards_sheet(&[c]);
        let mut seen = std::collections::HashSet::new();
        for h in &sheet.headers {
            assert!(seen.insert(h.clone()), "header {h} twice");
            assert!(
                super::super::mapping::recognise(h).is_some(),
                "{h} is not recognised"
            );
        }
    }

    #[test]
    fn csv_has_a_bom_crlf_and_quoted_formulas() {
        let sheet = Sheet {
            name: "x".into(),
            headers: vec!["客户名称".into(), "信用限度".into()],
            rows: vec![vec![text("=1+2"), Cell::Number(50000.0)]],
        };
        let bytes = write(&sheet, ExportFormat::Csv).expect("csv");
        assert!(bytes.starts_with(b"\xef\xbb\xbf"));
        let s = std::str::from_utf8(&bytes[3..]).expect("utf-8");
        assert_eq!(s, "客户名称,信用限度\r\n'=1+2,50000\r\n");
    }
}
