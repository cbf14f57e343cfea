//! Reading a [`Card`] from its Automerge document and writing edits back.
//!
//! Document layout (schema version [`SCHEMA_VERSION`]):
//! ```text
//! ROOT { schema: 1, id, territory, notes: Text,
//!        basic: Map, characteristics: Map, ... location: Map,    -- sections, registers
//!        contacts: Map<item id, Map>, todos: Map<..>, opportunities: Map<..>,
//!        visits: List<Map{id, ...}>,                            -- logged offline on two phones, both survive
//!        sales: Map<"YYYY-MM", Int fen>, tags: Map<tag, true> }  -- tags are a set
//! ```
//! The whole skeleton is created once, by the device that creates the card: if two
//! devices each created `contacts`, Automerge would keep two conflicting maps and hide one.
//! Later schema versions only add keys; readers ignore keys they do not know.

use std::collections::{BTreeMap, BTreeSet};

use automerge::transaction::Transactable;
use automerge::{ChangeHash, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value};

use super::field::{DocField, LongText, MapView, Record, get};
use super::{Card, Keyed};
use crate::error::{Error, Result};
use crate::ids::{CardId, YearMonth};
use crate::value::{Money, Scalar};

/// The card document schema version written at the root.
pub const SCHEMA_VERSION: i64 = 1;

pub(crate) const MAP_SECTIONS: &[&str] = &[
    "basic",
    "characteristics",
    "business",
    "transaction",
    "credit",
    "operating",
    "marketing",
    "classification",
    "location",
    "contacts",
    "todos",
    "opportunities",
    "sales",
    "tags",
];

/// Create the skeleton of a new card in a transaction and write `card` into it.
pub(crate) fn create_card<T: Transactable>(tx: &mut T, card: &Card) -> Result<Vec<String>> {
    tx.put(ROOT, "schema", SCHEMA_VERSION)?;
    tx.put(ROOT, "id", card.id.as_str())?;
    for key in MAP_SECTIONS {
        tx.put_object(ROOT, *key, ObjType::Map)?;
    }
    tx.put_object(ROOT, "visits", ObjType::List)?;
    tx.put_object(ROOT, "notes", ObjType::Text)?;
    let blank = Card::with_id(card.id.clone());
    let mut touched = write_card(tx, &blank, card)?;
    touched.insert(0, "created".to_string());
    Ok(touched)
}

/// The card id stored in a document, if any.
pub(crate) fn stored_id<R: ReadDoc>(doc: &R) -> Option<CardId> {
    match get(doc, &ROOT, "id", None) {
        Some((Value::Scalar(s), _)) => String::from_scalar(&s).and_then(|s| s.parse().ok()),
        _ => None,
    }
}

fn child(view: &MapView, key: &str) -> Option<ObjId> {
    match view.get(key) {
        Some((Value::Object(_), id)) => Some(id.clone()),
        _ => None,
    }
}

fn read_section<R: ReadDoc, S: Record>(
    doc: &R,
    root: &MapView,
    key: &str,
    heads: Option<&[ChangeHash]>,
) -> S {
    child(root, key)
        .map(|obj| S::read(doc, &obj, heads))
        .unwrap_or_default()
}

fn read_keyed<R: ReadDoc, S: Record>(
    doc: &R,
    root: &MapView,
    key: &str,
    heads: Option<&[ChangeHash]>,
) -> Vec<Keyed<S>> {
    let Some(map) = child(root, key) else {
        return vec![];
    };
    let items = MapView::read(doc, &map, heads);
    let out: Vec<Keyed<S>> = items
        .keys()
        .filter_map(|id| {
            let obj = child(&items, id)?;
            Some(Keyed {
                value: S::read(doc, &obj, heads),
                id: id.to_string(),
            })
        })
        .collect();
    out
}

fn read_visits<R: ReadDoc>(
    doc: &R,
    root: &MapView,
    heads: Option<&[ChangeHash]>,
) -> Vec<Keyed<super::Visit>> {
    let Some(list) = child(root, "visits") else {
        return vec![];
    };
    let objects: Vec<ObjId> = match heads {
        None => doc.list_range(&list, ..).map(|item| item.id()).collect(),
        Some(h) => doc
            .list_range_at(&list, .., h)
            .map(|item| item.id())
            .collect(),
    };
    let visits: Vec<Keyed<super::Visit>> = objects
        .iter()
        .filter_map(|obj| {
            let view = MapView::read(doc, obj, heads);
            let id = <Option<String>>::read(doc, &view, "id", heads)?;
            Some(Keyed {
                value: super::Visit::read_view(doc, &view, heads),
                id,
            })
        })
        .collect();
    visits
}

