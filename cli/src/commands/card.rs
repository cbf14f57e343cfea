//! Creating and editing cards: fields, notes, visits, contacts, to-dos,
//! opportunities, sales figures and tags.
//!
//! Every command is one [`Store::update`] (one Automerge change, durable when it
//! returns) and every value goes through [`Card::set_path`], so validation and
//! error codes are core's. A command either applies all its edits or none: any
//! refused value aborts the whole closure before anything is written.

use chrono::{Local, NaiveTime, Utc};
use fieldbook_core::card::rules::check_required;
use fieldbook_core::card::{Contact, Opportunity, Todo, Visit};
use fieldbook_core::store::DefaultTerritory;
use fieldbook_core::value::{Class, OppStage, Scalar};
use fieldbook_core::{Card, CardId, Store};
use serde_json::json;

use super::{assignment, card_id, parse_time};
use crate::args::{
    ContactCommand, NewArgs, NoteArgs, OppCommand, TagAction, TodoCommand, VisitArgs,
};
use crate::error::{CliError, Result};
use crate::output::Output;

/// What an edit command reports: the card, the fields written.
fn edited(id: &CardId, touched: Vec<String>) -> Output {
    let human = if touched.is_empty() {
        "nothing changed".to_string()
    } else {
        format!("changed {}", touched.join(", "))
    };
    Output::new(json!({ "id": id, "changed": touched }), human)
}

/// What an add command reports: the card and the new item's id (printed alone,
/// so `X=$(fieldbook visit ...)` works in scripts).
fn added(id: &CardId, kind: &str, item: &str) -> Output {
    Output::new(json!({ "id": id, "kind": kind, "item": item }), item)
}

/// The field a `--class` value goes to: A–C are the ABC class, D only exists
/// for prospects.
fn class_path(input: &str) -> Result<(&'static str, Class)> {
    let class = Class::parse(input).map_err(|reason| CliError::invalid("class", reason))?;
    Ok(match class {
        Class::D => ("classification.prospect_class", class),
        _ => ("classification.abc", class),
    })
}

/// `fieldbook new`.
pub fn new(store: &mut Store, args: &NewArgs) -> Result<Output> {
    if args.name.trim().is_empty() {
        return Err(CliError::invalid("basic.name", "a card needs a name"));
    }
    let mut sets: Vec<(String, String)> = vec![("basic.name".into(), args.name.clone())];
    if let Some(phone) = &args.phone {
        sets.push(("basic.phone".into(), phone.clone()));
    }
    // A synced device knows the territories its rep holds: with exactly one, that
    // is where a new customer goes unless the rep says otherwise.
    match (&args.territory, store.default_territory()?) {
        (Some(territory), _) => sets.push(("territory".into(), territory.clone())),
        (None, DefaultTerritory::One(only)) => sets.push(("territory".into(), only)),
        (None, DefaultTerritory::Unknown) => {}
        (None, DefaultTerritory::Several(several)) => {
            return Err(CliError::invalid(
                "territory",
                format!(
                    "this rep holds several territories ({}); choose one with --territory",
                    several.join(", ")
                ),
            ));
        }
    }
    if let Some(class) = &args.class {
        let (path, class) = class_path(class)?;
        sets.push((path.into(), class.code().into()));
    }
    for a in &args.sets {
        let (path, value) = assignment(a)?;
        sets.push((path.into(), value.into()));
    }
    let id = store.create(|card| {
        for (path, value) in &sets {
            card.set_path(path, value)?;
        }
        Ok(())
    })?;
    Ok(Output::new(json!({ "id": id }), id.to_string()))
}

/// `fieldbook set ID path=value ...`.
pub fn set(store: &mut Store, id: &str, assignments: &[String]) -> Result<Output> {
    let id = card_id(store, id)?;
    let pairs = assignments
        .iter()
        .map(|a| assignment(a))
        .collect::<Result<Vec<_>>>()?;
    let touched = store.update(&id, |card| {
        for (path, value) in &pairs {
            card.set_path(path, value)?;
        }
        Ok(())
    })?;
    Ok(edited(&id, touched))
}

/// `fieldbook unset ID path`.
pub fn unset(store: &mut Store, id: &str, path: &str) -> Result<Output> {
    let id = card_id(store, id)?;
    let touched = store.update(&id, |card| card.set_path(path.trim(), ""))?;
    Ok(edited(&id, touched))
}

