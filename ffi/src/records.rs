//! The records that cross the boundary, converted from core's types. Times are
//! `SystemTime` (Kotlin `java.time.Instant`, Swift `Date`, Python `datetime`); calendar
//! dates are ISO strings (`2026-12-01`); money is shown as core shows it (yuan with two
//! decimals), since editors write back the text they show.

use std::time::SystemTime;

use chrono::{DateTime, Utc};
use fieldbook_core::card::{self, CollectionValues, FieldValue, SectionValues};
use fieldbook_core::value::{FieldKind, Scalar};
use fieldbook_core::{query, sync};

pub(crate) fn time(t: DateTime<Utc>) -> SystemTime {
    SystemTime::from(t)
}

/// The kind of a field's value, which decides its editor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FieldType {
    /// A short line of text.
    Text,
    /// Free text edited at length (notes, a visit's summary); merged character by character.
    LongText,
    /// A whole number.
    Integer,
    /// A non-negative whole number.
    Count,
    /// Yuan with two decimals.
    Money,
    /// A calendar date, `2026-12-01`.
    Date,
    /// A point in time, RFC 3339.
    Timestamp,
    /// Degrees of latitude.
    Latitude,
    /// Degrees of longitude.
    Longitude,
    /// 1 to 31.
    DayOfMonth,
    /// `true` or `false`.
    Bool,
    /// One code of a fixed list (`A`, `visit`); `display` is its label.
    Choice,
}

impl From<FieldKind> for FieldType {
    fn from(k: FieldKind) -> FieldType {
        match k {
            FieldKind::Str => FieldType::Text,
            FieldKind::Text => FieldType::LongText,
            FieldKind::Int => FieldType::Integer,
            FieldKind::Count => FieldType::Count,
            FieldKind::Money => FieldType::Money,
            FieldKind::Date => FieldType::Date,
            FieldKind::Timestamp => FieldType::Timestamp,
            FieldKind::Latitude => FieldType::Latitude,
            FieldKind::Longitude => FieldType::Longitude,
            FieldKind::DayOfMonth => FieldType::DayOfMonth,
            FieldKind::Bool => FieldType::Bool,
            FieldKind::Choice => FieldType::Choice,
        }
    }
}

/// A field of the card schema: what an editor offers.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FieldSpec {
    /// `basic.phone`, or `contacts.*.mobile` for an item's field.
    pub path: String,
    /// The section's or collection's label (基础资料).
    pub section_label: String,
    /// The field's label (电话).
    pub label: String,
    /// The kind of value.
    pub kind: FieldType,
    /// For a choice: every code it takes with its label, in order (a picker's options).
    pub choices: Vec<FieldChoice>,
}

/// One option of a choice field.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FieldChoice {
    /// The code written (`first_contact`).
    pub code: String,
    /// The label shown (初次接触).
    pub label: String,
}

impl From<card::SchemaField> for FieldSpec {
    fn from(f: card::SchemaField) -> FieldSpec {
        FieldSpec {
            choices: card::rules::choices(&f.path)
                .into_iter()
                .map(|(code, label)| FieldChoice {
                    code: code.into(),
                    label: label.into(),
                })
                .collect(),
            path: f.path,
            section_label: f.section_label.to_string(),
            label: f.info.label.to_string(),
            kind: f.info.kind.into(),
        }
    }
}

/// One field with a value.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Field {
    /// The full path, to edit it (`basic.phone`, `contacts.<id>.mobile`).
    pub path: String,
    /// The label (电话).
    pub label: String,
    /// The kind of value.
    pub kind: FieldType,
    /// The value as an editor writes it back.
    pub value: String,
    /// The value as shown (a choice's label).
    pub display: String,
    /// Whether the field has concurrent values awaiting a decision (see `conflicts`).
    pub in_conflict: bool,
}

fn field(f: FieldValue, conflicted: &[String]) -> Field {
    Field {
        in_conflict: conflicted.contains(&f.path),
        path: f.path,
        label: f.label.to_string(),
        kind: f.kind.into(),
        value: f.value,
        display: f.display,
    }
}

/// A section of the card with its fields that have a value.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Section {
    /// `basic`.
    pub key: String,
    /// 基础资料.
    pub label: String,
    /// The fields with a value, in schema order.
    pub fields: Vec<Field>,
}

