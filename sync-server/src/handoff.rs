//! Territory handoff, decided by a manager: a whole territory from rep A to rep B, or chosen
//! cards of it moved into a territory B holds. One implementation for the manager API, the
//! server's command line and the dashboard.
//!
//! - A whole territory changes owner in one storage transaction (scope events, so A's next
//!   sync revokes its cards and B's brings them whole, with every earlier rep's edits).
//! - A card moves by a change the server writes into the card itself (its `territory`
//!   field), authored by the deciding manager under an actor of the server's own (derived
//!   from the server's identity and the manager, recorded in storage so history can say
//!   "moved by 王芳 (server)"). The change is committed like a push (log entry, document,
//!   projection), so every device in scope receives it and the card's stored territory
//!   follows.
//! - The expected current owner (`from`) is checked inside the storage transaction: of two
//!   concurrent handoffs of one territory one wins, the other gets `handoff.conflict`.
//! - The receiving rep must exist and be active (`handoff.unknown_rep`); a manager hands
//!   off only territories they manage (`access.denied`), an administrator any.
//!
//! The push side (A's late edits after the handoff) is `sync/handoff.rs`; the review queue
//! for edits past the grace period is [`crate::review`].

pub mod api;

use std::collections::HashSet;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, Author, Automerge, ROOT};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::admin::validate_id;
use crate::cache::DocCache;
use crate::error::{Error, Result};
use crate::storage::{Assignment, CardCommit, CardMoves, Storage, StoredCard, TerritoryHandoff};
use crate::sync::{root_string, take_or_load, validate_card_id};
use crate::viewer::Viewer;

/// The device id the log records for changes the server itself wrote (card moves).
pub const SERVER_DEVICE: &str = "server";

/// Most cards one handoff request moves (one storage transaction holds them all).
pub const MAX_MOVED_CARDS: usize = 1_000;

/// How many cards a preview names (it counts them all).
pub const PREVIEW_CARDS: usize = 100;

/// Longest reason, in bytes.
const MAX_REASON_BYTES: usize = 1_000;

/// How often a card move is redone when a push moved one of the cards meanwhile.
const MOVE_ATTEMPTS: usize = 8;

/// A handoff as the API, the pages and the command line post it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffRequest {
    /// The territory handed over, or whose cards move.
    pub territory: String,
    /// Its expected current owner: another owner is `handoff.conflict` (409).
    pub from: String,
    /// The receiving rep.
    pub to: String,
    /// `None`: the whole territory; `Some`: these cards move into `target_territory`.
    #[serde(default)]
    pub cards: Option<Vec<String>>,
    /// For cards: the territory they move into, held by `to`.
    #[serde(default)]
    pub target_territory: Option<String>,
    /// Why (kept in the assignment history).
    pub reason: String,
}

/// A card a handoff will move.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewCard {
    /// The card id.
    pub card_id: String,
    /// Its name, as its projection holds it.
    pub name: Option<String>,
}

/// What a handoff will move, before it is executed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffPreview {
    /// The territory handed over, or whose cards move.
    pub territory: String,
    /// Its current owner.
    pub from: String,
    /// The receiving rep.
    pub to: String,
    /// For cards: where they go.
    pub target_territory: Option<String>,
    /// Whether the whole territory changes owner.
    pub whole_territory: bool,
    /// How many cards move.
    pub card_count: usize,
    /// The first [`PREVIEW_CARDS`] of them.
    pub cards: Vec<PreviewCard>,
}

/// What a handoff did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffOutcome {
    /// The assignment history entries written (one for a territory, one per card moved).
    pub assignments: Vec<Assignment>,
    /// How many cards changed hands.
    pub cards_moved: usize,
}

/// A checked request: what it moves.
struct Plan {
    cards: Vec<String>,
    target: Option<String>,
}

