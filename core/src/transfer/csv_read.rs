//! Reading a CSV file: the encoding detected (a UTF-8 or UTF-16 byte-order mark; valid
//! UTF-8; else GB18030, which covers the GBK that Chinese Excel writes), the separator
//! sniffed from the header line (comma or tab), then `csv` over the decoded text with
//! every cell checked against the caps before it is kept. A row's number is the line
//! its record starts on.

use encoding_rs::{Encoding, GB18030, UTF_16BE, UTF_16LE};

use super::error::TransferError;
use super::limits::Limits;
use super::table::{Source, Table, TableBuilder, TextEncoding};

fn unreadable(reason: impl Into<String>) -> TransferError {
    TransferError::Unreadable {
        format: "CSV",
        reason: reason.into(),
    }
}

/// Decode the file's text and say how it was encoded.
fn decode(bytes: &[u8]) -> Result<(String, TextEncoding), TransferError> {
    fn strict(enc: &'static Encoding, bytes: &[u8], what: &str) -> Result<String, TransferError> {
        enc.decode_without_bom_handling_and_without_replacement(bytes)
            .map(|s| s.into_owned())
            .ok_or_else(|| unreadable(format!("the text is not valid {what}")))
    }
    if let Some(rest) = bytes.strip_prefix(b"\xef\xbb\xbf") {
        let text = std::str::from_utf8(rest)
            .map_err(|e| unreadable(format!("invalid UTF-8 at byte {}", e.valid_up_to() + 3)))?;
        return Ok((text.to_string(), TextEncoding::Utf8Bom));
    }
    if let Some(rest) = bytes.strip_prefix(b"\xff\xfe") {
        return Ok((strict(UTF_16LE, rest, "UTF-16")?, TextEncoding::Utf16Le));
    }
    if let Some(rest) = bytes.strip_prefix(b"\xfe\xff") {
        return Ok((strict(UTF_16BE, rest, "UTF-16")?, TextEncoding::Utf16Be));
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok((text.to_string(), TextEncoding::Utf8));
    }
    Ok((
        strict(GB18030, bytes, "UTF-8 or GB18030 (GBK)")?,
        TextEncoding::Gb18030,
    ))
}

/// Tab when the header line has more tabs than commas (a "Unicode text" export).
fn sniff_delimiter(text: &str) -> u8 {
    let first = text.lines().next().unwrap_or("");
    let tabs = first.matches('\t').count();
    let commas = first.matches(',').count();
    if tabs > commas { b'\t' } else { b',' }
}

