//! The company settings on the server: the one copy of every rule's parameters (ABC
//! thresholds, visit cadence, credit periods, stage probabilities, …) that the manager's
//! reports use here and that sync delivers to every device (see `fieldbook_core::company`).
//!
//! A manager or admin changes them with `PUT /v1/manager/settings` (or the dashboard's
//! 设置 page): the body is bounded and validated by core before anything is stored, a
//! refused configuration (`settings.invalid`) leaves the previous one in force, and a save
//! based on an older revision than the one in force is refused (`settings.conflict`), so
//! two managers editing at once cannot overwrite each other unknowingly.

use chrono::{DateTime, FixedOffset, NaiveDate, Offset, Utc};
use fieldbook_core::company::{CompanySettings, RevisedSettings};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::storage::Storage;
use crate::viewer::Viewer;

/// The settings in force, as the API shows them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SettingsView {
    /// The revision (0: never changed, the defaults).
    pub revision: u64,
    /// Every section.
    pub settings: CompanySettings,
    /// Who set this revision (a person id), if anyone did.
    pub set_by: Option<String>,
    /// Their display name.
    pub set_by_name: Option<String>,
    /// When (RFC 3339, UTC).
    pub set_at: Option<String>,
}

/// A change of settings (`PUT /v1/manager/settings`): the revision it was edited from and
/// the whole new configuration (missing keys take their defaults).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SettingsUpdate {
    /// The revision the editor read.
    pub revision: u64,
    /// The new settings.
    pub settings: serde_json::Value,
}

/// The company settings in force (the defaults at revision 0 when never set). A stored
/// revision that no longer validates (written by a newer server, say) is an internal
/// error rather than silently replaced.
pub fn company_settings(storage: &dyn Storage) -> Result<RevisedSettings> {
    match storage.company_settings()? {
        None => Ok(RevisedSettings::default()),
        Some(stored) => {
            let settings = CompanySettings::from_json(stored.json.as_bytes())
                .map_err(|e| Error::Internal(format!("stored company settings: {e}")))?;
            Ok(RevisedSettings {
                revision: stored.revision,
                settings,
            })
        }
    }
}

/// Today in the company's local calendar (the visit settings' UTC offset).
pub fn company_today(settings: &CompanySettings, now: i64) -> NaiveDate {
    // Validated settings keep the offset within ±14 hours; anything else counts as UTC.
    let offset = FixedOffset::east_opt(settings.visits.utc_offset_minutes.saturating_mul(60))
        .unwrap_or(Utc.fix());
    DateTime::<Utc>::from_timestamp(now, 0)
        .unwrap_or_default()
        .with_timezone(&offset)
        .date_naive()
}

/// The settings in force with who set them; any manager or admin may read them.
pub fn settings_view(storage: &dyn Storage, _viewer: &Viewer) -> Result<SettingsView> {
    let stored = storage.company_settings()?;
    let revised = company_settings(storage)?;
    let (set_by, set_at) = match &stored {
        Some(s) => (
            Some(s.set_by.clone()),
            DateTime::<Utc>::from_timestamp(s.set_at, 0).map(|t| t.to_rfc3339()),
        ),
        None => (None, None),
    };
    let set_by_name = match &set_by {
        Some(id) => storage.person(id)?.map(|p| p.name),
        None => None,
    };
    Ok(SettingsView {
        revision: revised.revision,
        settings: revised.settings,
        set_by,
        set_by_name,
        set_at,
    })
}

/// Puts new settings in force: validated by core (`settings.invalid` names the section
/// and the reason; nothing is stored), then stored if `update.revision` is still the one
/// in force (`settings.conflict` otherwise). Devices receive them on their next sync.
pub fn set_settings(
    storage: &dyn Storage,
    viewer: &Viewer,
    update: &SettingsUpdate,
    now: i64,
) -> Result<SettingsView> {
    let json = serde_json::to_vec(&update.settings)
        .map_err(|e| Error::Internal(format!("settings re-encoding: {e}")))?;
    let settings =
        CompanySettings::from_json(&json).map_err(|e| Error::SettingsInvalid(e.to_string()))?;
    let revision = storage.set_company_settings(
        update.revision,
        &settings.to_json(),
        &viewer.person_id,
        now,
    )?;
    tracing::info!(revision, "company settings changed");
    settings_view(storage, viewer)
}
