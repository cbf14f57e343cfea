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
        for c in storage.cards_changed_by_others(&scope_list, 0, head, exclude)? {
            items.insert(
                c.card_id.clone(),
                Item {
                    key: (c.last_position, c.card_id),
                    kind: PayloadKind::Snapshot,
                    heads: c.heads,
                },
            );
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
        if start.after.is_none() && !lost.is_empty() {
            let territories: Vec<String> = lost.keys().cloned().collect();
            response.revoked = storage
                .cards_in_territories(&territories)?
                .into_iter()
                .map(|c| c.card_id)
                .collect();
        }
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
