//! Running a parsed command against the device store.
//!
//! [`run`] opens the store and dispatches to one module per command group; the
//! helpers here are what several groups share: finding the store, resolving a card
//! id from a unique prefix, and parsing the values people type (assignments, dates,
//! times) into core's types with core's error codes.

mod analysis;
mod card;
mod credit;
mod device;
mod history;
mod list;
mod reports;
mod show;
mod sync;
mod transfer;

use std::path::PathBuf;

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use fieldbook_core::value::Scalar;
use fieldbook_core::{CardId, Error as CoreError, Store};

use crate::args::{Cli, Command};
use crate::error::{CliError, Result};
use crate::output::Output;

/// The store file: `--store`, else `$FIELDBOOK_STORE`, else `./fieldbook.db`.
pub fn store_path(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| {
        std::env::var_os("FIELDBOOK_STORE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
    .unwrap_or_else(|| PathBuf::from("fieldbook.db"))
}

/// Open the store for a command. Only `init` may create one: any other command
/// on a missing file is a mistake (wrong directory, typo in `--store`).
fn open_store(path: PathBuf, may_create: bool) -> Result<Store> {
    if !may_create && !path.exists() {
        return Err(CliError::input(
            "store.missing",
            format!(
                "no store at {}: run `fieldbook init --rep REP` first, or pass --store PATH",
                path.display()
            ),
        ));
    }
    let store = Store::open(&path)?;
    tracing::info!(path = %path.display(), device = %store.device_id(), rep = ?store.rep().map(|r| r.as_str()), "store opened");
    Ok(store)
}

/// Run one command.
pub fn run(cli: Cli) -> Result<Output> {
    // The card's fields are the program's, not the store's: no store needed.
    if matches!(cli.command, Command::Fields) {
        return Ok(device::fields());
    }
    let path = store_path(cli.store);
    let mut store = open_store(path, cli.command.creates_store())?;
    let store = &mut store;
    match cli.command {
        Command::Init { rep } => device::init(store, &rep),
        Command::Fields => Ok(device::fields()),
        Command::Settings { assignments } => device::settings(store, &assignments),
        Command::New(args) => card::new(store, &args),
        Command::Show(args) => show::show(store, &args),
        Command::Set { id, assignments } => card::set(store, &id, &assignments),
        Command::Unset { id, path } => card::unset(store, &id, &path),
        Command::Note(args) => card::note(store, &args),
        Command::Visit(args) => card::visit(store, &args),
        Command::Contact(cmd) => card::contact(store, cmd),
        Command::Todo(cmd) => card::todo(store, cmd),
        Command::Opp(cmd) => card::opp(store, cmd),
        Command::Sales { id, month, amount } => card::sales(store, &id, &month, &amount),
        Command::Tag { id, action, tags } => card::tag(store, &id, action, &tags),
        Command::List(args) => list::list(store, &args),
        Command::Search {
            query,
            limit,
            offset,
        } => list::search(store, &query, limit, offset),
        Command::History { id, field } => history::history(store, &id, field.as_deref()),
        Command::Dossier { id } => history::dossier(store, &id),
        Command::Conflicts { id } => history::conflicts(store, &id),
        Command::Resolve { id, path, value } => history::resolve(store, &id, &path, &value),
        Command::Export(args) => transfer::export(store, &args),
        Command::Import(args) => transfer::import(store, &args),
        Command::Enrol {
            url,
            token,
            ca_certs,
        } => sync::enrol(store, &url, &token, &ca_certs),
        Command::Sync { ca_certs } => sync::sync(store, &ca_certs, cli.json),
        Command::Status => sync::status(store),
        Command::Abc { date } => analysis::abc(store, date.as_deref()),
        Command::Credit { date, action } => credit::run(store, date.as_deref(), action),
        Command::Duplicates => analysis::duplicates(store),
        Command::Merge { keep, other } => {
            let (keep, other) = (card_id(store, &keep)?, card_id(store, &other)?);
            analysis::merge(store, &keep, &other)
        }
        Command::Plan {
            date,
            from,
            return_to_start,
        } => analysis::plan(store, date.as_deref(), &from, return_to_start),
        Command::Pipeline { date, utc_offset } => {
            reports::pipeline(store, date.as_deref(), utc_offset)
        }
        Command::Activity {
            period,
            from,
            to,
            utc_offset,
        } => reports::activity(store, &period, from.as_deref(), to.as_deref(), utc_offset),
    }
}

/// The card an argument names: a full id, or a unique prefix (at least 4 hex digits)
/// of one, so people can type what `list` shows.
pub(crate) fn card_id(store: &Store, input: &str) -> Result<CardId> {
    let input = input.trim();
    if let Ok(id) = input.parse::<CardId>() {
        return Ok(id);
    }
    let prefix = input.to_ascii_lowercase();
    let looks_like_prefix = prefix.len() >= 4
        && prefix.len() < 36
        && prefix.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if !looks_like_prefix {
        return Err(CoreError::InvalidId(
            input.to_string(),
            "a card id looks like 3f2b9c1e-8a4d-4e2f-9b1a-0c6d5e4f3a21 (or its first 8 characters)",
        )
        .into());
    }
    let mut matches = store
        .card_ids()?
        .into_iter()
        .filter(|id| id.as_str().starts_with(&prefix));
    match (matches.next(), matches.next()) {
        (Some(id), None) => Ok(id),
        (None, _) => Err(CoreError::CardNotFound(input.to_string()).into()),
        (Some(_), Some(_)) => Err(CliError::input(
            "input.ambiguous_id",
            format!("{input} is the start of more than one card id; type more of it"),
        )),
    }
}

/// Split `path=value` (the value may itself contain `=`).
pub(crate) fn assignment(input: &str) -> Result<(&str, &str)> {
    match input.split_once('=') {
        Some((path, value)) if !path.trim().is_empty() => Ok((path.trim(), value)),
        _ => Err(CliError::input(
            "input.usage",
            format!("{input:?} is not PATH=VALUE, e.g. basic.phone=021-6234 5678"),
        )),
    }
}

/// Parse a calendar date (`2026-11-23`, or `today`).
pub(crate) fn parse_date(field: &str, input: &str) -> Result<NaiveDate> {
    if input.trim().eq_ignore_ascii_case("today") {
        return Ok(Local::now().date_naive());
    }
    NaiveDate::parse(input).map_err(|reason| CliError::invalid(field, reason))
}

/// Parse a point in time as a person types it. RFC 3339 carries its own offset;
/// `2026-11-20 10:30` is read in the local time zone (the rep's wall clock); a
/// bare date (or `today`) means `date_time` on that day; `now` is now.
pub(crate) fn parse_time(field: &str, input: &str, date_time: NaiveTime) -> Result<DateTime<Utc>> {
    let s = input.trim();
    if s.eq_ignore_ascii_case("now") {
        return Ok(Utc::now());
    }
    if s.eq_ignore_ascii_case("today") {
        let today = Local::now().date_naive().and_time(date_time);
        if let Some(t) = Local.from_local_datetime(&today).earliest() {
            return Ok(t.with_timezone(&Utc).min(Utc::now()));
        }
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let naive = [
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .map(|d| d.and_time(date_time))
    });
    naive
        .and_then(|n| Local.from_local_datetime(&n).earliest())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| {
            CliError::invalid(
                field,
                format!(
                    "{input:?} is not a time like 2026-11-20 10:30 or 2026-11-20T10:30:00+08:00"
                ),
            )
        })
}
