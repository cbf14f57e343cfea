//! 交接: a manager hands a territory, or chosen cards of it, to another rep — a form, a
//! preview that says what will move, and a confirmation that executes exactly what was
//! previewed.
//!
//! The preview fixes the territory's owner it saw as the handoff's expected owner: if
//! another handoff wins meanwhile, the confirmation is refused (`handoff.conflict`) instead
//! of moving cards from someone else. The work is [`crate::handoff`]'s, as on the API.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use super::PageError;
use super::cards::{Choice, scope_choices};
use super::pages::{Nav, beijing, render};
use super::session::{Dashboard, check_origin};
use super::text::shown;
use crate::AppState;
use crate::error::Error;
use crate::handoff::{HandoffPreview, HandoffRequest};

/// Most card ids one form names (the handoff layer has its own, larger bound).
const MAX_FORM_CARDS: usize = 1_000;

/// A territory on the form, with who holds it.
pub(crate) struct TerritoryRow {
    id: String,
    name: String,
    owner: String,
}

#[derive(Template)]
#[template(path = "handoff.html")]
struct HandoffPage {
    nav: Nav,
    territories: Vec<TerritoryRow>,
    territory_choices: Vec<Choice>,
    reps: Vec<Choice>,
}

/// `GET /handoff`: the form.
pub(super) async fn form(
    State(state): State<AppState>,
    dashboard: Dashboard,
) -> Result<Response, PageError> {
    let viewer = dashboard.viewer.clone();
    let (territories, reps, owners) = crate::http::blocking(&state, move |s| {
        let (territories, reps) = scope_choices(s, &viewer)?;
        let owners: Vec<(String, Option<String>)> = s
            .territories()?
            .into_iter()
            .map(|t| (t.id, t.owner))
            .collect();
        Ok((territories, reps, owners))
    })
    .await?;
    let name_of = |id: &str| {
        reps.iter()
            .find(|(r, _)| r == id)
            .map_or_else(|| id.to_owned(), |(_, n)| n.clone())
    };
    let rows = territories
        .iter()
        .map(|(id, name)| TerritoryRow {
            id: shown(id),
            name: shown(name),
            owner: owners
                .iter()
                .find(|(t, _)| t == id)
                .and_then(|(_, o)| o.as_deref())
                .map_or_else(|| "（无人负责）".to_owned(), |o| shown(&name_of(o))),
        })
        .collect();
    Ok(render(&HandoffPage {
        nav: Nav::new(&dashboard, "handoff"),
        territories: rows,
        territory_choices: territories
            .into_iter()
            .map(|(id, name)| Choice {
                value: shown(&id),
                label: shown(&name),
                selected: false,
            })
            .collect(),
        reps: reps
            .into_iter()
            .map(|(id, name)| Choice {
                label: format!("{} ({})", shown(&name), shown(&id)),
                value: shown(&id),
                selected: false,
            })
            .collect(),
    }))
}

/// The handoff form as posted, to preview (no `from`) or to execute (with the `from` the
/// preview saw).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct HandoffForm {
    csrf: String,
    territory: String,
    from: String,
    to: String,
    reason: String,
    /// Card ids, one per line (or separated by spaces or commas); empty: the whole territory.
    cards: String,
    /// For cards: the territory they move into.
    target_territory: String,
}

impl HandoffForm {
    fn request(&self, from: String) -> Result<HandoffRequest, PageError> {
        let cards: Vec<String> = self
            .cards
            .split(|c: char| c.is_whitespace() || c == ',' || c == '，')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if cards.len() > MAX_FORM_CARDS {
            return Err(PageError::Server(Error::Invalid(format!(
                "a handoff form names at most {MAX_FORM_CARDS} cards"
            ))));
        }
        let target = self.target_territory.trim();
        Ok(HandoffRequest {
            territory: self.territory.trim().to_owned(),
            from,
            to: self.to.trim().to_owned(),
            target_territory: (!cards.is_empty() && !target.is_empty()).then(|| target.to_owned()),
            cards: (!cards.is_empty()).then_some(cards),
            reason: self.reason.trim().to_owned(),
        })
    }
}

fn checked(
    dashboard: &Dashboard,
    headers: &HeaderMap,
    form: Result<Form<HandoffForm>, FormRejection>,
) -> Result<HandoffForm, PageError> {
    check_origin(headers)?;
    let Form(form) = form.map_err(|_| {
        PageError::Server(Error::Malformed(
            "the handoff form could not be read".into(),
        ))
    })?;
    dashboard.check_form(&form.csrf)?;
    Ok(form)
}

