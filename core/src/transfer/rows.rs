//! Rows → cards: every mapped cell goes through the card model's own parser
//! (`Card::set_path`, `Record::set_input`, so a bad phone, amount or class gets the
//! model's verdict), every problem is kept with its row, column and a stable code, and
//! duplicates are flagged by core's `analysis::duplicates` within the file and against
//! the store's cards. Pure: the store's side is `Store::import_table`.

use std::collections::HashMap;

use serde::Serialize;

use super::error::TransferError;
use super::mapping::{ColumnTarget, Mapping};
use super::table::{Source, Table};
use crate::analysis::duplicates::{DuplicateReason, DuplicateSettings, find_duplicates};
use crate::card::{Card, Contact, Record, rules};
use crate::error::Error;
use crate::ids::CardId;
use crate::value::FieldKind;

/// How to import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Explicit `(header, path)` mappings, over what headers say.
    pub mappings: Vec<(String, String)>,
    /// Import even if some columns match no field (they are left out).
    pub ignore_unknown: bool,
    /// Leave out rows that look like an existing card or an earlier row.
    pub skip_duplicates: bool,
    /// The territory of rows whose file names none. `Store::import_table` fills it with
    /// the rep's territory when they hold exactly one (as a card made by hand gets it):
    /// the server refuses a card of no territory, so such a card would never sync.
    pub territory: Option<String>,
    /// Rows that name no territory (and get none from `territory`) are problems
    /// (`import.missing_territory`): set by the store when its rep holds several.
    pub require_territory: bool,
}

/// One problem of one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The row, as the spreadsheet numbers it.
    pub row: u32,
    /// The column, 1-based, when one cell is at fault.
    pub column: Option<u32>,
    /// The field the cell fills.
    pub field: Option<String>,
    /// Stable code: `import.invalid_value`, `import.missing_name`, `import.unknown_field`,
    /// `import.missing_territory`.
    pub code: &'static str,
    /// What is expected, in words; never the cell's content.
    pub reason: String,
}

impl Problem {
    /// `row 9000, column 3 (credit.credit_limit): import.invalid_value`.
    pub fn locate(&self) -> String {
        let mut s = format!("row {}", self.row);
        if let Some(c) = self.column {
            s.push_str(&format!(", column {c}"));
        }
        if let Some(f) = &self.field {
            s.push_str(&format!(" ({f})"));
        }
        format!("{s}: {}", self.code)
    }
}

/// What a duplicate row looks like.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DuplicateOf {
    /// An earlier row of the file.
    Row {
        /// Its row number.
        row: u32,
    },
    /// A card already on the device.
    Card {
        /// Its id.
        id: CardId,
    },
}

/// A row that looks like the same customer as another row or a card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DuplicateFlag {
    /// The row.
    pub row: u32,
    /// What it looks like.
    pub of: DuplicateOf,
    /// Why (same tax number, same phone, similar name).
    pub reasons: Vec<DuplicateReason>,
}

/// What an import found and did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportReport {
    /// Where the rows came from (format, encoding or sheet).
    pub source: Source,
    /// Whether this was a dry run (nothing written).
    pub dry_run: bool,
    /// Data rows read.
    pub rows: usize,
    /// Every column and what it fills.
    pub mapping: Mapping,
    /// Columns that match no field, 1-based.
    pub unknown_columns: Vec<u32>,
    /// Every problem, by row.
    pub problems: Vec<Problem>,
    /// Rows that look like a card on the device or an earlier row.
    pub duplicates: Vec<DuplicateFlag>,
    /// Rows left out as duplicates (`skip_duplicates`).
    pub skipped_duplicates: usize,
    /// Cards an import creates (a dry run: would create).
    pub to_create: usize,
    /// Cards created (0 on a dry run or a refused import).
    pub created: usize,
    /// The created cards' ids, in row order.
    pub created_ids: Vec<CardId>,
}

/// The cards a table makes, and the report.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The report (nothing created yet).
    pub report: ImportReport,
    /// The cards to create, in row order (duplicates already left out if asked).
    pub cards: Vec<Card>,
}