/// Read the card as of `heads` (`None`: now).
pub(crate) fn read_card<R: ReadDoc>(doc: &R, heads: Option<&[ChangeHash]>) -> Result<Card> {
    let root = MapView::read(doc, &ROOT, heads);
    let id = match root.get("id") {
        Some((Value::Scalar(s), _)) => {
            String::from_scalar(s).and_then(|s| s.parse::<CardId>().ok())
        }
        _ => None,
    }
    .ok_or_else(|| Error::CorruptDocument {
        card: "?".into(),
        reason: "the document has no card id".into(),
    })?;
    let sales = child(&root, "sales")
        .map(|obj| {
            let view = MapView::read(doc, &obj, heads);
            view.keys()
                .filter_map(|k| {
                    let month: YearMonth = k.parse().ok()?;
                    let amount = <Option<Money>>::read(doc, &view, k, heads)?;
                    Some((month, amount))
                })
                .collect::<BTreeMap<_, _>>()
        })
        .unwrap_or_default();
    let tags = child(&root, "tags")
        .map(|obj| {
            MapView::read(doc, &obj, heads)
                .keys()
                .map(str::to_string)
                .collect::<BTreeSet<_>>()
        })
        .unwrap_or_default();
    let mut card = Card {
        id,
        territory: <Option<String>>::read(doc, &root, "territory", heads),
        basic: read_section(doc, &root, "basic", heads),
        characteristics: read_section(doc, &root, "characteristics", heads),
        business: read_section(doc, &root, "business", heads),
        transaction: read_section(doc, &root, "transaction", heads),
        credit: read_section(doc, &root, "credit", heads),
        operating: read_section(doc, &root, "operating", heads),
        marketing: read_section(doc, &root, "marketing", heads),
        classification: read_section(doc, &root, "classification", heads),
        location: read_section(doc, &root, "location", heads),
        notes: LongText::read(doc, &root, "notes", heads),
        contacts: read_keyed(doc, &root, "contacts", heads),
        visits: read_visits(doc, &root, heads),
        todos: read_keyed(doc, &root, "todos", heads),
        opportunities: read_keyed(doc, &root, "opportunities", heads),
        sales,
        tags,
    };
    canonical_order(&mut card);
    Ok(card)
}

/// The order a card's items are shown in, whatever order devices added them: the
/// visit log by time, other items by id, so every device shows the same order.
fn canonical_order(card: &mut Card) {
    // Two phones append offline in either order; show the log in time order.
    card.visits
        .sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id)));
    card.contacts.sort_by(|a, b| a.id.cmp(&b.id));
    card.todos.sort_by(|a, b| a.id.cmp(&b.id));
    card.opportunities.sort_by(|a, b| a.id.cmp(&b.id));
}

/// The object under `key` at the root, created if a card from an older schema lacks it.
fn ensure<T: Transactable>(tx: &mut T, key: &str, kind: ObjType) -> Result<ObjId> {
    match tx.get(ROOT, key)? {
        Some((Value::Object(k), id)) if k == kind => Ok(id),
        _ => Ok(tx.put_object(ROOT, key, kind)?),
    }
}

fn write_section<T: Transactable, S: Record>(
    tx: &mut T,
    key: &str,
    old: &S,
    new: &S,
    touched: &mut Vec<String>,
) -> Result<()> {
    if old == new {
        return Ok(());
    }
    let obj = ensure(tx, key, ObjType::Map)?;
    S::write(tx, &obj, old, new, key, touched)
}

