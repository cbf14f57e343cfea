//! The JSON routes of handoff and the review queue, for managers' and administrators'
//! devices (and the dashboard's session, through the same [`Viewer`] extractor). Thin:
//! each decodes, runs the one implementation ([`crate::handoff`], [`crate::review`]) on a
//! blocking work slot, encodes.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::{HandoffOutcome, HandoffPreview, HandoffRequest};
use crate::AppState;
use crate::error::{Error, Result};
use crate::http::{blocking, json_body};
use crate::manager::Page;
use crate::review::{self, Decided, ReviewItem, ReviewQuery};
use crate::storage::Assignment;
use crate::viewer::Viewer;

/// `/v1/manager/handoffs…`, `/v1/manager/territories/{id}/assignments`,
/// `/v1/manager/review…`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/manager/handoffs/preview", post(preview))
        .route("/v1/manager/handoffs", post(execute))
        .route(
            "/v1/manager/territories/{territory_id}/assignments",
            get(assignments),
        )
        .route("/v1/manager/review", get(review_list))
        .route("/v1/manager/review/{id}/accept", post(review_accept))
        .route("/v1/manager/review/{id}/discard", post(review_discard))
}

async fn preview(
    State(state): State<AppState>,
    viewer: Viewer,
    body: std::result::Result<Json<HandoffRequest>, JsonRejection>,
) -> Result<Json<HandoffPreview>> {
    let request = json_body(body)?;
    let now = state.now();
    let out = blocking(&state, move |s| super::preview(s, &viewer, &request, now)).await?;
    Ok(Json(out))
}

async fn execute(
    State(state): State<AppState>,
    viewer: Viewer,
    body: std::result::Result<Json<HandoffRequest>, JsonRejection>,
) -> Result<Json<HandoffOutcome>> {
    let request = json_body(body)?;
    let now = state.now();
    let docs = state.docs.clone();
    let out = blocking(&state, move |s| {
        super::execute(s, &docs, &viewer, &request, now)
    })
    .await?;
    Ok(Json(out))
}

async fn assignments(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(territory_id): Path<String>,
) -> Result<Json<Vec<Assignment>>> {
    let out = blocking(&state, move |s| {
        super::assignments(s, &viewer, &territory_id)
    })
    .await?;
    Ok(Json(out))
}

async fn review_list(
    State(state): State<AppState>,
    viewer: Viewer,
    query: std::result::Result<Query<ReviewQuery>, QueryRejection>,
) -> Result<Json<Page<ReviewItem>>> {
    let Query(query) = query.map_err(|e| Error::Malformed(e.body_text()))?;
    let out = blocking(&state, move |s| review::list(s, &viewer, &query)).await?;
    Ok(Json(out))
}

async fn review_accept(
    State(state): State<AppState>,
    viewer: Viewer,
    id: std::result::Result<Path<u64>, PathRejection>,
) -> Result<Json<Decided>> {
    let id = item_id(id)?;
    let now = state.now();
    let docs = state.docs.clone();
    let out = blocking(&state, move |s| review::accept(s, &docs, &viewer, id, now)).await?;
    Ok(Json(out))
}

/// A review item id from the path: anything but a number is `request.invalid`.
fn item_id(id: std::result::Result<Path<u64>, PathRejection>) -> Result<u64> {
    id.map(|Path(id)| id)
        .map_err(|_| Error::Invalid("a review item id is a number".into()))
}

/// `POST /v1/manager/review/{id}/discard` body (`{}` or `{"note": "..."}`).
#[derive(Debug, Default, Deserialize)]
struct DiscardBody {
    #[serde(default)]
    note: Option<String>,
}

async fn review_discard(
    State(state): State<AppState>,
    viewer: Viewer,
    id: std::result::Result<Path<u64>, PathRejection>,
    body: std::result::Result<Json<DiscardBody>, JsonRejection>,
) -> Result<Json<Decided>> {
    let id = item_id(id)?;
    let body = json_body(body)?;
    let now = state.now();
    let out = blocking(&state, move |s| {
        review::discard(s, &viewer, id, body.note.as_deref(), now)
    })
    .await?;
    Ok(Json(out))
}
