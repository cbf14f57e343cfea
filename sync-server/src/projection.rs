//! The projection: a card as the manager's views and `GET /v1/cards/{id}` show it.
//!
//! It is the device's card view — core's [`CardView`], the JSON a device's
//! `show --json` prints, built by [`fieldbook_core::store::card_view`] — so a card has one
//! shape everywhere (the same class codes, contacts as a list of items with ids, visits
//! in time order, open conflicts with every value). The server adds only annotations of
//! its own, as extra fields of the same shape:
//! - a visit whose time is further in the future of the server's receive time than the
//!   tolerance was stamped by a device clock that is wrong: its `at` becomes the receive
//!   time, and it carries `"clock_skew": true` and the device's value as `device_at`
//!   ([`VisitTimes`]); the log keeps the change as the device wrote it. The visit log is
//!   then in the order of the times shown. Due dates, sorting and reports read `at`.

use std::collections::HashMap;

use automerge::Automerge;
use chrono::{DateTime, Utc};
use fieldbook_core::CardView;

use crate::error::{Error, Result};

/// How visit times stamped by a device clock that runs ahead are replaced.
#[derive(Clone, Debug, Default)]
pub struct VisitTimes {
    /// A visit time (Unix milliseconds) later than this is not trusted.
    pub trusted_until_ms: i64,
    /// The time that replaces an untrusted visit time: when the server received it.
    pub received_at_ms: i64,
    /// Replacements made earlier, by visit id: (the device's time, the receive time it
    /// was given), both Unix milliseconds. A visit keeps the receive time of the push that
    /// brought it, however often the projection is written again later.
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
    fn replacement(&self, id: &str, at: i64) -> Option<i64> {
        if let Some((device, given)) = self.earlier.get(id)
            && *device == at
        {
            return Some(*given);
        }
        (at > self.trusted_until_ms).then_some(self.received_at_ms)
    }
}

/// Marks a visit whose device time was replaced by the receive time.
pub const SKEW_FLAG: &str = "clock_skew";
/// Keeps the device's own time of such a visit.
pub const DEVICE_AT: &str = "device_at";

/// A card's projection: its view, the annotated JSON the server stores and serves, and
/// the latest visit time as shown.
#[derive(Clone, Debug)]
pub struct Projection {
    /// The card as a device shows it (times as the device wrote them).
    pub view: CardView,
    /// The view's JSON with the server's annotations.
    pub json: serde_json::Value,
    /// The latest visit's time as shown (Unix seconds), if the card has a dated visit.
    pub last_visit_at: Option<i64>,
}

impl Projection {
    /// The stored form.
    pub fn to_json_string(&self) -> Result<String> {
        serde_json::to_string(&self.json).map_err(|e| Error::Internal(format!("projection: {e}")))
    }
}

/// The projection of `doc`, visit times checked against `times`.
pub fn project(doc: &Automerge, times: &VisitTimes) -> Result<Projection> {
    let view = fieldbook_core::store::card_view(doc).map_err(Error::from_card_check)?;
    let mut json =
        serde_json::to_value(&view).map_err(|e| Error::Internal(format!("projection: {e}")))?;
    let mut last_visit_ms: Option<i64> = None;
    if let Some(visits) = json.get_mut("visits").and_then(|v| v.as_array_mut()) {
        let mut keyed: Vec<(Option<i64>, String, serde_json::Value)> = visits
            .drain(..)
            .map(|mut visit| {
                let id = visit["id"].as_str().unwrap_or_default().to_owned();
                let at = time_ms(&visit["at"]);
                let shown = match at.and_then(|at| times.replacement(&id, at)) {
                    Some(shown) => {
                        if let Some(obj) = visit.as_object_mut() {
                            let device = obj.remove("at").unwrap_or_default();
                            obj.insert("at".into(), time_value(shown));
                            obj.insert(SKEW_FLAG.into(), serde_json::Value::Bool(true));
                            obj.insert(DEVICE_AT.into(), device);
                        }
                        Some(shown)
                    }
                    None => at,
                };
                (shown, id, visit)
            })
            .collect();
        // Devices order the log by time (undated first), ties by id; a replaced time
        // moves its visit to where the server's clock puts it.
        keyed.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        last_visit_ms = keyed.iter().filter_map(|k| k.0).max();
        visits.extend(keyed.into_iter().map(|(_, _, v)| v));
    }
    Ok(Projection {
        view,
        json,
        last_visit_at: last_visit_ms.map(|ms| ms.div_euclid(1000)),
    })
}

/// The JSON of the document's card view, every visit time trusted.
pub fn projection(doc: &Automerge) -> Result<String> {
    project(doc, &VisitTimes::trust_all())?.to_json_string()
}

/// The JSON of the document's card view, visit times checked against `times`.
pub fn projection_with(doc: &Automerge, times: &VisitTimes) -> Result<String> {
    project(doc, times)?.to_json_string()
}

