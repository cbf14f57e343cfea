//! The handover dossier: what a rep taking over a card needs to know about it in one
//! answer — who held it and why it moved (assignment history from the server), the visit
//! log in time order, the open to-dos and opportunities, and the history of every field,
//! each change attributed to its person and named device.

use serde::Serialize;

use super::Store;
use super::directory::Assignment;
use crate::card::{Keyed, Opportunity, Todo, Visit};
use crate::error::Result;
use crate::history::{self, FieldChange};
use crate::ids::CardId;
use crate::value::OppStage;

/// The history of one field of a card.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldHistory {
    /// The field's path (`basic.phone`, `contacts.<id>.mobile`).
    pub path: String,
    /// Every change that touched it, oldest first, with the value each left.
    pub changes: Vec<FieldChange>,
}

/// A card's handover dossier. See the module docs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dossier {
    /// The card's id.
    pub card_id: String,
    /// The customer's name.
    pub name: Option<String>,
    /// The card's territory now.
    pub territory: Option<String>,
    /// Who held the card's territory (or the card) from when, who decided, why; oldest
    /// first. Empty until a sync brought the records.
    pub assignments: Vec<Assignment>,
    /// The visit log in time order (visits without a time last, ties by id).
    pub visits: Vec<Keyed<Visit>>,
    /// To-dos not done.
    pub open_todos: Vec<Keyed<Todo>>,
    /// Opportunities neither won nor lost.
    pub open_opportunities: Vec<Keyed<Opportunity>>,
    /// The history of every field, in the order fields were first written.
    pub fields: Vec<FieldHistory>,
}

impl Store {
    /// The handover dossier of a card.
    pub fn dossier(&mut self, id: &CardId) -> Result<Dossier> {
        let card = self.card(id)?.card;
        let mut fields = self.with_doc(id, history::every_field_history)?;
        let mut entries: Vec<_> = fields
            .iter_mut()
            .flat_map(|(_, changes)| changes.iter_mut().map(|c| &mut c.entry))
            .collect();
        Self::name_devices(&self.conn, &mut entries)?;
        let mut territories: Vec<String> = card.territory.iter().cloned().collect();
        for (path, changes) in &fields {
            if path == "territory" {
                territories.extend(changes.iter().filter_map(|c| c.value.clone()));
            }
        }
        territories.sort();
        territories.dedup();
        let assignments = Self::assignments_of(&self.conn, id.as_str(), &territories)?;
        let mut visits = card.visits.clone();
        visits.sort_by(|a, b| match (a.at, b.at) {
            (Some(x), Some(y)) => x.cmp(&y).then_with(|| a.id.cmp(&b.id)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.id.cmp(&b.id),
        });
        Ok(Dossier {
            card_id: id.to_string(),
            name: card.basic.name.clone(),
            territory: card.territory.clone(),
            assignments,
            visits,
            open_todos: card
                .todos
                .iter()
                .filter(|t| t.done != Some(true))
                .cloned()
                .collect(),
            open_opportunities: card
                .opportunities
                .iter()
                .filter(|o| !matches!(o.stage, Some(OppStage::Won | OppStage::Lost)))
                .cloned()
                .collect(),
            fields: fields
                .into_iter()
                .map(|(path, changes)| FieldHistory { path, changes })
                .collect(),
        })
    }
}
