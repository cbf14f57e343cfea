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

use super::field::{DocField, LongText, MapView, RecordDoc, get};
use super::{Card, Keyed};
use crate::error::{Error, Result};
use crate::ids::{CardId, YearMonth};
use crate::value::{Money, Scalar, Stored};

/// The card document schema version written at the root.
pub const SCHEMA_VERSION: i64 = 1;

/// Create the skeleton of a new card in a transaction and write `card` into it.
pub(crate) fn create_card<T: Transactable>(tx: &mut T, card: &Card) -> Result<Vec<String>> {
    tx.put(ROOT, "schema", SCHEMA_VERSION)?;
    tx.put(ROOT, "id", card.id.as_str())?;
    for (key, kind) in skeleton() {
        tx.put_object(ROOT, key, kind)?;
    }
    let blank = Card::with_id(card.id.clone());
    let mut touched = write_card(tx, &blank, card)?;
    touched.insert(0, "created".to_string());
    Ok(touched)
}

macro_rules! obj_type {
    (map) => {
        ObjType::Map
    };
    (list) => {
        ObjType::List
    };
}

macro_rules! collection_types {
    ($($c:ident : $ty:ident, $kind:literal, $store:ident => $label:literal,)*) => {
        /// Each collection and its object type: the visit log a list (two phones append
        /// offline and both entries survive), the others maps keyed by item id.
        const COLLECTION_TYPES: &[(&str, ObjType)] = &[$((stringify!($c), obj_type!($store)),)*];
    };
}
super::with_collections!(collection_types);

