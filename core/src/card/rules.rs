//! Rules of the card model every front end must apply alike (the CLI today, the
//! phone apps next): which field an item cannot be without, when an opportunity's
//! stage date moves, and how a choice code reads for people. Kept in core so two
//! front ends cannot disagree about a card.

use chrono::NaiveDate;

use super::{Card, Keyed, Opportunity};
use crate::error::{Error, Result};
use crate::value::{Class, Nature, OppStage, TradeStage, VisitKind, Volume};

/// The field an item of `collection` cannot be added without, and why: a contact
/// needs a name, a to-do and an opportunity a title. `None` for other collections.
pub fn required_field(collection: &str) -> Option<(&'static str, &'static str)> {
    match collection {
        "contacts" => Some(("name", "a contact needs a name")),
        "todos" => Some(("title", "a to-do needs a title")),
        "opportunities" => Some(("title", "an opportunity needs a title")),
        _ => None,
    }
}

/// Refuse a new item of `collection` whose required field (see [`required_field`])
/// is blank, with `input.invalid_value` naming it (`todos.title`).
pub fn check_required(collection: &str, value: Option<&str>) -> Result<()> {
    match required_field(collection) {
        Some((key, reason)) if value.is_none_or(|v| v.trim().is_empty()) => {
            Err(Error::invalid(format!("{collection}.{key}"), reason))
        }
        _ => Ok(()),
    }
}

/// The Chinese label of a choice code for the field named `key` (`nature`,
/// `stage`, `volume`, `kind`, `abc`, `prospect_class`), or `None` when the key
/// is not a choice or the code is not one of its codes.
pub fn choice_label(key: &str, code: &str) -> Option<&'static str> {
    match key {
        "nature" => Nature::from_code(code).map(Nature::label),
        // `stage` names a card's trade stage and an opportunity's stage; their
        // codes do not overlap.
        "stage" => TradeStage::from_code(code)
            .map(TradeStage::label)
            .or_else(|| OppStage::from_code(code).map(OppStage::label)),
        "volume" => Volume::from_code(code).map(Volume::label),
        "kind" => VisitKind::from_code(code).map(VisitKind::label),
        // A class reads as its letter.
        "abc" | "prospect_class" => Class::from_code(code).map(Class::code),
        _ => None,
    }
}

/// The codes and labels a choice field at `path` takes, in order (`classification.abc`,
/// `opportunities.*.stage` or `opportunities.<id>.stage`), for pickers; empty for a
/// field that is not a choice. `stage` is a card's trade stage, or an opportunity's.
pub fn choices(path: &str) -> Vec<(&'static str, &'static str)> {
    fn all<T: Copy>(
        values: &[T],
        code: fn(T) -> &'static str,
        label: fn(T) -> &'static str,
    ) -> Vec<(&'static str, &'static str)> {
        values.iter().map(|v| (code(*v), label(*v))).collect()
    }
    let key = path.rsplit('.').next().unwrap_or_default();
    match key {
        "nature" => all(Nature::ALL, Nature::code, Nature::label),
        "volume" => all(Volume::ALL, Volume::code, Volume::label),
        "kind" => all(VisitKind::ALL, VisitKind::code, VisitKind::label),
        "abc" | "prospect_class" => all(Class::ALL, Class::code, Class::label),
        "stage" if path.starts_with("opportunities.") => {
            all(OppStage::ALL, OppStage::code, OppStage::label)
        }
        "stage" => all(TradeStage::ALL, TradeStage::code, TradeStage::label),
        _ => Vec::new(),
    }
}

