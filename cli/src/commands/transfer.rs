//! `fieldbook export` and `import`: cards carried between devices as a bundle file,
//! and customer lists to and from spreadsheets.
//!
//! A bundle is how two devices exchange edits without a network. Export writes a
//! temporary file and renames it into place, so a crash never leaves half a file under
//! the real name; import is all or nothing (core checks the whole bundle first).
//!
//! A customer list (.csv, .xlsx) is read by core's `transfer` (bounded, every cell
//! through the card model's parsers) and imported by `Store::import_table`: a dry run
//! reports every problem row and duplicate; a real import creates every card in one
//! transaction or none. `export cards|abc|plan --out FILE` writes the list or a report
//! with the schema's Chinese headers.

use std::path::{Path, PathBuf};

use fieldbook_core::CardId;
use fieldbook_core::transfer::{
    self, ExportFormat, FileFormat, ImportOptions, ImportReport, Limits, Mapping, TransferError,
    export as sheets,
};
use fieldbook_core::value::{Class, Scalar};
use fieldbook_core::{CardQuery, SortBy, Store};
use serde_json::json;

use super::{card_id, parse_date};
use crate::args::{ExportArgs, ImportArgs};
use crate::error::{CliError, Result};
use crate::output::{Output, to_json};

/// A transfer error with its stable code: bad input exits 2, the rest 1.
fn cli_error(e: TransferError) -> CliError {
    match e {
        TransferError::Store(e) => CliError::Core(e),
        e if e.is_bad_input() => CliError::input(e.code(), e.to_string()),
        e => CliError::Failure {
            code: e.code(),
            message: e.to_string(),
        },
    }
}

/// `fieldbook export ...`: a bundle, or with `--out` a customer list or report.
pub fn export(store: &mut Store, args: &ExportArgs) -> Result<Output> {
    match &args.out {
        None => export_bundle(store, &args.target, &args.ids),
        Some(out) => export_sheet(store, args, out),
    }
}

/// `fieldbook export FILE [ID ...]`.
fn export_bundle(store: &mut Store, file: &Path, ids: &[String]) -> Result<Output> {
    let ids: Option<Vec<CardId>> = if ids.is_empty() {
        None
    } else {
        Some(
            ids.iter()
                .map(|i| card_id(store, i))
                .collect::<Result<_>>()?,
        )
    };
    let cards = match &ids {
        Some(ids) => ids.len() as u64,
        None => store.count()?,
    };
    let bytes = store.export_bundle(ids.as_deref())?;
    write_atomically(file, &bytes)?;
    let human = format!(
        "exported {cards} card(s), {} bytes, to {}",
        bytes.len(),
        file.display()
    );
    Ok(Output::new(
        json!({ "file": file.display().to_string(), "cards": cards, "bytes": bytes.len() }),
        human,
    ))
}

fn write_atomically(file: &Path, bytes: &[u8]) -> Result<()> {
    let io = |e: std::io::Error| CliError::Failure {
        code: "cli.io",
        message: format!("cannot write {}: {e}", file.display()),
    };
    let mut tmp = PathBuf::from(file);
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bundle".into());
    tmp.set_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, file).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

/// `fieldbook import FILE`: a spreadsheet by its name or `--format`, else a bundle.
pub fn import(store: &mut Store, args: &ImportArgs) -> Result<Output> {
    let name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let format = match args.format.as_deref() {
        None => FileFormat::from_name(&name),
        Some("bundle") => None,
        Some("csv") => Some(FileFormat::Csv),
        Some("xlsx") => Some(FileFormat::Xlsx),
        Some(other) => {
            return Err(CliError::input(
                "input.usage",
                format!("--format {other:?}: bundle, csv or xlsx"),
            ));
        }
    };
    match format {
        Some(format) => import_sheet(store, args, format),
        None => {
            if args.dry_run
                || args.sheet.is_some()
                || !args.maps.is_empty()
                || args.skip_duplicates
                || args.ignore_unknown
                || args.territory.is_some()
            {
                return Err(CliError::input(
                    "input.usage",
                    "--dry-run, --sheet, --map, --skip-duplicates, --ignore-unknown and --territory are for .csv and .xlsx files",
                ));
            }
            import_bundle(store, &args.file)
        }
    }
}

fn import_sheet(store: &mut Store, args: &ImportArgs, format: FileFormat) -> Result<Output> {
    let mappings = args
        .maps
        .iter()
        .map(|m| Mapping::parse_entry(m))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(cli_error)?;
    let table = transfer::read_file(
        &args.file,
        format,
        args.sheet.as_deref(),
        &Limits::default(),
    )
    .map_err(|e| match e {
        TransferError::Io(io) => CliError::input(
            "input.file",
            format!("cannot read {}: {io}", args.file.display()),
        ),
        e => cli_error(e),
    })?;
    let options = ImportOptions {
        mappings,
        ignore_unknown: args.ignore_unknown,
        skip_duplicates: args.skip_duplicates,
        territory: args.territory.clone(),
        require_territory: false,
    };
    let report = store
        .import_table(&table, &options, args.dry_run)
        .map_err(cli_error)?;
    Ok(Output::new(to_json(&report), import_human(&report)))
}

