//! Customer lists in and out of spreadsheets (issue 9, "Import and export"): a company's
//! 客户资料 usually lives in Excel, and a rep or an administrator brings it into the
//! device store, where the cards then sync up as any new card does.
//!
//! Owns reading CSV and XLSX files into a [`Table`] of text cells, recognising the
//! columns ([`mapping`]: every field's own Chinese label from the card schema plus a
//! table of synonyms, overridable), turning rows into [`Card`]s through the card model's
//! own parsers with a [`Problem`] per bad cell ([`rows`]), flagging duplicates
//! (core's `analysis::duplicates`, within the file and against the store's cards), and
//! writing cards and reports back out ([`export`]). The store's side, the dry run and
//! the all-or-nothing import in one transaction, is `Store::import_table`
//! (`store/import.rs`).
//!
//! Behind the `transfer` cargo feature: the CLI carries it; a phone's library does not.
//!
//! **Every byte is hostile.** Before any library sees a file its size is capped
//! ([`Limits::max_file_bytes`]); an XLSX's zip central directory is inspected first
//! (entry count, declared sizes, compression ratio) and every entry is inflated through
//! a `Read::take` bound to check that the real size is the declared one, so a lying
//! header is caught before calamine reads anything ([`xlsx_read`]). Cells are streamed
//! and the table is capped in rows, columns, cell length and total text, so shared
//! strings repeated in a million cells cannot blow up memory. A formula cell is read as
//! the value Excel cached for it, never evaluated. On export, text a spreadsheet would
//! take for a formula is neutralised ([`export::neutralise`]).
//!
//! [`Card`]: crate::Card

mod csv_read;
mod error;
pub mod export;
mod limits;
pub mod mapping;
pub mod rows;
mod table;
mod xlsx_read;

pub use csv_read::read_csv;
pub use error::TransferError;
pub use export::{ExportFormat, Sheet};
pub use limits::Limits;
pub use mapping::{ColumnTarget, Mapping};
pub use rows::{DuplicateFlag, DuplicateOf, ImportOptions, ImportReport, Prepared, Problem};
pub use table::{Row, Source, Table, TextEncoding};
pub use xlsx_read::read_xlsx;

/// The file formats an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    /// Comma- (or tab-) separated text, UTF-8, UTF-16 or GB18030.
    Csv,
    /// An Excel 2007+ workbook.
    Xlsx,
}

impl FileFormat {
    /// The format a file name says (`.csv`, `.tsv`, `.txt`, `.xlsx`, `.xlsm`), if any.
    pub fn from_name(name: &str) -> Option<FileFormat> {
        let lower = name.to_ascii_lowercase();
        let ext = lower.rsplit_once('.').map(|(_, e)| e)?;
        match ext {
            "csv" | "tsv" | "txt" => Some(FileFormat::Csv),
            "xlsx" | "xlsm" => Some(FileFormat::Xlsx),
            _ => None,
        }
    }
}

/// Read a file's bytes as a table: CSV, or XLSX (the named sheet, else the first).
pub fn read_table(
    bytes: &[u8],
    format: FileFormat,
    sheet: Option<&str>,
    limits: &Limits,
) -> Result<Table, TransferError> {
    match format {
        FileFormat::Csv => read_csv(bytes, limits),
        FileFormat::Xlsx => read_xlsx(bytes, sheet, limits),
    }
}

/// Read a file from disk, refusing one over [`Limits::max_file_bytes`] before reading it.
pub fn read_file(
    path: &std::path::Path,
    format: FileFormat,
    sheet: Option<&str>,
    limits: &Limits,
) -> Result<Table, TransferError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(TransferError::Io)?;
    let size = file.metadata().map_err(TransferError::Io)?.len();
    if size > limits.max_file_bytes {
        return Err(TransferError::TooLarge {
            size,
            max: limits.max_file_bytes,
        });
    }
    let mut bytes = Vec::new();
    // A file growing while it is read is still cut at the cap.
    file.take(limits.max_file_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(TransferError::Io)?;
    read_table(&bytes, format, sheet, limits)
}

/// A minimal workbook whose first worksheet's XML is `sheet_xml` (stored, not
/// compressed): the fuzz target's way past the zip checks into calamine.
#[doc(hidden)]
pub fn fuzz_workbook(sheet_xml: &[u8]) -> Vec<u8> {
    use std::io::Write;
    const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#;
    const RELS: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
    const WORKBOOK: &str = r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="客户" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
    const WORKBOOK_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#;
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut out);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (name, body) in [
            ("[Content_Types].xml", CONTENT_TYPES.as_bytes()),
            ("_rels/.rels", RELS.as_bytes()),
            ("xl/workbook.xml", WORKBOOK.as_bytes()),
            ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.as_bytes()),
            ("xl/worksheets/sheet1.xml", sheet_xml),
        ] {
            if z.start_file(name, opts).is_err() || z.write_all(body).is_err() {
                return Vec::new();
            }
        }
        if z.finish().is_err() {
            return Vec::new();
        }
    }
    out.into_inner()
}