fn write_keyed<T: Transactable, S: Record>(
    tx: &mut T,
    key: &str,
    old: &[Keyed<S>],
    new: &[Keyed<S>],
    touched: &mut Vec<String>,
) -> Result<()> {
    if old == new {
        return Ok(());
    }
    let map = ensure(tx, key, ObjType::Map)?;
    for item in new {
        let prefix = format!("{key}.{}", item.id);
        match old.iter().find(|o| o.id == item.id) {
            Some(before) => {
                if before.value != item.value {
                    let obj = match tx.get(&map, item.id.as_str())? {
                        Some((Value::Object(ObjType::Map), obj)) => obj,
                        _ => tx.put_object(&map, item.id.as_str(), ObjType::Map)?,
                    };
                    S::write(tx, &obj, &before.value, &item.value, &prefix, touched)?;
                }
            }
            None => {
                let obj = tx.put_object(&map, item.id.as_str(), ObjType::Map)?;
                S::write(tx, &obj, &S::default(), &item.value, &prefix, &mut vec![])?;
                touched.push(prefix);
            }
        }
    }
    for gone in old.iter().filter(|o| !new.iter().any(|n| n.id == o.id)) {
        tx.delete(&map, gone.id.as_str())?;
        touched.push(format!("{key}.{}", gone.id));
    }
    Ok(())
}

