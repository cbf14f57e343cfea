//! A three-way merge of typed cards: what this device changed since a common base,
//! written over what another copy of the card holds.
//!
//! Used when a copied or restored store re-keys (see `store/reapply.rs`): its unsynced
//! changes cannot be sent as they are (their `(actor, seq)` is taken on the server), so
//! they are re-made as a new change on top of the server's document. The merge works on
//! the card's JSON form, so it follows every section and field the card model declares
//! without a list of its own: a value this device changed (local differs from base) takes
//! the local value, every other value keeps the server's; lists of items keyed by `id`
//! (contacts, visits, to-dos, opportunities) keep the server's items, add the ones this
//! device added, apply its edits and removals; other lists (tags) are merged as sets.

use serde_json::Value;

use crate::card::Card;
use crate::error::{Error, Result};

/// The card to write over `server`: `server` with every change `local` made since `base`.
/// Without a base (the server never acknowledged any state of the card) every local value
/// that differs from the server's wins.
pub(crate) fn merge_cards(base: Option<&Card>, local: &Card, server: &Card) -> Result<Card> {
    let json = |c: &Card| {
        serde_json::to_value(c).map_err(|e| Error::Protocol(format!("card as JSON: {e}")))
    };
    let base = base.map(json).transpose()?;
    let merged = merge(base.as_ref(), &json(local)?, &json(server)?);
    let mut card: Card = serde_json::from_value(merged)
        .map_err(|e| Error::Protocol(format!("merged card does not read back: {e}")))?;
    card.id = server.id.clone();
    Ok(card)
}

fn merge(base: Option<&Value>, local: &Value, server: &Value) -> Value {
    if base == Some(local) || local == server {
        return server.clone();
    }
    match (local, server) {
        (Value::Object(l), Value::Object(s)) => {
            let b = base.and_then(Value::as_object);
            let mut out = s.clone();
            for (k, lv) in l {
                let bv = b.and_then(|b| b.get(k));
                match s.get(k) {
                    Some(sv) => {
                        out.insert(k.clone(), merge(bv, lv, sv));
                    }
                    None if bv != Some(lv) => {
                        out.insert(k.clone(), lv.clone());
                    }
                    None => {}
                }
            }
            Value::Object(out)
        }
        (Value::Array(l), Value::Array(s)) => {
            Value::Array(merge_list(base.and_then(Value::as_array), l, s))
        }
        _ => local.clone(),
    }
}

fn item_id(v: &Value) -> Option<&str> {
    v.get("id")?.as_str()
}

fn merge_list(base: Option<&Vec<Value>>, local: &[Value], server: &[Value]) -> Vec<Value> {
    let base: &[Value] = base.map(Vec::as_slice).unwrap_or_default();
    let keyed = local
        .iter()
        .chain(server)
        .chain(base)
        .all(|v| item_id(v).is_some());
    if !keyed {
        // A set: the server's elements, less those this device removed, plus those it added.
        let mut out: Vec<Value> = server
            .iter()
            .filter(|v| local.contains(v) || !base.contains(v))
            .cloned()
            .collect();
        for lv in local {
            if !base.contains(lv) && !out.contains(lv) {
                out.push(lv.clone());
            }
        }
        return out;
    }
    let find = |list: &'_ [Value], id: Option<&str>| -> Option<Value> {
        list.iter().find(|v| item_id(v) == id).cloned()
    };
    let mut out = Vec::with_capacity(server.len() + local.len());
    for sv in server {
        let id = item_id(sv);
        match (find(base, id), find(local, id)) {
            // Removed on this device, and not changed on the server since.
            (Some(b), None) if &b == sv => {}
            (Some(_), None) => out.push(sv.clone()),
            (b, Some(lv)) => out.push(merge(b.as_ref(), &lv, sv)),
            (None, None) => out.push(sv.clone()),
        }
    }
    for lv in local {
        let id = item_id(lv);
        // Added on this device, or edited here while the server removed it: keep it.
        if find(server, id).is_none() && find(base, id).as_ref() != Some(lv) {
            out.push(lv.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn local_changes_win_and_the_rest_is_the_servers() {
        let base = json!({"a": 1, "b": 1, "c": {"x": "n"}, "tags": ["t1"]});
        let local = json!({"a": 2, "b": 1, "c": {"x": "n"}, "tags": ["t1", "t2"]});
        let server = json!({"a": 1, "b": 3, "c": {"x": "s"}, "tags": ["t0", "t1"]});
        assert_eq!(
            merge(Some(&base), &local, &server),
            json!({"a": 2, "b": 3, "c": {"x": "s"}, "tags": ["t0", "t1", "t2"]})
        );
    }

    #[test]
    fn keyed_items_are_added_edited_and_removed_once() {
        let base = json!([{"id": "v1", "s": "a"}, {"id": "v2", "s": "b"}]);
        let local = json!([{"id": "v1", "s": "a2"}, {"id": "v3", "s": "mine"}]);
        let server =
            json!([{"id": "v1", "s": "a"}, {"id": "v2", "s": "b"}, {"id": "v4", "s": "theirs"}]);
        assert_eq!(
            merge(Some(&base), &local, &server),
            json!([{"id": "v1", "s": "a2"}, {"id": "v4", "s": "theirs"}, {"id": "v3", "s": "mine"}])
        );
        // The same merge again adds nothing twice.
        let once = merge(Some(&base), &local, &server);
        assert_eq!(merge(Some(&base), &local, &once), once);
    }
}
