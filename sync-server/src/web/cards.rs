//! 客户: the card list (filters, sort, search as on the phone, pages) and one card in full
//! (every section as the phone shows it, open conflicts with all their values, the
//! field-by-field history, visits, the assignment history).
//!
//! Both pages render what [`crate::manager::cards`] returns to the JSON API; this module
//! only turns it into labelled, escaped rows.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use fieldbook_core::card::path_label;
use fieldbook_core::store::CardView;
use fieldbook_core::value::FieldKind;
use serde::{Deserialize, Serialize};

use super::PageError;
use super::pages::{Nav, Pager, beijing_time, render, role_label};
use super::session::Dashboard;
use super::text::shown;
use crate::AppState;
use crate::error::Error;
use crate::manager::cards::{CardDetail, CardSort};
use crate::manager::{CardDetailQuery, CardQuery};
use crate::storage::Storage;
use crate::viewer::Viewer;

/// The list's filter form as the browser sends it: every field text, empty meaning "any".
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub(super) struct CardFilter {
    q: String,
    territory: String,
    class: String,
    tag: String,
    owner: String,
    conflicted: String,
    sort: String,
    desc: String,
    page: String,
}

fn some(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// A page number from a form or link: empty is the first page, anything else must be a
/// number (the manager layer bounds it).
pub(super) fn page_number(s: &str) -> Result<Option<u32>, PageError> {
    match s.trim() {
        "" => Ok(None),
        t => t
            .parse()
            .map(Some)
            .map_err(|_| PageError::Server(Error::Invalid("the page is not a number".into()))),
    }
}

/// A query string decoded, or `request.invalid` (the decoder's message would echo input).
pub(super) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, PageError> {
    q.map(|Query(t)| t).map_err(|_| {
        PageError::Server(Error::Invalid(
            "a query parameter has a value of the wrong kind".into(),
        ))
    })
}

impl CardFilter {
    fn to_query(&self) -> Result<CardQuery, PageError> {
        Ok(CardQuery {
            territory: some(&self.territory),
            class: some(&self.class),
            tag: some(&self.tag),
            owner: some(&self.owner),
            q: some(&self.q),
            conflicted: !self.conflicted.is_empty(),
            sort: match self.sort.as_str() {
                "updated" => CardSort::Updated,
                "last_visit" => CardSort::LastVisit,
                "conflicts" => CardSort::Conflicts,
                _ => CardSort::Name,
            },
            desc: !self.desc.is_empty(),
            page: page_number(&self.page)?,
            per_page: None,
        })
    }

    /// This filter's list, on another page.
    fn href(&self, page: u32) -> String {
        let mut f = self.clone();
        f.page = page.to_string();
        // Only the fields set: short, readable links.
        let pairs: Vec<(&str, &str)> = [
            ("q", f.q.as_str()),
            ("territory", &f.territory),
            ("class", &f.class),
            ("tag", &f.tag),
            ("owner", &f.owner),
            ("conflicted", &f.conflicted),
            ("sort", &f.sort),
            ("desc", &f.desc),
            ("page", &f.page),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
        format!(
            "/cards?{}",
            serde_urlencoded::to_string(pairs).unwrap_or_default()
        )
    }
}

/// An option of a select: value, label, whether chosen.
pub(crate) struct Choice {
    pub(crate) value: String,
    pub(crate) label: String,
    pub(crate) selected: bool,
}

fn choices(items: Vec<(String, String)>, chosen: &str) -> Vec<Choice> {
    items
        .into_iter()
        .map(|(value, label)| Choice {
            selected: value == chosen,
            label: shown(&label),
            value: shown(&value),
        })
        .collect()
}

/// Ids with their display names.
pub(crate) type Named = Vec<(String, String)>;

/// The territories (id, name) and reps (id, name) a viewer may filter by and hand over.
pub(crate) fn scope_choices(s: &dyn Storage, viewer: &Viewer) -> crate::Result<(Named, Named)> {
    let scope = viewer.scope(s)?;
    let territories = s
        .territories()?
        .into_iter()
        .filter(|t| scope.contains(&t.id))
        .map(|t| (t.id, t.name))
        .collect();
    let reps = crate::manager::team_reps(s, viewer)?
        .into_iter()
        .map(|(p, _)| (p.id, p.name))
        .collect();
    Ok((territories, reps))
}

/// One row of the list.
pub(crate) struct ListRow {
    id: String,
    name: String,
    territory: String,
    owner: String,
    class: String,
    tags: String,
    phone: String,
    city: String,
    last_visit: String,
    updated: String,
    conflicts: u32,
}

#[derive(Template)]
#[template(path = "cards.html")]
struct CardsPage {
    nav: Nav,
    filter: CardFilter,
    territories: Vec<Choice>,
    owners: Vec<Choice>,
    classes: Vec<Choice>,
    sorts: Vec<Choice>,
    rows: Vec<ListRow>,
    pager: Pager,
}

/// `GET /cards`.
pub(super) async fn list(
    State(state): State<AppState>,
    dashboard: Dashboard,
    q: Result<Query<CardFilter>, QueryRejection>,
) -> Result<Response, PageError> {
    let filter = query(q)?;
    let cq = filter.to_query()?;
    let viewer = dashboard.viewer.clone();
    let docs = state.docs.clone();
    let now = state.now();
    let (page, (territories, reps)) = crate::http::blocking(&state, move |s| {
        let page = crate::manager::cards(s, &docs, &viewer, &cq, now)?;
        Ok((page, scope_choices(s, &viewer)?))
    })
    .await?;
    let territory_name = |id: &str| {
        territories
            .iter()
            .find(|(t, _)| t == id)
            .map_or_else(|| id.to_owned(), |(_, n)| n.clone())
    };
    let rows = page
        .items
        .iter()
        .map(|c| ListRow {
            id: shown(&c.id),
            name: shown(&c.name),
            territory: shown(&territory_name(&c.territory)),
            owner: shown(
                c.owner_name
                    .as_deref()
                    .or(c.owner.as_deref())
                    .unwrap_or("—"),
            ),
            class: shown(c.class.as_deref().unwrap_or("")),
            tags: shown(&c.tags.join("、")),
            phone: shown(c.phone.as_deref().unwrap_or("")),
            city: shown(c.city.as_deref().unwrap_or("")),
            last_visit: date(c.last_visit_at),
            updated: beijing_time(c.updated_at),
            conflicts: c.conflicts,
        })
        .collect();
    let pager = Pager::new(page.page, page.per_page, page.total, |p| filter.href(p));
    let classes = ["A", "B", "C", "D"]
        .into_iter()
        .map(|c| (c.to_owned(), format!("{c} 类")))
        .collect();
    let sorts = [
        ("name", "按名称"),
        ("updated", "按最近修改"),
        ("last_visit", "按最近拜访"),
        ("conflicts", "按冲突数"),
    ]
    .into_iter()
    .map(|(v, l)| (v.to_owned(), l.to_owned()))
    .collect();
    Ok(render(&CardsPage {
        nav: Nav::new(&dashboard, "cards"),
        territories: choices(territories, &filter.territory),
        owners: choices(reps, &filter.owner),
        classes: choices(classes, &filter.class.to_uppercase()),
        sorts: choices(sorts, &filter.sort),
        filter: CardFilter {
            q: shown(&filter.q),
            tag: shown(&filter.tag),
            ..filter.clone()
        },
        rows,
        pager,
    }))
}

/// A day as the company reads it (Beijing time), or empty.
fn date(t: Option<DateTime<Utc>>) -> String {
    beijing_time(t).split(' ').next().unwrap_or("").to_owned()
}

/// One set field of a section or an item.
pub(crate) struct FieldRow {
    label: String,
    value: String,
    in_conflict: bool,
}

/// A section (基础资料 …) or one item of a collection (a contact, a visit …).
pub(crate) struct Block {
    label: String,
    fields: Vec<FieldRow>,
}

/// A collection with its items.
pub(crate) struct CollectionBlock {
    key: String,
    label: String,
    items: Vec<Block>,
}

/// One value of a conflicted field.
pub(crate) struct ConflictRow {
    value: String,
    who: String,
    device: String,
    time: String,
    shown: bool,
}

/// A field in conflict.
pub(crate) struct ConflictBlock {
    path: String,
    label: String,
    values: Vec<ConflictRow>,
}

/// One change of the history.
pub(crate) struct HistoryLine {
    who: String,
    device: String,
    device_time: String,
    received_at: String,
    fields: String,
    late: bool,
    created: bool,
    clock_skew: bool,
    visits: u32,
}

/// One assignment.
pub(crate) struct AssignmentLine {
    territory: String,
    from: String,
    to: String,
    decided_by: String,
    reason: String,
    at: String,
    until: String,
    card_moved: bool,
}

#[derive(Template)]
#[template(path = "card.html")]
struct CardPage {
    nav: Nav,
    id: String,
    name: String,
    territory: String,
    owner: String,
    sections: Vec<Block>,
    collections: Vec<CollectionBlock>,
    /// The collections without items, named in one line.
    empty_collections: String,
    conflicts: Vec<ConflictBlock>,
    history: Vec<HistoryLine>,
    history_pager: Pager,
    assignments: Vec<AssignmentLine>,
    /// The transaction card (客户交易卡), from the JSON API's.
    transaction: Option<super::credit::TransactionBlock>,
}

/// `?page=` of a card's history.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct HistoryPage {
    page: String,
}

/// A field path as people read it, else the path itself.
fn label_of(path: &str) -> String {
    shown(&path_label(path).unwrap_or_else(|| path.to_owned()))
}

fn device_label(d: Option<&crate::manager::cards::DeviceInfo>, actor: &str) -> String {
    match d {
        Some(d) => shown(&format!("{}（{}）", d.name, role_label(&d.role))),
        None => format!("设备 {}", actor.get(..8).unwrap_or(actor)),
    }
}

fn who(name: Option<&str>, id: Option<&str>) -> String {
    shown(name.or(id).unwrap_or("—"))
}

fn card_page(dashboard: &Dashboard, detail: CardDetail) -> Result<CardPage, PageError> {
    let view: CardView = serde_json::from_value(detail.card.clone())
        .map_err(|e| Error::Internal(format!("a stored projection is not a card view: {e}")))?;
    let conflicted: Vec<&str> = view.conflicts.iter().map(|c| c.path.as_str()).collect();
    let field_rows = |fields: Vec<fieldbook_core::card::FieldValue>| -> Vec<FieldRow> {
        fields
            .into_iter()
            .map(|f| FieldRow {
                in_conflict: conflicted.contains(&f.path.as_str()),
                label: f.label.to_owned(),
                value: match f.kind {
                    // A point in time reads in the company's clock, not as RFC 3339.
                    FieldKind::Timestamp => DateTime::parse_from_rfc3339(&f.value)
                        .map(|t| beijing_time(Some(t.with_timezone(&Utc))))
                        .unwrap_or_else(|_| shown(&f.display)),
                    FieldKind::Bool => match f.value.as_str() {
                        "true" => "是".to_owned(),
                        "false" => "否".to_owned(),
                        _ => shown(&f.display),
                    },
                    _ => shown(&f.display),
                },
            })
            .collect()
    };
    let sections = view
        .card
        .section_values()
        .into_iter()
        .filter(|s| !s.fields.is_empty())
        .map(|s| Block {
            label: s.label.to_owned(),
            fields: field_rows(s.fields),
        })
        .collect();
    let (collections, empty): (Vec<_>, Vec<_>) = view
        .card
        .collection_values()
        .into_iter()
        .partition(|c| !c.items.is_empty());
    let empty_collections = empty.iter().map(|c| c.label).collect::<Vec<_>>().join("、");
    let collections = collections
        .into_iter()
        .map(|c| CollectionBlock {
            key: c.key.to_owned(),
            label: c.label.to_owned(),
            items: c
                .items
                .into_iter()
                .enumerate()
                .map(|(i, item)| Block {
                    label: format!("{} {}", c.label, i + 1),
                    fields: field_rows(item.fields),
                })
                .collect(),
        })
        .collect();
    let conflicts = detail
        .conflicts
        .iter()
        .map(|c| ConflictBlock {
            path: shown(&c.path),
            label: label_of(&c.path),
            values: c
                .values
                .iter()
                .map(|v| ConflictRow {
                    value: shown(&v.value),
                    who: who(v.person_name.as_deref(), v.person_id.as_deref()),
                    device: device_label(v.device.as_ref(), &v.actor),
                    time: beijing_time(v.time),
                    shown: v.shown,
                })
                .collect(),
        })
        .collect();
    let history = detail
        .history
        .items
        .iter()
        .map(|h| HistoryLine {
            who: who(h.person_name.as_deref(), h.person_id.as_deref()),
            device: device_label(h.device.as_ref(), &h.actor),
            device_time: beijing_time(h.device_time),
            received_at: beijing_time(h.received_at),
            fields: h
                .fields
                .iter()
                .map(|f| label_of(f))
                .collect::<Vec<_>>()
                .join("、"),
            late: h.late,
            created: h.created,
            clock_skew: h.clock_skew,
            visits: h.visits_logged,
        })
        .collect();
    let id = shown(view.card.id.as_str());
    let history_pager = Pager::new(
        detail.history.page,
        detail.history.per_page,
        detail.history.total,
        |p| format!("/cards/{id}?page={p}#history"),
    );
    let assignments = detail
        .assignments
        .iter()
        .map(|a| AssignmentLine {
            territory: shown(&match &a.from_territory {
                Some(from) => format!("{from} → {}", a.territory),
                None => a.territory.clone(),
            }),
            from: who(a.from_name.as_deref(), a.from.as_deref()),
            to: who(a.to_name.as_deref(), Some(&a.to)),
            decided_by: who(a.decided_by_name.as_deref(), Some(&a.decided_by)),
            reason: shown(&a.reason),
            at: beijing_time(a.at),
            until: a
                .until
                .map_or_else(|| "至今".to_owned(), |t| beijing_time(Some(t))),
            card_moved: a.card_moved,
        })
        .collect();
    Ok(CardPage {
        nav: Nav::new(dashboard, "cards"),
        name: shown(view.card.basic.name.as_deref().unwrap_or("（未命名客户）")),
        territory: shown(&detail.territory),
        owner: who(detail.owner_name.as_deref(), detail.owner.as_deref()),
        id,
        sections,
        collections,
        empty_collections,
        conflicts,
        history,
        history_pager,
        assignments,
        transaction: None,
    })
}

/// `GET /cards/{id}`.
pub(super) async fn show(
    State(state): State<AppState>,
    dashboard: Dashboard,
    Path(card_id): Path<String>,
    q: Result<Query<HistoryPage>, QueryRejection>,
) -> Result<Response, PageError> {
    let hq = CardDetailQuery {
        page: page_number(&query(q)?.page)?,
        per_page: None,
    };
    let viewer = dashboard.viewer.clone();
    let docs = state.docs.clone();
    let now = state.now();
    let (detail, territory, transaction) = crate::http::blocking(&state, move |s| {
        let detail = crate::manager::card(s, &docs, &viewer, &card_id, &hq, now)?;
        let territory = s.territory(&detail.territory)?.map(|t| t.name);
        let transaction = crate::manager::card_transaction(s, &viewer, &card_id)?;
        Ok((detail, territory, transaction))
    })
    .await?;
    let mut page = card_page(&dashboard, detail)?;
    page.transaction = Some(transaction.into());
    if let Some(name) = territory {
        page.territory = shown(&format!("{name}（{}）", page.territory));
    }
    Ok(render(&page))
}
