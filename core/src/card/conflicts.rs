//! Conflicts shown, not hidden.
//!
//! When two devices set the same register concurrently, Automerge keeps every
//! value and deterministically picks a winner by op id (not by time). Fieldbook
//! lists every such field with all its values and who set each one, when, until a
//! person resolves it by writing a new value ([`crate::Store::resolve`]).

use automerge::{
    Automerge, ChangeHash, ObjId, ObjId as ExId, ObjType, ROOT, ReadDoc, ScalarValue, Value,
};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ids::RepId;
use crate::value::{FieldKind, Money, Scalar, Stored};

/// One value of a conflicted field.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ConflictValue {
    /// The value as a person would type it.
    pub value: String,
    /// The rep who wrote it (the change's author), if recorded.
    pub rep: Option<String>,
    /// The device (Automerge actor id, hex) that wrote it.
    pub device: String,
    /// The device time of the change that wrote it.
    pub time: Option<DateTime<Utc>>,
    /// Whether this is the value the card currently shows.
    pub shown: bool,
}

/// A field with more than one concurrent value.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Conflict {
    /// The field path, e.g. `basic.phone`.
    pub path: String,
    /// Every value, the shown one first.
    pub values: Vec<ConflictValue>,
}

/// Who wrote an op, and when: the author and time of the change containing it.
pub(crate) fn attribution(
    doc: &Automerge,
    op: &ExId,
) -> (Option<String>, String, Option<DateTime<Utc>>) {
    let device = match op {
        ExId::Id(_, actor, _) => actor.to_hex_string(),
        ExId::Root => String::new(),
    };
    let meta = doc
        .hash_for_opid(op)
        .and_then(|hash| doc.get_change_meta_by_hash(&hash));
    match meta {
        Some(meta) => (
            meta.author
                .as_ref()
                .and_then(RepId::from_author)
                .map(|r| r.to_string()),
            device,
            (meta.timestamp > 0)
                .then(|| DateTime::from_timestamp(meta.timestamp, 0))
                .flatten(),
        ),
        None => (None, device, None),
    }
}

/// Show a stored scalar for the field at `path`.
pub(crate) fn show_scalar(path: &str, value: &ScalarValue) -> String {
    match crate::card::kind_of(path) {
        Some(FieldKind::Money) => Money::from_scalar(value).map(|m| m.display()),
        Some(FieldKind::Date) | Some(FieldKind::Str) | Some(FieldKind::Choice) => {
            String::from_scalar(value)
        }
        Some(FieldKind::Timestamp) => DateTime::<Utc>::from_scalar(value).map(|t| t.display()),
        _ => None,
    }
    .unwrap_or_else(|| match value {
        ScalarValue::Str(s) => s.to_string(),
        ScalarValue::Null => "(empty)".to_string(),
        other => other.to_string(),
    })
}

fn show(path: &str, value: &Value<'_>) -> String {
    match value {
        Value::Scalar(s) => show_scalar(path, s),
        Value::Object(ObjType::Text) => "(text)".into(),
        Value::Object(_) => "(object)".into(),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn collect(doc: &Automerge, path: &str, values: Vec<(Value<'_>, ExId)>, winner: &ExId) -> Conflict {
    let mut out: Vec<ConflictValue> = values
        .iter()
        .map(|(v, id)| {
            let (rep, device, time) = attribution(doc, id);
            ConflictValue {
                value: show(path, v),
                rep,
                device,
                time,
                shown: id == winner,
            }
        })
        .collect();
    out.sort_by_key(|v| !v.shown);
    Conflict {
        path: path.to_string(),
        values: out,
    }
}

pub(crate) fn visit_id(
    doc: &Automerge,
    obj: &ObjId,
    heads: Option<&[ChangeHash]>,
) -> Option<String> {
    let got = match heads {
        None => doc.get(obj, "id"),
        Some(h) => doc.get_at(obj, "id", h),
    };
    match got.ok().flatten() {
        Some((Value::Scalar(s), _)) => String::from_scalar(&s),
        _ => None,
    }
}

/// Walk maps and lists in one pass each; only entries Automerge flags as conflicted
/// pay for `get_all` and attribution.
fn walk(doc: &Automerge, obj: &ObjId, kind: ObjType, path: &str, out: &mut Vec<Conflict>) {
    match kind {
        ObjType::Map | ObjType::Table => {
            let entries: Vec<(String, Value<'static>, ExId, bool)> = doc
                .map_range(obj, ..)
                .map(|item| {
                    let id = item.id();
                    (
                        item.key.into_owned(),
                        item.value.into_value(),
                        id,
                        item.conflict,
                    )
                })
                .collect();
            for (key, value, id, conflict) in entries {
                let here = join(path, &key);
                if conflict {
                    let all = doc.get_all(obj, key.as_str()).unwrap_or_default();
                    out.push(collect(doc, &here, all, &id));
                }
                if let Value::Object(child @ (ObjType::Map | ObjType::List)) = value {
                    walk(doc, &id, child, &here, out);
                }
            }
        }
        ObjType::List => {
            let entries: Vec<(usize, Value<'static>, ExId, bool)> = doc
                .list_range(obj, ..)
                .map(|item| {
                    let id = item.id();
                    (item.index, item.value.into_value(), id, item.conflict)
                })
                .collect();
            for (index, value, id, conflict) in entries {
                let segment = visit_id(doc, &id, None).unwrap_or_else(|| index.to_string());
                let here = join(path, &segment);
                if conflict {
                    let all = doc.get_all(obj, index).unwrap_or_default();
                    out.push(collect(doc, &here, all, &id));
                }
                if let Value::Object(ObjType::Map) = value {
                    walk(doc, &id, ObjType::Map, &here, out);
                }
            }
        }
        ObjType::Text => {}
    }
}

/// Every conflicted field of the card document.
pub(crate) fn find_conflicts(doc: &Automerge) -> Vec<Conflict> {
    let mut out = Vec::new();
    walk(doc, &ROOT, ObjType::Map, "", &mut out);
    out
}
