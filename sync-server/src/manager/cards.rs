//! The card list (filters, sort, search as on the phone, pages) and one card in full.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use fieldbook_core::search::{TermMatch, term_matches};
use fieldbook_core::value::Class;
use serde::{Deserialize, Serialize};

use super::{Page, names, paging, scope_filter, time};
use crate::cache::DocCache;
use crate::error::{Error, Result};
use crate::storage::{DeviceLabel, IndexQuery, IndexSort, Storage};
use crate::viewer::Viewer;

/// Longest search text accepted (characters).
const MAX_QUERY_CHARS: usize = 200;

/// How the card list is sorted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardSort {
    /// By name, pinyin order.
    #[default]
    Name,
    /// By last change, newest first.
    Updated,
    /// By last visit, latest first.
    LastVisit,
    /// By open conflicts, most first.
    Conflicts,
}

/// A card list request (`GET /v1/manager/cards`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CardQuery {
    /// Only this territory (must be in the viewer's scope).
    pub territory: Option<String>,
    /// Only this class (`A`…`D`, by code or label, any case).
    pub class: Option<String>,
    /// Only cards with this tag.
    pub tag: Option<String>,
    /// Only cards of territories this rep holds.
    pub owner: Option<String>,
    /// Search text, as on the phone: two Chinese characters or a phone fragment find a
    /// card.
    pub q: Option<String>,
    /// Only cards with open conflicts.
    pub conflicted: bool,
    /// Sort order.
    pub sort: CardSort,
    /// Reverse the sort's natural direction.
    pub desc: bool,
    /// Page number, from 1.
    pub page: Option<u32>,
    /// Rows per page (1–200, default 50).
    pub per_page: Option<u32>,
}

/// A card in the list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CardRow {
    /// The card id.
    pub id: String,
    /// The customer's name.
    pub name: String,
    /// The territory.
    pub territory: String,
    /// The rep holding the territory.
    pub owner: Option<String>,
    /// That rep's name.
    pub owner_name: Option<String>,
    /// The class code (`A`…`D`), if classified.
    pub class: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Main phone.
    pub phone: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Last change.
    pub updated_at: Option<DateTime<Utc>>,
    /// Last visit, as the server shows it.
    pub last_visit_at: Option<DateTime<Utc>>,
    /// Fields in open conflict (flagged in the list).
    pub conflicts: u32,
}

/// One page of the viewer's cards matching `query`.
pub fn cards(
    storage: &dyn Storage,
    _docs: &DocCache,
    viewer: &Viewer,
    query: &CardQuery,
    _now: i64,
) -> Result<Page<CardRow>> {
    let (page, per_page, offset) = paging(query.page, query.per_page)?;
    let scope = viewer.scope(storage)?;
    let mut territories = scope_filter(&scope);
    if let Some(t) = &query.territory {
        if !scope.contains(t) {
            return Err(Error::AccessDenied);
        }
        territories = Some(vec![t.clone()]);
    }
    let class = match &query.class {
        None => None,
        Some(c) => Some(
            Class::from_code(c)
                .ok_or_else(|| Error::Invalid("class is one of A, B, C, D".into()))?
                .code()
                .to_owned(),
        ),
    };
    let mut matches = Vec::new();
    if let Some(q) = &query.q {
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(Error::Invalid(format!(
                "a search is at most {MAX_QUERY_CHARS} characters"
            )));
        }
        match term_matches(q) {
            // Nothing searchable in it (only punctuation): no card, as on the phone.
            None => {
                return Ok(Page {
                    items: Vec::new(),
                    page,
                    per_page,
                    total: 0,
                });
            }
            Some(terms) => {
                matches = terms
                    .into_iter()
                    .map(|m| match m {
                        TermMatch::Trigram(e) => (true, e),
                        TermMatch::Grams(e) => (false, e),
                    })
                    .collect();
            }
        }
    }
    let (rows, total) = storage.index_cards(&IndexQuery {
        territories,
        class,
        tag: query.tag.clone(),
        owner: query.owner.clone(),
        conflicted: query.conflicted,
        matches,
        sort: match query.sort {
            CardSort::Name => IndexSort::Name,
            CardSort::Updated => IndexSort::Updated,
            CardSort::LastVisit => IndexSort::LastVisit,
            CardSort::Conflicts => IndexSort::Conflicts,
        },
        reverse: query.desc,
        offset,
        limit: per_page,
    })?;
    let names = names(storage)?;
    let items = rows
        .into_iter()
        .map(|c| CardRow {
            owner_name: c.owner.as_ref().and_then(|o| names.get(o).cloned()),
            id: c.card_id,
            name: c.row.name,
            territory: c.territory,
            owner: c.owner,
            class: c.row.class,
            tags: c.row.tags,
            phone: c.row.phone,
            city: c.row.city,
            updated_at: time(c.row.updated_at),
            last_visit_at: c.row.last_visit_at.and_then(time),
            conflicts: c.row.conflicts,
        })
        .collect();
    Ok(Page {
        items,
        page,
        per_page,
        total,
    })
}

