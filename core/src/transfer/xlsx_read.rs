//! Reading an XLSX workbook, bounded before calamine sees a byte of it.
//!
//! An XLSX is a zip of XML files, and zip is where the danger is: a few KiB can declare
//! or hold gigabytes (a zip bomb), and a header can lie about the size it inflates to.
//! So, in order: the end-of-central-directory record's entry count is checked; the
//! central directory is read (`zip`) and every entry's declared size, the sum of them
//! and the compression ratio are checked; then every entry is inflated once into a
//! sink through `Read::take(declared + 1)`, so an entry that inflates past what it
//! declared is caught having cost at most its (capped) declared size. Only then does
//! calamine open the workbook, whose entries are now known to inflate to at most the
//! caps. Cells are streamed (`worksheet_cells_reader`, never a whole `Range`, which a
//! hostile sheet could make huge by naming one far cell) and checked one by one.
//! A formula cell yields the value Excel cached for it; nothing is evaluated.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use calamine::{DataRef, Reader, Xlsx};

use super::error::TransferError;
use super::limits::Limits;
use super::table::{Source, Table, TableBuilder};

/// Excel's last row (1,048,576) as a 0-based index.
const LAST_ROW: u32 = 1_048_575;

fn unreadable(reason: impl std::fmt::Display) -> TransferError {
    let mut reason = reason.to_string();
    // A library's message may quote XML; keep it short, it is for diagnosis only.
    if reason.len() > 200 {
        let mut cut = 200;
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        reason.truncate(cut);
        reason.push('…');
    }
    TransferError::Unreadable {
        format: "XLSX",
        reason,
    }
}

/// The entry count the end-of-central-directory record declares, if the record is
/// found in the last 64 KiB + 22 bytes (a zip64 count is left to the zip reader, whose
/// entries are counted again below).
fn declared_entries(bytes: &[u8]) -> Option<u64> {
    const SIG: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
    let start = bytes.len().saturating_sub(65_535 + 22);
    let tail = &bytes[start..];
    let at = tail.windows(4).rposition(|w| w == SIG)?;
    let rec = tail.get(at..at + 22)?;
    Some(u64::from(u16::from_le_bytes([rec[10], rec[11]])))
}

/// Check the zip's central directory and inflate every entry once, bounded.
fn check_zip(bytes: &[u8], limits: &Limits) -> Result<(), TransferError> {
    if !bytes.starts_with(b"PK\x03\x04") {
        return Err(unreadable("not a zip file (an XLSX workbook is one)"));
    }
    if let Some(n) = declared_entries(bytes)
        && n > limits.max_zip_entries as u64
    {
        return Err(TransferError::ZipBomb(format!(
            "{n} entries declared, at most {}",
            limits.max_zip_entries
        )));
    }
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(unreadable)?;
    if archive.len() > limits.max_zip_entries {
        return Err(TransferError::ZipBomb(format!(
            "{} entries, at most {}",
            archive.len(),
            limits.max_zip_entries
        )));
    }
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let mut raw = archive.by_index_raw(i).map_err(unreadable)?;
        if raw.encrypted() {
            return Err(unreadable("the workbook is encrypted"));
        }
        let (declared, compressed, method) = (raw.size(), raw.compressed_size(), raw.compression());
        if declared > limits.max_entry_bytes {
            return Err(TransferError::ZipBomb(format!(
                "entry {i} declares {declared} bytes inflated, at most {}",
                limits.max_entry_bytes
            )));
        }
        total = total.saturating_add(declared);
        if total > limits.max_inflated_bytes {
            return Err(TransferError::ZipBomb(format!(
                "the entries declare more than {} bytes inflated",
                limits.max_inflated_bytes
            )));
        }
        if declared > Limits::RATIO_FLOOR && declared / compressed.max(1) > limits.max_ratio {
            return Err(TransferError::ZipBomb(format!(
                "entry {i} inflates {}:1, at most {}:1",
                declared / compressed.max(1),
                limits.max_ratio
            )));
        }
        // Inflated here with our own bound, not the zip reader's: `take` stops one byte
        // past the declared size whatever the header says.
        let sink = &mut std::io::sink();
        let inflated = match method {
            zip::CompressionMethod::Stored => {
                std::io::copy(&mut (&mut raw).take(declared + 1), sink)
            }
            zip::CompressionMethod::Deflated => std::io::copy(
                &mut flate2::read::DeflateDecoder::new(&mut raw).take(declared + 1),
                sink,
            ),
            _ => {
                return Err(unreadable(
                    "an entry uses a compression Excel does not write",
                ));
            }
        }
        .map_err(unreadable)?;
        if inflated > declared {
            return Err(TransferError::ZipBomb(format!(
                "entry {i} inflates past the {declared} bytes it declares"
            )));
        }
    }
    Ok(())
}