/// A time as the card view writes it (RFC 3339), or as projections before the card view
/// wrote it (Unix milliseconds), in Unix milliseconds.
fn time_ms(value: &serde_json::Value) -> Option<i64> {
    match value {
        serde_json::Value::String(s) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.timestamp_millis()),
        serde_json::Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// A time in Unix milliseconds, written as the card view writes times.
fn time_value(ms: i64) -> serde_json::Value {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .and_then(|t| serde_json::to_value(t).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// Whether any visit of `view` has a time later than `trusted_until_ms`: only then is it
/// worth reading what earlier projections replaced.
pub fn has_untrusted_visit(view: &CardView, trusted_until_ms: i64) -> bool {
    view.card.visits.iter().any(|v| {
        v.at.is_some_and(|at| at.timestamp_millis() > trusted_until_ms)
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
                (time_ms(v.get(DEVICE_AT)?)?, time_ms(v.get("at")?)?),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ObjType, ReadDoc, ScalarValue, Value};
    use fieldbook_core::demo::{DemoAuthor, demo_document};

    const T: i64 = 1_764_580_000_000;

    fn card_doc() -> AutoCommit {
        let mut doc = AutoCommit::new();
        let id: fieldbook_core::CardId = uuid::Uuid::new_v4().to_string().parse().expect("id");
        fieldbook_core::card::write_skeleton(&mut doc, &id, Some("sh-east")).expect("skeleton");
        doc.commit();
        doc
    }

    fn visit(doc: &mut AutoCommit, id: &str, at_ms: i64) {
        let Some((Value::Object(_), list)) = doc.get(automerge::ROOT, "visits").expect("get")
        else {
            panic!("no visits list");
        };
        let end = doc.length(&list);
        let v = doc.insert_object(&list, end, ObjType::Map).expect("insert");
        doc.put(&v, "id", id).expect("id");
        doc.put(&v, "at", ScalarValue::Timestamp(at_ms))
            .expect("at");
        let summary = doc.put_object(&v, "summary", ObjType::Text).expect("text");
        doc.splice_text(&summary, 0, 0, "洽谈").expect("splice");
        doc.commit();
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
                    time_ms(&v["at"]).expect("at"),
                )
            })
            .collect()
    }

    /// The projection is the device's card view, value for value, when no time is
    /// replaced: one shape on the phone and on the server.
    #[test]
    fn is_the_devices_card_view_on_demo_cards() {
        let authors = [DemoAuthor::new("zhangwei".parse().expect("rep"))];
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
        for i in 0..3 {
            let (_, bytes) = demo_document(5, i, "sh-east", &authors, 30, today).expect("demo");
            let doc = Automerge::load(&bytes).expect("load");
            let shown: serde_json::Value =
                serde_json::from_str(&projection(&doc).expect("projection")).expect("json");
            let device =
                serde_json::to_value(fieldbook_core::store::card_view(&doc).expect("view"))
                    .expect("json");
            assert_eq!(shown, device);
            assert!(shown["contacts"].is_array(), "contacts are a list of items");
        }
    }

    /// A phone ten years ahead: its visit shows the receive time, flagged, sorted by it,
    /// and keeps that receive time when the projection is written again later.
    #[test]
    fn a_visit_from_a_clock_ten_years_ahead_shows_the_receive_time() {
        let received = T / 1000;
        let ten_years_ms = 10 * 365 * 86_400_000;
        let mut doc = card_doc();
        visit(&mut doc, "v-skewed", T + ten_years_ms);
        visit(&mut doc, "v-early", T - 3_600_000);
        visit(&mut doc, "v-later", T + 3_600_000);
        let doc = doc.document().clone();
        let times = VisitTimes::received(received, 86_400);
        let view = fieldbook_core::store::card_view(&doc).expect("view");
        assert!(has_untrusted_visit(&view, times.trusted_until_ms));
        let projected = project(&doc, &times).expect("projection");
        assert_eq!(projected.last_visit_at, Some((T + 3_600_000) / 1000));
        let first = projected.to_json_string().expect("json");
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
        assert_eq!(time_ms(&skewed[DEVICE_AT]), Some(T + ten_years_ms));
        assert_eq!(skewed["summary"], "洽谈");
        assert!(value["visits"][0].get(SKEW_FLAG).is_none());

        // A month later another push rewrites the projection: the visit keeps its time.
        let mut later = VisitTimes::received(received + 30 * 86_400, 86_400);
        later.earlier = earlier_replacements(&first);
        assert_eq!(later.earlier.len(), 1);
        let second = projection_with(&doc, &later).expect("projection");
        assert_eq!(ids_and_times(&second), ids_and_times(&first));

        // Within the tolerance a device's time is its own.
        assert!(!has_untrusted_visit(&view, i64::MAX));
        let trusted = projection_with(&doc, &VisitTimes::trust_all()).expect("projection");
        assert_eq!(
            ids_and_times(&trusted)[2],
            ("v-skewed".to_owned(), T + ten_years_ms)
        );
    }
}
