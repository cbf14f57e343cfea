//! Company settings: every default from DOMAIN.md that a company may change, in one
//! value that the server keeps and sync delivers to every device.
//!
//! A phone and the server must never compute different numbers because their settings
//! differ, so there is exactly one copy of each rule's parameters: the server's. A
//! manager or admin changes it (validated when set; a refused configuration leaves the
//! previous one in force); each change gets the next [`CompanySettings::revision`]; a
//! device sends the revision it holds with every sync and receives the settings only when
//! the server's differ. A device's own [`crate::Settings`] are local preferences
//! (compaction, cache size) and never a rule.
//!
//! The settings travel as JSON inside the sync response ([`crate::sync::wire`]) rather
//! than as postcard fields, so adding a setting later needs no new protocol version: an
//! older device ignores a key it does not know and keeps its defaults for a key it lacks.
//! Because those bytes come from outside, [`CompanySettings::from_json`] bounds their size
//! before parsing and validates before anything uses them.

use serde::{Deserialize, Serialize};

use crate::analysis::abc::{AbcSettings, AbcSettingsError};
use crate::analysis::credit::{CreditSettings, CreditSettingsError};
use crate::analysis::duplicates::{DuplicateSettings, DuplicatesSettingsError};
use crate::analysis::pipeline::{PipelineSettings, PipelineSettingsError};
use crate::analysis::product::{ProductSettings, ProductSettingsError};
use crate::analysis::route::{RouteSettings, RouteSettingsError};
use crate::analysis::visits::{VisitSettings, VisitsSettingsError};

/// The largest settings document accepted, in bytes of JSON. The defaults take about
/// 1.5 KB; a configuration larger than this is not a configuration.
pub const MAX_SETTINGS_JSON: usize = 64 * 1024;

/// Every method's settings, as the company configured them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CompanySettings {
    /// ABC classification (window, thresholds, which class drives the plan).
    pub abc: AbcSettings,
    /// The visit plan (interval per class, off-plan and dormancy thresholds, local time).
    pub visits: VisitSettings,
    /// Route planning (grouping by area, most stops a day).
    pub route: RouteSettings,
    /// Credit (class default limits, review periods).
    pub credit: CreditSettings,
    /// The pipeline (stages and their probabilities).
    pub pipeline: PipelineSettings,
    /// Product analysis.
    pub product: ProductSettings,
    /// Duplicate detection.
    pub duplicates: DuplicateSettings,
}

/// The company settings with the revision the server gave them. Revision 0 is the
/// built-in defaults, which a device uses until its first sync delivers the company's.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RevisedSettings {
    /// Increases by one with every accepted change on the server.
    pub revision: u64,
    /// The settings in force from that revision.
    pub settings: CompanySettings,
}