/// One item of a collection.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Item {
    /// The item's id on the card.
    pub id: String,
    /// Its fields with a value.
    pub fields: Vec<Field>,
}

/// Contacts, visits, to-dos or opportunities.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Collection {
    /// `contacts`, `visits`, `todos`, `opportunities`.
    pub key: String,
    /// 联系人.
    pub label: String,
    /// The items, in card order.
    pub items: Vec<Item>,
}

/// One of a conflicted field's values.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ConflictValue {
    /// The value.
    pub value: String,
    /// The rep whose change wrote it.
    pub rep: Option<String>,
    /// The device (actor id, hex).
    pub device: String,
    /// The device time of that change.
    pub time: Option<SystemTime>,
    /// Whether this is the value shown until someone decides.
    pub shown: bool,
}

/// A field that two devices set concurrently: every value, until a person resolves it.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Conflict {
    /// The field's path.
    pub path: String,
    /// Every value, the shown one first.
    pub values: Vec<ConflictValue>,
}

impl From<fieldbook_core::Conflict> for Conflict {
    fn from(c: fieldbook_core::Conflict) -> Conflict {
        Conflict {
            path: c.path,
            values: c
                .values
                .into_iter()
                .map(|v| ConflictValue {
                    value: v.value,
                    rep: v.rep,
                    device: v.device,
                    time: v.time.map(time),
                    shown: v.shown,
                })
                .collect(),
        }
    }
}

/// A customer card as a card screen shows it.
#[derive(Debug, Clone, uniffi::Record)]
pub struct CardDetail {
    /// The card's id.
    pub id: String,
    /// The customer's name (or a placeholder for a card without one).
    pub name: String,
    /// The territory it belongs to.
    pub territory: Option<String>,
    /// Its tags.
    pub tags: Vec<String>,
    /// Free notes (备注).
    pub notes: String,
    /// Every section, each with its fields that have a value.
    pub sections: Vec<Section>,
    /// Contacts, visits, to-dos and opportunities.
    pub collections: Vec<Collection>,
    /// Monthly sales: (`2026-10`, yuan).
    pub sales: Vec<MonthlySales>,
    /// Fields with concurrent values awaiting a decision.
    pub conflicts: Vec<Conflict>,
    /// The card's version (document heads).
    pub heads: Vec<String>,
}

/// One month's sales figure.
#[derive(Debug, Clone, uniffi::Record)]
pub struct MonthlySales {
    /// `2026-10`.
    pub month: String,
    /// Yuan, two decimals.
    pub amount: String,
}

impl From<fieldbook_core::CardView> for CardDetail {
    fn from(v: fieldbook_core::CardView) -> CardDetail {
        let conflicted: Vec<String> = v.conflicts.iter().map(|c| c.path.clone()).collect();
        let c = &v.card;
        let sections = c
            .section_values()
            .into_iter()
            .map(|s: SectionValues| Section {
                key: s.key.to_string(),
                label: s.label.to_string(),
                fields: s
                    .fields
                    .into_iter()
                    .map(|f| field(f, &conflicted))
                    .collect(),
            })
            .collect();
        let collections = c
            .collection_values()
            .into_iter()
            .map(|col: CollectionValues| Collection {
                key: col.key.to_string(),
                label: col.label.to_string(),
                items: col
                    .items
                    .into_iter()
                    .map(|i| Item {
                        id: i.id,
                        fields: i
                            .fields
                            .into_iter()
                            .map(|f| field(f, &conflicted))
                            .collect(),
                    })
                    .collect(),
            })
            .collect();
        CardDetail {
            id: c.id.to_string(),
            name: c.display_name().to_string(),
            territory: c.territory.clone(),
            tags: c.tags.iter().cloned().collect(),
            notes: c.notes.as_str().to_string(),
            sections,
            collections,
            sales: c
                .sales
                .iter()
                .map(|(m, a)| MonthlySales {
                    month: m.to_string(),
                    amount: a.display(),
                })
                .collect(),
            conflicts: v.conflicts.into_iter().map(Conflict::from).collect(),
            heads: v.heads,
        }
    }
}