/// A card detail request (`GET /v1/manager/cards/{id}`): the page of its history.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CardDetailQuery {
    /// History page number, from 1 (newest changes first).
    pub page: Option<u32>,
    /// History rows per page (1–200, default 50).
    pub per_page: Option<u32>,
}

/// Who a device is, for history and conflict views.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// The device id.
    pub device_id: String,
    /// The name it was enrolled with (演示手机).
    pub name: String,
    /// `rep`, `manager` or `admin`: a manager's device is labelled as one.
    pub role: String,
    /// Its person.
    pub person_id: String,
}

/// One value of an open conflict, with who set it and when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConflictValueDetail {
    /// The value as a person would type it.
    pub value: String,
    /// Who set it (the change's author).
    pub person_id: Option<String>,
    /// That person's name.
    pub person_name: Option<String>,
    /// The device's actor (hex).
    pub actor: String,
    /// The device, by its enrolled name, if known.
    pub device: Option<DeviceInfo>,
    /// The device time of the change that set it.
    pub time: Option<DateTime<Utc>>,
    /// Whether the card currently shows this value.
    pub shown: bool,
}

/// A field with several concurrent values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConflictDetail {
    /// The field path (`basic.phone`).
    pub path: String,
    /// Every value, the shown one first.
    pub values: Vec<ConflictValueDetail>,
}

/// One change in a card's history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryRow {
    /// The change hash (hex).
    pub hash: String,
    /// Who made it.
    pub person_id: Option<String>,
    /// That person's name.
    pub person_name: Option<String>,
    /// The device's actor (hex).
    pub actor: String,
    /// The device by its enrolled name and role, if known (seeded changes have none).
    pub device: Option<DeviceInfo>,
    /// The device that sent it to the server (`seed` for seeded data).
    pub sent_by: String,
    /// The device's clock when it was made.
    pub device_time: Option<DateTime<Utc>>,
    /// When the server received it.
    pub received_at: Option<DateTime<Utc>>,
    /// A late edit of the card's previous owner, accepted within the grace period.
    pub late: bool,
    /// The device time was further ahead of the receive time than the tolerance.
    pub clock_skew: bool,
    /// It created the card.
    pub created: bool,
    /// Visits it logged.
    pub visits_logged: u32,
    /// Opportunity stages it moved.
    pub stages_moved: u32,
    /// The field paths it touched.
    pub fields: Vec<String>,
}

/// One card in full (`GET /v1/manager/cards/{id}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CardDetail {
    /// The card exactly as a device's `show --json` shows it (core's `CardView`: every
    /// section, contacts as a list, visits in time order, open conflicts, heads), with the
    /// server's annotations on visits (`clock_skew`, `device_at`). The same JSON as
    /// `GET /v1/cards/{id}`.
    pub card: serde_json::Value,
    /// The territory.
    pub territory: String,
    /// The rep holding it.
    pub owner: Option<String>,
    /// That rep's name.
    pub owner_name: Option<String>,
    /// Every open conflict with all its values, who set each (person, device) and when.
    pub conflicts: Vec<ConflictDetail>,
    /// The field-by-field history, newest first, a page at a time.
    pub history: Page<HistoryRow>,
    /// Who held the card, oldest first: the handoffs of each territory while the card was
    /// in it, and the card's own moves.
    pub assignments: Vec<AssignmentRow>,
}

