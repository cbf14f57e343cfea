//! The team report: per rep, their devices and how recently each synced, open conflicts
//! and pending review items on their territories, and edits in the last day, week and
//! month (counted from the classified change rows, never from counters kept by hand).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Page, paging, scope_filter, team_reps, time};
use crate::cache::DocCache;
use crate::error::Result;
use crate::storage::{ActivityRange, Period, Role, Storage};
use crate::viewer::Viewer;

/// A device that has not synced for this long (or never) is listed as unsynced: its
/// edits may be sitting on the phone.
pub const UNSYNCED_AFTER_SECS: i64 = 3 * 86_400;

/// A team report request (`GET /v1/manager/team`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TeamQuery {
    /// Page number, from 1.
    pub page: Option<u32>,
    /// Reps per page (1–200, default 50).
    pub per_page: Option<u32>,
}

/// One device of a rep.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamDevice {
    /// The device id.
    pub id: String,
    /// Its enrolled name.
    pub name: String,
    /// Its role.
    pub role: String,
    /// Its last successful sync.
    pub last_sync_at: Option<DateTime<Utc>>,
    /// Revoked devices are listed, never counted as unsynced.
    pub revoked: bool,
    /// Not synced within [`UNSYNCED_AFTER_SECS`] (or never).
    pub unsynced: bool,
    /// Its store was copied or restored (it re-keyed): copies may have diverged.
    pub diverged: bool,
}

/// One rep of the team.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamRep {
    /// The rep's id.
    pub person_id: String,
    /// Their name.
    pub name: String,
    /// The territories they hold that the viewer sees.
    pub territories: Vec<String>,
    /// Their latest sync from any device.
    pub last_sync_at: Option<DateTime<Utc>>,
    /// Their devices.
    pub devices: Vec<TeamDevice>,
    /// How many of them are unsynced.
    pub unsynced_devices: u32,
    /// How many of them diverged.
    pub diverged_devices: u32,
    /// Fields in open conflict on the cards of their territories.
    pub open_conflicts: u64,
    /// Their edits held past a handoff's grace period, awaiting review.
    pub pending_review: u64,
    /// Changes they made in the last 24 hours.
    pub edits_last_day: u64,
    /// … in the last 7 days.
    pub edits_last_week: u64,
    /// … in the last 30 days.
    pub edits_last_month: u64,
}

/// The team report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamReport {
    /// When it was computed (the server's clock).
    pub generated_at: Option<DateTime<Utc>>,
    /// The reps, by id, a page at a time.
    pub reps: Page<TeamRep>,
}

/// The viewer's team.
pub fn team(
    storage: &dyn Storage,
    _docs: &DocCache,
    viewer: &Viewer,
    query: &TeamQuery,
    now: i64,
) -> Result<TeamReport> {
    let (page, per_page, offset) = paging(query.page, query.per_page)?;
    let reps = team_reps(storage, viewer)?;
    let total = reps.len() as u64;
    let start = usize::try_from(offset).unwrap_or(usize::MAX);
    let reps: Vec<_> = reps
        .into_iter()
        .skip(start)
        .take(per_page as usize)
        .collect();
    let people: Vec<String> = reps.iter().map(|(p, _)| p.id.clone()).collect();
    let scope = viewer.scope(storage)?;
    let territories = scope_filter(&scope);

    let mut devices: HashMap<String, Vec<TeamDevice>> = HashMap::new();
    let mut last_sync: HashMap<String, i64> = HashMap::new();
    for d in storage.devices()? {
        if !people.contains(&d.person_id) || d.role != Role::Rep {
            continue;
        }
        if let Some(t) = d.last_sync_at {
            let e = last_sync.entry(d.person_id.clone()).or_insert(t);
            *e = (*e).max(t);
        }
        let unsynced = !d.revoked && d.last_sync_at.is_none_or(|t| now - t > UNSYNCED_AFTER_SECS);
        devices
            .entry(d.person_id.clone())
            .or_default()
            .push(TeamDevice {
                id: d.id,
                name: d.name,
                role: d.role.as_str().to_owned(),
                last_sync_at: d.last_sync_at.and_then(time),
                revoked: d.revoked,
                unsynced,
                diverged: d.rekeys > 0,
            });
    }
    let conflicts: HashMap<String, u64> =
        storage.open_conflicts_by_territory()?.into_iter().collect();
    let held: HashMap<String, u64> = storage.held_counts_by_person()?.into_iter().collect();
    let edits_since = |secs: i64| -> Result<HashMap<String, u64>> {
        let mut out: HashMap<String, u64> = HashMap::new();
        for row in storage.activity_counts(&ActivityRange {
            territories: territories.clone(),
            people: Some(people.clone()),
            from: now - secs,
            to: now.saturating_add(1),
            // One bucket per month at most two: summed below.
            period: Period::Month,
            utc_offset_secs: 0,
        })? {
            *out.entry(row.person_id).or_default() += row.changes;
        }
        Ok(out)
    };
    let day = edits_since(86_400)?;
    let week = edits_since(7 * 86_400)?;
    let month = edits_since(30 * 86_400)?;

    let items = reps
        .into_iter()
        .map(|(p, ts)| {
            let mut ds = devices.remove(&p.id).unwrap_or_default();
            ds.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
            TeamRep {
                last_sync_at: last_sync.get(&p.id).copied().and_then(time),
                unsynced_devices: ds.iter().filter(|d| d.unsynced).count() as u32,
                diverged_devices: ds.iter().filter(|d| d.diverged).count() as u32,
                open_conflicts: ts.iter().filter_map(|t| conflicts.get(t)).sum(),
                pending_review: held.get(&p.id).copied().unwrap_or(0),
                edits_last_day: day.get(&p.id).copied().unwrap_or(0),
                edits_last_week: week.get(&p.id).copied().unwrap_or(0),
                edits_last_month: month.get(&p.id).copied().unwrap_or(0),
                devices: ds,
                territories: ts,
                name: p.name,
                person_id: p.id,
            }
        })
        .collect();
    Ok(TeamReport {
        generated_at: time(now),
        reps: Page {
            items,
            page,
            per_page,
            total,
        },
    })
}