/// A cell's value as text: numbers in their shortest exact form, dates as
/// `2026-11-23` (or `2026-11-23 10:30:00`), booleans as yes/no, errors as empty.
fn cell_text(value: &DataRef<'_>) -> Option<String> {
    let text = match value {
        DataRef::Empty | DataRef::Error(_) => return None,
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_string(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => float_text(*f),
        DataRef::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
        DataRef::DateTime(dt) if dt.is_datetime() => {
            let (y, mo, d, h, mi, s, _) = dt.to_ymd_hms_milli();
            if (h, mi, s) == (0, 0, 0) {
                format!("{y:04}-{mo:02}-{d:02}")
            } else {
                format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
            }
        }
        DataRef::DateTime(dt) => float_text(dt.as_f64()),
        DataRef::DateTimeIso(s) => s.strip_suffix("T00:00:00").unwrap_or(s).to_string(),
        DataRef::DurationIso(s) => s.clone(),
    };
    Some(text)
}

/// A whole float as an integer (a phone typed as a number: 13812345678), any other as
/// Rust's shortest round-trip form (86000.5, 31.2304).
fn float_text(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// Read one sheet of an XLSX workbook (`sheet`, else the first) into a table.
pub fn read_xlsx(
    bytes: &[u8],
    sheet: Option<&str>,
    limits: &Limits,
) -> Result<Table, TransferError> {
    let size = bytes.len() as u64;
    if size > limits.max_file_bytes {
        return Err(TransferError::TooLarge {
            size,
            max: limits.max_file_bytes,
        });
    }
    check_zip(bytes, limits)?;
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(unreadable)?;
    let names = workbook.sheet_names();
    let name = match sheet {
        Some(wanted) => names
            .iter()
            .find(|n| n.as_str() == wanted)
            .cloned()
            .ok_or_else(|| TransferError::NoSheet(wanted.to_string()))?,
        None => names
            .first()
            .cloned()
            .ok_or_else(|| TransferError::NoSheet(String::new()))?,
    };
    let mut cells = workbook.worksheet_cells_reader(&name).map_err(unreadable)?;
    let mut builder = TableBuilder::new(limits);
    let mut rows: BTreeMap<u32, Vec<(usize, String)>> = BTreeMap::new();
    while let Some(cell) = cells.next_cell().map_err(unreadable)? {
        let (row, col) = cell.get_position();
        let Some(text) = cell_text(cell.get_value()) else {
            continue;
        };
        if text.trim().is_empty() {
            continue;
        }
        if row > LAST_ROW {
            return Err(unreadable("a cell lies past the last row of a sheet"));
        }
        builder.check_cell(row + 1, col as usize, &text)?;
        // One header row plus the data rows: a sheet with more is refused as it streams.
        if !rows.contains_key(&row) && rows.len() > limits.max_rows {
            return Err(TransferError::TooManyRows {
                max: limits.max_rows,
            });
        }
        rows.entry(row).or_default().push((col as usize, text));
    }
    for (row, row_cells) in rows {
        let width = row_cells.iter().map(|(c, _)| c + 1).max().unwrap_or(0);
        let mut out = vec![String::new(); width];
        for (c, text) in row_cells {
            out[c] = text;
        }
        builder.push(row + 1, out)?;
    }
    builder.finish(Source::Xlsx { sheet: name })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use rust_xlsxwriter::{Formula, Workbook};

    use super::*;

    fn workbook(rows: &[&[&str]]) -> Vec<u8> {
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        for (r, row) in rows.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                ws.write_string(r as u32, c as u16, *v).expect("write");
            }
        }
        wb.save_to_buffer().expect("save")
    }

    #[test]
    fn reads_the_first_or_a_named_sheet() {
        let mut wb = Workbook::new();
        let first = wb.add_worksheet().set_name("说明").expect("name");
        first.write_string(0, 0, "本表为客户资料").expect("write");
        let data = wb.add_worksheet().set_name("客户").expect("name");
        data.write_string(0, 0, "客户名称").expect("write");
        data.write_string(0, 1, "信用额度").expect("write");
        data.write_string(1, 0, "南京金陵五金商行").expect("write");
        data.write_number(1, 1, 86000.5).expect("write");
        data.write_number(2, 1, 120000).expect("write");
        data.write_string(2, 0, "苏州园区电子").expect("write");
        let bytes = wb.save_to_buffer().expect("save");

        let t = read_xlsx(&bytes, None, &Limits::default()).expect("first sheet");
        assert_eq!(t.headers, ["本表为客户资料"]);
        let t = read_xlsx(&bytes, Some("客户"), &Limits::default()).expect("named");
        assert_eq!(t.headers, ["客户名称", "信用额度"]);
        assert_eq!(t.rows[0].cells, ["南京金陵五金商行", "86000.5"]);
        assert_eq!(t.rows[1].cells, ["苏州园区电子", "120000"]);
        assert_eq!(t.rows[1].number, 3);
        let e = read_xlsx(&bytes, Some("没有"), &Limits::default()).expect_err("refused");
        assert_eq!(e.code(), "import.no_sheet");
    }

    #[test]
    fn a_formula_cell_is_its_cached_value_never_evaluated() {
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "客户名称").expect("write");
        ws.write_string(0, 1, "信用额度").expect("write");
        ws.write_string(1, 0, "武汉长江建材").expect("write");
        // The cached result says 5000; evaluating the formula would give 2.
        ws.write_formula(1, 1, Formula::new("=1+1").set_result("5000"))
            .expect("formula");
        // A formula with no cached value reads as empty, not as its text.
        ws.write_formula(2, 1, Formula::new("=HYPERLINK(\"http://x\",\"y\")"))
            .expect("formula");
        ws.write_string(2, 0, "长沙湘江食品").expect("write");
        let bytes = wb.save_to_buffer().expect("save");
        let t = read_xlsx(&bytes, None, &Limits::default()).expect("read");
        assert_eq!(t.rows[0].cells, ["武汉长江建材", "5000"]);
        assert!(
            t.rows[1]
                .cells
                .get(1)
                .is_none_or(|c| c.is_empty() || c == "0"),
            "{:?}",
            t.rows[1].cells
        );
    }

    /// A zip of one entry of `len` zeros, deflated: about 1000:1.
    fn zeros_zip(len: usize) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        {
            let mut z = zip::ZipWriter::new(&mut out);
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            z.start_file("xl/worksheets/sheet1.xml", opts)
                .expect("start");
            let chunk = vec![0u8; 1 << 16];
            for _ in 0..len / chunk.len() {
                z.write_all(&chunk).expect("write");
            }
            z.finish().expect("finish");
        }
        out.into_inner()
    }

    /// Rewrite the declared inflated size of the zip's one entry, in its local header
    /// and its central-directory record.
    fn declare_size(zip: &mut [u8], size: u32) {
        let le = size.to_le_bytes();
        let local = zip
            .windows(4)
            .position(|w| w == b"PK\x03\x04")
            .expect("local");
        zip[local + 22..local + 26].copy_from_slice(&le);
        let central = zip
            .windows(4)
            .position(|w| w == b"PK\x01\x02")
            .expect("central");
        zip[central + 24..central + 28].copy_from_slice(&le);
    }

    #[test]
    fn zip_bombs_are_refused_before_calamine_reads_them() {
        let bomb = zeros_zip(16 << 20);
        assert!(bomb.len() < 100_000, "a small file: {}", bomb.len());
        let e = read_xlsx(&bomb, None, &Limits::default()).expect_err("refused");
        assert_eq!(e.code(), "import.zip_bomb", "{e}");
        assert!(e.to_string().contains(":1"), "refused by its ratio: {e}");

        // The header lies small: inflating stops one byte past what it declared.
        let mut liar = bomb.clone();
        declare_size(&mut liar, 1000);
        let e = read_xlsx(&liar, None, &Limits::default()).expect_err("refused");
        assert_eq!(e.code(), "import.zip_bomb", "{e}");
        assert!(e.to_string().contains("past"), "{e}");

        // The header declares more than an entry may hold: refused unread.
        let mut huge = bomb;
        declare_size(&mut huge, u32::MAX);
        let e = read_xlsx(&huge, None, &Limits::default()).expect_err("refused");
        assert_eq!(e.code(), "import.zip_bomb", "{e}");
        assert!(e.to_string().contains("declares"), "{e}");
    }

    #[test]
    fn truncated_random_and_non_zip_bytes_are_unreadable_not_panics() {
        let good = workbook(&[&["客户名称"], &["厦门鹭岛茶业"]]);
        assert!(read_xlsx(&good, None, &Limits::default()).is_ok());
        for cut in [0, 4, 30, good.len() / 3, good.len() / 2, good.len() - 1] {
            let e = read_xlsx(&good[..cut], None, &Limits::default()).expect_err("refused");
            assert!(
                matches!(e.code(), "import.bad_file" | "import.zip_bomb"),
                "cut at {cut}: {e}"
            );
        }
        let mut x: u32 = 0x1234_5678;
        let mut noise = b"PK\x03\x04".to_vec();
        noise.extend((0..5000).map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        }));
        assert_eq!(
            read_xlsx(&noise, None, &Limits::default())
                .expect_err("refused")
                .code(),
            "import.bad_file"
        );
        assert_eq!(
            read_xlsx("客户名称\n".as_bytes(), None, &Limits::default())
                .expect_err("refused")
                .code(),
            "import.bad_file"
        );
    }

    #[test]
    fn sixty_thousand_rows_are_refused() {
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "客户名称").expect("write");
        for r in 1..=60_000u32 {
            ws.write_string(r, 0, "客户").expect("write");
        }
        let bytes = wb.save_to_buffer().expect("save");
        let e = read_xlsx(&bytes, None, &Limits::default()).expect_err("refused");
        assert!(
            matches!(e, TransferError::TooManyRows { max: 50_000 }),
            "{e:?}"
        );
    }

    #[test]
    fn one_far_cell_does_not_make_a_huge_table() {
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "客户名称").expect("write");
        ws.write_string(1_000_000, 0, "远处的客户").expect("write");
        let bytes = wb.save_to_buffer().expect("save");
        let t = read_xlsx(&bytes, None, &Limits::default()).expect("read");
        assert_eq!(t.rows.len(), 1);
        assert_eq!(t.rows[0].number, 1_000_001);
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "客户名称").expect("write");
        ws.write_string(1, 16_000, "远处").expect("write");
        let bytes = wb.save_to_buffer().expect("save");
        let e = read_xlsx(&bytes, None, &Limits::default()).expect_err("refused");
        assert_eq!(e.code(), "import.too_many_columns");
    }

    #[test]
    fn one_shared_string_in_many_cells_is_capped_as_text() {
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        let long = "长".repeat(5_000);
        ws.write_string(0, 0, "客户名称").expect("write");
        for r in 1..=2_000u32 {
            ws.write_string(r, 0, &long).expect("write");
        }
        let bytes = wb.save_to_buffer().expect("save");
        let limits = Limits {
            max_table_bytes: 1 << 20,
            ..Limits::default()
        };
        let e = read_xlsx(&bytes, None, &limits).expect_err("refused");
        assert_eq!(e.code(), "import.too_much_text");
    }
}
