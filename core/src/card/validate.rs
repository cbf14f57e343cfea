//! The card model's own check of a document: is this Automerge document a Fieldbook card?
//!
//! One validator, used wherever a card document arrives from outside: the server on every
//! push (the document after applying) and every snapshot it stores, bundle import, and the
//! server's demo seeding. A document that passes can be read by every device; one that fails
//! is refused with `card.invalid` before it is stored, so one bad card cannot break the
//! sync of a whole territory.
//!
//! The check is structural and cheap (a handful of root lookups): root `id` a UUID equal to
//! the card id, `schema` an integer ≥ 1, `territory` (when present) a string, and every part
//! of the skeleton `create_card` writes present with its object type: the section maps, the
//! `visits` list and the `notes` text. Later schema versions only add keys, so unknown keys
//! pass.

use automerge::transaction::Transactable;
use automerge::{Automerge, ChangeHash, ObjType, ROOT, ReadDoc, ScalarValue, Value};

use super::Card;
use super::doc::{create_card, read_visit_people, skeleton};
use crate::error::{Error, Result};
use crate::ids::CardId;

/// Checks the people on the visits a push added to `doc` since `before` (the heads of the
/// card as stored; empty for a new card): the person on a new visit is the pushing device's
/// person, `on_behalf_of` someone else only from a manager's (or admin's) device, and a visit
/// already on the card keeps its people. The server's half of the rule devices apply on
/// every edit (`store/attribution.rs`): a modified client cannot log a visit as another
/// rep's. Refused as [`Error::NotOnBehalf`] (`access.not_on_behalf`).
///
/// Server-side, like [`validate_card_doc`]: one of the documented exceptions to "no
/// Automerge type in core's public API".
pub fn check_visit_people(
    doc: &Automerge,
    before: &[[u8; 32]],
    person: &str,
    may_act_for_others: bool,
) -> Result<()> {
    // The visit log alone, now and as stored: the rest of the card plays no part.
    let new = read_visit_people(doc, None);
    if new.is_empty() {
        return Ok(());
    }
    let old = if before.is_empty() {
        Vec::new()
    } else {
        let heads: Vec<ChangeHash> = before.iter().map(|h| ChangeHash(*h)).collect();
        read_visit_people(doc, Some(&heads))
    };
    for v in &new {
        match old.iter().find(|o| o.id == v.id) {
            Some(was) => {
                if was.rep != v.rep || was.on_behalf_of != v.on_behalf_of {
                    return Err(Error::NotOnBehalf);
                }
            }
            None => {
                if v.rep.as_deref() != Some(person) {
                    return Err(Error::NotOnBehalf);
                }
                if v.on_behalf_of.as_deref().is_some_and(|o| o != person) && !may_act_for_others {
                    return Err(Error::NotOnBehalf);
                }
            }
        }
    }
    Ok(())
}

/// Checks that `doc` is a well-formed card document for `card_id`.
///
/// Takes `&Automerge` because that is the form the server keeps documents in; devices
/// hold the same type inside their store. Errors are [`Error::InvalidCard`]
/// (`card.invalid`) naming the root key at fault, never its content.
///
/// One of the documented exceptions to "no Automerge type in core's public API"
/// (ARCHITECTURE.md): the server keeps documents as `Automerge`.
pub fn validate_card_doc(doc: &Automerge, card_id: &str) -> Result<()> {
    let expected: CardId = card_id
        .parse()
        .map_err(|_| invalid("the card id is not a UUID"))?;
    let id = match root_scalar(doc, "id")? {
        Some(ScalarValue::Str(s)) => s.to_string(),
        Some(_) => return Err(invalid("root \"id\" is not a string")),
        None => return Err(invalid("root \"id\" is missing")),
    };
    let id: CardId = id
        .parse()
        .map_err(|_| invalid("root \"id\" is not a UUID"))?;
    if id != expected {
        return Err(invalid("root \"id\" differs from the card id"));
    }
    match root_scalar(doc, "schema")? {
        Some(ScalarValue::Int(n)) if n >= 1 => {}
        Some(ScalarValue::Uint(n)) if n >= 1 => {}
        Some(_) => return Err(invalid("root \"schema\" is not a schema version")),
        None => return Err(invalid("root \"schema\" is missing")),
    }
    match root_scalar(doc, "territory")? {
        None | Some(ScalarValue::Str(_)) => {}
        Some(_) => return Err(invalid("root \"territory\" is not a string")),
    }
    for (key, kind) in skeleton() {
        expect_object(doc, key, kind)?;
    }
    Ok(())
}

/// Writes the skeleton of a new, empty card (the one the store writes) into a transaction,
/// for tools and tests that build card documents without a store. The result passes
/// [`validate_card_doc`].
///
/// One of the documented exceptions to "no Automerge type in core's public API"
/// (ARCHITECTURE.md): it writes into an Automerge transaction, for the server's tests
/// and tools that build documents in the form the server keeps them.
pub fn write_skeleton<T: Transactable>(
    tx: &mut T,
    id: &CardId,
    territory: Option<&str>,
) -> Result<()> {
    let mut card = Card::with_id(id.clone());
    card.territory = territory.map(str::to_owned);
    create_card(tx, &card).map(|_| ())
}

