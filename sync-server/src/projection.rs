//! The projection: a card's current values as JSON, for manager views (`GET /v1/cards/{id}`).
//!
//! The output is what `serde_json::to_string(&automerge::AutoSerde::from(doc))` gives (maps
//! as objects with keys in order, lists as arrays, text as strings, scalars as `AutoSerde`
//! writes them, the winning value of a conflict), with two differences in the visit log
//! (`visits` at the root), so that a manager sees what devices show:
//! - visits are in time order, ties broken by visit id, as devices order them
//!   (`fieldbook_core`'s canonical card order); the list's own order is the order in which
//!   devices happened to insert, which two phones logging offline make arbitrary;
//! - a visit whose time is further in the future of the server's receive time than the
//!   tolerance was stamped by a device clock that is wrong: its `at` becomes the receive
//!   time, and it carries `"clock_skew": true` and the device's value as `device_at`
//!   ([`VisitTimes`]). Due dates, sorting and reports read `at`.
//!
//! It walks each map and list with one `map_range` / `list_range` pass instead of one `get`
//! per key or index. `AutoSerde` looks every list element up by index, which is quadratic
//! in the length of a card's visit log and was the largest single cost of accepting a push.

use std::collections::HashMap;

use automerge::{Automerge, ObjId, ObjType, ReadDoc, ScalarValue, ValueRef};
use serde::Serialize;
use serde::ser::{Error as _, SerializeMap, SerializeSeq};

use crate::error::{Error, Result};

/// How visit times stamped by a device clock that runs ahead are replaced.
#[derive(Clone, Debug, Default)]
pub struct VisitTimes {
    /// A visit time (Unix milliseconds) later than this is not trusted.
    pub trusted_until_ms: i64,
    /// The time that replaces an untrusted visit time: when the server received it.
    pub received_at_ms: i64,
    /// Replacements made earlier, by visit id: (the device's time, the receive time it
    /// was given). A visit keeps the receive time of the push that brought it, however
    /// often the projection is written again later.
    pub earlier: HashMap<String, (i64, i64)>,
}

impl VisitTimes {
    /// No visit time is replaced (the demo seeding, whose times are generated).
    pub fn trust_all() -> VisitTimes {
        VisitTimes {
            trusted_until_ms: i64::MAX,
            ..VisitTimes::default()
        }
    }

    /// Visit times up to `tolerance_secs` after `received_at` (Unix seconds) are trusted;
    /// later ones become `received_at`.
    pub fn received(received_at: i64, tolerance_secs: i64) -> VisitTimes {
        VisitTimes {
            trusted_until_ms: received_at
                .saturating_add(tolerance_secs)
                .saturating_mul(1000),
            received_at_ms: received_at.saturating_mul(1000),
            earlier: HashMap::new(),
        }
    }

    /// The time to show for a visit whose device time is `at` (`None`: trusted as is).
    fn replacement(&self, id: Option<&str>, at: i64) -> Option<i64> {
        if let Some((device, given)) = id.and_then(|id| self.earlier.get(id))
            && *device == at
        {
            return Some(*given);
        }
        (at > self.trusted_until_ms).then_some(self.received_at_ms)
    }
}

/// The JSON of the document's current values, every visit time trusted.
pub fn projection(doc: &Automerge) -> Result<String> {
    projection_with(doc, &VisitTimes::trust_all())
}

/// The JSON of the document's current values, visit times checked against `times`.
pub fn projection_with(doc: &Automerge, times: &VisitTimes) -> Result<String> {
    serde_json::to_string(&Map {
        doc,
        obj: automerge::ROOT,
        root: Some(times),
    })
    .map_err(|e| Error::Internal(format!("projection: {e}")))
}

/// Whether any visit of `doc` has a time later than `trusted_until_ms`: only then is it
/// worth reading what earlier projections replaced.
pub fn has_untrusted_visit(doc: &Automerge, trusted_until_ms: i64) -> bool {
    let Some(list) = visits_list(doc) else {
        return false;
    };
    doc.list_range(&list, ..).any(|item| {
        matches!(item.value, ValueRef::Object(ObjType::Map))
            && visit_key(doc, &item.id())
                .1
                .is_some_and(|at| at > trusted_until_ms)
    })
}