impl Card {
    /// Add an item to `collection` (`contacts`, `visits`, `todos`, `opportunities`)
    /// with its fields given as `(key, text)` pairs, as a front end that renders the
    /// schema collects them; returns the new item's id. The rules of each collection
    /// apply: the required field ([`required_field`]); an opportunity enters its stage
    /// `today`; a visit is dated `now` unless `at` is given (the store then decides who
    /// visited, `store/attribution.rs`). A refused value names the field as
    /// `visits.lat`, not by the id of an item that will not exist, and adds nothing.
    pub fn add_item(
        &mut self,
        collection: &str,
        fields: &[(String, String)],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<String> {
        let value = |key: &str| {
            fields
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        if let Some((key, _)) = required_field(collection) {
            check_required(collection, value(key))?;
        }
        let mut draft = self.clone();
        let id = match collection {
            "contacts" => draft.add_contact(super::Contact::default()),
            "todos" => draft.add_todo(super::Todo::default()),
            "opportunities" => {
                let id = draft.add_opportunity(Opportunity::default());
                draft.set_path(
                    &format!("opportunities.{id}.stage_since"),
                    &now.date_naive().to_string(),
                )?;
                id
            }
            "visits" => {
                let id = draft.add_visit(super::Visit::default());
                draft.set_path(&format!("visits.{id}.at"), &now.to_rfc3339())?;
                id
            }
            other => return Err(Error::UnknownField(other.to_string())),
        };
        for (key, text) in fields {
            if text.trim().is_empty() {
                continue;
            }
            draft
                .set_path(&format!("{collection}.{id}.{key}"), text)
                .map_err(|e| match e {
                    Error::InvalidValue { reason, .. } => Error::InvalidValue {
                        field: format!("{collection}.{key}"),
                        reason,
                    },
                    Error::UnknownField(_) => Error::UnknownField(format!("{collection}.{key}")),
                    other => other,
                })?;
        }
        *self = draft;
        Ok(id)
    }

    /// Add an opportunity entering its stage `today` (so the time spent in each
    /// stage can be tracked); refused without a title. Returns its id.
    pub fn add_opportunity_on(
        &mut self,
        mut opportunity: Opportunity,
        today: NaiveDate,
    ) -> Result<String> {
        check_required("opportunities", opportunity.title.as_deref())?;
        opportunity.stage_since = Some(today);
        Ok(self.add_opportunity(opportunity))
    }

    /// Move opportunity `id` to `stage`: the stage date becomes `today` only when
    /// the stage changes (setting the stage it is in changes nothing). Returns
    /// whether anything changed.
    pub fn move_opportunity(
        &mut self,
        id: &str,
        stage: OppStage,
        today: NaiveDate,
    ) -> Result<bool> {
        let opp: &mut Keyed<Opportunity> = self
            .opportunities
            .iter_mut()
            .find(|o| o.id == id)
            .ok_or_else(|| Error::ItemNotFound {
                kind: "opportunity",
                id: id.to_string(),
            })?;
        if opp.value.stage == Some(stage) {
            return Ok(false);
        }
        opp.value.stage = Some(stage);
        opp.value.stage_since = Some(today);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_choice_offered_is_accepted_where_it_is_offered() {
        for field in crate::card::schema() {
            let offered = choices(&field.path);
            assert_eq!(
                !offered.is_empty(),
                field.info.kind == crate::value::FieldKind::Choice,
                "{}",
                field.path
            );
            for (code, _) in offered {
                let mut card = Card::new();
                let path = match field.path.split_once(".*.") {
                    Some((collection, key)) => {
                        let fields = match collection {
                            "contacts" => vec![("name".to_string(), "王芳".to_string())],
                            "todos" | "opportunities" => {
                                vec![("title".to_string(), "年度协议".to_string())]
                            }
                            _ => Vec::new(),
                        };
                        let id = card
                            .add_item(collection, &fields, chrono::Utc::now())
                            .expect("item");
                        format!("{collection}.{id}.{key}")
                    }
                    None => field.path.clone(),
                };
                card.set_path(&path, code)
                    .unwrap_or_else(|e| panic!("{path}={code}: {e}"));
            }
        }
        assert_eq!(
            choices("opportunities.*.stage")[0].0,
            OppStage::ALL[0].code()
        );
        assert!(choices("basic.phone").is_empty());
    }

    #[test]
    fn add_item_applies_each_collections_rules_or_adds_nothing() {
        let now = chrono::Utc::now();
        let mut card = Card::new();
        let f = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let err = card.add_item("contacts", &f(&[("mobile", "13812345678")]), now);
        assert_eq!(err.map_err(|e| e.code()), Err("input.invalid_value"));
        let err = card.add_item("visits", &f(&[("lat", "north")]), now);
        match err {
            Err(Error::InvalidValue { field, .. }) => assert_eq!(field, "visits.lat"),
            other => panic!("{other:?}"),
        }
        assert!(
            card.contacts.is_empty() && card.visits.is_empty(),
            "nothing added"
        );
        let visit = card
            .add_item(
                "visits",
                &f(&[("summary", "拜访王经理"), ("lat", "31.23")]),
                now,
            )
            .expect("visit");
        assert_eq!(card.visits[0].id, visit);
        assert_eq!(
            card.visits[0].at.map(|t| t.timestamp()),
            Some(now.timestamp())
        );
        let opp = card
            .add_item("opportunities", &f(&[("title", "年度框架协议")]), now)
            .expect("opportunity");
        assert_eq!(card.opportunities[0].id, opp);
        assert_eq!(card.opportunities[0].stage_since, Some(now.date_naive()));
        assert!(card.add_item("nope", &[], now).is_err());
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap_or_default()
    }

    #[test]
    fn a_stage_date_moves_only_when_the_stage_does() {
        let mut card = Card::new();
        let opp = card
            .add_opportunity_on(
                Opportunity {
                    title: Some("年底促销".into()),
                    stage: Some(OppStage::Negotiation),
                    ..Default::default()
                },
                day(1),
            )
            .expect("added");
        assert_eq!(card.opportunities[0].value.stage_since, Some(day(1)));
        // The same stage again: the date it was entered stays.
        assert_eq!(
            card.move_opportunity(&opp, OppStage::Negotiation, day(5))
                .map_err(|e| e.code()),
            Ok(false)
        );
        assert_eq!(card.opportunities[0].value.stage_since, Some(day(1)));
        let other = OppStage::Won;
        assert_eq!(
            card.move_opportunity(&opp, other, day(9))
                .map_err(|e| e.code()),
            Ok(true)
        );
        assert_eq!(card.opportunities[0].value.stage, Some(other));
        assert_eq!(card.opportunities[0].value.stage_since, Some(day(9)));
        assert_eq!(
            card.move_opportunity("nope", other, day(9))
                .map_err(|e| e.code()),
            Err("card.item_not_found")
        );
    }

    #[test]
    fn items_need_their_title_or_name() {
        for (collection, field) in [
            ("contacts", "contacts.name"),
            ("todos", "todos.title"),
            ("opportunities", "opportunities.title"),
        ] {
            for blank in [None, Some(""), Some("  ")] {
                match check_required(collection, blank) {
                    Err(Error::InvalidValue { field: f, .. }) => assert_eq!(f, field),
                    other => panic!("{collection} {blank:?}: {other:?}"),
                }
            }
            assert!(check_required(collection, Some("王芳")).is_ok());
        }
        assert!(check_required("visits", None).is_ok());
        let mut card = Card::new();
        assert!(
            card.add_opportunity_on(Opportunity::default(), day(1))
                .is_err()
        );
        assert!(card.opportunities.is_empty());
    }

    #[test]
    fn choice_codes_read_as_their_labels() {
        assert_eq!(
            choice_label("stage", OppStage::Negotiation.code()),
            Some("商务谈判")
        );
        assert_eq!(
            choice_label("kind", VisitKind::Visit.code()),
            Some(VisitKind::Visit.label())
        );
        assert_eq!(choice_label("abc", Class::A.code()), Some("A"));
        assert_eq!(choice_label("stage", "no_such_stage"), None);
        assert_eq!(choice_label("name", "x"), None);
    }
}