/// Read a CSV file into a table; the first non-blank row is the header.
pub fn read_csv(bytes: &[u8], limits: &Limits) -> Result<Table, TransferError> {
    let size = bytes.len() as u64;
    if size > limits.max_file_bytes {
        return Err(TransferError::TooLarge {
            size,
            max: limits.max_file_bytes,
        });
    }
    let (text, encoding) = decode(bytes)?;
    if text.contains('\0') {
        return Err(unreadable("the text holds NUL characters: not a CSV file"));
    }
    let delimiter = sniff_delimiter(&text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut table = TableBuilder::new(limits);
    let bytes_of_text = text.as_bytes();
    let (mut seen, mut line) = (0usize, 1usize);
    let mut number: u32;
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                return Err(unreadable(format!("malformed record near line {line}")));
            }
        }
        // The line the record starts on: a blank line is no record for `csv`, but it is
        // a row in an editor and in Excel, so counting records would misnumber rows.
        // `csv` puts a record's start before the blank lines it skipped; step over them.
        let mut start = record
            .position()
            .map_or(seen, |p| p.byte() as usize)
            .max(seen);
        while matches!(bytes_of_text.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        line += bytes_of_text[seen..start.min(bytes_of_text.len())]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        seen = start.min(bytes_of_text.len());
        number = u32::try_from(line).unwrap_or(u32::MAX);
        for (i, cell) in record.iter().enumerate() {
            table.check_cell(number, i, cell)?;
        }
        table.push(number, record.iter().map(str::to_string).collect())?;
    }
    table.finish(Source::Csv {
        encoding,
        delimiter: char::from(delimiter),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_with_and_without_bom() {
        let plain = "客户名称,电话\n上海华东食品有限公司,021-62345678\n";
        let t = read_csv(plain.as_bytes(), &Limits::default()).expect("utf-8");
        assert_eq!(t.headers, ["客户名称", "电话"]);
        assert_eq!(t.rows[0].cells, ["上海华东食品有限公司", "021-62345678"]);
        assert_eq!(t.rows[0].number, 2);
        assert!(matches!(
            t.source,
            Source::Csv {
                encoding: TextEncoding::Utf8,
                ..
            }
        ));

        let bom = [&b"\xef\xbb\xbf"[..], plain.as_bytes()].concat();
        let t = read_csv(&bom, &Limits::default()).expect("bom");
        assert_eq!(
            t.headers[0], "客户名称",
            "the BOM is not part of the header"
        );
        assert!(matches!(
            t.source,
            Source::Csv {
                encoding: TextEncoding::Utf8Bom,
                ..
            }
        ));
    }

    #[test]
    fn gbk_csv_of_chinese_names_is_decoded_as_gb18030() {
        let text = "客户名称,联系人,地址\n杭州西湖茶叶有限公司,王芳,杭州市西湖区龙井路1号\n";
        let (gbk, _, had_errors) = encoding_rs::GBK.encode(text);
        assert!(!had_errors);
        assert!(
            std::str::from_utf8(&gbk).is_err(),
            "GBK bytes are not UTF-8"
        );
        let t = read_csv(&gbk, &Limits::default()).expect("gbk");
        assert!(matches!(
            t.source,
            Source::Csv {
                encoding: TextEncoding::Gb18030,
                ..
            }
        ));
        assert_eq!(t.headers, ["客户名称", "联系人", "地址"]);
        assert_eq!(t.rows[0].cells[0], "杭州西湖茶叶有限公司");
        assert_eq!(t.rows[0].cells[2], "杭州市西湖区龙井路1号");
    }

    #[test]
    fn utf16_tab_separated_text_is_read() {
        let text = "客户名称\t电话\n成都蜀香餐饮\t028-8765 4321\n";
        let mut bytes = vec![0xff, 0xfe];
        for u in text.encode_utf16() {
            bytes.extend_from_slice(&u.to_le_bytes());
        }
        let t = read_csv(&bytes, &Limits::default()).expect("utf-16");
        assert_eq!(t.headers, ["客户名称", "电话"]);
        assert_eq!(t.rows[0].cells[1], "028-8765 4321");
    }

    #[test]
    fn quoted_cells_blank_rows_and_row_numbers() {
        let text =
            "客户名称,备注\n\n\"北京\"\"老字号\"\"烤鸭店\",\"两行\n备注\"\n,,\n天津港口物流,\n";
        let t = read_csv(text.as_bytes(), &Limits::default()).expect("csv");
        assert_eq!(t.rows.len(), 2, "blank rows are left out");
        assert_eq!(t.rows[0].cells, ["北京\"老字号\"烤鸭店", "两行\n备注"]);
        assert_eq!(t.rows[0].number, 3);
        assert_eq!(t.rows[1].number, 6, "the line the record starts on");
    }

    #[test]
    fn caps_refuse_big_files_long_cells_many_rows_and_columns() {
        let limits = Limits {
            max_file_bytes: 64,
            ..Limits::default()
        };
        let big = "客户名称\n".repeat(20);
        assert!(matches!(
            read_csv(big.as_bytes(), &limits),
            Err(TransferError::TooLarge { .. })
        ));

        let limits = Limits {
            max_cell_chars: 5,
            ..Limits::default()
        };
        let e =
            read_csv("客户名称\n上海华东食品有限公司\n".as_bytes(), &limits).expect_err("refused");
        assert!(
            matches!(
                e,
                TransferError::CellTooLong {
                    row: 2,
                    column: 1,
                    max: 5
                }
            ),
            "{e:?}"
        );
        assert_eq!(e.code(), "import.cell_too_long");

        let mut sixty = String::from("客户名称\n");
        for i in 0..60_000 {
            sixty.push_str(&format!("客户{i}\n"));
        }
        let e = read_csv(sixty.as_bytes(), &Limits::default()).expect_err("refused");
        assert!(
            matches!(e, TransferError::TooManyRows { max: 50_000 }),
            "{e:?}"
        );
        assert_eq!(e.code(), "import.too_many_rows");

        let wide = format!("{}\n", vec!["列"; 200].join(","));
        let e = read_csv(wide.as_bytes(), &Limits::default()).expect_err("refused");
        assert!(
            matches!(e, TransferError::TooManyColumns { row: 1, max: 128 }),
            "{e:?}"
        );
    }

    #[test]
    fn random_bytes_and_empty_files_are_errors_not_panics() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for len in [0usize, 1, 7, 100, 4096] {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let _ = read_csv(&bytes, &Limits::default());
        }
        assert!(matches!(
            read_csv(b"", &Limits::default()),
            Err(TransferError::Empty)
        ));
        assert!(matches!(
            read_csv(b"\x00\x01\x02\xff", &Limits::default()),
            Err(TransferError::Unreadable { .. })
        ));
    }
}