/// One entry of a card's assignment history, with the people's names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentRow {
    /// The territory handed over, or the one the card moved into.
    pub territory: String,
    /// Whether the card itself moved (else its whole territory changed hands).
    pub card_moved: bool,
    /// For a card move: the territory it left.
    pub from_territory: Option<String>,
    /// Who held it before, if anyone.
    pub from: Option<String>,
    /// Their name.
    pub from_name: Option<String>,
    /// Who holds it from `at`.
    pub to: String,
    /// Their name.
    pub to_name: Option<String>,
    /// Who decided (`"admin"`: the operator's command line or admin API).
    pub decided_by: String,
    /// Their name.
    pub decided_by_name: Option<String>,
    /// Why.
    pub reason: String,
    /// From when.
    pub at: Option<DateTime<Utc>>,
    /// Until when, if it ended.
    pub until: Option<DateTime<Utc>>,
}

/// One card in full, for a viewer whose scope holds it (`access.denied` otherwise, and
/// for a card that does not exist).
pub fn card(
    storage: &dyn Storage,
    _docs: &DocCache,
    viewer: &Viewer,
    card_id: &str,
    query: &CardDetailQuery,
    _now: i64,
) -> Result<CardDetail> {
    let (page, per_page, offset) = paging(query.page, query.per_page)?;
    let indexed = storage.index_card(card_id)?.ok_or(Error::AccessDenied)?;
    if !viewer.scope(storage)?.contains(&indexed.territory) {
        return Err(Error::AccessDenied);
    }
    let projection = storage.projection(card_id)?.ok_or(Error::AccessDenied)?;
    let card: serde_json::Value = serde_json::from_str(&projection)
        .map_err(|e| Error::Internal(format!("stored projection is not JSON: {e}")))?;
    let conflicts: Vec<fieldbook_core::Conflict> =
        serde_json::from_value(card["conflicts"].clone()).unwrap_or_default();
    let (changes, total) = storage.card_changes(card_id, offset, per_page)?;

    let mut actors: Vec<Vec<u8>> = changes.iter().map(|c| c.change.actor.clone()).collect();
    actors.extend(
        conflicts
            .iter()
            .flat_map(|c| c.values.iter())
            .filter_map(|v| hex::decode(&v.device).ok()),
    );
    actors.sort();
    actors.dedup();
    let devices: HashMap<Vec<u8>, DeviceLabel> = storage
        .device_labels(&actors)?
        .into_iter()
        .map(|d| (d.actor.clone(), d))
        .collect();
    let device = |actor: &[u8]| {
        devices.get(actor).map(|d| DeviceInfo {
            device_id: d.device_id.clone(),
            name: d.name.clone(),
            role: d.role.as_str().to_owned(),
            person_id: d.person_id.clone(),
        })
    };
    let names = names(storage)?;
    let name_of = |p: &Option<String>| p.as_ref().and_then(|p| names.get(p).cloned());

    let conflicts = conflicts
        .into_iter()
        .map(|c| ConflictDetail {
            path: c.path,
            values: c
                .values
                .into_iter()
                .map(|v| ConflictValueDetail {
                    person_name: name_of(&v.rep),
                    device: hex::decode(&v.device).ok().and_then(|a| device(&a)),
                    value: v.value,
                    person_id: v.rep,
                    actor: v.device,
                    time: v.time,
                    shown: v.shown,
                })
                .collect(),
        })
        .collect();
    let items = changes
        .into_iter()
        .map(|l| {
            let c = l.change;
            HistoryRow {
                hash: hex::encode(c.hash),
                person_name: name_of(&c.person_id),
                device: device(&c.actor),
                actor: hex::encode(&c.actor),
                person_id: c.person_id,
                sent_by: l.device_id,
                device_time: c.device_time.and_then(time),
                received_at: time(l.received_at),
                late: l.late,
                clock_skew: c.device_time.is_some_and(|t| t != c.at),
                created: c.created,
                visits_logged: c.visits,
                stages_moved: c.stages,
                fields: c.fields,
            }
        })
        .collect();
    let assignments = storage
        .card_assignments(card_id)?
        .into_iter()
        .map(|a| AssignmentRow {
            card_moved: a.card_id.is_some(),
            from_name: name_of(&a.from),
            to_name: names.get(&a.to).cloned(),
            decided_by_name: names.get(&a.decided_by).cloned(),
            territory: a.territory,
            from_territory: a.from_territory,
            from: a.from,
            to: a.to,
            decided_by: a.decided_by,
            reason: a.reason,
            at: time(a.at),
            until: a.until.and_then(time),
        })
        .collect();
    Ok(CardDetail {
        card,
        owner_name: name_of(&indexed.owner),
        territory: indexed.territory,
        owner: indexed.owner,
        conflicts,
        history: Page {
            items,
            page,
            per_page,
            total,
        },
        assignments,
    })
}