/// One edit of a field: `value` in the form the field shows; empty clears it.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FieldEdit {
    /// The path (`basic.phone`), or for a new item only the field's key (`mobile`).
    pub path: String,
    /// The new value; empty to clear.
    pub value: String,
}

/// How to order a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, uniffi::Enum)]
pub enum SortOrder {
    /// By name, Chinese names in pinyin order.
    #[default]
    Name,
    /// Most recently changed first.
    Updated,
    /// Most recently visited first.
    LastVisit,
    /// Soonest visit due first.
    NextDue,
    /// Highest credit limit first.
    CreditLimit,
    /// Highest sales over the last three months first.
    Sales,
}

impl From<SortOrder> for query::SortBy {
    fn from(s: SortOrder) -> query::SortBy {
        match s {
            SortOrder::Name => query::SortBy::Name,
            SortOrder::Updated => query::SortBy::Updated,
            SortOrder::LastVisit => query::SortBy::LastVisit,
            SortOrder::NextDue => query::SortBy::NextDue,
            SortOrder::CreditLimit => query::SortBy::CreditLimit,
            SortOrder::Sales => query::SortBy::Sales,
        }
    }
}

/// A list request: every filter is optional; results come from the index, never
/// from documents.
#[derive(Debug, Clone, Default, uniffi::Record)]
pub struct ListQuery {
    /// Only this territory.
    #[uniffi(default = None)]
    pub territory: Option<String>,
    /// Only this class (`A`, `B`, `C`, `D`).
    #[uniffi(default = None)]
    pub class: Option<String>,
    /// Only cards with this tag.
    #[uniffi(default = None)]
    pub tag: Option<String>,
    /// Only cards whose next visit is due by this date (`2026-12-01`).
    #[uniffi(default = None)]
    pub due_by: Option<String>,
    /// Full-text search (Chinese and Latin, phone fragments).
    #[uniffi(default = None)]
    pub text: Option<String>,
    /// Only cards with open conflicts.
    #[uniffi(default = false)]
    pub conflicted: bool,
    /// The order (`None`: by name).
    #[uniffi(default = None)]
    pub sort: Option<SortOrder>,
    /// Reverse the order.
    #[uniffi(default = false)]
    pub reverse: bool,
    /// Page size (0: the default of 50).
    #[uniffi(default = 0)]
    pub limit: u32,
    /// Rows to skip.
    #[uniffi(default = 0)]
    pub offset: u32,
}

/// One row of a card list.
#[derive(Debug, Clone, uniffi::Record)]
pub struct CardRow {
    /// The card's id.
    pub id: String,
    /// The customer's name.
    pub name: String,
    /// The territory.
    pub territory: Option<String>,
    /// The ABC (or prospect) class.
    pub class: Option<String>,
    /// The phone.
    pub phone: Option<String>,
    /// The city.
    pub city: Option<String>,
    /// The route area.
    pub route_area: Option<String>,
    /// When the customer was last visited.
    pub last_visit_at: Option<SystemTime>,
    /// When the next visit is due (`2026-12-01`).
    pub next_due: Option<String>,
    /// The credit limit (yuan).
    pub credit_limit: Option<String>,
    /// Open conflicts on the card.
    pub conflicts: u32,
    /// When the card last changed.
    pub updated_at: SystemTime,
}

impl From<query::CardSummary> for CardRow {
    fn from(s: query::CardSummary) -> CardRow {
        CardRow {
            id: s.id.to_string(),
            name: s.name,
            territory: s.territory,
            class: s.class,
            phone: s.phone,
            city: s.city,
            route_area: s.route_area,
            last_visit_at: s.last_visit_at.map(time),
            next_due: s.next_due.map(|d| d.to_string()),
            credit_limit: s.credit_limit,
            conflicts: s.conflicts,
            updated_at: time(s.updated_at),
        }
    }
}