fn invalid(what: &str) -> Error {
    Error::InvalidCard(what.to_owned())
}

/// The scalar at a root key (`None` when absent); an object there is an error.
fn root_scalar(doc: &Automerge, key: &str) -> Result<Option<ScalarValue>> {
    match doc.get(ROOT, key) {
        Ok(None) => Ok(None),
        Ok(Some((Value::Scalar(s), _))) => Ok(Some(s.into_owned())),
        Ok(Some((Value::Object(_), _))) => Err(invalid(&format!("root \"{key}\" is an object"))),
        Err(_) => Err(invalid(&format!("root \"{key}\" cannot be read"))),
    }
}

fn expect_object(doc: &Automerge, key: &str, kind: ObjType) -> Result<()> {
    match doc.get(ROOT, key) {
        Ok(Some((Value::Object(k), _))) if k == kind => Ok(()),
        Ok(None) => Err(invalid(&format!("root \"{key}\" is missing"))),
        _ => Err(invalid(&format!("root \"{key}\" has the wrong type"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RepId, Store};
    use automerge::AutoCommit;

    fn real_card() -> (String, Vec<u8>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(dir.path().join("d.db")).expect("open");
        store
            .init_identity("zhangwei".parse::<RepId>().expect("rep"))
            .expect("init");
        let id = store
            .create(|card| {
                card.basic.name = Some("上海华东客户服务有限公司".into());
                card.territory = Some("华东区".into());
                Ok(())
            })
            .expect("create");
        let bytes = store
            .export_bundle(Some(std::slice::from_ref(&id)))
            .expect("bundle");
        let entries = crate::store::decode_bundle(&bytes).expect("decode");
        (id.to_string(), entries[0].data.clone())
    }

    #[test]
    fn a_card_made_by_the_store_is_valid() {
        let (id, bytes) = real_card();
        let doc = Automerge::load(&bytes).expect("load");
        validate_card_doc(&doc, &id).expect("valid");
        let other = uuid::Uuid::new_v4().to_string();
        assert_eq!(
            validate_card_doc(&doc, &other)
                .expect_err("other id")
                .code(),
            "card.invalid"
        );
    }

    #[test]
    fn broken_skeletons_are_refused() {
        let (id, bytes) = real_card();
        type Edit = Box<dyn Fn(&mut AutoCommit)>;
        let edits: Vec<(&str, Edit)> = vec![
            ("no id", Box::new(|d| d.delete(ROOT, "id").expect("del"))),
            (
                "id not uuid",
                Box::new(|d| d.put(ROOT, "id", "card-7").expect("put")),
            ),
            ("id int", Box::new(|d| d.put(ROOT, "id", 7).expect("put"))),
            (
                "no schema",
                Box::new(|d| d.delete(ROOT, "schema").expect("del")),
            ),
            (
                "schema text",
                Box::new(|d| d.put(ROOT, "schema", "1").expect("put")),
            ),
            (
                "schema 0",
                Box::new(|d| d.put(ROOT, "schema", 0).expect("put")),
            ),
            (
                "territory int",
                Box::new(|d| d.put(ROOT, "territory", 3).expect("put")),
            ),
            (
                "territory map",
                Box::new(|d| {
                    d.put_object(ROOT, "territory", ObjType::Map).expect("put");
                }),
            ),
            (
                "contacts list",
                Box::new(|d| {
                    d.put_object(ROOT, "contacts", ObjType::List).expect("put");
                }),
            ),
            (
                "basic scalar",
                Box::new(|d| d.put(ROOT, "basic", "x").expect("put")),
            ),
            (
                "no visits",
                Box::new(|d| d.delete(ROOT, "visits").expect("del")),
            ),
            (
                "notes map",
                Box::new(|d| {
                    d.put_object(ROOT, "notes", ObjType::Map).expect("put");
                }),
            ),
        ];
        for (what, edit) in edits {
            let mut doc = AutoCommit::load(&bytes).expect("load");
            edit(&mut doc);
            doc.commit();
            let err = validate_card_doc(doc.document(), &id).expect_err(what);
            assert_eq!(err.code(), "card.invalid", "{what}");
        }
        assert_eq!(
            validate_card_doc(&Automerge::new(), &id)
                .expect_err("empty")
                .code(),
            "card.invalid"
        );
    }

    #[test]
    fn a_written_skeleton_is_valid() {
        let id: CardId = uuid::Uuid::new_v4().to_string().parse().expect("id");
        let mut doc = AutoCommit::new();
        write_skeleton(&mut doc, &id, Some("华东区")).expect("skeleton");
        doc.commit();
        validate_card_doc(doc.document(), id.as_str()).expect("valid");
    }
}
