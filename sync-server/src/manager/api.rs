//! The manager's JSON API (`/v1/manager/…`) and the OpenAPI 3.1 document that describes
//! it (`GET /v1/openapi.json`), the handoff and review routes included.
//!
//! Handlers are thin: the [`Viewer`] extractor authenticates (a manager's or admin's
//! device token, or a dashboard session), the query string is decoded into the query
//! type the dashboard pages use too, and the work runs in [`crate::http::blocking`]. The
//! document is written by hand next to the routes; [`ROUTES`] lists every route this
//! module serves and a test checks each is documented and served.

use axum::Json;
use axum::Router;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use fieldbook_core::analysis::abc::AbcReport;

use super::{
    AbcQuery, ActivityQuery, ActivityReport, CardDetail, CardDetailQuery, CardQuery, CardRow, Page,
    SettingsUpdate, SettingsView, TeamQuery, TeamReport,
};
use crate::AppState;
use crate::error::{Error, Result};
use crate::http::{blocking, json_body};
use crate::viewer::Viewer;

/// Every `(method, path)` this module serves, as the OpenAPI document writes it.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/openapi.json"),
    ("get", "/v1/manager/team"),
    ("get", "/v1/manager/cards"),
    ("get", "/v1/manager/cards/{card_id}"),
    ("get", "/v1/manager/activity"),
    ("get", "/v1/manager/activity.csv"),
    ("get", "/v1/manager/abc"),
    ("get", "/v1/manager/settings"),
    ("put", "/v1/manager/settings"),
    // Served by `crate::handoff::api`.
    ("post", "/v1/manager/handoffs/preview"),
    ("post", "/v1/manager/handoffs"),
    ("get", "/v1/manager/territories/{territory_id}/assignments"),
    ("get", "/v1/manager/review"),
    ("post", "/v1/manager/review/{id}/accept"),
    ("post", "/v1/manager/review/{id}/discard"),
];

/// The routes of the manager's API and its document; they authenticate through the
/// [`Viewer`] extractor, not the device layer, so a dashboard session reaches them too.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/manager/team", get(team))
        .route("/v1/manager/cards", get(cards))
        .route("/v1/manager/cards/{card_id}", get(card))
        .route("/v1/manager/activity", get(activity))
        .route("/v1/manager/activity.csv", get(activity_csv))
        .route("/v1/manager/abc", get(abc))
        .route("/v1/manager/settings", get(settings).put(put_settings))
}

async fn settings(State(state): State<AppState>, viewer: Viewer) -> Result<Json<SettingsView>> {
    blocking(&state, move |s| super::settings_view(s, &viewer))
        .await
        .map(Json)
}

async fn put_settings(
    State(state): State<AppState>,
    viewer: Viewer,
    body: std::result::Result<Json<SettingsUpdate>, JsonRejection>,
) -> Result<Json<SettingsView>> {
    let update = json_body(body)?;
    let now = state.now();
    blocking(&state, move |s| {
        super::set_settings(s, &viewer, &update, now)
    })
    .await
    .map(Json)
}

/// A query string decoded, or `request.invalid` with a fixed message (the decoder's
/// would echo the value it refused).
fn query<T: DeserializeOwned>(q: std::result::Result<Query<T>, QueryRejection>) -> Result<T> {
    q.map(|Query(t)| t)
        .map_err(|_| Error::Invalid("a query parameter has a value of the wrong kind".into()))
}

async fn team(
    State(state): State<AppState>,
    viewer: Viewer,
    q: std::result::Result<Query<TeamQuery>, QueryRejection>,
) -> Result<Json<TeamReport>> {
    let q = query(q)?;
    let (docs, now) = (state.docs.clone(), state.now());
    blocking(&state, move |s| super::team(s, &docs, &viewer, &q, now))
        .await
        .map(Json)
}

async fn cards(
    State(state): State<AppState>,
    viewer: Viewer,
    q: std::result::Result<Query<CardQuery>, QueryRejection>,
) -> Result<Json<Page<CardRow>>> {
    let q = query(q)?;
    let (docs, now) = (state.docs.clone(), state.now());
    blocking(&state, move |s| super::cards(s, &docs, &viewer, &q, now))
        .await
        .map(Json)
}

