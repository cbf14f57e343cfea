//! Attributable history: who changed what on a card, from which device, when.
//!
//! Automerge keeps every change with its actor (the device), author (the rep) and
//! device time. It has no per-field history, so the fields a change touched are
//! derived from the patches between the change's dependencies and the change
//! itself. That is authoritative (it is what the change did), not what a device
//! claimed in its commit message.

use automerge::{Automerge, ChangeHash, ObjId, Prop, ReadDoc, patches::PatchAction};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::card::Card;
use crate::card::conflicts::visit_id as item_id_of;
use crate::card::doc::read_card;
use crate::error::{Error, Result};
use crate::ids::RepId;
use crate::value::{OppStage, Stored};

mod replay;
mod stages;
use replay::ChangeWalker;
pub use stages::stage_changes;
pub(crate) use stages::stages_and_new_summaries;

/// One change to a card.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    /// The change hash (hex): stable across devices.
    pub hash: String,
    /// The rep who made the change (its author).
    pub rep: Option<String>,
    /// The device (Automerge actor id, hex).
    pub device: String,
    /// The name the device was enrolled with (演示手机), when the store knows the actor
    /// (from the sync server's directory); `None` for an unknown actor.
    pub device_name: Option<String>,
    /// The device's role (`rep`, `manager`, `admin`), when known: a manager's device is
    /// labelled as a manager's.
    pub device_role: Option<String>,
    /// The display name of the device's person, when known.
    pub person_name: Option<String>,
    /// The device's clock when the change was made.
    pub time: Option<DateTime<Utc>>,
    /// The field paths the change touched.
    pub fields: Vec<String>,
}

/// One change to one field, with the value it left.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// The change.
    #[serde(flatten)]
    pub entry: HistoryEntry,
    /// The field's value right after the change (`None`: empty or removed).
    pub value: Option<String>,
}

/// Parse a change hash given in hex.
pub(crate) fn parse_hash(hex_hash: &str) -> Result<ChangeHash> {
    hex_hash
        .trim()
        .parse()
        .map_err(|_| Error::InvalidId(hex_hash.to_string(), "a change hash is 64 hex digits"))
}

/// The path segment for a property, naming list items by their id.
fn segment(doc: &Automerge, obj: &ObjId, prop: &Prop, heads: &[ChangeHash]) -> String {
    match prop {
        Prop::Map(key) => key.clone(),
        Prop::Seq(index) => doc
            .get_at(obj, *index, heads)
            .ok()
            .flatten()
            .and_then(|(_, item)| item_id_of(doc, &item, Some(heads)))
            .unwrap_or_else(|| index.to_string()),
    }
}

/// What one walk of a change's diff finds.
#[derive(Debug, Default, PartialEq)]
struct Walk {
    fields: Vec<String>,
    visits: u32,
    stages_moved: u32,
    entered: Vec<StageEntered>,
    sales_months_added: u32,
}

/// The stage a patch put on an opportunity (`opportunities.<id>.stage`), with the item's
/// id and the stages it had before the change (none for a new opportunity).
fn stage_put(
    doc: &Automerge,
    patch: &automerge::Patch,
    deps: &[ChangeHash],
) -> Option<StageEntered> {
    let PatchAction::PutMap { key, value, .. } = &patch.action else {
        return None;
    };
    let [(_, Prop::Map(top)), (_, Prop::Map(item))] = patch.path.as_slice() else {
        return None;
    };
    if key != "stage" || top != "opportunities" {
        return None;
    }
    let stage_of = |v: &automerge::Value<'_>| match v {
        automerge::Value::Scalar(s) => OppStage::from_scalar(s),
        automerge::Value::Object(_) => None,
    };
    let stage = stage_of(&value.0)?;
    // Every value the stage had, several while concurrent moves stay unresolved.
    let from = doc
        .get_all_at(&patch.obj, "stage", deps)
        .unwrap_or_default()
        .iter()
        .filter_map(|(v, _)| stage_of(v))
        .collect();
    Some(StageEntered {
        opportunity_id: item.clone(),
        stage,
        from,
    })
}

