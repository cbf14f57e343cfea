//! The manager's read model as storage sees it: the rows a card commit writes next to the
//! card (its index row, one row per accepted change) and the rows the manager's queries
//! read back. Everything here is derived from documents by the server
//! (`crate::manager::read_model`); storage keeps it and answers queries over it, and
//! never interprets a document.

/// A card's row in the manager's index, derived from the card's view at every commit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CardIndexRow {
    /// The customer's name as shown (`Card::display_name`).
    pub name: String,
    /// Pinyin-aware sort key of the name (core's `search::sort_key`).
    pub sort_key: String,
    /// The class code as the card shows it (`A`…`D`, or a prospect class), if any.
    pub class: Option<String>,
    /// The card's tags.
    pub tags: Vec<String>,
    /// The main phone.
    pub phone: Option<String>,
    /// The city.
    pub city: Option<String>,
    /// When the card last changed (unix seconds): its latest change's time, a device time
    /// no later than the receive time allows.
    pub updated_at: i64,
    /// The latest visit's time as the server shows it (unix seconds).
    pub last_visit_at: Option<i64>,
    /// How many fields have open conflicts.
    pub conflicts: u32,
    /// Trigram full-text body (core's `search::SearchText::full`).
    pub search_full: String,
    /// Unigram+bigram tokens of the identifying fields (`SearchText::grams`).
    pub search_grams: String,
    /// The card as the bulk analyses read it (core's `LeanCard`, JSON): ABC, credit, the
    /// pipeline read these instead of every projection.
    pub lean: String,
    /// When each opportunity entered each stage (core's `history::stage_changes`, JSON),
    /// derived from the document when a commit touched the opportunities.
    pub stages: String,
}

/// What the bulk analyses read of one card: its [`CardIndexRow::lean`] and
/// [`CardIndexRow::stages`], with the version of the row they were written in (it grows
/// at every write of the card's index row, so a reader may keep what it parsed while the
/// version holds).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnalysisRow {
    /// The card id.
    pub card_id: String,
    /// Grows at every write of the card's index row.
    pub version: i64,
    /// See [`CardIndexRow::lean`]; empty for a row written before it existed.
    pub lean: String,
    /// See [`CardIndexRow::stages`]; empty for a row written before it existed.
    pub stages: String,
}

/// One accepted change, classified by what it did (core's history diff).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeRow {
    /// The change hash.
    pub hash: [u8; 32],
    /// Its author (the person), if recorded.
    pub person_id: Option<String>,
    /// Its Automerge actor (which device made it).
    pub actor: Vec<u8>,
    /// The device's clock when it was made (unix seconds), if recorded.
    pub device_time: Option<i64>,
    /// When it counts for activity (unix seconds): the device time, unless that is
    /// missing or further ahead of the receive time than the clock-skew tolerance, then
    /// the receive time.
    pub at: i64,
    /// It created the card (a new customer).
    pub created: bool,
    /// Visits it logged.
    pub visits: u32,
    /// Opportunity stages it moved.
    pub stages: u32,
    /// Contracts it signed (core's `analysis::activity::classify`).
    pub contracts: u32,
    /// Orders it recorded: months of sales added.
    pub orders: u32,
    /// The field paths it touched.
    pub fields: Vec<String>,
}

/// How the manager's card list is sorted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IndexSort {
    /// By name (pinyin order).
    #[default]
    Name,
    /// By last change, newest first.
    Updated,
    /// By last visit, latest first.
    LastVisit,
    /// By number of open conflicts, most first.
    Conflicts,
}

/// A search of the manager's index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexQuery {
    /// Only these territories (`None`: every territory).
    pub territories: Option<Vec<String>>,
    /// Only this class code.
    pub class: Option<String>,
    /// Only cards with this tag.
    pub tag: Option<String>,
    /// Only cards of territories this rep holds.
    pub owner: Option<String>,
    /// Only cards with open conflicts.
    pub conflicted: bool,
    /// FTS5 expressions every card must match: `(trigram?, expression)` from core's
    /// `search::term_matches` (`true`: the trigram table, `false`: the grams table).
    pub matches: Vec<(bool, String)>,
    /// Sort order.
    pub sort: IndexSort,
    /// Reverse the sort's natural direction.
    pub reverse: bool,
    /// Rows to skip.
    pub offset: u64,
    /// Rows to return.
    pub limit: u32,
}

/// A card as the manager's list shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexedCard {
    /// The card id.
    pub card_id: String,
    /// Its territory.
    pub territory: String,
    /// The rep holding the territory, if any.
    pub owner: Option<String>,
    /// The index row.
    pub row: CardIndexRow,
}

/// One change of a card as its history shows it, with what the log and the device
/// directory know about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedChange {
    /// The classified change.
    pub change: ChangeRow,
    /// The device that sent it (a device id, or `seed`).
    pub device_id: String,
    /// When the server received it (unix seconds).
    pub received_at: i64,
    /// A late edit of the card's previous owner, accepted within the grace period.
    pub late: bool,
}

/// An enrolled device, named for history views.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceLabel {
    /// An actor bound to the device (current or former).
    pub actor: Vec<u8>,
    /// The device id.
    pub device_id: String,
    /// The name it was enrolled with (演示手机).
    pub name: String,
    /// Its role.
    pub role: super::Role,
    /// Its person.
    pub person_id: String,
}

/// The calendar buckets activity is counted in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Period {
    /// Calendar days.
    #[default]
    Day,
    /// Weeks starting on Monday.
    Week,
    /// Calendar months.
    Month,
}

/// A range of activity to count.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActivityRange {
    /// Only changes to cards of these territories (`None`: every territory).
    pub territories: Option<Vec<String>>,
    /// Only these people (`None`: everyone).
    pub people: Option<Vec<String>>,
    /// From (unix seconds, inclusive).
    pub from: i64,
    /// To (unix seconds, exclusive).
    pub to: i64,
    /// Bucket size.
    pub period: Period,
    /// Offset of the local time the buckets follow, seconds east of UTC.
    pub utc_offset_secs: i64,
}

/// What one person did in one bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActivityCount {
    /// The person.
    pub person_id: String,
    /// The bucket's first day, `YYYY-MM-DD` (local time).
    pub bucket: String,
    /// Changes made.
    pub changes: u64,
    /// Visits logged.
    pub visits: u64,
    /// New customers (cards created).
    pub new_customers: u64,
    /// Distinct existing cards changed.
    pub cards_updated: u64,
    /// Opportunity stages moved.
    pub stages_moved: u64,
    /// Contracts signed.
    pub contracts: u64,
    /// Orders recorded (months of sales added).
    pub orders: u64,
}