async fn card(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(card_id): Path<String>,
    q: std::result::Result<Query<CardDetailQuery>, QueryRejection>,
) -> Result<Json<CardDetail>> {
    let q = query(q)?;
    let (docs, now) = (state.docs.clone(), state.now());
    blocking(&state, move |s| {
        super::card(s, &docs, &viewer, &card_id, &q, now)
    })
    .await
    .map(Json)
}

async fn activity(
    State(state): State<AppState>,
    viewer: Viewer,
    q: std::result::Result<Query<ActivityQuery>, QueryRejection>,
) -> Result<Json<ActivityReport>> {
    let q = query(q)?;
    let (docs, now) = (state.docs.clone(), state.now());
    blocking(&state, move |s| super::activity(s, &docs, &viewer, &q, now))
        .await
        .map(Json)
}

async fn abc(
    State(state): State<AppState>,
    viewer: Viewer,
    q: std::result::Result<Query<AbcQuery>, QueryRejection>,
) -> Result<Json<AbcReport>> {
    let q = query(q)?;
    let (docs, now) = (state.docs.clone(), state.now());
    blocking(&state, move |s| super::abc(s, &docs, &viewer, &q, now))
        .await
        .map(Json)
}

async fn activity_csv(
    State(state): State<AppState>,
    viewer: Viewer,
    q: std::result::Result<Query<ActivityQuery>, QueryRejection>,
) -> Result<Response> {
    let q = query(q)?;
    let (docs, now) = (state.docs.clone(), state.now());
    let csv = blocking(&state, move |s| {
        super::activity_csv(s, &docs, &viewer, &q, now)
    })
    .await?;
    let mut response = csv.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"activity.csv\""),
    );
    Ok(response)
}

async fn openapi() -> Json<Value> {
    Json(document())
}

fn page_params() -> Value {
    json!([
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
        {"name": "per_page", "in": "query",
         "schema": {"type": "integer", "minimum": 1, "maximum": super::MAX_PER_PAGE,
                    "default": super::DEFAULT_PER_PAGE}}
    ])
}

fn with_page(mut params: Vec<Value>) -> Value {
    if let Value::Array(p) = page_params() {
        params.extend(p);
    }
    Value::Array(params)
}

fn q(name: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "schema": schema, "description": description})
}

fn ok(schema: &str, description: &str) -> Value {
    json!({
        "200": {"description": description,
                "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}},
        "400": {"$ref": "#/components/responses/Invalid"},
        "401": {"$ref": "#/components/responses/Unauthenticated"},
        "403": {"$ref": "#/components/responses/Denied"}
    })
}

fn page_of(item: &str) -> Value {
    json!({
        "type": "object",
        "required": ["items", "page", "per_page", "total"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1},
            "total": {"type": "integer", "minimum": 0}
        }
    })
}

const TIME: &str = "date-time";

fn time() -> Value {
    json!({"type": ["string", "null"], "format": TIME})
}

fn text() -> Value {
    json!({"type": ["string", "null"]})
}