/// One card the preview names.
pub(crate) struct PreviewLine {
    id: String,
    name: String,
}

#[derive(Template)]
#[template(path = "handoff_preview.html")]
struct PreviewPage {
    nav: Nav,
    territory: String,
    from: String,
    from_name: String,
    to: String,
    to_name: String,
    target_territory: String,
    whole_territory: bool,
    card_count: usize,
    cards: Vec<PreviewLine>,
    reason: String,
    /// The card ids exactly as posted, carried to the confirmation.
    card_ids: String,
}

fn person_name(s: &dyn crate::storage::Storage, id: &str) -> crate::Result<String> {
    Ok(s.person(id)?.map_or_else(|| id.to_owned(), |p| p.name))
}

/// `POST /handoff/preview`: what the handoff would move.
pub(super) async fn preview(
    State(state): State<AppState>,
    dashboard: Dashboard,
    headers: HeaderMap,
    form: Result<Form<HandoffForm>, FormRejection>,
) -> Result<Response, PageError> {
    let form = checked(&dashboard, &headers, form)?;
    let viewer = dashboard.viewer.clone();
    let now = state.now();
    let posted = form.clone();
    let (preview, from_name, to_name): (HandoffPreview, String, String) =
        crate::http::blocking(&state, move |s| {
            viewer.require_territory(s, posted.territory.trim())?;
            // The owner seen now is the one the confirmation expects.
            let owner = s
                .territories()?
                .into_iter()
                .find(|t| t.id == posted.territory.trim())
                .and_then(|t| t.owner)
                .ok_or(Error::HandoffConflict)?;
            let req = posted
                .request(owner)
                .map_err(|_| Error::Invalid("a handoff form names too many cards".into()))?;
            let preview = crate::handoff::preview(s, &viewer, &req, now)?;
            Ok((
                preview,
                person_name(s, &req.from)?,
                person_name(s, &req.to)?,
            ))
        })
        .await?;
    Ok(render(&PreviewPage {
        nav: Nav::new(&dashboard, "handoff"),
        territory: shown(&preview.territory),
        from: shown(&preview.from),
        from_name: shown(&from_name),
        to: shown(&preview.to),
        to_name: shown(&to_name),
        target_territory: shown(preview.target_territory.as_deref().unwrap_or("")),
        whole_territory: preview.whole_territory,
        card_count: preview.card_count,
        cards: preview
            .cards
            .iter()
            .map(|c| PreviewLine {
                id: shown(&c.card_id),
                name: shown(c.name.as_deref().unwrap_or("（未命名客户）")),
            })
            .collect(),
        reason: shown(form.reason.trim()),
        card_ids: shown(&form.cards),
    }))
}

/// One assignment the handoff wrote.
pub(crate) struct DoneLine {
    territory: String,
    card: String,
    at: String,
}

#[derive(Template)]
#[template(path = "handoff_done.html")]
struct DonePage {
    nav: Nav,
    cards_moved: usize,
    to: String,
    lines: Vec<DoneLine>,
}

/// `POST /handoff`: executes the previewed handoff, expecting the owner the preview saw.
pub(super) async fn execute(
    State(state): State<AppState>,
    dashboard: Dashboard,
    headers: HeaderMap,
    form: Result<Form<HandoffForm>, FormRejection>,
) -> Result<Response, PageError> {
    let form = checked(&dashboard, &headers, form)?;
    let req = form.request(form.from.trim().to_owned())?;
    let viewer = dashboard.viewer.clone();
    let docs = state.docs.clone();
    let now = state.now();
    let to = req.to.clone();
    let (outcome, to_name) = crate::http::blocking(&state, move |s| {
        let outcome = crate::handoff::execute(s, &docs, &viewer, &req, now)?;
        Ok((outcome, person_name(s, &req.to)?))
    })
    .await?;
    Ok(render(&DonePage {
        nav: Nav::new(&dashboard, "handoff"),
        cards_moved: outcome.cards_moved,
        to: shown(&format!("{to_name} ({to})")),
        lines: outcome
            .assignments
            .iter()
            .map(|a| DoneLine {
                territory: shown(&a.territory),
                card: shown(a.card_id.as_deref().unwrap_or("整个区域")),
                at: beijing(a.at),
            })
            .collect(),
    }))
}
