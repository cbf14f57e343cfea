//! Replays every input committed for the import fuzz targets (`fuzz/artifacts/import_csv/`,
//! `fuzz/artifacts/import_xlsx/`, crashers libFuzzer found) through the targets' own
//! bodies (`fieldbook_core::fuzzing::import_*`), plus hand-made seeds of every kind of
//! file an import meets, so a fixed crash stays fixed in CI, which does not run the
//! fuzzers. See docs/FUZZING.md.

use std::path::Path;

use fieldbook_core::fuzzing::{import_csv, import_xlsx};
use fieldbook_core::transfer::{self, ExportFormat, Limits, export};

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/artifacts")
        .join(target);
    let mut n = 0;
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path
                .file_name()
                .is_some_and(|f| f.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            let data = std::fs::read(&path).expect("read crasher");
            run(&data);
            n += 1;
        }
    }
    n
}

#[test]
fn committed_import_inputs_and_seeds_do_not_crash() {
    let replayed = replay("import_csv", import_csv) + replay("import_xlsx", import_xlsx);
    eprintln!("replayed {replayed} committed inputs");

    let mut card = fieldbook_core::Card::new();
    card.basic.name = Some("上海华东食品有限公司".into());
    card.basic.phone = Some("+86 21 6234 5678".into());
    let sheet = export::cards_sheet(&[card]);
    let xlsx = export::write(&sheet, ExportFormat::Xlsx).expect("xlsx");
    let csv = export::write(&sheet, ExportFormat::Csv).expect("csv");
    let table =
        transfer::read_xlsx(&xlsx, None, &Limits::default()).expect("a real workbook reads");
    assert_eq!(table.rows.len(), 1);
    let sheet_xml = r#"<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>客户名称</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>杭州西湖茶叶</t></is></c><c r="B2"><f>1+1</f><v>2</v></c></row></sheetData></worksheet>"#.as_bytes();
    let wrapped = transfer::fuzz_workbook(sheet_xml);
    let table =
        transfer::read_xlsx(&wrapped, None, &Limits::default()).expect("the wrapper is a workbook");
    assert_eq!(table.rows[0].cells, ["杭州西湖茶叶", "2"]);

    for seed in [
        &b""[..],
        &b"PK\x03\x04garbage"[..],
        &b"\xef\xbb\xbf"[..],
        &csv[..],
        &xlsx[..],
        &wrapped[..],
    ] {
        import_csv(seed);
        import_xlsx(seed);
        import_xlsx(&[&[1u8][..], seed].concat());
        for cut in [1, seed.len() / 2, seed.len().saturating_sub(1)] {
            import_xlsx(&seed[..cut.min(seed.len())]);
        }
    }
    import_xlsx(&[&[1u8][..], sheet_xml].concat());
}
