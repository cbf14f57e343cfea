//! The lean card: a card as the bulk reports read it, and its compact JSON.
//!
//! A report over 10,000 cards (ABC, the day's plan, credit, duplicates, the pipeline)
//! reads each card once per call, so what it reads must be small and quick to parse. The
//! lean card keeps what those methods read and drops what none of them does, which is
//! most of a card's bytes: the descriptive sections (客户特征, 业务状况, 交易现状, 经营资料,
//! 营销信息) and the basic data beyond name, number, city, phone and registration (the
//! transaction card reads those one card at a time, from the full card), the notes, the
//! to-dos, a contact's details beyond name and numbers, and each visit's free text (what
//! was discussed, the outcome, where, the next step, where it was logged).
//!
//! Its JSON writes list items as `[id, fields]` pairs, not the card's `{"id", ...fields}`
//! objects: those flatten an item into its fields, which serde can only parse by
//! buffering every item first (several times slower over a visit log).
//!
//! Which fields are kept is this struct's field list, in one place. A store test checks
//! that every bulk report gives the same result on the lean cards as on the full ones.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{
    BasicData, Card, Classification, Contact, CreditData, Keyed, Location, Opportunity, Visit,
};
use crate::ids::{CardId, YearMonth};
use crate::value::Money;

/// A card as the bulk reports read it (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeanCard {
    id: CardId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    territory: Option<String>,
    basic: BasicData,
    credit: CreditData,
    classification: Classification,
    location: Location,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    contacts: Vec<(String, Contact)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    visits: Vec<(String, Visit)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    opportunities: Vec<(String, Opportunity)>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    sales: BTreeMap<YearMonth, Money>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    tags: BTreeSet<String>,
}

fn keyed<T>(pairs: Vec<(String, T)>) -> Vec<Keyed<T>> {
    pairs
        .into_iter()
        .map(|(id, value)| Keyed { id, value })
        .collect()
}

impl LeanCard {
    /// The lean copy of a card.
    pub fn of(card: &Card) -> LeanCard {
        let b = &card.basic;
        LeanCard {
            id: card.id.clone(),
            territory: card.territory.clone(),
            basic: BasicData {
                name: b.name.clone(),
                customer_no: b.customer_no.clone(),
                city: b.city.clone(),
                phone: b.phone.clone(),
                registration_no: b.registration_no.clone(),
                tax_no: b.tax_no.clone(),
                merged_into: b.merged_into.clone(),
                ..BasicData::default()
            },
            credit: card.credit.clone(),
            classification: card.classification.clone(),
            location: card.location.clone(),
            contacts: card
                .contacts
                .iter()
                .map(|k| {
                    let contact = Contact {
                        name: k.name.clone(),
                        phone: k.phone.clone(),
                        mobile: k.mobile.clone(),
                        ..Contact::default()
                    };
                    (k.id.clone(), contact)
                })
                .collect(),
            visits: card
                .visits
                .iter()
                .map(|k| {
                    let mut visit = k.value.clone();
                    visit.summary = Default::default();
                    visit.place = None;
                    visit.next_step = None;
                    visit.outcome = None;
                    visit.lat = None;
                    visit.lon = None;
                    (k.id.clone(), visit)
                })
                .collect(),
            opportunities: card
                .opportunities
                .iter()
                .map(|k| (k.id.clone(), k.value.clone()))
                .collect(),
            sales: card.sales.clone(),
            tags: card.tags.clone(),
        }
    }

    /// The card the reports read: the kept fields, everything else empty.
    pub fn into_card(self) -> Card {
        let mut card = Card::with_id(self.id);
        card.territory = self.territory;
        card.basic = self.basic;
        card.credit = self.credit;
        card.classification = self.classification;
        card.location = self.location;
        card.contacts = keyed(self.contacts);
        card.visits = keyed(self.visits);
        card.opportunities = keyed(self.opportunities);
        card.sales = self.sales;
        card.tags = self.tags;
        card
    }
}

impl Card {
    /// This card as the bulk reports read it ([`LeanCard`]): the same card without what
    /// no bulk report reads.
    pub fn for_analysis(&self) -> Card {
        LeanCard::of(self).into_card()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::VisitKind;

    #[test]
    fn a_lean_card_keeps_what_reports_read_and_round_trips_its_json() {
        let mut card = Card::new();
        card.basic.name = Some("上海浦东新区日用品批发部".into());
        card.notes = "老板姓王，周三下午在店".into();
        card.characteristics.philosophy = Some("薄利多销".into());
        card.add_visit(Visit {
            kind: Some(VisitKind::Visit),
            summary: "谈了新品陈列".into(),
            place: Some("门店".into()),
            outcome: Some("同意试销".into()),
            ..Default::default()
        });
        let lean = card.for_analysis();
        assert_eq!(lean.basic.name, card.basic.name);
        assert_eq!(lean.visits[0].kind, Some(VisitKind::Visit));
        assert_eq!(lean.visits[0].outcome, None);
        assert_eq!(lean.visits[0].id, card.visits[0].id);
        assert!(lean.notes.0.is_empty() && lean.visits[0].summary.0.is_empty());
        assert_eq!(lean.characteristics, Default::default());
        let json = serde_json::to_string(&LeanCard::of(&card)).expect("json");
        assert!(!json.contains("谈了新品陈列"), "{json}");
        let back: LeanCard = serde_json::from_str(&json).expect("parse");
        assert_eq!(back.into_card(), lean);
    }
}
