//! The projection: a card's current values as JSON, for manager views (`GET /v1/cards/{id}`).
//!
//! The output is byte-for-byte what `serde_json::to_string(&automerge::AutoSerde::from(doc))`
//! gives (maps as objects with keys in order, lists as arrays, text as strings, scalars as
//! `AutoSerde` writes them, the winning value of a conflict), but it walks each map and list
//! with one `map_range` / `list_range` pass instead of one `get` per key or index. `AutoSerde`
//! looks every list element up by index, which is quadratic in the length of a card's visit
//! log and was the largest single cost of accepting a push.

use automerge::{Automerge, ObjId, ObjType, ReadDoc, ValueRef};
use serde::Serialize;
use serde::ser::{Error as _, SerializeMap, SerializeSeq};

use crate::error::{Error, Result};

/// The JSON of the document's current values.
pub fn projection(doc: &Automerge) -> Result<String> {
    serde_json::to_string(&Map {
        doc,
        obj: automerge::ROOT,
    })
    .map_err(|e| Error::Internal(format!("projection: {e}")))
}

struct Map<'a> {
    doc: &'a Automerge,
    obj: ObjId,
}

struct List<'a> {
    doc: &'a Automerge,
    obj: ObjId,
}

struct Text<'a> {
    doc: &'a Automerge,
    obj: ObjId,
}

/// One value: an object (serialised by walking it) or a scalar (as `AutoSerde` does).
enum Val<'a> {
    Map(Map<'a>),
    List(List<'a>),
    Text(Text<'a>),
    Scalar(automerge::Value<'static>),
}

fn val<'a>(doc: &'a Automerge, value: ValueRef<'_>, id: impl FnOnce() -> ObjId) -> Val<'a> {
    match value {
        ValueRef::Object(ObjType::Map | ObjType::Table) => Val::Map(Map { doc, obj: id() }),
        ValueRef::Object(ObjType::List) => Val::List(List { doc, obj: id() }),
        ValueRef::Object(ObjType::Text) => Val::Text(Text { doc, obj: id() }),
        scalar @ ValueRef::Scalar(_) => Val::Scalar(scalar.into_value()),
    }
}

impl Serialize for Val<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Val::Map(m) => m.serialize(s),
            Val::List(l) => l.serialize(s),
            Val::Text(t) => t.serialize(s),
            Val::Scalar(automerge::Value::Scalar(v)) => v.serialize(s),
            Val::Scalar(automerge::Value::Object(_)) => s.serialize_unit(),
        }
    }
}

impl Serialize for Map<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for item in self.doc.map_range(&self.obj, ..) {
            let v = val(self.doc, item.value.clone(), || item.id());
            map.serialize_entry(item.key.as_ref(), &v)?;
        }
        map.end()
    }
}

impl Serialize for List<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for item in self.doc.list_range(&self.obj, ..) {
            let v = val(self.doc, item.value.clone(), || item.id());
            seq.serialize_element(&v)?;
        }
        seq.end()
    }
}

impl Serialize for Text<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let text = self.doc.text(&self.obj).map_err(S::Error::custom)?;
        s.serialize_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ScalarValue};
    use fieldbook_core::demo::{DemoAuthor, demo_document};

    fn reference(doc: &Automerge) -> String {
        serde_json::to_string(&automerge::AutoSerde::from(doc)).expect("AutoSerde")
    }

    #[test]
    fn matches_autoserde_on_demo_cards() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
        let authors = [
            DemoAuthor::new("zhangwei".parse().expect("rep")),
            DemoAuthor::new("lina".parse().expect("rep")),
        ];
        for i in 0..12 {
            let (_, bytes) = demo_document(3, i, "east", &authors, 40, today).expect("demo");
            let doc = Automerge::load(&bytes).expect("load");
            assert_eq!(projection(&doc).expect("projection"), reference(&doc));
        }
    }

    #[test]
    fn matches_autoserde_on_every_value_kind_and_conflicts() {
        let mut a = AutoCommit::new();
        let list = a
            .put_object(automerge::ROOT, "list", ObjType::List)
            .expect("list");
        a.insert(&list, 0, 1i64).expect("insert");
        a.insert(&list, 1, "two").expect("insert");
        let inner = a.insert_object(&list, 2, ObjType::Map).expect("map");
        a.put(&inner, "f", 1.5f64).expect("put");
        let text = a
            .put_object(automerge::ROOT, "notes", ObjType::Text)
            .expect("text");
        a.splice_text(&text, 0, 0, "见面 \"quoted\"\n")
            .expect("splice");
        a.put(automerge::ROOT, "bool", true).expect("put");
        a.put(automerge::ROOT, "null", ()).expect("put");
        a.put(automerge::ROOT, "uint", 7u64).expect("put");
        a.put(automerge::ROOT, "bytes", vec![1u8, 2, 3])
            .expect("put");
        a.put(automerge::ROOT, "ts", ScalarValue::Timestamp(1_700_000_000))
            .expect("put");
        a.put(automerge::ROOT, "counter", ScalarValue::counter(3))
            .expect("put");
        a.put_object(automerge::ROOT, "table", ObjType::Table)
            .expect("table");
        a.commit();
        let mut b = a.fork();
        a.put(automerge::ROOT, "bool", false).expect("put");
        b.put(automerge::ROOT, "bool", "conflict").expect("put");
        let counter = automerge::ROOT;
        b.increment(counter, "counter", 4).expect("increment");
        a.merge(&mut b).expect("merge");
        let doc = a.document();
        assert_eq!(projection(doc).expect("projection"), reference(doc));
    }
}