fn import_human(r: &ImportReport) -> String {
    let mut out = String::new();
    let source = match &r.source {
        transfer::Source::Csv { encoding, .. } => format!("CSV ({encoding:?})"),
        transfer::Source::Xlsx { sheet } => format!("XLSX sheet {sheet}"),
    };
    out.push_str(&format!("{source}: {} data row(s)\n", r.rows));
    for c in &r.mapping.columns {
        let target = c
            .target
            .as_ref()
            .map_or_else(|| "?? unknown".to_string(), |t| t.path());
        out.push_str(&format!(
            "  column {:>3} {} → {target}\n",
            c.column, c.header
        ));
    }
    for p in &r.problems {
        out.push_str(&format!("problem: {} — {}\n", p.locate(), p.reason));
    }
    for d in &r.duplicates {
        let of = match &d.of {
            transfer::DuplicateOf::Row { row } => format!("row {row}"),
            transfer::DuplicateOf::Card { id } => {
                format!("card {}", &id.as_str()[..8.min(id.as_str().len())])
            }
        };
        out.push_str(&format!("duplicate: row {} looks like {of}\n", d.row));
    }
    if r.dry_run {
        out.push_str(&format!(
            "dry run: {} card(s) would be created, {} problem(s), {} duplicate(s){}; nothing written",
            r.to_create,
            r.problems.len(),
            r.duplicates.len(),
            if r.skipped_duplicates > 0 { format!(" ({} left out)", r.skipped_duplicates) } else { String::new() }
        ));
    } else {
        out.push_str(&format!(
            "imported {} card(s){}",
            r.created,
            if r.skipped_duplicates > 0 {
                format!(", {} duplicate(s) left out", r.skipped_duplicates)
            } else {
                String::new()
            }
        ));
    }
    out
}

fn export_sheet(store: &mut Store, args: &ExportArgs, out: &Path) -> Result<Output> {
    let what = args.target.to_string_lossy().into_owned();
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let format = match args.format.as_deref() {
        Some("csv") => ExportFormat::Csv,
        Some("xlsx") => ExportFormat::Xlsx,
        None => match FileFormat::from_name(&name) {
            Some(FileFormat::Csv) => ExportFormat::Csv,
            Some(FileFormat::Xlsx) => ExportFormat::Xlsx,
            None => {
                return Err(CliError::input(
                    "input.usage",
                    "--format csv|xlsx (the file name does not say)",
                ));
            }
        },
        Some(other) => {
            return Err(CliError::input(
                "input.usage",
                format!("--format {other:?}: csv or xlsx"),
            ));
        }
    };
    let sheet = match what.as_str() {
        "cards" => {
            let cards = filtered_cards(store, args)?;
            sheets::cards_sheet(&cards)
        }
        "abc" => {
            let today = parse_date("date", args.date.as_deref().unwrap_or("today"))?;
            sheets::abc_sheet(&store.abc(today)?)
        }
        "plan" => {
            let today = parse_date("date", args.date.as_deref().unwrap_or("today"))?;
            let from = args.from.as_deref().ok_or_else(|| {
                CliError::input(
                    "input.usage",
                    "export plan needs --from LAT,LON (where the day starts)",
                )
            })?;
            let start = super::analysis::point(from)?;
            sheets::plan_sheet(&store.day_plan(today, start, args.return_to_start)?)
        }
        other => {
            return Err(CliError::input(
                "input.usage",
                format!("export {other:?} --out: cards, abc or plan"),
            ));
        }
    };
    let bytes = sheets::write(&sheet, format).map_err(cli_error)?;
    write_atomically(out, &bytes)?;
    let human = format!("exported {} row(s) to {}", sheet.rows.len(), out.display());
    Ok(Output::new(
        json!({ "file": out.display().to_string(), "what": what, "format": format, "rows": sheet.rows.len(), "bytes": bytes.len() }),
        human,
    ))
}

/// The cards `fieldbook list` would show with the same filters, all pages of them.
fn filtered_cards(store: &mut Store, args: &ExportArgs) -> Result<Vec<fieldbook_core::Card>> {
    let class = args
        .class
        .as_deref()
        .map(|c| Class::parse(c).map_err(|reason| CliError::invalid("class", reason)))
        .transpose()?;
    let due_by = args
        .due
        .as_deref()
        .map(|d| parse_date("due", d))
        .transpose()?;
    let sort: SortBy = args.sort.parse()?;
    const PAGE: u32 = 500;
    let mut ids = Vec::new();
    loop {
        let rows = store.list(&CardQuery {
            territory: args.territory.clone(),
            class,
            tag: args.tag.clone(),
            due_by,
            sort,
            limit: PAGE,
            offset: u32::try_from(ids.len()).unwrap_or(u32::MAX),
            ..CardQuery::default()
        })?;
        let n = rows.len();
        ids.extend(rows.into_iter().map(|r| r.id));
        if n < PAGE as usize {
            break;
        }
    }
    ids.iter().map(|id| Ok(store.card(id)?.card)).collect()
}

/// `fieldbook import FILE` of a bundle.
fn import_bundle(store: &mut Store, file: &Path) -> Result<Output> {
    let bytes = std::fs::read(file).map_err(|e| {
        CliError::input("input.file", format!("cannot read {}: {e}", file.display()))
    })?;
    let report = store.import_bundle(&bytes)?;
    let human = format!(
        "imported {}: {} new, {} updated, {} unchanged card(s); {} change(s) applied; {} card(s) with conflicts{}",
        file.display(),
        report.cards_new,
        report.cards_updated,
        report.cards_unchanged,
        report.changes_applied,
        report.cards_conflicted,
        if report.cards_conflicted > 0 {
            " (see `fieldbook list --conflicted`)"
        } else {
            ""
        },
    );
    Ok(Output::new(to_json(&report), human))
}