/// The field paths a change touched, how many visits it added to the visit log, the
/// opportunity stages it put and the sales months it added, from one walk of its diff.
/// Whole-document cost: Automerge's diff between historical heads walks every operation
/// of the document. [`ChangeWalker`] walks many changes for the cost of their own.
fn walk_change(doc: &Automerge, hash: ChangeHash, deps: &[ChangeHash]) -> Walk {
    walk_patches(doc, doc.diff(deps, &[hash]), hash, deps)
}

/// [`walk_change`] given the change's patches: `doc` is any document holding the change
/// and its dependencies (the lookups are at those heads), `patches` what the change did
/// to the state its dependencies left.
fn walk_patches(
    doc: &Automerge,
    patches: Vec<automerge::Patch>,
    hash: ChangeHash,
    deps: &[ChangeHash],
) -> Walk {
    let after = [hash];
    let mut walk = Walk::default();
    // A list item's path segment is a lookup at `after` (its item id): every field of a
    // new visit names the same item, so each is looked up once per walk.
    let mut items: std::collections::HashMap<(ObjId, usize), String> = Default::default();
    let mut segment_at = |obj: &ObjId, prop: &Prop| -> String {
        match prop {
            Prop::Map(key) => key.clone(),
            Prop::Seq(index) => items
                .entry((obj.clone(), *index))
                .or_insert_with(|| segment(doc, obj, prop, &after))
                .clone(),
        }
    };
    for patch in patches {
        let top = patch.path.first().map(|(_, prop)| prop);
        let top_is = |key: &str| matches!(top, Some(Prop::Map(k)) if k == key);
        match &patch.action {
            PatchAction::Insert { values, .. } if patch.path.len() == 1 && top_is("visits") => {
                walk.visits = walk
                    .visits
                    .saturating_add(u32::try_from(values.len()).unwrap_or(u32::MAX));
            }
            PatchAction::PutMap { .. } if patch.path.len() == 2 && top_is("opportunities") => {
                if let Some(entered) = stage_put(doc, &patch, deps) {
                    // A stage put on an opportunity that already had one moved it; the
                    // first stage of a new opportunity did not.
                    if !entered.from.is_empty() {
                        walk.stages_moved = walk.stages_moved.saturating_add(1);
                    }
                    walk.entered.push(entered);
                }
            }
            // A month's figure where there was none: a sale recorded.
            PatchAction::PutMap { key, .. }
                if patch.path.len() == 1
                    && top_is("sales")
                    && doc
                        .get_at(&patch.obj, key.as_str(), deps)
                        .ok()
                        .flatten()
                        .is_none() =>
            {
                walk.sales_months_added = walk.sales_months_added.saturating_add(1);
            }
            _ => {}
        }
        let mut parts: Vec<String> = patch
            .path
            .iter()
            .map(|(obj, prop)| segment_at(obj, prop))
            .collect();
        let in_text = matches!(patch.action, PatchAction::SpliceText { .. }) || {
            // Deletions inside a text object carry the text's own path.
            matches!(doc.object_type(&patch.obj), Ok(automerge::ObjType::Text))
        };
        if !in_text {
            match &patch.action {
                PatchAction::PutMap { key, .. } | PatchAction::DeleteMap { key } => {
                    parts.push(key.clone())
                }
                PatchAction::PutSeq { index, .. } | PatchAction::Insert { index, .. } => {
                    parts.push(segment_at(&patch.obj, &Prop::Seq(*index)));
                }
                PatchAction::Increment { prop, .. } | PatchAction::Conflict { prop } => {
                    parts.push(segment_at(&patch.obj, prop))
                }
                _ => {}
            }
        }
        // Root bookkeeping keys are not fields a person edits.
        if parts.first().is_some_and(|p| p == "schema" || p == "id") {
            continue;
        }
        let path = parts.join(".");
        if !path.is_empty() && !walk.fields.contains(&path) {
            walk.fields.push(path);
        }
    }
    walk
}