/// Why company settings were refused. Each variant names the section; the message says
/// what does not add up, without echoing anything but numbers.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CompanySettingsError {
    /// The JSON is larger than [`MAX_SETTINGS_JSON`].
    #[error("the settings are {len} bytes, more than the {max} accepted")]
    TooLarge {
        /// Size received.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// The JSON does not describe settings (a wrong type, a malformed document).
    #[error("the settings are not valid: {0}")]
    Malformed(String),
    /// ABC settings refused.
    #[error("abc: {0}")]
    Abc(#[from] AbcSettingsError),
    /// Visit plan settings refused.
    #[error("visits: {0}")]
    Visits(#[from] VisitsSettingsError),
    /// Route settings refused.
    #[error("route: {0}")]
    Route(#[from] RouteSettingsError),
    /// Credit settings refused.
    #[error("credit: {0}")]
    Credit(#[from] CreditSettingsError),
    /// Pipeline settings refused.
    #[error("pipeline: {0}")]
    Pipeline(#[from] PipelineSettingsError),
    /// Product analysis settings refused.
    #[error("product: {0}")]
    Product(#[from] ProductSettingsError),
    /// Duplicate detection settings refused.
    #[error("duplicates: {0}")]
    Duplicates(#[from] DuplicatesSettingsError),
}

impl CompanySettingsError {
    /// The section the error is about (`abc`, `visits`, …), or `None` for the whole
    /// document.
    pub fn section(&self) -> Option<&'static str> {
        match self {
            Self::TooLarge { .. } | Self::Malformed(_) => None,
            Self::Abc(_) => Some("abc"),
            Self::Visits(_) => Some("visits"),
            Self::Route(_) => Some("route"),
            Self::Credit(_) => Some("credit"),
            Self::Pipeline(_) => Some("pipeline"),
            Self::Product(_) => Some("product"),
            Self::Duplicates(_) => Some("duplicates"),
        }
    }
}

impl CompanySettings {
    /// Checks every section; the first refusal is returned.
    pub fn validate(&self) -> Result<(), CompanySettingsError> {
        self.abc.validate()?;
        self.visits.validate()?;
        self.route.validate()?;
        self.credit.validate()?;
        self.pipeline.validate()?;
        self.product.validate()?;
        self.duplicates.validate()?;
        Ok(())
    }

    /// Reads settings from JSON that came from outside: the size is bounded before the
    /// parser sees the bytes, missing keys take their defaults, and the result is
    /// validated.
    pub fn from_json(bytes: &[u8]) -> Result<CompanySettings, CompanySettingsError> {
        if bytes.len() > MAX_SETTINGS_JSON {
            return Err(CompanySettingsError::TooLarge {
                len: bytes.len(),
                max: MAX_SETTINGS_JSON,
            });
        }
        let settings: CompanySettings = serde_json::from_slice(bytes).map_err(|e| {
            // serde_json's message names the line, column and expected type, never the
            // input's text.
            CompanySettingsError::Malformed(e.to_string())
        })?;
        settings.validate()?;
        Ok(settings)
    }

    /// The settings as JSON (what the server stores and sync carries).
    pub fn to_json(&self) -> String {
        // Plain structs of numbers, strings and enums: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_round_trip() {
        let s = CompanySettings::default();
        s.validate().expect("DOMAIN.md's defaults are valid");
        let back = CompanySettings::from_json(s.to_json().as_bytes()).expect("round trip");
        assert_eq!(back, s);
        assert!(s.to_json().len() < MAX_SETTINGS_JSON / 8);
    }

    #[test]
    fn missing_keys_take_their_defaults() {
        let s = CompanySettings::from_json(br#"{"visits": {"interval_days_a": 3}}"#)
            .expect("partial settings");
        assert_eq!(s.visits.interval_days_a, 3);
        assert_eq!(s.visits.interval_days_b, 14);
        assert_eq!(s.abc, AbcSettings::default());
    }

    #[test]
    fn what_does_not_add_up_is_refused_by_section() {
        let cases: [(&[u8], Option<&str>); 6] = [
            (
                br#"{"abc": {"a_percent": 80, "b_percent": 20, "c_percent": 5}}"#,
                Some("abc"),
            ),
            (br#"{"visits": {"interval_days_b": 0}}"#, Some("visits")),
            (br#"{"pipeline": {"stages": []}}"#, Some("pipeline")),
            (br#"{"visits": {"interval_days_a": -7}}"#, None),
            ("{\"visits\": \"每周\"}".as_bytes(), None),
            (b"\xff\xfe not json", None),
        ];
        for (json, section) in cases {
            let err = CompanySettings::from_json(json).expect_err("refused");
            assert_eq!(err.section(), section, "{err}");
        }
    }

    #[test]
    fn oversized_settings_are_refused_before_parsing() {
        let mut big = b"{\"visits\": {}, \"x\": \"".to_vec();
        big.extend(std::iter::repeat_n(b'a', MAX_SETTINGS_JSON));
        big.extend(b"\"}");
        assert!(matches!(
            CompanySettings::from_json(&big),
            Err(CompanySettingsError::TooLarge { .. })
        ));
    }
}