/// `fieldbook note ID --set TEXT | --append TEXT`. Appending edits the end of the
/// Text object, so it merges with whatever another device wrote meanwhile.
pub fn note(store: &mut Store, args: &NoteArgs) -> Result<Output> {
    let id = card_id(store, &args.id)?;
    let touched = store.update(&id, |card| {
        let text = match (&args.set, &args.append) {
            (Some(text), _) => text.clone(),
            (None, Some(more)) if card.notes.as_str().is_empty() => more.clone(),
            (None, Some(more)) => format!("{}\n{more}", card.notes.as_str().trim_end_matches('\n')),
            (None, None) => return Ok(()),
        };
        card.set_path("notes", &text)
    })?;
    Ok(edited(&id, touched))
}

/// Set a field of an item from what a person typed (if they typed it).
fn set_item(
    card: &mut Card,
    collection: &str,
    item: &str,
    key: &str,
    value: Option<&str>,
) -> fieldbook_core::Result<()> {
    match value {
        Some(v) => card.set_path(&format!("{collection}.{item}.{key}"), v),
        None => Ok(()),
    }
}

/// Set a field of an item this command is adding. A refusal names the field as
/// `visits.lat`, not by the id of an item that will never exist.
fn set_new_item(
    card: &mut Card,
    collection: &str,
    item: &str,
    key: &str,
    value: Option<&str>,
) -> fieldbook_core::Result<()> {
    set_item(card, collection, item, key, value).map_err(|e| match e {
        fieldbook_core::Error::InvalidValue { reason, .. } => fieldbook_core::Error::InvalidValue {
            field: format!("{collection}.{key}"),
            reason,
        },
        other => other,
    })
}

/// Add an item with `add`, set its fields from what the rep typed, all as one
/// change, and report the new item's id.
fn add_item(
    store: &mut Store,
    id: &CardId,
    collection: &str,
    kind: &str,
    add: impl FnOnce(&mut Card) -> fieldbook_core::Result<String>,
    fields: &[(&str, Option<&str>)],
) -> Result<Output> {
    let mut item_id = String::new();
    store.update(id, |card| {
        let new_id = add(card)?;
        for (key, value) in fields {
            set_new_item(card, collection, &new_id, key, *value)?;
        }
        item_id = new_id;
        Ok(())
    })?;
    Ok(added(id, kind, &item_id))
}

/// `fieldbook visit`: log a visit authored by this device's rep (core sets who
/// visited; `--rep` only asks for a manager's on-behalf record, which core checks).
pub fn visit(store: &mut Store, args: &VisitArgs) -> Result<Output> {
    let id = card_id(store, &args.id)?;
    let at = match &args.at {
        Some(t) => parse_time("visits.at", t, NaiveTime::MIN)?,
        None => {
            // The device clock corrected by the last server time: a clock set years ahead
            // must not stamp the visit in the future (the explicit --at is clamped too).
            let estimated = store.estimated_now()?;
            if (Utc::now() - estimated).num_seconds() > fieldbook_core::clock::TOLERANCE_SECS {
                eprintln!(
                    "warning: this device's clock is ahead of the server's; the visit is dated {}",
                    estimated.format("%Y-%m-%d %H:%M UTC")
                );
            }
            estimated
        }
    };
    let fields = [
        ("kind", Some(args.kind.as_str())),
        ("place", args.place.as_deref()),
        ("lat", args.lat.as_deref()),
        ("lon", args.lon.as_deref()),
        ("summary", Some(args.summary.as_str())),
        ("outcome", args.outcome.as_deref()),
        ("next_step", args.next_step.as_deref()),
        ("next_visit", args.next_visit.as_deref()),
    ];
    let visit = Visit {
        at: Some(at),
        on_behalf_of: args.rep.clone(),
        ..Default::default()
    };
    add_item(
        store,
        &id,
        "visits",
        "visit",
        |card| Ok(card.add_visit(visit)),
        &fields,
    )
}