/// The OpenAPI 3.1 document of the manager's API (handoff and review included).
pub fn document() -> Value {
    let handoff_body = json!({
        "required": true,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HandoffRequest"}}}
    });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Fieldbook manager API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The manager's dashboard data: the team, cards (search as on the phone), one card in full, activity, handoff and the review queue. Every list is paginated. A rep is refused (403 access.denied); a manager sees only the territories they manage, and a card of another team gets the same 403 as a card that does not exist."
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": {
            "/v1/openapi.json": {"get": {
                "summary": "This document", "operationId": "openapi", "security": [],
                "responses": {"200": {"description": "The OpenAPI document",
                    "content": {"application/json": {"schema": {"type": "object"}}}}}
            }},
            "/v1/manager/team": {"get": {
                "summary": "Team report", "operationId": "team",
                "description": "Per rep: last sync, devices (unsynced: no sync for 3 days; diverged: re-keyed), open conflicts, pending review items, edits in the last day, week and month.",
                "parameters": page_params(),
                "responses": ok("TeamReport", "The team, a page of reps")
            }},
            "/v1/manager/cards": {"get": {
                "summary": "Cards", "operationId": "cards",
                "parameters": with_page(vec![
                    q("territory", json!({"type": "string"}), "Only this territory (in scope)"),
                    q("class", json!({"type": "string"}), "Only this class: A, B, C or D (code or label)"),
                    q("tag", json!({"type": "string"}), "Only cards with this tag"),
                    q("owner", json!({"type": "string"}), "Only cards of territories this rep holds"),
                    q("q", json!({"type": "string", "maxLength": 200}), "Search as on the phone: two Chinese characters or a phone fragment find a card"),
                    q("conflicted", json!({"type": "boolean"}), "Only cards with open conflicts"),
                    q("sort", json!({"enum": ["name", "updated", "last_visit", "conflicts"], "default": "name"}), "Sort order"),
                    q("desc", json!({"type": "boolean"}), "Reverse the sort's natural direction"),
                ]),
                "responses": ok("CardPage", "A page of cards")
            }},
            "/v1/manager/cards/{card_id}": {"get": {
                "summary": "One card in full", "operationId": "card",
                "parameters": with_page(vec![json!({"name": "card_id", "in": "path", "required": true, "schema": {"type": "string"}})]),
                "responses": ok("CardDetail", "The card, its conflicts, a page of its history, its assignments")
            }},
            "/v1/manager/activity": {"get": {
                "summary": "Activity per rep", "operationId": "activity",
                "parameters": with_page(activity_params()),
                "responses": ok("ActivityReport", "Activity of a page of reps")
            }},
            "/v1/manager/activity.csv": {"get": {
                "summary": "Activity as CSV", "operationId": "activityCsv",
                "parameters": with_page(activity_params()),
                "responses": {
                    "200": {"description": "rep,name,period_start,visits,new_customers,cards_updated,opportunities_moved,changes",
                            "content": {"text/csv": {"schema": {"type": "string"}}}},
                    "400": {"$ref": "#/components/responses/Invalid"},
                    "401": {"$ref": "#/components/responses/Unauthenticated"},
                    "403": {"$ref": "#/components/responses/Denied"}
                }
            }},
            "/v1/manager/abc": {"get": {
                "summary": "ABC classes of the viewer's cards by average monthly sales (75/20/5), computed by the same code as on the phone", "operationId": "abc",
                "parameters": [
                    q("territory", json!({"type": "string"}), "Only this territory"),
                    q("date", json!({"type": "string", "format": "date"}), "As of this day (default today, China time); the window is the 3 full months before")
                ],
                "responses": ok("AbcReport", "One row per card, largest first: rank, monthly average, share, cumulative share, computed and hand-set class")
            }},
            "/v1/manager/settings": {
                "get": {
                    "summary": "The company settings in force: every rule's parameters, delivered to every device by sync", "operationId": "settings",
                    "responses": ok("SettingsView", "The revision, the settings and who set them")
                },
                "put": {
                    "summary": "Change the company settings (manager or admin); devices receive them on their next sync", "operationId": "setSettings",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SettingsUpdate"}}}},
                    "responses": {
                        "200": {"description": "In force", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SettingsView"}}}},
                        "400": {"description": "settings.invalid: a section does not add up (the previous settings stay)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                        "401": {"$ref": "#/components/responses/Unauthenticated"},
                        "403": {"$ref": "#/components/responses/Denied"},
                        "409": {"description": "settings.conflict: changed meanwhile; reload", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                    }
                }
            },
            "/v1/manager/handoffs/preview": {"post": {
                "summary": "Preview a handoff: what would move", "operationId": "handoffPreview",
                "requestBody": handoff_body.clone(),
                "responses": ok("HandoffPreview", "What the handoff would move")
            }},
            "/v1/manager/handoffs": {"post": {
                "summary": "Hand a territory, or chosen cards, from one rep to another", "operationId": "handoff",
                "requestBody": handoff_body,
                "responses": {
                    "200": {"description": "Done", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HandoffOutcome"}}}},
                    "400": {"$ref": "#/components/responses/Invalid"},
                    "401": {"$ref": "#/components/responses/Unauthenticated"},
                    "403": {"$ref": "#/components/responses/Denied"},
                    "409": {"description": "handoff.conflict: the territory's owner is no longer `from`", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
            }},
            "/v1/manager/territories/{territory_id}/assignments": {"get": {
                "summary": "A territory's assignment history", "operationId": "assignments",
                "parameters": [{"name": "territory_id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "Oldest first", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Assignment"}}}}},
                    "401": {"$ref": "#/components/responses/Unauthenticated"},
                    "403": {"$ref": "#/components/responses/Denied"}
                }
            }},
            "/v1/manager/review": {"get": {
                "summary": "The review queue: late edits held past the grace period", "operationId": "review",
                "parameters": page_params(),
                "responses": ok("ReviewPage", "A page of review items")
            }},
            "/v1/manager/review/{id}/accept": {"post": {
                "summary": "Accept held edits: merged, attributed to their author, noting who accepted", "operationId": "reviewAccept",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
                "responses": ok("ReviewItem", "The item, accepted")
            }},
            "/v1/manager/review/{id}/discard": {"post": {
                "summary": "Discard held edits (recorded, never deleted silently)", "operationId": "reviewDiscard",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
                "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {"note": {"type": "string"}}}}}},
                "responses": ok("ReviewItem", "The item, discarded")
            }}
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "A manager's or admin's device token"},
                "session": {"type": "apiKey", "in": "cookie", "name": "fieldbook_session", "description": "A dashboard session"}
            },
            "responses": {
                "Invalid": {"description": "request.invalid: a bad parameter", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "Unauthenticated": {"description": "auth.missing_token, auth.bad_token, auth.expired_token, auth.revoked", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "Denied": {"description": "access.denied: a rep, another team's data, or nothing there", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            },
            "schemas": schemas()
        }
    })
}