/// One change of a card: who (rep and device), when, which fields.
#[derive(Debug, Clone, uniffi::Record)]
pub struct HistoryEntry {
    /// The change hash (hex), the same on every device.
    pub hash: String,
    /// The rep who made it.
    pub rep: Option<String>,
    /// The device (actor id, hex).
    pub device: String,
    /// The name the device was enrolled with (演示手机), when the store knows it.
    pub device_name: Option<String>,
    /// The device's role (`rep`, `manager`, `admin`), when known.
    pub device_role: Option<String>,
    /// The display name of the device's person, when known.
    pub person_name: Option<String>,
    /// The device's clock when it was made.
    pub time: Option<SystemTime>,
    /// The field paths it touched.
    pub fields: Vec<String>,
}

impl From<fieldbook_core::HistoryEntry> for HistoryEntry {
    fn from(h: fieldbook_core::HistoryEntry) -> HistoryEntry {
        HistoryEntry {
            hash: h.hash,
            rep: h.rep,
            device: h.device,
            device_name: h.device_name,
            device_role: h.device_role,
            person_name: h.person_name,
            time: h.time.map(time),
            fields: h.fields,
        }
    }
}

/// One change to one field, with the value it left.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FieldChange {
    /// The change.
    pub entry: HistoryEntry,
    /// The value right after it (`None`: empty or removed).
    pub value: Option<String>,
}

impl From<fieldbook_core::FieldChange> for FieldChange {
    fn from(c: fieldbook_core::FieldChange) -> FieldChange {
        FieldChange {
            entry: c.entry.into(),
            value: c.value,
        }
    }
}

/// Totals of a running sync, reported after each request.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SyncProgress {
    /// HTTP requests so far.
    pub requests: u32,
    /// Bytes sent.
    pub bytes_up: u64,
    /// Bytes received.
    pub bytes_down: u64,
    /// Cards whose changes the server acknowledged.
    pub cards_pushed: u32,
    /// Cards that received changes.
    pub cards_pulled: u32,
}

impl From<&sync::SyncProgress> for SyncProgress {
    fn from(p: &sync::SyncProgress) -> SyncProgress {
        SyncProgress {
            requests: p.requests,
            bytes_up: p.bytes_up,
            bytes_down: p.bytes_down,
            cards_pushed: p.cards_pushed,
            cards_pulled: p.cards_pulled,
        }
    }
}

/// A card the server did not accept, with the reason's code.
#[derive(Debug, Clone, uniffi::Record)]
pub struct RefusedCard {
    /// The card's id.
    pub card_id: String,
    /// The stable code (`access.denied`).
    pub code: String,
}

/// What a sync did.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SyncSummary {
    /// Totals.
    pub progress: SyncProgress,
    /// Cards new to this device.
    pub cards_new: u32,
    /// Conflicts that appeared.
    pub new_conflicts: u32,
    /// Cards removed because they left the rep's scope.
    pub cards_removed: u32,
    /// Cards whose changes the server refused: they stay on the device, pending.
    pub refused: Vec<RefusedCard>,
    /// Cards the server sent that this device cannot read (kept out of the store).
    pub quarantined: Vec<RefusedCard>,
    /// Cards still holding changes the server has not acknowledged.
    pub pending_cards: u64,
    /// Handed-away cards purged after the server held this device's last edits of them
    /// for a manager's review: tell the rep which.
    pub to_review: Vec<String>,
    /// Handed-away cards kept (read-only) until the server answers their unsynced edits.
    pub handed_away_pending: Vec<String>,
    /// Cards whose territory edit was undone so that their other edits synced (a manager
    /// moves cards).
    pub territory_restored: Vec<String>,
}

impl From<sync::SyncReport> for SyncSummary {
    fn from(r: sync::SyncReport) -> SyncSummary {
        SyncSummary {
            progress: (&r.progress).into(),
            cards_new: r.cards_new,
            new_conflicts: r.new_conflicts,
            cards_removed: r.cards_revoked,
            refused: r
                .refused
                .into_iter()
                .map(|(card_id, code, _)| RefusedCard { card_id, code })
                .collect(),
            quarantined: r
                .quarantined
                .into_iter()
                .map(|(card_id, code)| RefusedCard { card_id, code })
                .collect(),
            pending_cards: r.pending,
            to_review: r.to_review,
            handed_away_pending: r.revoked_kept,
            territory_restored: r.territory_restored,
        }
    }
}

