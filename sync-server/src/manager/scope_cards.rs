//! The cards of a viewer's scope as the bulk analyses read them (ABC, credit, the
//! pipeline): each card's lean copy and stage changes from its analysis row (written with
//! its index row at every commit, `manager::read_model`), not every projection and
//! document.
//!
//! Parsing 10,000 lean cards costs more than computing any report over them, so what was
//! parsed is kept ([`ParsedCards`], one per server) by card id with the row's version, and
//! a report reads only the ids and versions of its scope and parses the rows that moved.
//! **Correct with several server instances on one database:** a kept card is used only
//! while the stored row has the version it was parsed at, whoever wrote it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use fieldbook_core::analysis::pipeline::StageChange;
use fieldbook_core::card::LeanCard;
use fieldbook_core::store::CardView;
use fieldbook_core::{Card, CardId};

use super::scope_filter;
use crate::error::{Error, Result};
use crate::storage::{AnalysisRow, Storage};
use crate::viewer::Viewer;

/// Rows read per storage call.
const PAGE: u32 = 1000;

/// One card as parsed from its analysis row.
struct Parsed {
    version: i64,
    card: Arc<Card>,
    stages: Vec<StageChange>,
}

/// The parsed cards kept between reports (see the module docs), at most `capacity`.
pub struct ParsedCards {
    capacity: usize,
    cards: Mutex<HashMap<String, Arc<Parsed>>>,
}

impl std::fmt::Debug for ParsedCards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = self.cards.lock().map(|c| c.len()).unwrap_or_default();
        f.debug_struct("ParsedCards")
            .field("capacity", &self.capacity)
            .field("len", &len)
            .finish()
    }
}

impl ParsedCards {
    /// Keeps at most `capacity` cards (0: none; every report parses its rows).
    pub fn new(capacity: usize) -> ParsedCards {
        ParsedCards {
            capacity,
            cards: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, id: &str, version: i64) -> Option<Arc<Parsed>> {
        let cards = self.cards.lock().ok()?;
        cards.get(id).filter(|p| p.version == version).cloned()
    }

    fn keep(&self, parsed: Vec<(String, Arc<Parsed>)>) {
        let Ok(mut cards) = self.cards.lock() else {
            return;
        };
        for (id, p) in parsed {
            // Full: what is kept stays (the next reports of the same scope still hit),
            // the rest is parsed each time.
            if cards.len() >= self.capacity && !cards.contains_key(&id) {
                continue;
            }
            cards.insert(id, p);
        }
    }
}

/// The cards of a viewer's scope (or of one territory in it) with their stage changes;
/// cards merged into another are left out, as on the phone.
pub(crate) struct ScopeCards {
    /// The cards, by card id (shared with the kept ones: core's methods take any
    /// `Borrow<Card>`, so a report copies no card).
    pub cards: Vec<Arc<Card>>,
    /// Each card's stage changes (cards with none left out).
    pub stages: BTreeMap<CardId, Vec<StageChange>>,
}

fn parse(storage: &dyn Storage, row: &AnalysisRow) -> Result<Parsed> {
    let card = if row.lean.is_empty() {
        // A row from before lean copies were kept (filled at start): the projection.
        let projection = storage
            .projection(&row.card_id)?
            .ok_or_else(|| Error::Internal("an indexed card has no projection".into()))?;
        let view: CardView = serde_json::from_str(&projection)
            .map_err(|e| Error::Internal(format!("a projection is not a card view: {e}")))?;
        view.card.for_analysis()
    } else {
        serde_json::from_str::<LeanCard>(&row.lean)
            .map_err(|e| Error::Internal(format!("a lean card is unreadable: {e}")))?
            .into_card()
    };
    let stages = if row.stages.is_empty() {
        match storage.card(&row.card_id)? {
            Some(stored) => {
                fieldbook_core::history::stage_changes(&crate::sync::load_stored(Some(&stored))?)
            }
            None => Vec::new(),
        }
    } else {
        serde_json::from_str(&row.stages)
            .map_err(|e| Error::Internal(format!("stage changes are unreadable: {e}")))?
    };
    Ok(Parsed {
        version: row.version,
        card: Arc::new(card),
        stages,
    })
}

/// See [`ScopeCards`].
pub(crate) fn scope_cards(
    storage: &dyn Storage,
    parsed: &ParsedCards,
    viewer: &Viewer,
    territory: Option<&str>,
) -> Result<ScopeCards> {
    let territories = match territory {
        Some(t) => {
            viewer.require_territory(storage, t)?;
            Some(vec![t.to_owned()])
        }
        None => scope_filter(&viewer.scope(storage)?),
    };
    // The ids and versions of the scope, then the rows that moved since they were parsed.
    let mut slots: Vec<(String, Option<Arc<Parsed>>)> = Vec::new();
    let mut after = String::new();
    loop {
        let page = storage.analysis_rows_after(territories.as_deref(), &after, PAGE, false)?;
        let Some(last) = page.last() else { break };
        after = last.card_id.clone();
        let full = page.len() == PAGE as usize;
        for row in page {
            let kept = parsed.get(&row.card_id, row.version);
            slots.push((row.card_id, kept));
        }
        if !full {
            break;
        }
    }
    let missing: Vec<String> = slots
        .iter()
        .filter(|(_, p)| p.is_none())
        .map(|(id, _)| id.clone())
        .collect();
    let mut fresh: HashMap<String, Arc<Parsed>> = HashMap::with_capacity(missing.len());
    for chunk in missing.chunks(PAGE as usize) {
        for row in storage.analysis_rows_of(chunk)? {
            let p = Arc::new(parse(storage, &row)?);
            fresh.insert(row.card_id.clone(), p);
        }
    }
    parsed.keep(
        fresh
            .iter()
            .map(|(id, p)| (id.clone(), p.clone()))
            .collect(),
    );
    let mut out = ScopeCards {
        cards: Vec::with_capacity(slots.len()),
        stages: BTreeMap::new(),
    };
    for (id, kept) in slots {
        // A card written between the two reads is read at its newer version.
        let Some(p) = kept.or_else(|| fresh.get(&id).cloned()) else {
            continue;
        };
        if p.card.basic.merged_into.is_some() {
            continue;
        }
        if !p.stages.is_empty() {
            out.stages.insert(p.card.id.clone(), p.stages.clone());
        }
        out.cards.push(Arc::clone(&p.card));
    }
    Ok(out)
}