/// What a value of `kind` looks like, for a problem's reason (never the value itself).
fn expected(kind: Option<FieldKind>) -> &'static str {
    match kind {
        Some(FieldKind::Money) => "an amount in yuan like 12000 or 12000.50, not negative",
        Some(FieldKind::Count) => "a whole number of 0 or more",
        Some(FieldKind::Int) => "a whole number",
        Some(FieldKind::Date) => "a date like 2026-11-23",
        Some(FieldKind::Timestamp) => "a time like 2026-11-23 09:30",
        Some(FieldKind::Latitude) => "a latitude from -90 to 90",
        Some(FieldKind::Longitude) => "a longitude from -180 to 180",
        Some(FieldKind::DayOfMonth) => "a day of the month, 1 to 31",
        Some(FieldKind::Bool) => "yes or no (是/否)",
        Some(FieldKind::Choice) => "one of the field's choices (see `fieldbook fields`)",
        Some(FieldKind::Str) | Some(FieldKind::Text) => "text of at most the field's length",
        None => "a value of the field",
    }
}

/// Dates as Chinese spreadsheets write them (2026/11/23, 2026.11.23) in the model's
/// form; the model still parses the result.
fn date_input(value: &str) -> String {
    let v = value.trim();
    if v.len() <= 10
        && v.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '/' | '.' | '-'))
    {
        v.replace(['/', '.'], "-")
    } else {
        v.to_string()
    }
}

