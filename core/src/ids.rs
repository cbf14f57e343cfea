//! Identifiers: cards, items on a card, reps and devices.
//!
//! A type per id so a card id is never passed where a rep id is expected. All are
//! plain text on the wire and in SQLite, validated when parsed from outside.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A customer card's stable id (a UUID, lower-case hyphenated).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CardId(String);

impl CardId {
    /// A fresh random id.
    pub fn random() -> CardId {
        CardId(uuid::Uuid::new_v4().to_string())
    }
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for CardId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        uuid::Uuid::parse_str(s.trim())
            .map(|u| CardId(u.hyphenated().to_string()))
            .map_err(|_| {
                Error::InvalidId(
                    s.to_string(),
                    "a card id looks like 3f2b9c1e-8a4d-4e2f-9b1a-0c6d5e4f3a21",
                )
            })
    }
}

impl fmt::Display for CardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id of an item (contact, visit, to-do, opportunity) within one card.
///
/// Random, 12 hex digits: unique enough for the items of one card even when two
/// phones add items offline at the same time, and short enough to type.
pub fn new_item_id() -> String {
    let uuid = uuid::Uuid::new_v4().simple().to_string();
    uuid[..12].to_string()
}

/// A rep's (or manager's) id, as assigned by the company: `zhangwei`, `rep-017`.
///
/// It is recorded as the Automerge `Author` of every change the rep makes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RepId(String);

impl RepId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The bytes recorded as a change's author.
    pub(crate) fn author(&self) -> automerge::Author<'static> {
        automerge::Author::from(self.0.as_bytes().to_vec())
    }
    /// Read a change author back; `None` if it is not a valid rep id.
    pub(crate) fn from_author(author: &automerge::Author<'_>) -> Option<RepId> {
        std::str::from_utf8(author.as_bytes())
            .ok()
            .and_then(|s| s.parse().ok())
    }
}

impl FromStr for RepId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if ok {
            Ok(RepId(s.to_string()))
        } else {
            Err(Error::InvalidId(
                s.to_string(),
                "a rep id is 1–64 letters, digits, '-', '_' or '.'",
            ))
        }
    }
}

impl fmt::Display for RepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A calendar month, the key of monthly sales figures (`2026-10`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    year: i32,
    month: u32,
}

impl YearMonth {
    /// A month; `None` when the month is not 1–12.
    pub fn new(year: i32, month: u32) -> Option<YearMonth> {
        ((1..=12).contains(&month) && (1900..=9999).contains(&year))
            .then_some(YearMonth { year, month })
    }
    /// The month containing a date.
    pub fn of(date: chrono::NaiveDate) -> YearMonth {
        use chrono::Datelike;
        YearMonth {
            year: date.year(),
            month: date.month(),
        }
    }
    /// The previous month.
    pub fn prev(self) -> YearMonth {
        if self.month == 1 {
            YearMonth {
                year: self.year - 1,
                month: 12,
            }
        } else {
            YearMonth {
                year: self.year,
                month: self.month - 1,
            }
        }
    }
}

impl FromStr for YearMonth {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::invalid("sales", format!("{s:?} is not a month like 2026-10"));
        let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
        let year = y.parse().map_err(|_| bad())?;
        let month = m.parse().map_err(|_| bad())?;
        YearMonth::new(year, month).ok_or_else(bad)
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl<'de> Deserialize<'de> for YearMonth {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for YearMonth {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