/// The device's sync state, for a status line.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SyncStatus {
    /// Whether the device is enrolled with a server.
    pub enrolled: bool,
    /// The server it syncs with.
    pub server_url: Option<String>,
    /// The rep the device acts for.
    pub rep: Option<String>,
    /// The device's role (`rep`, `manager`, `admin`).
    pub role: Option<String>,
    /// Cards with edits the server has not acknowledged.
    pub pending_cards: u64,
    /// When the last sync completed (device clock).
    pub last_sync: Option<SystemTime>,
    /// Cards the server sent that this device cannot read.
    pub quarantined: Vec<RefusedCard>,
    /// The territories the rep holds, as of the last sync.
    pub territories: Vec<String>,
    /// Cards on the device.
    pub cards: u64,
    /// Cards that left the device through a handoff.
    pub handed_away: u64,
    /// Of those, the cards whose last edits went to a manager's review.
    pub to_review: Vec<HandedAway>,
}

/// A card that left the device through a handoff.
#[derive(Debug, Clone, uniffi::Record)]
pub struct HandedAway {
    /// The card's id.
    pub card_id: String,
    /// Its name, kept when its edits went to review.
    pub name: Option<String>,
    /// How many changes went to review.
    pub changes: u32,
}

/// One assignment of a territory (or one card of it) to a rep.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Assignment {
    /// The territory.
    pub territory: String,
    /// The card, when one card moved.
    pub card_id: Option<String>,
    /// The previous holder.
    pub from: Option<String>,
    /// The new holder.
    pub to: String,
    /// Who decided.
    pub decided_by: String,
    /// Why.
    pub reason: String,
    /// When (server time).
    pub at: SystemTime,
}

/// The history of one field.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FieldHistory {
    /// The field's path.
    pub path: String,
    /// Every change to it, oldest first.
    pub changes: Vec<FieldChange>,
}

/// A card's handover dossier.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Dossier {
    /// The card's id.
    pub card_id: String,
    /// The customer's name.
    pub name: Option<String>,
    /// The territory now.
    pub territory: Option<String>,
    /// Who held it, from when, who decided, why; oldest first.
    pub assignments: Vec<Assignment>,
    /// The visit log in time order.
    pub visits: Vec<Item>,
    /// To-dos not done.
    pub open_todos: Vec<Item>,
    /// Opportunities neither won nor lost.
    pub open_opportunities: Vec<Item>,
    /// Every field's history.
    pub fields: Vec<FieldHistory>,
}

impl From<fieldbook_core::store::Dossier> for Dossier {
    fn from(d: fieldbook_core::store::Dossier) -> Dossier {
        // The items as a card screen shows them: through a card holding only them.
        let mut holder = fieldbook_core::Card::new();
        holder.visits = d.visits;
        holder.todos = d.open_todos;
        holder.opportunities = d.open_opportunities;
        let (mut visits, mut open_todos, mut open_opportunities) = (vec![], vec![], vec![]);
        for col in holder.collection_values() {
            let items: Vec<Item> = col
                .items
                .into_iter()
                .map(|i| Item {
                    id: i.id,
                    fields: i.fields.into_iter().map(|f| field(f, &[])).collect(),
                })
                .collect();
            match col.key {
                "visits" => visits = items,
                "todos" => open_todos = items,
                "opportunities" => open_opportunities = items,
                _ => {}
            }
        }
        Dossier {
            card_id: d.card_id,
            name: d.name,
            territory: d.territory,
            assignments: d
                .assignments
                .into_iter()
                .map(|a| Assignment {
                    territory: a.territory,
                    card_id: a.card_id,
                    from: a.from,
                    to: a.to,
                    decided_by: a.decided_by,
                    reason: a.reason,
                    at: time(a.at),
                })
                .collect(),
            visits,
            open_todos,
            open_opportunities,
            fields: d
                .fields
                .into_iter()
                .map(|f| FieldHistory {
                    path: f.path,
                    changes: f.changes.into_iter().map(FieldChange::from).collect(),
                })
                .collect(),
        }
    }
}

/// What enrolment gave the device.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Enrolment {
    /// The rep this device now acts for.
    pub rep_id: String,
    /// The role (`rep`, `manager`, `admin`).
    pub role: String,
    /// The device's id on the server.
    pub device_id: String,
}
