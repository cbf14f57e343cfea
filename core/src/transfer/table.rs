//! A sheet as text cells, and the one builder both readers fill it through, so the
//! row, column, cell and total-text caps are enforced in one place.

use serde::{Deserialize, Serialize};

use super::error::TransferError;
use super::limits::Limits;

/// How a CSV file's text was encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextEncoding {
    /// UTF-8 without a byte-order mark.
    Utf8,
    /// UTF-8 with a byte-order mark (what Excel writes for "CSV UTF-8").
    Utf8Bom,
    /// UTF-16, little-endian, with a byte-order mark (Excel's "Unicode text").
    Utf16Le,
    /// UTF-16, big-endian, with a byte-order mark.
    Utf16Be,
    /// GB18030, which includes GBK and GB2312 (what Chinese Excel writes for "CSV").
    Gb18030,
}

/// Where a table came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "snake_case")]
pub enum Source {
    /// A CSV file in this encoding.
    Csv {
        /// The detected encoding.
        encoding: TextEncoding,
        /// The field separator (`,` or a tab).
        delimiter: char,
    },
    /// This sheet of an XLSX workbook.
    Xlsx {
        /// The sheet's name.
        sheet: String,
    },
}

/// One data row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// Its row number as the spreadsheet shows it (the header is row 1 of a plain file).
    pub number: u32,
    /// Its cells, trimmed; missing trailing cells are empty.
    pub cells: Vec<String>,
}

/// A sheet: the header row and the data rows under it, blank rows left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    /// Where it came from.
    pub source: Source,
    /// The header row's cells.
    pub headers: Vec<String>,
    /// The header's row number.
    pub header_row: u32,
    /// The data rows.
    pub rows: Vec<Row>,
}

impl Table {
    /// The cell of `row` under column `index` (0-based), empty if the row is short.
    pub fn cell(row: &Row, index: usize) -> &str {
        row.cells.get(index).map(String::as_str).unwrap_or("")
    }
}

/// Fills a [`Table`] row by row, refusing what is over the caps as it arrives.
pub(crate) struct TableBuilder<'l> {
    limits: &'l Limits,
    header: Option<(u32, Vec<String>)>,
    rows: Vec<Row>,
    text_bytes: usize,
}

impl<'l> TableBuilder<'l> {
    pub(crate) fn new(limits: &'l Limits) -> Self {
        TableBuilder {
            limits,
            header: None,
            rows: Vec::new(),
            text_bytes: 0,
        }
    }

    /// Check one cell before it is copied: `column` is 0-based.
    pub(crate) fn check_cell(
        &mut self,
        row: u32,
        column: usize,
        text: &str,
    ) -> Result<(), TransferError> {
        if column >= self.limits.max_columns {
            return Err(TransferError::TooManyColumns {
                row,
                max: self.limits.max_columns,
            });
        }
        // Bytes bound characters from above: count characters only when it matters.
        if text.len() > self.limits.max_cell_chars
            && text.chars().count() > self.limits.max_cell_chars
        {
            return Err(TransferError::CellTooLong {
                row,
                column: u32::try_from(column + 1).unwrap_or(u32::MAX),
                max: self.limits.max_cell_chars,
            });
        }
        self.text_bytes = self.text_bytes.saturating_add(text.len());
        if self.text_bytes > self.limits.max_table_bytes {
            return Err(TransferError::TooMuchText {
                max: self.limits.max_table_bytes,
            });
        }
        Ok(())
    }

    /// Add a row of already-checked cells; the first non-blank row is the header.
    pub(crate) fn push(
        &mut self,
        number: u32,
        mut cells: Vec<String>,
    ) -> Result<(), TransferError> {
        for c in &mut cells {
            let t = c.trim();
            if t.len() != c.len() {
                *c = t.to_string();
            }
        }
        while cells.last().is_some_and(String::is_empty) {
            cells.pop();
        }
        if cells.is_empty() {
            return Ok(());
        }
        if self.header.is_none() {
            // A UTF-8 byte-order mark left inside the first cell (a file saved twice).
            if let Some(first) = cells.first_mut()
                && let Some(rest) = first.strip_prefix('\u{feff}')
            {
                *first = rest.trim().to_string();
            }
            self.header = Some((number, cells));
            return Ok(());
        }
        if self.rows.len() >= self.limits.max_rows {
            return Err(TransferError::TooManyRows {
                max: self.limits.max_rows,
            });
        }
        self.rows.push(Row { number, cells });
        Ok(())
    }

    pub(crate) fn finish(self, source: Source) -> Result<Table, TransferError> {
        let (header_row, headers) = self.header.ok_or(TransferError::Empty)?;
        Ok(Table {
            source,
            headers,
            header_row,
            rows: self.rows,
        })
    }
}