/// Index of the visit with `id` in the visits list.
fn visit_index<T: Transactable>(tx: &T, list: &ObjId, id: &str) -> Result<Option<usize>> {
    for i in 0..tx.length(list) {
        if let Some((_, obj)) = tx.get(list, i)?
            && let Some((Value::Scalar(s), _)) = tx.get(&obj, "id")?
            && matches!(s.as_ref(), ScalarValue::Str(v) if v.as_str() == id)
        {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

fn write_visits<T: Transactable>(
    tx: &mut T,
    old: &[Keyed<super::Visit>],
    new: &[Keyed<super::Visit>],
    touched: &mut Vec<String>,
) -> Result<()> {
    if old == new {
        return Ok(());
    }
    let list = ensure(tx, "visits", ObjType::List)?;
    for visit in new {
        let prefix = format!("visits.{}", visit.id);
        match old.iter().find(|o| o.id == visit.id) {
            Some(before) if before.value == visit.value => {}
            Some(before) => {
                let index =
                    visit_index(tx, &list, &visit.id)?.ok_or_else(|| Error::ItemNotFound {
                        kind: "visit",
                        id: visit.id.clone(),
                    })?;
                if let Some((_, obj)) = tx.get(&list, index)? {
                    super::Visit::write(tx, &obj, &before.value, &visit.value, &prefix, touched)?;
                }
            }
            None => {
                let end = tx.length(&list);
                let obj = tx.insert_object(&list, end, ObjType::Map)?;
                tx.put(&obj, "id", visit.id.as_str())?;
                super::Visit::write(
                    tx,
                    &obj,
                    &Default::default(),
                    &visit.value,
                    &prefix,
                    &mut vec![],
                )?;
                touched.push(prefix);
            }
        }
    }
    for gone in old.iter().filter(|o| !new.iter().any(|n| n.id == o.id)) {
        if let Some(index) = visit_index(tx, &list, &gone.id)? {
            tx.delete(&list, index)?;
            touched.push(format!("visits.{}", gone.id));
        }
    }
    Ok(())
}

/// Write the difference between `old` (as read from the document) and `new`.
/// Returns the paths of the fields written, in order.
pub(crate) fn write_card<T: Transactable>(
    tx: &mut T,
    old: &Card,
    new: &Card,
) -> Result<Vec<String>> {
    let mut touched = Vec::new();
    if old.territory != new.territory {
        <Option<String>>::force(tx, &ROOT, "territory", &new.territory)?;
        touched.push("territory".into());
    }
    write_section(tx, "basic", &old.basic, &new.basic, &mut touched)?;
    write_section(
        tx,
        "characteristics",
        &old.characteristics,
        &new.characteristics,
        &mut touched,
    )?;
    write_section(tx, "business", &old.business, &new.business, &mut touched)?;
    write_section(
        tx,
        "transaction",
        &old.transaction,
        &new.transaction,
        &mut touched,
    )?;
    write_section(tx, "credit", &old.credit, &new.credit, &mut touched)?;
    write_section(
        tx,
        "operating",
        &old.operating,
        &new.operating,
        &mut touched,
    )?;
    write_section(
        tx,
        "marketing",
        &old.marketing,
        &new.marketing,
        &mut touched,
    )?;
    write_section(
        tx,
        "classification",
        &old.classification,
        &new.classification,
        &mut touched,
    )?;
    write_section(tx, "location", &old.location, &new.location, &mut touched)?;
    if LongText::write(tx, &ROOT, "notes", &old.notes, &new.notes)? {
        touched.push("notes".into());
    }
    write_keyed(tx, "contacts", &old.contacts, &new.contacts, &mut touched)?;
    write_visits(tx, &old.visits, &new.visits, &mut touched)?;
    write_keyed(tx, "todos", &old.todos, &new.todos, &mut touched)?;
    write_keyed(
        tx,
        "opportunities",
        &old.opportunities,
        &new.opportunities,
        &mut touched,
    )?;
    if old.sales != new.sales {
        let map = ensure(tx, "sales", ObjType::Map)?;
        for (month, amount) in &new.sales {
            if old.sales.get(month) != Some(amount) {
                tx.put(&map, month.to_string(), amount.to_scalar())?;
                touched.push(format!("sales.{month}"));
            }
        }
        for month in old.sales.keys().filter(|m| !new.sales.contains_key(m)) {
            tx.delete(&map, month.to_string())?;
            touched.push(format!("sales.{month}"));
        }
    }
    if old.tags != new.tags {
        let map = ensure(tx, "tags", ObjType::Map)?;
        for tag in new.tags.difference(&old.tags) {
            tx.put(&map, tag.as_str(), true)?;
            touched.push(format!("tags.{tag}"));
        }
        for tag in old.tags.difference(&new.tags) {
            tx.delete(&map, tag.as_str())?;
            touched.push(format!("tags.{tag}"));
        }
    }
    Ok(touched)
}

/// Write one field unconditionally from what a person typed, superseding every
/// concurrent value: this is how a conflict is resolved, even when the chosen value
/// equals the one Automerge happened to pick as winner.
pub(crate) fn force_path<T: Transactable>(
    tx: &mut T,
    card: &Card,
    path: &str,
    input: &str,
) -> Result<()> {
    let parts: Vec<&str> = path.split('.').collect();
    let unknown = || Error::UnknownField(path.to_string());
    let section_obj = |tx: &mut T, key: &str| -> Result<ObjId> { ensure(tx, key, ObjType::Map) };
    match parts.as_slice() {
        ["territory"] => {
            let v = <Option<String>>::parse_input(input).map_err(super::field::invalid_at(path))?;
            <Option<String>>::force(tx, &ROOT, "territory", &v)
        }
        ["sales", month] => {
            let month: YearMonth = month.parse()?;
            let amount =
                <Option<Money>>::parse_input(input).map_err(super::field::invalid_at(path))?;
            let map = section_obj(tx, "sales")?;
            <Option<Money>>::force(tx, &map, &month.to_string(), &amount)
        }
        [section, key] => {
            let obj = section_obj(tx, section)?;
            match *section {
                "basic" => super::BasicData::force_input(tx, &obj, key, input, path),
                "characteristics" => {
                    super::Characteristics::force_input(tx, &obj, key, input, path)
                }
                "business" => super::BusinessStatus::force_input(tx, &obj, key, input, path),
                "transaction" => super::TransactionStatus::force_input(tx, &obj, key, input, path),
                "credit" => super::CreditData::force_input(tx, &obj, key, input, path),
                "operating" => super::OperatingData::force_input(tx, &obj, key, input, path),
                "marketing" => super::MarketingInfo::force_input(tx, &obj, key, input, path),
                "classification" => super::Classification::force_input(tx, &obj, key, input, path),
                "location" => super::Location::force_input(tx, &obj, key, input, path),
                _ => Err(unknown()),
            }
        }
        [collection, id, key] => {
            let obj = match *collection {
                "visits" => {
                    let list = ensure(tx, "visits", ObjType::List)?;
                    let index = visit_index(tx, &list, id)?.ok_or_else(|| Error::ItemNotFound {
                        kind: "visit",
                        id: id.to_string(),
                    })?;
                    tx.get(&list, index)?.map(|(_, o)| o)
                }
                "contacts" | "todos" | "opportunities" => {
                    let map = section_obj(tx, collection)?;
                    match tx.get(&map, *id)? {
                        Some((Value::Object(ObjType::Map), o)) => Some(o),
                        _ => None,
                    }
                }
                _ => return Err(unknown()),
            }
            .ok_or_else(|| Error::ItemNotFound {
                kind: "item",
                id: id.to_string(),
            })?;
            match *collection {
                "visits" => super::Visit::force_input(tx, &obj, key, input, path),
                "contacts" => super::Contact::force_input(tx, &obj, key, input, path),
                "todos" => super::Todo::force_input(tx, &obj, key, input, path),
                _ => super::Opportunity::force_input(tx, &obj, key, input, path),
            }
        }
        _ => {
            let _ = card;
            Err(unknown())
        }
    }
}