/// `fieldbook contact add|set|rm`.
pub fn contact(store: &mut Store, cmd: ContactCommand) -> Result<Output> {
    match cmd {
        ContactCommand::Add {
            id,
            name,
            title,
            phone,
            mobile,
            email,
            wechat,
        } => {
            let id = card_id(store, &id)?;
            check_required("contacts", Some(&name))?;
            let fields = [
                ("name", Some(name.as_str())),
                ("title", title.as_deref()),
                ("phone", phone.as_deref()),
                ("mobile", mobile.as_deref()),
                ("email", email.as_deref()),
                ("wechat", wechat.as_deref()),
            ];
            add_item(
                store,
                &id,
                "contacts",
                "contact",
                |card| Ok(card.add_contact(Contact::default())),
                &fields,
            )
        }
        ContactCommand::Set {
            id,
            contact,
            assignments,
        } => {
            let id = card_id(store, &id)?;
            let pairs = assignments
                .iter()
                .map(|a| assignment(a))
                .collect::<Result<Vec<_>>>()?;
            let touched = store.update(&id, |card| {
                for (key, value) in &pairs {
                    set_item(card, "contacts", &contact, key, Some(value))?;
                }
                Ok(())
            })?;
            Ok(edited(&id, touched))
        }
        ContactCommand::Rm { id, contact } => {
            let id = card_id(store, &id)?;
            let touched = store.update(&id, |card| card.remove_item("contacts", &contact))?;
            Ok(edited(&id, touched))
        }
    }
}

/// `fieldbook todo add|done`.
pub fn todo(store: &mut Store, cmd: TodoCommand) -> Result<Output> {
    match cmd {
        TodoCommand::Add { id, title, due } => {
            let id = card_id(store, &id)?;
            check_required("todos", Some(&title))?;
            let fields = [("title", Some(title.as_str())), ("due", due.as_deref())];
            add_item(
                store,
                &id,
                "todos",
                "todo",
                |card| Ok(card.add_todo(Todo::default())),
                &fields,
            )
        }
        TodoCommand::Done { id, todo } => {
            let id = card_id(store, &id)?;
            let touched = store.update(&id, |card| {
                set_item(card, "todos", &todo, "done", Some("yes"))
            })?;
            Ok(edited(&id, touched))
        }
    }
}

/// `fieldbook opp add|stage`. Core records the date a stage was entered
/// ([`Card::move_opportunity`]); the CLI supplies the device's local date.
pub fn opp(store: &mut Store, cmd: OppCommand) -> Result<Output> {
    let today = Local::now().date_naive();
    match cmd {
        OppCommand::Add {
            id,
            title,
            stage,
            amount,
            close,
        } => {
            let id = card_id(store, &id)?;
            let stage =
                OppStage::parse(&stage).map_err(|r| CliError::invalid("opportunities.stage", r))?;
            let opportunity = Opportunity {
                title: Some(title.trim().to_string()),
                stage: Some(stage),
                ..Default::default()
            };
            let fields = [
                ("amount", Some(amount.as_str())),
                ("expected_close", close.as_deref()),
            ];
            add_item(
                store,
                &id,
                "opportunities",
                "opportunity",
                |card| card.add_opportunity_on(opportunity, today),
                &fields,
            )
        }
        OppCommand::Stage { id, opp, stage } => {
            let id = card_id(store, &id)?;
            let new_stage = OppStage::parse(&stage)
                .map_err(|r| CliError::invalid(format!("opportunities.{opp}.stage"), r))?;
            let touched = store.update(&id, |card| {
                card.move_opportunity(&opp, new_stage, today).map(|_| ())
            })?;
            Ok(edited(&id, touched))
        }
    }
}

/// `fieldbook sales ID MONTH AMOUNT`.
pub fn sales(store: &mut Store, id: &str, month: &str, amount: &str) -> Result<Output> {
    let id = card_id(store, id)?;
    let touched = store.update(&id, |card| {
        card.set_path(&format!("sales.{}", month.trim()), amount)
    })?;
    Ok(edited(&id, touched))
}

/// `fieldbook tag ID add|rm TAG...`.
pub fn tag(store: &mut Store, id: &str, action: TagAction, tags: &[String]) -> Result<Output> {
    let id = card_id(store, id)?;
    let tags: Vec<String> = tags.iter().map(|t| t.trim().to_string()).collect();
    if let Some(bad) = tags.iter().find(|t| t.is_empty() || t.chars().count() > 64) {
        return Err(CliError::invalid(
            "tags",
            format!("{bad:?} is not a tag (1 to 64 characters)"),
        ));
    }
    let touched = store.update(&id, |card| {
        for t in &tags {
            match action {
                TagAction::Add => card.tags.insert(t.clone()),
                TagAction::Rm => card.tags.remove(t),
            };
        }
        Ok(())
    })?;
    Ok(edited(&id, touched))
}