/// Every object under a card's root, created once with the card: the sections (maps),
/// the collections, the sales and tags maps and the notes Text.
pub(crate) fn skeleton() -> impl Iterator<Item = (&'static str, ObjType)> {
    super::SECTIONS
        .iter()
        .map(|(key, _)| (*key, ObjType::Map))
        .chain(COLLECTION_TYPES.iter().copied())
        .chain([
            ("sales", ObjType::Map),
            ("tags", ObjType::Map),
            ("notes", ObjType::Text),
        ])
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

fn read_section<R: ReadDoc, S: RecordDoc>(
    doc: &R,
    root: &MapView,
    key: &str,
    heads: Option<&[ChangeHash]>,
) -> S {
    child(root, key)
        .map(|obj| S::read(doc, &obj, heads))
        .unwrap_or_default()
}

fn read_keyed<R: ReadDoc, S: RecordDoc>(
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

/// Who is on each visit of a card document, at `heads` (or now): what the server's check
/// of the people on visits needs. Reads three keys of each visit (the keys of
/// [`super::Visit`]'s `id`, `rep`, `on_behalf_of`) and nothing else (a visit's notes are text objects, the costliest part to read).
pub(crate) fn read_visit_people<R: ReadDoc>(
    doc: &R,
    heads: Option<&[ChangeHash]>,
) -> Vec<VisitPeople> {
    let Some((Value::Object(_), list)) = get(doc, &ROOT, "visits", heads) else {
        return Vec::new();
    };
    let objects: Vec<ObjId> = match heads {
        None => doc.list_range(&list, ..).map(|item| item.id()).collect(),
        Some(h) => doc
            .list_range_at(&list, .., h)
            .map(|item| item.id())
            .collect(),
    };
    let text = |obj: &ObjId, key: &str| match get(doc, obj, key, heads) {
        Some((Value::Scalar(s), _)) => String::from_scalar(&s),
        _ => None,
    };
    objects
        .iter()
        .filter_map(|obj| {
            Some(VisitPeople {
                id: text(obj, "id")?,
                rep: text(obj, "rep"),
                on_behalf_of: text(obj, "on_behalf_of"),
            })
        })
        .collect()
}

/// The people on one visit ([`read_visit_people`]).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct VisitPeople {
    pub(crate) id: String,
    pub(crate) rep: Option<String>,
    pub(crate) on_behalf_of: Option<String>,
}

fn read_listed<R: ReadDoc, S: RecordDoc>(
    doc: &R,
    root: &MapView,
    key: &str,
    heads: Option<&[ChangeHash]>,
) -> Vec<Keyed<S>> {
    let Some(list) = child(root, key) else {
        return vec![];
    };
    let objects: Vec<ObjId> = match heads {
        None => doc.list_range(&list, ..).map(|item| item.id()).collect(),
        Some(h) => doc
            .list_range_at(&list, .., h)
            .map(|item| item.id())
            .collect(),
    };
    let items: Vec<Keyed<S>> = objects
        .iter()
        .filter_map(|obj| {
            let view = MapView::read(doc, obj, heads);
            let id = <Option<String>>::read(doc, &view, "id", heads)?;
            Some(Keyed {
                value: S::read_view(doc, &view, heads),
                id,
            })
        })
        .collect();
    items
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
    let mut card = Card::with_id(id);
    card.territory = <Option<String>>::read(doc, &root, "territory", heads);
    card.notes = LongText::read(doc, &root, "notes", heads);
    card.sales = sales;
    card.tags = tags;
    macro_rules! sections {
        ($($s:ident : $ty:ident => $label:literal,)*) => {
            $(card.$s = read_section(doc, &root, stringify!($s), heads);)*
        };
    }
    super::with_sections!(sections);
    macro_rules! collections {
        ($($c:ident : $ty:ident, $kind:literal, $store:ident => $label:literal,)*) => {
            $(card.$c = if stringify!($store) == "list" {
                read_listed(doc, &root, stringify!($c), heads)
            } else {
                read_keyed(doc, &root, stringify!($c), heads)
            };)*
        };
    }
    super::with_collections!(collections);
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

fn write_section<T: Transactable, S: RecordDoc>(
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

fn write_keyed<T: Transactable, S: RecordDoc>(
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

fn write_listed<T: Transactable, S: RecordDoc>(
    tx: &mut T,
    key: &str,
    kind: &'static str,
    old: &[Keyed<S>],
    new: &[Keyed<S>],
    touched: &mut Vec<String>,
) -> Result<()> {
    if old == new {
        return Ok(());
    }
    let list = ensure(tx, key, ObjType::List)?;
    for visit in new {
        let prefix = format!("{key}.{}", visit.id);
        match old.iter().find(|o| o.id == visit.id) {
            Some(before) if before.value == visit.value => {}
            Some(before) => {
                let index =
                    visit_index(tx, &list, &visit.id)?.ok_or_else(|| Error::ItemNotFound {
                        kind,
                        id: visit.id.clone(),
                    })?;
                if let Some((_, obj)) = tx.get(&list, index)? {
                    S::write(tx, &obj, &before.value, &visit.value, &prefix, touched)?;
                }
            }
            None => {
                let end = tx.length(&list);
                let obj = tx.insert_object(&list, end, ObjType::Map)?;
                tx.put(&obj, "id", visit.id.as_str())?;
                S::write(
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
            touched.push(format!("{key}.{}", gone.id));
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
    macro_rules! sections {
        ($($s:ident : $ty:ident => $label:literal,)*) => {
            $(write_section(tx, stringify!($s), &old.$s, &new.$s, &mut touched)?;)*
        };
    }
    super::with_sections!(sections);
    if LongText::write(tx, &ROOT, "notes", &old.notes, &new.notes)? {
        touched.push("notes".into());
    }
    macro_rules! collections {
        ($($c:ident : $ty:ident, $kind:literal, $store:ident => $label:literal,)*) => {
            $(if stringify!($store) == "list" {
                write_listed(tx, stringify!($c), $kind, &old.$c, &new.$c, &mut touched)?;
            } else {
                write_keyed(tx, stringify!($c), &old.$c, &new.$c, &mut touched)?;
            })*
        };
    }
    super::with_collections!(collections);
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

/// The object of the item `id` of a collection stored as `store` (`list` or `map`).
fn item_object<T: Transactable>(
    tx: &mut T,
    collection: &str,
    store: &str,
    kind: &'static str,
    id: &str,
) -> Result<ObjId> {
    let not_found = || Error::ItemNotFound {
        kind,
        id: id.to_string(),
    };
    if store == "list" {
        let list = ensure(tx, collection, ObjType::List)?;
        let index = visit_index(tx, &list, id)?.ok_or_else(not_found)?;
        match tx.get(&list, index)? {
            Some((Value::Object(ObjType::Map), o)) => Ok(o),
            _ => Err(not_found()),
        }
    } else {
        let map = ensure(tx, collection, ObjType::Map)?;
        match tx.get(&map, id)? {
            Some((Value::Object(ObjType::Map), o)) => Ok(o),
            _ => Err(not_found()),
        }
    }
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
        ["tags", tag] => {
            // A tag is a key of the tags map holding `true`; removing it removes the tag.
            let on = input.trim().is_empty()
                || <bool as Scalar>::parse(input).map_err(super::field::invalid_at(path))?;
            let map = section_obj(tx, "tags")?;
            if on {
                tx.put(&map, *tag, true)?;
            } else {
                tx.delete(&map, *tag)?;
            }
            Ok(())
        }
        [section, key] => {
            macro_rules! sections {
                ($($s:ident : $ty:ident => $label:literal,)*) => {
                    match *section {
                        $(stringify!($s) => {
                            let obj = section_obj(tx, section)?;
                            super::$ty::force_input(tx, &obj, key, input, path)
                        })*
                        _ => Err(unknown()),
                    }
                };
            }
            super::with_sections!(sections)
        }
        [collection, id, key] => {
            macro_rules! collections {
                ($($c:ident : $ty:ident, $kind:literal, $store:ident => $label:literal,)*) => {
                    match *collection {
                        $(stringify!($c) => {
                            let obj = item_object(tx, collection, stringify!($store), $kind, id)?;
                            super::$ty::force_input(tx, &obj, key, input, path)
                        })*
                        _ => Err(unknown()),
                    }
                };
            }
            super::with_collections!(collections)
        }
        _ => {
            let _ = card;
            Err(unknown())
        }
    }
}