/// The replacements a projection written earlier made (see [`VisitTimes::earlier`]).
pub fn earlier_replacements(previous: &str) -> HashMap<String, (i64, i64)> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(previous) else {
        return HashMap::new();
    };
    let Some(visits) = value.get("visits").and_then(|v| v.as_array()) else {
        return HashMap::new();
    };
    visits
        .iter()
        .filter(|v| v.get(SKEW_FLAG).and_then(serde_json::Value::as_bool) == Some(true))
        .filter_map(|v| {
            Some((
                v.get("id")?.as_str()?.to_owned(),
                (v.get(DEVICE_AT)?.as_i64()?, v.get("at")?.as_i64()?),
            ))
        })
        .collect()
}

/// Marks a visit whose device time was replaced by the receive time.
pub const SKEW_FLAG: &str = "clock_skew";
/// Keeps the device's own time of such a visit.
pub const DEVICE_AT: &str = "device_at";

fn visits_list(doc: &Automerge) -> Option<ObjId> {
    match doc.get(automerge::ROOT, "visits") {
        Ok(Some((automerge::Value::Object(ObjType::List), id))) => Some(id),
        _ => None,
    }
}

/// A visit's id and time (Unix milliseconds), as devices read them.
fn visit_key(doc: &Automerge, obj: &ObjId) -> (Option<String>, Option<i64>) {
    let id = match doc.get(obj, "id") {
        Ok(Some((automerge::Value::Scalar(s), _))) => match s.as_ref() {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        },
        _ => None,
    };
    let at = match doc.get(obj, "at") {
        Ok(Some((automerge::Value::Scalar(s), _))) => match s.as_ref() {
            ScalarValue::Timestamp(ms) | ScalarValue::Int(ms) => Some(*ms),
            _ => None,
        },
        _ => None,
    };
    (id, at)
}

struct Map<'a> {
    doc: &'a Automerge,
    obj: ObjId,
    /// Set on the root map only: how its visit log is written.
    root: Option<&'a VisitTimes>,
}

/// The visit log, in time order.
struct Visits<'a> {
    doc: &'a Automerge,
    obj: ObjId,
    times: &'a VisitTimes,
}

/// One visit, its time replaced when `replaced` holds (device time, shown time).
struct VisitMap<'a> {
    doc: &'a Automerge,
    obj: ObjId,
    replaced: Option<(i64, i64)>,
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
    Visit(VisitMap<'a>),
    Scalar(automerge::Value<'static>),
}

fn val<'a>(doc: &'a Automerge, value: ValueRef<'_>, id: impl FnOnce() -> ObjId) -> Val<'a> {
    match value {
        ValueRef::Object(ObjType::Map | ObjType::Table) => Val::Map(Map {
            doc,
            obj: id(),
            root: None,
        }),
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
            Val::Visit(v) => v.serialize(s),
            Val::Scalar(automerge::Value::Scalar(v)) => v.serialize(s),
            Val::Scalar(automerge::Value::Object(_)) => s.serialize_unit(),
        }
    }
}

impl Serialize for Map<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for item in self.doc.map_range(&self.obj, ..) {
            if let Some(times) = self.root
                && item.key.as_ref() == "visits"
                && matches!(item.value, ValueRef::Object(ObjType::List))
            {
                let visits = Visits {
                    doc: self.doc,
                    obj: item.id(),
                    times,
                };
                map.serialize_entry("visits", &visits)?;
                continue;
            }
            let v = val(self.doc, item.value.clone(), || item.id());
            map.serialize_entry(item.key.as_ref(), &v)?;
        }
        map.end()
    }
}