/// An opportunity's stage as one change put it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StageEntered {
    /// The opportunity's item id.
    pub opportunity_id: String,
    /// The stage the change put.
    pub stage: OppStage,
    /// The stage it had before the change: empty for a new opportunity (or one without a
    /// stage until then), several while concurrent moves were unresolved.
    pub from: Vec<OppStage>,
}

/// What one change did to a card, for activity reports: derived from the change's own
/// diff, like [`HistoryEntry::fields`], never from what a device claimed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeSummary {
    /// The change, as the card's history shows it.
    #[serde(flatten)]
    pub entry: HistoryEntry,
    /// The change created the card: it depends on no other change (the document's root).
    pub created: bool,
    /// How many visits it added to the visit log.
    pub visits_logged: u32,
    /// How many opportunities' stages it moved (an existing stage replaced).
    pub stages_moved: u32,
    /// Every opportunity stage it put (a new opportunity's first stage included), with
    /// the stage before.
    pub stages_entered: Vec<StageEntered>,
    /// How many months of sales figures it added (`sales.<YYYY-MM>` where there was
    /// none: an order recorded; a month's figure corrected is no new one).
    pub sales_months_added: u32,
}

fn entry_of(meta: &automerge::ChangeMetadata<'_>, fields: Vec<String>) -> HistoryEntry {
    HistoryEntry {
        hash: meta.hash.to_string(),
        rep: meta
            .author
            .as_ref()
            .and_then(RepId::from_author)
            .map(|r| r.to_string()),
        device: meta.actor.to_hex_string(),
        device_name: None,
        device_role: None,
        person_name: None,
        time: (meta.timestamp > 0)
            .then(|| DateTime::from_timestamp(meta.timestamp, 0))
            .flatten(),
        fields,
    }
}

/// What each of the given changes of `doc` did (hashes not in the document are skipped),
/// in the order given. For the server, which classifies every change it accepts (and
/// every seeded one) into its activity rows and keeps each change's fields for the
/// card's history.
///
/// Server-side: one of the documented exceptions to "no Automerge type in core's public
/// API" (the server keeps documents as `Automerge`).
pub fn summarize_changes(doc: &Automerge, hashes: &[[u8; 32]]) -> Vec<ChangeSummary> {
    // One change (a device's edit, the common push) is one diff; more are cheaper
    // replayed together than diffed one by one (see `ChangeWalker`).
    if hashes.len() < 2 {
        return hashes
            .iter()
            .filter_map(|h| {
                let meta = doc.get_change_meta_by_hash(&ChangeHash(*h))?;
                Some(summary_of(doc, &meta))
            })
            .collect();
    }
    let wanted: std::collections::HashSet<ChangeHash> =
        hashes.iter().map(|h| ChangeHash(*h)).collect();
    let mut walker = ChangeWalker::new(doc);
    let mut found: std::collections::HashMap<ChangeHash, ChangeSummary> = Default::default();
    for meta in doc.get_changes_meta(&[]) {
        if wanted.contains(&meta.hash) {
            let summary = summary_of_walk(&meta, walker.walk(&meta));
            found.insert(meta.hash, summary);
        }
    }
    hashes
        .iter()
        .filter_map(|h| found.get(&ChangeHash(*h)).cloned())
        .collect()
}

fn summary_of(doc: &Automerge, meta: &automerge::ChangeMetadata<'_>) -> ChangeSummary {
    summary_of_walk(meta, walk_change(doc, meta.hash, &meta.deps))
}

fn summary_of_walk(meta: &automerge::ChangeMetadata<'_>, walk: Walk) -> ChangeSummary {
    ChangeSummary {
        created: meta.deps.is_empty(),
        visits_logged: walk.visits,
        stages_moved: walk.stages_moved,
        stages_entered: walk.entered,
        sales_months_added: walk.sales_months_added,
        entry: entry_of(meta, walk.fields),
    }
}