/// Checks a request against the viewer's scope and the current state; shared by
/// [`preview`] and [`execute`] (which checks the owner again inside its transaction).
fn plan(storage: &dyn Storage, viewer: &Viewer, req: &HandoffRequest) -> Result<Plan> {
    validate_id("territory", &req.territory)?;
    validate_id("person", &req.from)?;
    validate_id("person", &req.to)?;
    if req.reason.trim().is_empty() || req.reason.len() > MAX_REASON_BYTES {
        return Err(Error::Invalid(format!(
            "a handoff needs a reason of 1-{MAX_REASON_BYTES} bytes"
        )));
    }
    // Scope before existence: a territory outside the viewer's scope and one that does not
    // exist are told apart only to an administrator.
    viewer.require_territory(storage, &req.territory)?;
    let territory = storage
        .territory(&req.territory)?
        .ok_or(Error::NotFound("territory"))?;
    match storage.person(&req.to)? {
        Some(p) if p.active && p.kind == crate::storage::PersonKind::Rep => {}
        _ => return Err(Error::UnknownRep),
    }
    if territory.owner.as_deref() != Some(req.from.as_str()) {
        return Err(Error::HandoffConflict);
    }
    match (&req.cards, &req.target_territory) {
        (None, None) => {
            if req.from == req.to {
                return Err(Error::Invalid(
                    "a territory is handed to another rep".into(),
                ));
            }
            let cards = storage
                .cards_in_territories(std::slice::from_ref(&req.territory))?
                .into_iter()
                .map(|c| c.card_id)
                .collect();
            Ok(Plan {
                cards,
                target: None,
            })
        }
        (Some(cards), Some(target)) => {
            validate_id("territory", target)?;
            if cards.is_empty() || cards.len() > MAX_MOVED_CARDS {
                return Err(Error::Invalid(format!(
                    "move 1-{MAX_MOVED_CARDS} cards at a time"
                )));
            }
            if target == &req.territory {
                return Err(Error::Invalid("cards move into another territory".into()));
            }
            viewer.require_territory(storage, target)?;
            let target_t = storage
                .territory(target)?
                .ok_or(Error::NotFound("territory"))?;
            if target_t.owner.as_deref() != Some(req.to.as_str()) {
                return Err(Error::Invalid(
                    "the target territory is not held by the receiving rep".into(),
                ));
            }
            let mut seen = HashSet::new();
            for id in cards {
                validate_card_id(id)?;
                if !seen.insert(id.as_str()) {
                    return Err(Error::Invalid("a card is named twice".into()));
                }
                // A card of another territory and one that does not exist: one answer.
                match storage.card(id)? {
                    Some(c) if c.territory == req.territory => {}
                    _ => return Err(Error::AccessDenied),
                }
            }
            Ok(Plan {
                cards: cards.clone(),
                target: Some(target.clone()),
            })
        }
        _ => Err(Error::Invalid(
            "name both the cards and the territory they move into, or neither".into(),
        )),
    }
}

fn card_name(storage: &dyn Storage, card_id: &str) -> Result<Option<String>> {
    let Some(json) = storage.projection(card_id)? else {
        return Ok(None);
    };
    let value: serde_json::Value = serde_json::from_str(&json)
        .map_err(|e| Error::Internal(format!("stored projection is not JSON: {e}")))?;
    Ok(value
        .pointer("/basic/name")
        .and_then(|v| v.as_str())
        .map(str::to_owned))
}

/// The viewer the server's command line acts as: `--by` names a manager (whose scope
/// then applies, as on the API).
pub fn manager_viewer(storage: &dyn Storage, person: &str) -> Result<Viewer> {
    match storage.person(person)? {
        Some(p) if p.kind == crate::storage::PersonKind::Manager => Ok(Viewer {
            person_id: p.id,
            role: crate::storage::Role::Manager,
        }),
        _ => Err(Error::Invalid("--by names a manager".into())),
    }
}

/// A territory's assignment history, for a viewer whose scope holds it (blocking).
pub fn assignments(
    storage: &dyn Storage,
    viewer: &Viewer,
    territory: &str,
) -> Result<Vec<Assignment>> {
    validate_id("territory", territory)?;
    viewer.require_territory(storage, territory)?;
    storage.assignment_history(territory)
}

