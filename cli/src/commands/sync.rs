//! Talking to the sync server: `enrol`, `sync` and `status`.
//!
//! The protocol lives in core (`fieldbook_core::sync`); this module only builds the
//! HTTP transport (with any extra CA certificates), shows progress on stderr while a
//! long sync runs, and reports what moved.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use fieldbook_core::Store;
use fieldbook_core::sync::http::HttpTransport;
use serde_json::json;

use crate::error::{CliError, Result};
use crate::output::{Output, to_json};

fn transport(url: &str, ca_certs: &[PathBuf]) -> Result<HttpTransport> {
    let mut pems = Vec::new();
    for path in ca_certs {
        let pem = std::fs::read(path).map_err(|e| {
            CliError::input("input.file", format!("cannot read {}: {e}", path.display()))
        })?;
        pems.push(pem);
    }
    Ok(HttpTransport::new(url, &pems)?)
}

fn kib(bytes: u64) -> String {
    if bytes < 10 * 1024 {
        format!("{bytes} B")
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

/// `fieldbook enrol URL TOKEN`.
pub fn enrol(store: &mut Store, url: &str, token: &str, ca_certs: &[PathBuf]) -> Result<Output> {
    let transport = transport(url, ca_certs)?;
    let resp = fieldbook_core::sync::enrol(store, &transport, url, token)?;
    let human = format!(
        "enrolled: device {} acts for {} ({}) on {url}\nnext: `fieldbook sync` brings this rep's cards",
        resp.device_id, resp.rep_id, resp.role
    );
    Ok(Output::new(
        json!({ "device_id": resp.device_id, "rep": resp.rep_id, "role": resp.role, "server": url, "server_id": resp.server_id }),
        human,
    ))
}

/// `fieldbook sync`.
pub fn sync(store: &mut Store, ca_certs: &[PathBuf], json_output: bool) -> Result<Output> {
    let enrolment = store
        .enrolment()?
        .ok_or(fieldbook_core::Error::NotEnrolled)?;
    let transport = transport(&enrolment.server_url, ca_certs)?;
    let show_progress = !json_output && std::io::stderr().is_terminal();
    let mut on_progress = |p: &fieldbook_core::sync::SyncProgress| {
        if show_progress && p.requests > 1 {
            let _ = write!(
                std::io::stderr(),
                "\r同步中 syncing: {} requests, ↑{} ↓{}, {} cards pushed, {} pulled   ",
                p.requests,
                kib(p.bytes_up),
                kib(p.bytes_down),
                p.cards_pushed,
                p.cards_pulled
            );
        }
    };
    let report = fieldbook_core::sync::sync(store, &transport, &mut on_progress)?;
    if show_progress && report.progress.requests > 1 {
        eprintln!();
    }
    let p = &report.progress;
    let mut human = format!(
        "synced with {}: {} request{}, ↑{} ↓{}\n  pushed {} card{}, pulled {} ({} new)",
        enrolment.server_url,
        p.requests,
        if p.requests == 1 { "" } else { "s" },
        kib(p.bytes_up),
        kib(p.bytes_down),
        p.cards_pushed,
        if p.cards_pushed == 1 { "" } else { "s" },
        p.cards_pulled,
        report.cards_new,
    );
    if report.new_conflicts > 0 {
        human.push_str(&format!(
            "\n  {} new conflict{}: `fieldbook list --conflicted` shows the cards",
            report.new_conflicts,
            if report.new_conflicts == 1 { "" } else { "s" }
        ));
    }
    if report.cards_revoked > 0 {
        human.push_str(&format!(
            "\n  {} card(s) handed away: their territory went to another rep, and they were \
             removed from this device",
            report.cards_revoked
        ));
    }
    for id in &report.to_review {
        human.push_str(&format!(
            "\n  card {id}: your last edits arrived after the handoff's grace period and went \
             to a manager's review (nothing was lost); the card left this device"
        ));
    }
    for id in &report.revoked_kept {
        human.push_str(&format!("\n  card {id} was handed over but still has unsynced edits; it stays (read-only) until the server answers them"));
    }
    for id in &report.territory_restored {
        human.push_str(&format!(
            "\n  card {id}: an edit of its territory was undone (a manager moves cards between \
             territories); its other edits were synced"
        ));
    }
    if report.rekeyed {
        human.push_str(&format!(
            "\n  this store was copied or restored: the device moved to a fresh actor and \
             re-applied its edits on {} card(s)",
            report.reapplied.len()
        ));
    }
    for (id, code) in &report.quarantined {
        human.push_str(&format!("\n  quarantined {id}: error[{code}] this device cannot read the card; it was not applied"));
    }
    for (id, code, message) in &report.refused {
        human.push_str(&format!("\n  refused {id}: error[{code}] {message}"));
    }
    if report.pending > 0 {
        human.push_str(&format!(
            "\n  {} card(s) still have edits the server has not accepted",
            report.pending
        ));
    }
    Ok(Output::new(to_json(&report), human))
}

/// `fieldbook status`.
pub fn status(store: &mut Store) -> Result<Output> {
    let enrolment = store.enrolment()?;
    let pending = store.pending_cards()?;
    let cards = store.count()?;
    let rep = store.rep().map(|r| r.to_string());
    let territories = store.territories()?;
    let quarantined: Vec<String> = store.quarantined()?.into_iter().map(|(id, _)| id).collect();
    let mut human = match &enrolment {
        Some(e) => format!(
            "device  {}\nrep     {}\nserver  {}\nterritories {}\ncards   {cards}\npending {pending} card(s) with edits not yet synced",
            store.device_id(),
            rep.as_deref().unwrap_or("-"),
            e.server_url,
            if territories.is_empty() {
                "(sync to learn them)".to_string()
            } else {
                territories.join(", ")
            }
        ),
        None => format!(
            "device  {}\nrep     {}\nserver  (not enrolled: `fieldbook enrol URL TOKEN`)\ncards   {cards}",
            store.device_id(),
            rep.as_deref().unwrap_or("-")
        ),
    };
    if !quarantined.is_empty() {
        human.push_str(&format!(
            "\nquarantined {} card(s) this device cannot read: {}",
            quarantined.len(),
            quarantined.join(", ")
        ));
    }
    let handed_away = store.handed_away()?;
    let to_review: Vec<_> = handed_away.iter().filter(|h| h.to_review).collect();
    if !handed_away.is_empty() {
        human.push_str(&format!(
            "\nhanded away {} card(s) (their territory went to another rep)",
            handed_away.len()
        ));
    }
    for h in &to_review {
        human.push_str(&format!(
            "\n  to review: {} ({}): {} change(s) went to a manager's review",
            h.name.as_deref().unwrap_or("-"),
            h.card_id,
            h.changes
        ));
    }
    Ok(Output::new(
        json!({
            "handed_away": handed_away.len(),
            "to_review": to_json(&to_review),
            "quarantined": quarantined,
            "device": store.device_id(),
            "rep": rep,
            "server": enrolment.as_ref().map(|e| e.server_url.clone()),
            "cards": cards,
            "pending": pending,
            "territories": territories,
        }),
        human,
    ))
}
