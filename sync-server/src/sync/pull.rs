//! The pull half of a sync: every card in the device's scope with entries after the
//! cursor from other devices, as changes or snapshots, ordered and paged by a byte budget.

use std::collections::{BTreeMap, HashSet};

use fieldbook_core::sync::wire::{CardChanges, PayloadKind, SyncResponse};

use super::SyncStats;
use crate::auth::{CursorState, issue_cursor};
use crate::error::Result;
use crate::storage::{Device, ServerIdentity, Storage};

struct Item {
    key: (u64, String),
    kind: PayloadKind,
    heads: Vec<[u8; 32]>,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn pull(
    storage: &dyn Storage,
    identity: &ServerIdentity,
    device: &Device,
    scope: &HashSet<String>,
    start: Option<CursorState>,
    budget: usize,
    response: &mut SyncResponse,
    stats: &mut SyncStats,
) -> Result<()> {
    // Read the head first: everything up to it is what this response covers. Entries
    // committed while we work have larger positions and come next time.
    let head = storage.head_position()?;
    let start = start.unwrap_or_default();
    let base = start.position;
    // A device never gets its own changes back, unless it was re-keyed: then its store was
    // copied or restored, and each copy may lack what the other (or the lost original)
    // pushed under the same device id.
    let exclude: &str = if device.rekeys > 0 { "" } else { &device.id };
    let mut scope_list: Vec<String> = scope.iter().cloned().collect();
    scope_list.sort();

    let mut items: BTreeMap<String, Item> = BTreeMap::new();
    if base == 0 {
        // First sync: every card in scope, compacted, except those made only of this
        // device's own changes (it has them; a device that lost its data enrols anew).
        // A card is keyed no earlier than its territory came into scope, so a territory
        // gained while a paged first pass is under way sorts after every page delivered.
        let events: Vec<_> = storage
            .scope_events_after(&device.person_id, 0)?
            .into_iter()
            .filter(|e| e.position <= head)
            .collect();
        let mut gained_at: BTreeMap<&str, u64> = BTreeMap::new();
        for e in events.iter().filter(|e| e.gained) {
            gained_at.insert(e.territory_id.as_str(), e.position);
        }
        for c in storage.cards_changed_by_others(&scope_list, 0, head, exclude)? {
            let at = gained_at.get(c.territory.as_str()).copied().unwrap_or(0);
            items.insert(
                c.card_id.clone(),
                Item {
                    key: (c.last_position.max(at), c.card_id),
                    kind: PayloadKind::Snapshot,
                    heads: c.heads,
                },
            );
        }
        if start.after.is_some() {
            // A first pass continued over several pages: a territory lost (or a card moved
            // away) since its first page must not stay on the device. A fresh device holds
            // nothing outside its scope, so every loss so far applies.
            let lost: Vec<String> = events
                .iter()
                .filter(|e| !e.gained && !scope.contains(&e.territory_id))
                .map(|e| e.territory_id.clone())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            response.revoked = storage
                .cards_in_territories(&lost)?
                .into_iter()
                .map(|c| c.card_id)
                .collect();
            moves(storage, scope, 0, head, &mut items, response)?;
        }
    } else {
        let mut gained: BTreeMap<String, u64> = BTreeMap::new();
        let mut lost: BTreeMap<String, u64> = BTreeMap::new();
        for e in storage.scope_events_after(&device.person_id, base)? {
            if e.position > head {
                continue;
            }
            if e.gained && scope.contains(&e.territory_id) {
                gained.insert(e.territory_id, e.position);
            } else if !e.gained && !scope.contains(&e.territory_id) {
                lost.insert(e.territory_id, e.position);
            }
        }
        for c in storage.cards_changed_by_others(&scope_list, base, head, exclude)? {
            let kind = if c.first_position > base {
                PayloadKind::Snapshot
            } else {
                PayloadKind::Changes
            };
            // Heads let the device advance its acknowledged heads; only valid when the
            // delivered entries reach the card's latest change.
            let heads = if c.last_position <= head {
                c.heads
            } else {
                Vec::new()
            };
            items.insert(
                c.card_id.clone(),
                Item {
                    key: (c.last_position, c.card_id),
                    kind,
                    heads,
                },
            );
        }
        if !gained.is_empty() {
            let territories: Vec<String> = gained.keys().cloned().collect();
            for c in storage.cards_in_territories(&territories)? {
                let at = gained.get(&c.territory).copied().unwrap_or(0);
                items.insert(
                    c.card_id.clone(),
                    Item {
                        key: (c.last_position.max(at), c.card_id),
                        kind: PayloadKind::Snapshot,
                        heads: c.heads,
                    },
                );
            }
        }
        // Revocations go out on every page of a pass, not only its first: a territory
        // handed over while the device is between two pages of one pass is lost after the
        // pass's base, and the pass's final cursor lies beyond the loss.
        if !lost.is_empty() {
            let territories: Vec<String> = lost.keys().cloned().collect();
            response.revoked = storage
                .cards_in_territories(&territories)?
                .into_iter()
                .map(|c| c.card_id)
                .collect();
        }
        moves(storage, scope, base, head, &mut items, response)?;
    }

    let mut ordered: Vec<Item> = items.into_values().collect();
    ordered.sort_by(|a, b| a.key.cmp(&b.key));
    if let Some(after) = &start.after {
        ordered.retain(|i| &i.key > after);
    }

    let mut used = 0usize;
    let mut last_key = None;
    let mut more = false;
    for item in ordered {
        let card_id = item.key.1.clone();
        let bytes = match item.kind {
            PayloadKind::Snapshot => match storage.card(&card_id)? {
                Some(card) => {
                    let heads = card.heads;
                    if used > 0 && used + card.doc.len() > budget {
                        more = true;
                        break;
                    }
                    used += card.doc.len();
                    push_item(response, &card_id, item.kind, card.doc, heads);
                    last_key = Some(item.key);
                    continue;
                }
                None => continue,
            },
            PayloadKind::Changes => storage
                .changes_by_others(&card_id, base, head, exclude)?
                .concat(),
        };
        if bytes.is_empty() {
            continue;
        }
        if used > 0 && used + bytes.len() > budget {
            more = true;
            break;
        }
        used += bytes.len();
        push_item(response, &card_id, item.kind, bytes, item.heads);
        last_key = Some(item.key);
    }
    stats.cards_sent = response.changes.len();
    let next = if more {
        CursorState {
            position: base,
            after: last_key.or(start.after),
            rekeys: device.rekeys,
        }
    } else {
        CursorState {
            position: head,
            after: None,
            rekeys: device.rekeys,
        }
    };
    response.more = more;
    response.cursor = issue_cursor(&identity.cursor_key, &device.id, &next)?;
    Ok(())
}

/// Cards a manager moved between territories after `base`: one that came into scope comes
/// whole (the device lacks its history), one that left it is revoked.
fn moves(
    storage: &dyn Storage,
    scope: &HashSet<String>,
    base: u64,
    head: u64,
    items: &mut BTreeMap<String, Item>,
    response: &mut SyncResponse,
) -> Result<()> {
    let mut moved: BTreeMap<String, (u64, String, bool)> = BTreeMap::new();
    for m in storage.card_moves_after(base, head)? {
        let entry = moved.entry(m.card_id).or_default();
        entry.0 = m.position;
        entry.1 = m.to_territory;
        entry.2 |= scope.contains(&m.from_territory);
    }
    for (card_id, (position, territory, was_in_scope)) in moved {
        if scope.contains(&territory) {
            let at = items
                .get(&card_id)
                .map_or(position, |i| i.key.0.max(position));
            items.insert(
                card_id.clone(),
                Item {
                    key: (at, card_id),
                    kind: PayloadKind::Snapshot,
                    heads: Vec::new(),
                },
            );
        } else if was_in_scope {
            items.remove(&card_id);
            response.revoked.push(card_id);
        }
    }
    Ok(())
}

fn push_item(
    response: &mut SyncResponse,
    card_id: &str,
    kind: PayloadKind,
    bytes: Vec<u8>,
    heads: Vec<[u8; 32]>,
) {
    response.changes.push(CardChanges {
        card_id: card_id.to_owned(),
        kind,
        bytes,
        heads,
    });
}
