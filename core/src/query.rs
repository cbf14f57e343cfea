//! Listing, filtering, sorting and searching cards, all from the SQLite index.
//!
//! Nothing here loads an Automerge document: a list of 10,000 cards costs one
//! indexed query, not 10,000 document loads.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::ids::CardId;
use crate::value::Class;

/// How to order a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum SortBy {
    /// By name, Chinese names in pinyin order (上海 before 北京 is wrong; 北京 before 上海).
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

impl std::str::FromStr for SortBy {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "name" => SortBy::Name,
            "updated" => SortBy::Updated,
            "last-visit" | "last_visit" => SortBy::LastVisit,
            "due" | "next-due" => SortBy::NextDue,
            "credit" | "credit-limit" => SortBy::CreditLimit,
            "sales" => SortBy::Sales,
            other => {
                return Err(crate::Error::invalid(
                    "sort",
                    format!(
                        "{other:?} is not one of name, updated, last-visit, due, credit, sales"
                    ),
                ));
            }
        })
    }
}

/// A list request. Every filter is optional; they combine with AND.
#[derive(Debug, Clone, Default)]
pub struct CardQuery {
    /// Only cards of this territory.
    pub territory: Option<String>,
    /// Only cards of this class (ABC class, or prospect class when there is none).
    pub class: Option<Class>,
    /// Only cards with this tag.
    pub tag: Option<String>,
    /// Only cards whose next visit is due on or before this date.
    pub due_by: Option<NaiveDate>,
    /// Full-text search: every whitespace-separated term must match.
    pub text: Option<String>,
    /// Only cards with unresolved conflicts.
    pub conflicted: bool,
    /// Order.
    pub sort: SortBy,
    /// Reverse the order.
    pub reverse: bool,
    /// Page size (0 means the default of 50).
    pub limit: u32,
    /// Rows to skip.
    pub offset: u32,
}

/// One row of a list: what a list screen shows without opening the card.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CardSummary {
    /// The card.
    pub id: CardId,
    /// Customer name.
    pub name: String,
    /// Territory.
    pub territory: Option<String>,
    /// ABC class, or prospect class.
    pub class: Option<String>,
    /// Main phone.
    pub phone: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Route area.
    pub route_area: Option<String>,
    /// When the customer was last visited.
    pub last_visit_at: Option<DateTime<Utc>>,
    /// When the next visit is due (explicitly planned, or from the class's visit frequency).
    pub next_due: Option<NaiveDate>,
    /// Credit limit in yuan, as text.
    pub credit_limit: Option<String>,
    /// Number of unresolved conflicts.
    pub conflicts: u32,
    /// When the card last changed on this device.
    pub updated_at: DateTime<Utc>,
}