/// What `req` would move, checked as [`execute`] would check it (blocking).
pub fn preview(
    storage: &dyn Storage,
    viewer: &Viewer,
    req: &HandoffRequest,
    _now: i64,
) -> Result<HandoffPreview> {
    let plan = plan(storage, viewer, req)?;
    let cards = plan
        .cards
        .iter()
        .take(PREVIEW_CARDS)
        .map(|id| {
            Ok(PreviewCard {
                card_id: id.clone(),
                name: card_name(storage, id)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(HandoffPreview {
        territory: req.territory.clone(),
        from: req.from.clone(),
        to: req.to.clone(),
        whole_territory: plan.target.is_none(),
        target_territory: plan.target,
        card_count: plan.cards.len(),
        cards,
    })
}

/// Executes a handoff (blocking): see the module docs.
pub fn execute(
    storage: &dyn Storage,
    docs: &DocCache,
    viewer: &Viewer,
    req: &HandoffRequest,
    now: i64,
) -> Result<HandoffOutcome> {
    let plan = plan(storage, viewer, req)?;
    let Some(target) = plan.target else {
        let assignment = storage.hand_off_territory(&TerritoryHandoff {
            territory: req.territory.clone(),
            from: req.from.clone(),
            to: req.to.clone(),
            decided_by: viewer.person_id.clone(),
            reason: req.reason.clone(),
            at: now,
        })?;
        tracing::info!(cards = plan.cards.len(), "territory handed over");
        return Ok(HandoffOutcome {
            assignments: vec![assignment],
            cards_moved: plan.cards.len(),
        });
    };
    let actor = server_actor(&storage.identity()?.server_id, &viewer.person_id);
    for _ in 0..MOVE_ATTEMPTS {
        let mut commits = Vec::with_capacity(plan.cards.len());
        for card_id in &plan.cards {
            let stored = storage.card(card_id)?.ok_or(Error::HandoffConflict)?;
            if stored.territory != req.territory {
                return Err(Error::HandoffConflict);
            }
            commits.push(move_commit(
                storage, docs, &stored, &target, &actor, viewer, now,
            )?);
        }
        match storage.move_cards(&CardMoves {
            territory: req.territory.clone(),
            from: req.from.clone(),
            to: req.to.clone(),
            target_territory: target.clone(),
            decided_by: viewer.person_id.clone(),
            reason: req.reason.clone(),
            at: now,
            server_actor: actor.to_bytes().to_vec(),
            commits,
        }) {
            Ok(assignments) => {
                tracing::info!(cards = assignments.len(), "cards moved");
                return Ok(HandoffOutcome {
                    cards_moved: assignments.len(),
                    assignments,
                });
            }
            // A push wrote one of the cards meanwhile: write the moves again on top of it.
            Err(Error::Conflict) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Conflict)
}

/// The actor the server writes with on behalf of `person`: derived from the server's
/// identity and the person, so it is stable (one actor per person per server, each with its
/// person as its author: Automerge fixes an actor's author in each document) and never a
/// device's.
pub fn server_actor(server_id: &str, person: &str) -> ActorId {
    let mut h = Sha256::new();
    h.update(b"fieldbook server actor\0");
    h.update(server_id.as_bytes());
    h.update(b"\0");
    h.update(person.as_bytes());
    let digest = h.finalize();
    ActorId::from(&digest[..16])
}

/// The write of one card moved into `target`: one change setting its territory, authored by
/// the deciding person.
fn move_commit(
    storage: &dyn Storage,
    docs: &DocCache,
    stored: &StoredCard,
    target: &str,
    actor: &ActorId,
    viewer: &Viewer,
    now: i64,
) -> Result<CardCommit> {
    let mut doc: Automerge = take_or_load(docs, Some(stored))?;
    let before = doc.get_heads();
    // The author first: setting it mints an actor, which the server's own then replaces.
    doc.set_author(Some(Author::from(viewer.person_id.as_bytes().to_vec())));
    doc.set_actor(actor.clone());
    let message = format!("moved by {} (server)", viewer.person_id);
    doc.transact_with::<_, _, automerge::AutomergeError, _>(
        |_| {
            CommitOptions::default()
                .with_message(message)
                .with_time(now)
        },
        |tx| {
            tx.put(ROOT, "territory", target)?;
            Ok(())
        },
    )
    .map_err(|e| Error::Internal(format!("writing the move: {:?}", e.error)))?;
    fieldbook_core::card::validate_card_doc(&doc, &stored.card_id)
        .map_err(Error::from_card_check)?;
    if root_string(&doc, "territory").as_deref() != Some(target) {
        return Err(Error::Internal("the move did not set the territory".into()));
    }
    let changes = crate::sync::new_changes(&doc, &before);
    crate::sync::card_commit(
        storage,
        &stored.card_id,
        target.to_owned(),
        Some(stored),
        &doc,
        changes,
        crate::sync::CommitBy {
            device_id: SERVER_DEVICE,
            late: false,
            now,
            times: crate::manager::read_model::Times::Received,
        },
    )
}