impl Serialize for Visits<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        // (shown time, id, element): devices order by time (no time first), then id.
        let mut items: Vec<(Option<i64>, Option<String>, Val<'_>)> = self
            .doc
            .list_range(&self.obj, ..)
            .map(|item| match &item.value {
                ValueRef::Object(ObjType::Map) => {
                    let obj = item.id();
                    let (id, at) = visit_key(self.doc, &obj);
                    let replaced = at.and_then(|at| {
                        self.times
                            .replacement(id.as_deref(), at)
                            .map(|shown| (at, shown))
                    });
                    let shown = replaced.map(|(_, shown)| shown).or(at);
                    let visit = VisitMap {
                        doc: self.doc,
                        obj,
                        replaced,
                    };
                    (shown, id, Val::Visit(visit))
                }
                other => (None, None, val(self.doc, other.clone(), || item.id())),
            })
            .collect();
        items.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        let mut seq = s.serialize_seq(Some(items.len()))?;
        for (_, _, v) in &items {
            seq.serialize_element(v)?;
        }
        seq.end()
    }
}

impl Serialize for VisitMap<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for item in self.doc.map_range(&self.obj, ..) {
            match (item.key.as_ref(), self.replaced) {
                ("at", Some((_, shown))) => map.serialize_entry("at", &shown)?,
                (SKEW_FLAG | DEVICE_AT, Some(_)) => {}
                (key, _) => {
                    let v = val(self.doc, item.value.clone(), || item.id());
                    map.serialize_entry(key, &v)?;
                }
            }
        }
        if let Some((device, _)) = self.replaced {
            map.serialize_entry(SKEW_FLAG, &true)?;
            map.serialize_entry(DEVICE_AT, &device)?;
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

    /// `AutoSerde`'s JSON with the visit log in time order (then by id), as a value.
    fn reference(doc: &Automerge) -> serde_json::Value {
        let mut value = serde_json::to_value(automerge::AutoSerde::from(doc)).expect("AutoSerde");
        if let Some(visits) = value.get_mut("visits").and_then(|v| v.as_array_mut()) {
            visits.sort_by_key(|v| {
                (
                    v.get("at").and_then(serde_json::Value::as_i64),
                    v.get("id").and_then(|i| i.as_str()).map(str::to_owned),
                )
            });
        }
        value
    }

    fn parsed(doc: &Automerge) -> serde_json::Value {
        serde_json::from_str(&projection(doc).expect("projection")).expect("json")
    }

    fn visit(doc: &mut AutoCommit, list: &ObjId, id: &str, at_ms: i64) {
        let len = doc.length(list);
        let v = doc.insert_object(list, len, ObjType::Map).expect("visit");
        doc.put(&v, "id", id).expect("id");
        doc.put(&v, "at", ScalarValue::Timestamp(at_ms))
            .expect("at");
        doc.put(&v, "summary", "洽谈").expect("summary");
    }

    fn ids_and_times(projection: &str) -> Vec<(String, i64)> {
        let value: serde_json::Value = serde_json::from_str(projection).expect("json");
        value["visits"]
            .as_array()
            .expect("visits")
            .iter()
            .map(|v| {
                (
                    v["id"].as_str().expect("id").to_owned(),
                    v["at"].as_i64().expect("at"),
                )
            })
            .collect()
    }

    const T: i64 = 1_764_000_000_000;

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
            assert_eq!(parsed(&doc), reference(&doc));
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
        assert_eq!(
            projection(doc).expect("projection"),
            serde_json::to_string(&automerge::AutoSerde::from(doc)).expect("AutoSerde"),
            "without a visit log the bytes are AutoSerde's"
        );
    }

    /// Two phones log visits offline; after the merge the list holds them in whatever
    /// order the merge gave, and the projection shows them by time, ties by id.
    #[test]
    fn visits_logged_on_two_devices_are_in_time_order() {
        let mut base = AutoCommit::new();
        let list = base
            .put_object(automerge::ROOT, "visits", ObjType::List)
            .expect("visits");
        base.commit();
        let mut phone_a = base.fork();
        let mut phone_b = base.fork();
        visit(&mut phone_a, &list, "v-a1", T);
        visit(&mut phone_a, &list, "v-a2", T);
        visit(&mut phone_b, &list, "v-b1", T);
        visit(&mut phone_b, &list, "v-b2", T);
        phone_a.merge(&mut phone_b).expect("merge");
        // Give the visits times against the merged list's order: the last is earliest.
        let objs: Vec<ObjId> = phone_a.list_range(&list, ..).map(|i| i.id()).collect();
        assert_eq!(objs.len(), 4);
        for (n, obj) in objs.iter().enumerate() {
            let hours = i64::try_from(3 - n).expect("small");
            phone_a
                .put(obj, "at", ScalarValue::Timestamp(T + hours * 3_600_000))
                .expect("at");
        }
        // And one tie: the last two share a time, so their ids decide.
        phone_a
            .put(&objs[2], "at", ScalarValue::Timestamp(T))
            .expect("at");
        let doc = phone_a.document();
        let list_order: Vec<String> = doc
            .list_range(&list, ..)
            .map(|i| visit_key(doc, &i.id()).0.expect("id"))
            .collect();
        let shown = ids_and_times(&projection(doc).expect("projection"));
        let times: Vec<i64> = shown.iter().map(|(_, t)| *t).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{shown:?}");
        let (tie_a, tie_b) = (&shown[0].0, &shown[1].0);
        assert!(tie_a < tie_b, "a tie is broken by id: {shown:?}");
        let shown_ids: Vec<String> = shown.into_iter().map(|(id, _)| id).collect();
        assert_ne!(
            shown_ids, list_order,
            "the list order is not the time order"
        );
        assert_eq!(parsed(doc), reference(doc));
    }

    /// A phone ten years ahead: its visit shows the receive time, flagged, sorted by it,
    /// and keeps that receive time when the projection is written again later.
    #[test]
    fn a_visit_from_a_clock_ten_years_ahead_shows_the_receive_time() {
        let received = T / 1000;
        let ten_years_ms = 10 * 365 * 86_400_000;
        let mut doc = AutoCommit::new();
        let list = doc
            .put_object(automerge::ROOT, "visits", ObjType::List)
            .expect("visits");
        visit(&mut doc, &list, "v-skewed", T + ten_years_ms);
        visit(&mut doc, &list, "v-early", T - 3_600_000);
        visit(&mut doc, &list, "v-later", T + 3_600_000);
        let doc = doc.document().clone();
        let times = VisitTimes::received(received, 86_400);
        assert!(has_untrusted_visit(&doc, times.trusted_until_ms));
        let first = projection_with(&doc, &times).expect("projection");
        assert_eq!(
            ids_and_times(&first),
            [
                ("v-early".to_owned(), T - 3_600_000),
                ("v-skewed".to_owned(), T),
                ("v-later".to_owned(), T + 3_600_000),
            ]
        );
        let value: serde_json::Value = serde_json::from_str(&first).expect("json");
        let skewed = &value["visits"][1];
        assert_eq!(skewed[SKEW_FLAG], serde_json::Value::Bool(true));
        assert_eq!(skewed[DEVICE_AT].as_i64(), Some(T + ten_years_ms));
        assert_eq!(skewed["summary"], "洽谈");
        assert!(value["visits"][0].get(SKEW_FLAG).is_none());

        // A month later another push rewrites the projection: the visit keeps its time.
        let mut later = VisitTimes::received(received + 30 * 86_400, 86_400);
        later.earlier = earlier_replacements(&first);
        assert_eq!(later.earlier.len(), 1);
        let second = projection_with(&doc, &later).expect("projection");
        assert_eq!(ids_and_times(&second), ids_and_times(&first));

        // Within the tolerance a device's time is its own.
        assert!(!has_untrusted_visit(&doc, i64::MAX));
        let trusted = projection_with(&doc, &VisitTimes::trust_all()).expect("projection");
        assert_eq!(
            ids_and_times(&trusted)[2],
            ("v-skewed".to_owned(), T + ten_years_ms)
        );
    }
}
