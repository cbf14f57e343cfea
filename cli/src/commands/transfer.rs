//! `fieldbook export` and `import`: cards carried between devices as a bundle file.
//!
//! Before the sync server exists this is how two devices exchange edits, and it
//! stays the way to hand data over without a network. Export writes a temporary
//! file and renames it into place, so a crash never leaves half a bundle under
//! the real name; import is all or nothing (core checks the whole bundle first).

use std::path::{Path, PathBuf};

use fieldbook_core::{CardId, Store};
use serde_json::json;

use super::card_id;
use crate::error::{CliError, Result};
use crate::output::{Output, to_json};

/// `fieldbook export FILE [ID ...]`.
pub fn export(store: &mut Store, file: &Path, ids: &[String]) -> Result<Output> {
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

/// `fieldbook import FILE`.
pub fn import(store: &mut Store, file: &Path) -> Result<Output> {
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