/// Every change of a document, oldest first (causal order).
pub(crate) fn history(doc: &Automerge) -> Vec<HistoryEntry> {
    let mut walker = ChangeWalker::new(doc);
    doc.get_changes_meta(&[])
        .into_iter()
        .map(|meta| {
            let fields = walker.walk(&meta).fields;
            entry_of(&meta, fields)
        })
        .collect()
}

/// Whether a change that touched `touched` concerns the field `path`.
fn concerns(touched: &str, path: &str) -> bool {
    touched == path
        || touched.starts_with(&format!("{path}."))
        || path.starts_with(&format!("{touched}."))
}

/// The changes that touched one field, with the value each left.
pub(crate) fn field_history(doc: &Automerge, path: &str) -> Result<Vec<FieldChange>> {
    let mut out = Vec::new();
    for entry in history(doc) {
        if !entry.fields.iter().any(|f| concerns(f, path)) {
            continue;
        }
        let hash = parse_hash(&entry.hash)?;
        let card = read_card(doc, Some(&[hash]))?;
        let value = match card.get_path(path) {
            Ok(v) => v,
            Err(Error::ItemNotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        out.push(FieldChange { entry, value });
    }
    Ok(out)
}

/// The history of every field a change ever touched, in the order fields first appear,
/// each with the value every change left. One pass over the history: each change's card
/// is read once, whatever number of fields it touched. A path naming a whole item that
/// the same change also filled field by field (`visits.X` beside `visits.X.summary`) is
/// left out: its fields carry the values.
pub(crate) fn every_field_history(doc: &Automerge) -> Result<Vec<(String, Vec<FieldChange>)>> {
    let mut order: Vec<(String, Vec<FieldChange>)> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for entry in history(doc) {
        if entry.fields.is_empty() {
            continue;
        }
        let hash = parse_hash(&entry.hash)?;
        let card = read_card(doc, Some(&[hash]))?;
        let leaves: Vec<&String> = entry
            .fields
            .iter()
            .filter(|f| {
                !entry.fields.iter().any(|g| {
                    g.len() > f.len() && g.starts_with(f.as_str()) && g[f.len()..].starts_with('.')
                })
            })
            .collect();
        for path in leaves {
            // A path that is no single field (an item removed whole) leaves no value.
            let value = card.get_path(path).ok().flatten();
            let slot = *index.entry(path.clone()).or_insert_with(|| {
                order.push((path.clone(), Vec::new()));
                order.len() - 1
            });
            if let Some((_, changes)) = order.get_mut(slot) {
                changes.push(FieldChange {
                    entry: entry.clone(),
                    value,
                });
            }
        }
    }
    Ok(order)
}

/// The heads of the document as it was at a device time: every change made at or
/// before `time`. Clocks on phones drift, so this is "what the devices had written by
/// then by their own clocks", which is what a person asking means.
pub(crate) fn heads_at_time(doc: &Automerge, time: DateTime<Utc>) -> Vec<ChangeHash> {
    let t = time.timestamp();
    doc.get_changes_meta(&[])
        .into_iter()
        .filter(|m| m.timestamp <= t)
        .map(|m| m.hash)
        .collect()
}

/// The card as it was at the given heads.
pub(crate) fn card_at(doc: &Automerge, heads: &[ChangeHash]) -> Result<Card> {
    for h in heads {
        if doc.get_change_meta_by_hash(h).is_none() {
            return Err(Error::InvalidId(
                h.to_string(),
                "no such change on this card",
            ));
        }
    }
    read_card(doc, Some(heads))
}

/// Every change's summary, for tests next to the derivations.
#[cfg(test)]
pub(crate) fn summarize_all_for_tests(doc: &Automerge) -> Vec<ChangeSummary> {
    let mut walker = ChangeWalker::new(doc);
    doc.get_changes_meta(&[])
        .iter()
        .map(|meta| summary_of_walk(meta, walker.walk(meta)))
        .collect()
}