/// Split a tags cell.
fn tags(value: &str) -> impl Iterator<Item = &str> {
    value
        .split([',', '，', '、', ';', '；'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Fill one card from one row; problems go to `problems`.
fn card_of_row(
    table_row: &super::table::Row,
    mapping: &Mapping,
    problems: &mut Vec<Problem>,
) -> Option<Card> {
    let mut card = Card::new();
    let mut contact = Contact::default();
    let before = problems.len();
    let mut name_column = None;
    for col in &mapping.columns {
        let Some(target) = &col.target else { continue };
        let value = super::export::unneutralise(Table::cell(table_row, (col.column - 1) as usize));
        if matches!(target, ColumnTarget::Field(p) if p == "basic.name") {
            name_column = Some(col.column);
        }
        if value.is_empty() {
            continue;
        }
        let path = target.path();
        let kind = match target {
            ColumnTarget::Field(p) => crate::card::kind_of(p),
            ColumnTarget::Contact(k) => {
                Contact::FIELDS.iter().find(|f| f.key == *k).map(|f| f.kind)
            }
            ColumnTarget::Sales(_) => Some(FieldKind::Money),
            ColumnTarget::Tags => Some(FieldKind::Str),
            ColumnTarget::Ignore => None,
        };
        let input = if kind == Some(FieldKind::Date) {
            date_input(value)
        } else {
            value.to_string()
        };
        let result = match target {
            ColumnTarget::Field(p) => card.set_path(p, &input),
            ColumnTarget::Contact(k) => contact.set_input(k, &input, &path),
            ColumnTarget::Sales(_) => card.set_path(&path, &input),
            ColumnTarget::Tags => tags(&input).try_for_each(|t| {
                <String as crate::value::Scalar>::parse(t)
                    .map(|t| {
                        card.tags.insert(t);
                    })
                    .map_err(|reason| Error::invalid("tags", reason))
            }),
            ColumnTarget::Ignore => Ok(()),
        };
        if let Err(e) = result {
            let code = match e {
                Error::InvalidValue { .. } | Error::InvalidId(..) => "import.invalid_value",
                _ => "import.unknown_field",
            };
            problems.push(Problem {
                row: table_row.number,
                column: Some(col.column),
                field: Some(path),
                code,
                reason: format!("expected {}", expected(kind)),
            });
        }
    }
    if card.basic.name.is_none() {
        problems.push(Problem {
            row: table_row.number,
            column: name_column,
            field: Some("basic.name".into()),
            code: "import.missing_name",
            reason: "every card needs the customer's name (客户名称)".into(),
        });
    }
    if contact != Contact::default() {
        if let Err(Error::InvalidValue { reason, .. }) =
            rules::check_required("contacts", contact.name.as_deref())
        {
            problems.push(Problem {
                row: table_row.number,
                column: None,
                field: Some("contacts.*.name".into()),
                code: "import.missing_contact_name",
                reason,
            });
        } else {
            card.add_contact(contact);
        }
    }
    (problems.len() == before).then_some(card)
}

/// Turn a table into cards and a report. `existing` are the store's cards, against
/// which duplicates are flagged as `duplicates` (the company's settings) says. Fails
/// only on a mapping that cannot be used.
pub fn prepare(
    table: &Table,
    options: &ImportOptions,
    existing: &[Card],
    duplicates: &DuplicateSettings,
) -> Result<Prepared, TransferError> {
    let mapping = Mapping::new(&table.headers, &options.mappings)?;
    let unknown_columns = mapping.unknown();
    let mut problems = Vec::new();
    let mut made: Vec<(u32, Card)> = Vec::new();
    for row in &table.rows {
        if let Some(mut card) = card_of_row(row, &mapping, &mut problems) {
            if card.territory.is_none() {
                card.territory.clone_from(&options.territory);
            }
            if card.territory.is_none() && options.require_territory {
                problems.push(Problem {
                    row: row.number,
                    column: None,
                    field: Some("territory".into()),
                    code: "import.missing_territory",
                    reason: "this rep holds several territories and the row names none: \
                             add a 区域 column or choose one for the import"
                        .into(),
                });
                continue;
            }
            made.push((row.number, card));
        }
    }

    // Duplicates among the new cards and against the device's: one run of the
    // detector over both, then each pair told from the later row's side.
    let row_of: HashMap<CardId, (usize, u32)> = made
        .iter()
        .enumerate()
        .map(|(i, (r, c))| (c.id.clone(), (i, *r)))
        .collect();
    let mut all: Vec<Card> = existing.to_vec();
    all.extend(made.iter().map(|(_, c)| c.clone()));
    let pairs = find_duplicates(&all, duplicates);
    let mut duplicates = Vec::new();
    let mut skip = vec![false; made.len()];
    for pair in pairs {
        let flag = match (row_of.get(&pair.a), row_of.get(&pair.b)) {
            (None, None) => continue,
            (Some(&(i, row)), None) => (i, row, DuplicateOf::Card { id: pair.b.clone() }),
            (None, Some(&(i, row))) => (i, row, DuplicateOf::Card { id: pair.a.clone() }),
            (Some(&(ia, ra)), Some(&(ib, rb))) => {
                if ra < rb {
                    (ib, rb, DuplicateOf::Row { row: ra })
                } else {
                    (ia, ra, DuplicateOf::Row { row: rb })
                }
            }
        };
        let (i, row, of) = flag;
        skip[i] = true;
        duplicates.push(DuplicateFlag {
            row,
            of,
            reasons: pair.reasons,
        });
    }
    duplicates.sort_by_key(|d| d.row);
    problems.sort_by_key(|p| (p.row, p.column));

    let mut cards = Vec::with_capacity(made.len());
    let mut skipped = 0;
    for (i, (_, card)) in made.into_iter().enumerate() {
        if options.skip_duplicates && skip[i] {
            skipped += 1;
        } else {
            cards.push(card);
        }
    }
    let report = ImportReport {
        source: table.source.clone(),
        dry_run: true,
        rows: table.rows.len(),
        mapping,
        unknown_columns,
        problems,
        duplicates,
        skipped_duplicates: skipped,
        to_create: cards.len(),
        created: 0,
        created_ids: Vec::new(),
    };
    Ok(Prepared { report, cards })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::{Limits, read_csv};

    fn table(csv: &str) -> Table {
        read_csv(csv.as_bytes(), &Limits::default()).expect("csv")
    }

    #[test]
    fn rows_become_cards_through_the_model() {
        let t = table(
            "客户名称,电话,税号,区域,等级,信用额度,联系人,手机,纬度,经度,标签,月销售额 2026-10\n\
             上海华东食品有限公司,021-62345678,91310000MA1K000001,华东区,A类,\"¥50,000\",王芳,13812345678,31.2304,121.4737,重点、连锁,86000.50\n",
        );
        let p = prepare(
            &t,
            &ImportOptions::default(),
            &[],
            &DuplicateSettings::default(),
        )
        .expect("prepare");
        assert!(p.report.problems.is_empty(), "{:?}", p.report.problems);
        let c = &p.cards[0];
        assert_eq!(c.basic.name.as_deref(), Some("上海华东食品有限公司"));
        assert_eq!(c.basic.phone.as_deref(), Some("021-62345678"));
        assert_eq!(c.territory.as_deref(), Some("华东区"));
        assert_eq!(c.classification.abc, Some(crate::value::Class::A));
        assert_eq!(c.credit.credit_limit.map(|m| m.fen()), Some(5_000_000));
        assert_eq!(c.contacts[0].name.as_deref(), Some("王芳"));
        assert_eq!(c.contacts[0].mobile.as_deref(), Some("13812345678"));
        assert_eq!(c.location.lat.map(|l| l.get()), Some(31.2304));
        assert!(c.tags.contains("重点") && c.tags.contains("连锁"));
        assert_eq!(c.sales.values().next().map(|m| m.fen()), Some(8_600_050));
    }

    #[test]
    fn bad_cells_are_problems_with_row_column_and_code_and_no_content() {
        let t = table(
            "客户名称,信用额度,等级,纬度,手机\n\
             杭州西湖茶叶,很多,A,30.25,\n\
             ,1000,B,,\n\
             宁波港贸易,2000,Z,95,\n\
             温州鞋业,,,,13900000000\n",
        );
        let p = prepare(
            &t,
            &ImportOptions::default(),
            &[],
            &DuplicateSettings::default(),
        )
        .expect("prepare");
        let got: Vec<(u32, Option<u32>, &str)> = p
            .report
            .problems
            .iter()
            .map(|q| (q.row, q.column, q.code))
            .collect();
        assert_eq!(
            got,
            [
                (2, Some(2), "import.invalid_value"),
                (3, Some(1), "import.missing_name"),
                (4, Some(3), "import.invalid_value"),
                (4, Some(4), "import.invalid_value"),
                (5, None, "import.missing_contact_name"),
            ]
        );
        for q in &p.report.problems {
            assert!(
                !q.reason.contains("很多") && !q.reason.contains('Z'),
                "{}",
                q.reason
            );
        }
        assert!(p.cards.is_empty());
        assert_eq!(
            p.report.problems[0].locate(),
            "row 2, column 2 (credit.credit_limit): import.invalid_value"
        );
    }

    #[test]
    fn duplicates_within_the_file_and_against_the_device_are_flagged() {
        let mut existing = Card::new();
        existing.basic.name = Some("北京燕京啤酒有限公司".into());
        existing.basic.tax_no = Some("91110000100000000X".into());
        let t = table(
            "客户名称,税号,电话\n\
             燕京啤酒,91110000100000000x,\n\
             广州白云药业,,020-83334444\n\
             白云药业有限公司,,02083334444\n\
             深圳南山科技,,\n",
        );
        let p = prepare(
            &t,
            &ImportOptions::default(),
            std::slice::from_ref(&existing),
            &DuplicateSettings::default(),
        )
        .expect("prepare");
        let flags: Vec<(u32, &DuplicateOf)> =
            p.report.duplicates.iter().map(|d| (d.row, &d.of)).collect();
        assert_eq!(
            flags,
            [
                (
                    2,
                    &DuplicateOf::Card {
                        id: existing.id.clone()
                    }
                ),
                (4, &DuplicateOf::Row { row: 3 }),
            ]
        );
        assert_eq!(p.cards.len(), 4, "flagged, not left out");
        let opts = ImportOptions {
            skip_duplicates: true,
            ..ImportOptions::default()
        };
        let p = prepare(&t, &opts, &[existing], &DuplicateSettings::default()).expect("prepare");
        assert_eq!(p.report.skipped_duplicates, 2);
        let names: Vec<&str> = p.cards.iter().map(|c| c.display_name()).collect();
        assert_eq!(names, ["广州白云药业", "深圳南山科技"]);
    }
}