fn activity_params() -> Vec<Value> {
    vec![
        q(
            "period",
            json!({"enum": ["day", "week", "month"], "default": "day"}),
            "Bucket size (weeks start on Monday)",
        ),
        q(
            "from",
            json!({"type": "string", "format": "date"}),
            "First day, inclusive (default: 30 days, 12 weeks or 12 months back)",
        ),
        q(
            "to",
            json!({"type": "string", "format": "date"}),
            "Last day, inclusive (default: today)",
        ),
        q(
            "rep",
            json!({"type": "string"}),
            "Only this rep of the team",
        ),
        q(
            "utc_offset_minutes",
            json!({"type": "integer", "minimum": -720, "maximum": 840, "default": 480}),
            "The local calendar's offset from UTC",
        ),
    ]
}

fn schemas() -> Value {
    let counts = json!({
        "visits": {"type": "integer"}, "new_customers": {"type": "integer"},
        "cards_updated": {"type": "integer"}, "opportunities_moved": {"type": "integer"},
        "changes": {"type": "integer"}
    });
    let mut bucket = counts.clone();
    if let Value::Object(m) = &mut bucket {
        m.insert("start".into(), json!({"type": "string", "format": "date"}));
    }
    let device_info = json!({
        "type": ["object", "null"],
        "properties": {"device_id": {"type": "string"}, "name": {"type": "string"},
                       "role": {"enum": ["rep", "manager", "admin"]}, "person_id": {"type": "string"}}
    });
    json!({
        "Error": {"type": "object", "required": ["code", "message"],
                  "properties": {"code": {"type": "string", "examples": ["access.denied"]}, "message": {"type": "string"}}},
        "TeamReport": {"type": "object", "properties": {
            "generated_at": time(),
            "reps": page_of("TeamRep")
        }},
        "TeamRep": {"type": "object", "properties": {
            "person_id": {"type": "string"}, "name": {"type": "string"},
            "territories": {"type": "array", "items": {"type": "string"}},
            "last_sync_at": time(),
            "devices": {"type": "array", "items": {"$ref": "#/components/schemas/TeamDevice"}},
            "unsynced_devices": {"type": "integer"}, "diverged_devices": {"type": "integer"},
            "open_conflicts": {"type": "integer"}, "pending_review": {"type": "integer"},
            "edits_last_day": {"type": "integer"}, "edits_last_week": {"type": "integer"},
            "edits_last_month": {"type": "integer"}
        }},
        "TeamDevice": {"type": "object", "properties": {
            "id": {"type": "string"}, "name": {"type": "string"}, "role": {"type": "string"},
            "last_sync_at": time(), "revoked": {"type": "boolean"},
            "unsynced": {"type": "boolean"}, "diverged": {"type": "boolean"}
        }},
        "CardPage": page_of("CardRow"),
        "CardRow": {"type": "object", "properties": {
            "id": {"type": "string"}, "name": {"type": "string"}, "territory": {"type": "string"},
            "owner": text(), "owner_name": text(), "class": text(),
            "tags": {"type": "array", "items": {"type": "string"}},
            "phone": text(), "city": text(), "updated_at": time(), "last_visit_at": time(),
            "conflicts": {"type": "integer", "description": "Fields in open conflict (flag the row when > 0)"}
        }},
        "CardView": {"type": "object", "description": "The card exactly as a device's `show --json` shows it (core's CardView): id, territory, every section (basic, characteristics, business, transaction, credit, operating, marketing, classification, location), notes, contacts/visits/todos/opportunities as lists of items with ids (visits in time order), sales, tags, conflicts, heads. A visit whose device time was far ahead of the server's receive time shows the receive time in `at`, with `clock_skew: true` and the device's `device_at`.",
                     "required": ["id", "conflicts", "heads"],
                     "additionalProperties": true},
        "CardDetail": {"type": "object", "properties": {
            "card": {"$ref": "#/components/schemas/CardView"},
            "territory": {"type": "string"}, "owner": text(), "owner_name": text(),
            "conflicts": {"type": "array", "items": {"$ref": "#/components/schemas/ConflictDetail"}},
            "history": page_of("HistoryRow"),
            "assignments": {"type": "array", "items": {"$ref": "#/components/schemas/AssignmentRow"}}
        }},
        "AssignmentRow": {"type": "object", "description": "Who held the card, from when to when, who decided and why", "properties": {
            "territory": {"type": "string"}, "card_moved": {"type": "boolean"},
            "from_territory": text(), "from": text(), "from_name": text(),
            "to": {"type": "string"}, "to_name": text(),
            "decided_by": {"type": "string"}, "decided_by_name": text(),
            "reason": {"type": "string"}, "at": time(), "until": time()
        }},
        "ConflictDetail": {"type": "object", "properties": {
            "path": {"type": "string"},
            "values": {"type": "array", "items": {"type": "object", "properties": {
                "value": {"type": "string"}, "person_id": text(), "person_name": text(),
                "actor": {"type": "string"}, "device": device_info.clone(), "time": time(),
                "shown": {"type": "boolean"}
            }}}
        }},
        "HistoryRow": {"type": "object", "properties": {
            "hash": {"type": "string"}, "person_id": text(), "person_name": text(),
            "actor": {"type": "string"}, "device": device_info,
            "sent_by": {"type": "string"}, "device_time": time(), "received_at": time(),
            "late": {"type": "boolean", "description": "A late edit of the previous owner, accepted in the grace period"},
            "clock_skew": {"type": "boolean"}, "created": {"type": "boolean"},
            "visits_logged": {"type": "integer"}, "stages_moved": {"type": "integer"},
            "fields": {"type": "array", "items": {"type": "string"}}
        }},
        "ActivityReport": {"type": "object", "properties": {
            "period": {"enum": ["day", "week", "month"]},
            "from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"},
            "utc_offset_minutes": {"type": "integer"},
            "reps": page_of("RepActivity")
        }},
        "RepActivity": {"type": "object", "properties": {
            "person_id": {"type": "string"}, "name": {"type": "string"},
            "buckets": {"type": "array", "items": {"type": "object", "properties": bucket}},
            "totals": {"type": "object", "properties": counts}
        }},
        "HandoffRequest": {"type": "object", "required": ["territory", "from", "to", "reason"], "properties": {
            "territory": {"type": "string"},
            "from": {"type": "string", "description": "The expected current owner (a mismatch is 409 handoff.conflict)"},
            "to": {"type": "string", "description": "An active rep (else handoff.unknown_rep)"},
            "cards": {"type": ["array", "null"], "items": {"type": "string"}, "description": "null: the whole territory; else these cards move to target_territory"},
            "target_territory": text(),
            "reason": {"type": "string"}
        }},
        "SettingsView": {"type": "object", "required": ["revision", "settings"], "properties": {
            "revision": {"type": "integer", "minimum": 0},
            "settings": {"$ref": "#/components/schemas/CompanySettings"},
            "set_by": text(), "set_by_name": text(), "set_at": time()
        }},
        "SettingsUpdate": {"type": "object", "required": ["revision", "settings"], "properties": {
            "revision": {"type": "integer", "minimum": 0, "description": "The revision the editor read"},
            "settings": {"$ref": "#/components/schemas/CompanySettings"}
        }},
        "CompanySettings": {"type": "object", "additionalProperties": true,
            "description": "Sections abc, visits, route, credit, pipeline, product, duplicates; a missing key takes its default",
            "properties": {
                "abc": {"type": "object"}, "visits": {"type": "object"}, "route": {"type": "object"},
                "credit": {"type": "object"}, "pipeline": {"type": "object"},
                "product": {"type": "object"}, "duplicates": {"type": "object"}
        }},
        "AbcReport": {"type": "object", "additionalProperties": true, "properties": {
            "window": {"type": "array", "items": {"type": "string"}},
            "total_sales": {"type": "integer", "description": "fen"},
            "rows": {"type": "array", "items": {"type": "object", "properties": {
                "card": {"type": "string"}, "name": text(), "rank": {"type": "integer"},
                "window_sales": {"type": "integer"}, "monthly_average": {"type": "integer"},
                "share": {"type": "integer", "description": "ten-thousandths"},
                "cumulative_share": {"type": "integer"},
                "computed": {"enum": ["a", "b", "c", "d"]}, "manual": {"type": ["string", "null"]}
            }}}
        }},
        "HandoffPreview": {"type": "object", "additionalProperties": true},
        "HandoffOutcome": {"type": "object", "additionalProperties": true},
        "Assignment": {"type": "object", "properties": {
            "territory": {"type": "string"}, "card_id": text(), "from": text(),
            "to": {"type": "string"}, "decided_by": {"type": "string"},
            "reason": {"type": "string"}, "at": {}
        }},
        "ReviewPage": page_of("ReviewItem"),
        "ReviewItem": {"type": "object", "properties": {
            "id": {"type": "integer"}, "card_id": {"type": "string"}, "card_name": text(),
            "territory": {"type": "string"}, "device_id": {"type": "string"}, "device_name": text(),
            "person_id": {"type": "string"}, "received_at": {}, "changes": {"type": "integer"},
            "status": {"enum": ["pending", "accepted", "discarded"]},
            "decided_by": text(), "decided_at": {}
        }}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every route this module serves is in the document, with its method, and every
    /// `$ref` points at a component that exists.
    #[test]
    fn every_route_is_documented_and_every_ref_resolves() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        for (method, path) in ROUTES {
            assert!(
                doc["paths"][path][method].is_object(),
                "{method} {path} is not documented"
            );
        }
        fn refs(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    for (k, v) in m {
                        if k == "$ref" {
                            out.extend(v.as_str().map(str::to_owned));
                        } else {
                            refs(v, out);
                        }
                    }
                }
                Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(all.len() > 20);
        for r in all {
            let pointer = r.trim_start_matches('#');
            assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
        }
    }
}
