//! The HTTP surface: routes, extractors, the observe middleware, and nothing else.
//!
//! Handlers are thin: authenticate, decode, hand the work to the engine on a blocking
//! thread (`spawn_blocking`: SQLite and Automerge both block), encode. At most
//! `Config::max_concurrent_work` requests run blocking work at once; the rest wait in
//! arrival order without holding a thread or a database connection. Every failure goes
//! through [`Error`]'s single `IntoResponse`. The middleware gives every request an id
//! (echoed in `x-request-id`), a tracing span, and a place in the metrics; logs carry ids,
//! codes and counts, never card content or names.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Extension, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fieldbook_core::sync::wire::{
    self, EnrolRequest, EnrolResponse, FallbackRequest, RekeyRequest, SyncRequest,
};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Deserialize;
use tokio::sync::OwnedSemaphorePermit;
use tower_http::timeout::TimeoutLayer;
use tracing::Instrument;

use crate::AppState;
use crate::admin;
use crate::auth::authenticate;
use crate::error::{Error, ErrorCode, Result};
use crate::limits;
use crate::metrics::Event;
use crate::storage::{Device, PersonKind, Role, Storage, Territory};

/// Largest JSON body (enrolment, administration): these are a few short strings, and the
/// enrolment route is open to anyone.
const JSON_BODY_LIMIT: usize = 64 * 1024;

/// Builds the router over a state.
///
/// Layers, outermost first: `observe` (request id, span, metrics, `nosniff`), the
/// whole-request timeout, the JSON body limit; authenticated routes then run
/// `authenticated`, which checks the bearer token from the headers before any handler,
/// and so before any body, is read.
pub fn router(state: AppState) -> Router {
    let config = state.config.clone();
    let public = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/v1/enrol", post(enrol));
    let authenticated_routes = Router::new()
        .route("/v1/sync", post(sync))
        .route("/v1/fallback", post(fallback))
        .route("/v1/rekey", post(rekey))
        .route("/v1/cards/{card_id}", get(card))
        .route("/v1/admin/reps", post(admin_add_rep))
        .route("/v1/admin/managers", post(admin_add_manager))
        .route(
            "/v1/admin/territories",
            post(admin_add_territory).get(admin_territories),
        )
        .route(
            "/v1/admin/territories/{territory_id}/assign",
            post(admin_assign),
        )
        .route("/v1/admin/enrolments", post(admin_enrol))
        .route("/v1/admin/devices", get(admin_devices))
        .route("/v1/admin/devices/{device_id}/revoke", post(admin_revoke))
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticated));
    public
        .merge(authenticated_routes)
        .merge(crate::manager::api::routes())
        .merge(crate::web::routes())
        .merge(crate::handoff::api::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(
            JSON_BODY_LIMIT.min(config.max_body_bytes),
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Authenticates from the headers alone and hands the [`Device`] to the handler as an
/// extension; an unauthenticated request is answered before a byte of its body is read.
async fn authenticated(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response> {
    let device = device(&state, request.headers()).await?;
    request.extensions_mut().insert(device);
    Ok(next.run(request).await)
}

static REQUEST_IDS: AtomicU64 = AtomicU64::new(1);

async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let id = REQUEST_IDS.fetch_add(1, Ordering::Relaxed);
    let span = tracing::info_span!(
        "request",
        id,
        method = %request.method(),
        path = %request.uri().path()
    );
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    if response.status() == StatusCode::REQUEST_TIMEOUT
        && response.extensions().get::<ErrorCode>().is_none()
    {
        let body = wire::ErrorBody {
            code: "request.timeout".into(),
            message: "the request took too long".into(),
        };
        response = (StatusCode::REQUEST_TIMEOUT, Json(body)).into_response();
        response
            .extensions_mut()
            .insert(ErrorCode("request.timeout"));
    }
    let code = response.extensions().get::<ErrorCode>().map(|c| c.0);
    let latency = started.elapsed();
    state.metrics.request(latency, code);
    if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
        response.headers_mut().insert("x-request-id", v);
    }
    // Bodies are binary or JSON with an exact type; a browser must never guess another.
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            code = code.unwrap_or(""),
            latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
            "done"
        )
    });
    response
}

async fn not_found() -> Error {
    Error::NoRoute
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        state.metrics.render(),
    )
}

/// Runs blocking work (storage, Automerge) off the async threads, once one of the
/// [`Config::max_concurrent_work`](crate::Config::max_concurrent_work) slots is free (in
/// arrival order). The slot goes with the work: a request abandoned by its client or the
/// timeout frees it only when its blocking work is done, so the bound holds for threads.
pub(crate) async fn blocking<T, F>(state: &AppState, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&dyn Storage) -> Result<T> + Send + 'static,
{
    let slot = state
        .work_slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| Error::Internal("work slots closed".into()))?;
    let storage = state.storage.clone();
    tokio::task::spawn_blocking(move || {
        let out = f(storage.as_ref());
        drop(slot);
        out
    })
    .await?
}

async fn device(state: &AppState, headers: &HeaderMap) -> Result<Device> {
    let header = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| Error::BadToken)?.to_owned()),
    };
    let now = state.now();
    blocking(state, move |s| authenticate(s, header.as_deref(), now)).await
}

fn require_admin(device: &Device) -> Result<()> {
    if device.role != Role::Admin {
        return Err(Error::AccessDenied);
    }
    Ok(())
}

/// Refuses a sync or fallback body that does not declare the wire format, before reading
/// it: no other parser is ever pointed at these bytes.
fn require_wire_type(headers: &HeaderMap) -> Result<()> {
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    match declared {
        Some(t) if t.trim().eq_ignore_ascii_case(wire::CONTENT_TYPE) => Ok(()),
        _ => Err(Error::UnsupportedMediaType(wire::CONTENT_TYPE)),
    }
}

/// A wire request (sync, fallback, rekey) past the checks that run before its work: the
/// content type, the device's one request in flight, the body read within its share of
/// the byte budget. `held` keeps the device's slot and the budget share until the work
/// is done, even if the client goes away meanwhile: move it into the blocking work.
struct Admitted {
    body: Bytes,
    held: (crate::limits::DeviceSlot, OwnedSemaphorePermit),
}

async fn admit(
    state: &AppState,
    device: &Device,
    headers: &HeaderMap,
    body: Body,
) -> Result<Admitted> {
    require_wire_type(headers)?;
    let slot = state.busy_devices.enter(&device.id)?;
    let (body, budget) = read_wire_body(state, headers, body).await?;
    Ok(Admitted {
        body,
        held: (slot, budget),
    })
}

/// Reads a wire body (sync, fallback) once the caller is authenticated: refuses a declared
/// length over `max_body_bytes` without reading, waits for the body's share of the
/// in-flight budget (`max_inflight_body_bytes`), then reads at most `max_body_bytes`. The
/// returned permit holds the share until the caller drops it.
async fn read_wire_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Bytes, OwnedSemaphorePermit)> {
    let limit = state.config.max_body_bytes;
    let declared = match headers.get(header::CONTENT_LENGTH) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|t| t.parse::<u64>().ok())
                .ok_or_else(|| Error::Malformed("Content-Length is not a number".into()))?,
        ),
    };
    let share = match declared {
        Some(n) if n > limit as u64 => return Err(Error::TooLarge),
        Some(n) => n,
        // Chunked: reserve the most it may be.
        None => limit as u64,
    };
    let share = u32::try_from(share).map_err(|_| Error::TooLarge)?;
    let permit = state
        .body_budget
        .clone()
        .acquire_many_owned(share)
        .await
        .map_err(|_| Error::Internal("body budget closed".into()))?;
    let bytes = Limited::new(body, limit)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<LengthLimitError>().is_some() {
                Error::TooLarge
            } else {
                Error::Malformed("could not read the body".into())
            }
        })?
        .to_bytes();
    Ok((bytes, permit))
}

pub(crate) fn json_body<T>(body: std::result::Result<Json<T>, JsonRejection>) -> Result<T> {
    match body {
        Ok(Json(v)) => Ok(v),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(Error::TooLarge),
        Err(e) => Err(Error::Malformed(e.body_text())),
    }
}

fn binary(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, wire::CONTENT_TYPE)], bytes).into_response()
}

async fn enrol(
    State(state): State<AppState>,
    body: std::result::Result<Json<EnrolRequest>, JsonRejection>,
) -> Result<Json<EnrolResponse>> {
    let request = json_body(body)?;
    let ttl = state.config.device_token_ttl_secs;
    let response = blocking(&state, move |s| {
        admin::redeem(s, &request.token, &request.actor, ttl)
    })
    .await?;
    state.metrics.event(Event::Enrolment);
    tracing::info!(device = %response.device_id, "device enrolled");
    Ok(Json(response))
}

async fn sync(
    State(state): State<AppState>,
    Extension(device): Extension<Device>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let Admitted { body, held } = admit(&state, &device, &headers, body).await?;
    let bytes_in = body.len() as u64;
    let max = state.config.max_decompressed_bytes;
    let max_pushes = state.config.max_pushes_per_request;
    let identity = state.identity.clone();
    let limits = state.config.sync_limits();
    let device_id = device.id.clone();
    let docs = state.docs.clone();
    let now = state.now();
    let (encoded, stats) = blocking(&state, move |s| {
        let _held = held;
        let request: SyncRequest = wire::decode(&body, max)?;
        limits::check_pushes(request.pushes.len(), max_pushes)?;
        let (response, stats) =
            crate::sync::sync(s, &docs, &identity, &device, request, limits, now)?;
        Ok((wire::encode(&response)?, stats))
    })
    .await?;
    state.metrics.event(Event::Sync {
        bytes_in,
        bytes_out: encoded.len() as u64,
        appended: stats.changes_appended as u64,
        sent: stats.cards_sent as u64,
        refused: stats.cards_refused as u64,
    });
    tracing::info!(
        device = %device_id,
        bytes_in,
        bytes_out = encoded.len(),
        acked = stats.cards_acked,
        refused = stats.cards_refused,
        appended = stats.changes_appended,
        sent = stats.cards_sent,
        "sync"
    );
    Ok(binary(encoded))
}

async fn fallback(
    State(state): State<AppState>,
    Extension(device): Extension<Device>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let Admitted { body, held } = admit(&state, &device, &headers, body).await?;
    let bytes_in = body.len() as u64;
    let max = state.config.max_decompressed_bytes;
    let docs = state.docs.clone();
    let now = state.now();
    let encoded = blocking(&state, move |s| {
        let _held = held;
        let request: FallbackRequest = wire::decode(&body, max)?;
        let response = crate::fallback::fallback(s, &docs, &device, request, now)?;
        Ok(wire::encode(&response)?)
    })
    .await?;
    state.metrics.event(Event::Fallback {
        bytes_in,
        bytes_out: encoded.len() as u64,
    });
    Ok(binary(encoded))
}

/// `POST /v1/rekey`: binds a fresh actor to the calling device (see [`crate::rekey`]).
/// Holds the device's sync slot, so it never runs beside one of the device's syncs.
async fn rekey(
    State(state): State<AppState>,
    Extension(device): Extension<Device>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let Admitted { body, held } = admit(&state, &device, &headers, body).await?;
    let max = state.config.max_decompressed_bytes;
    let device_id = device.id.clone();
    let now = state.now();
    let encoded = blocking(&state, move |s| {
        let _held = held;
        let request: RekeyRequest = wire::decode(&body, max)?;
        let response = crate::rekey::rekey(s, &device, &request, now)?;
        Ok(wire::encode(&response)?)
    })
    .await?;
    tracing::info!(device = %device_id, "device re-keyed");
    Ok(binary(encoded))
}

/// `GET /v1/cards/{id}`: the card's projection (current values as JSON), for the devices
/// whose scope holds it. Unknown and foreign cards get the same `access.denied`.
async fn card(
    State(state): State<AppState>,
    Extension(device): Extension<Device>,
    Path(card_id): Path<String>,
) -> Result<Json<serde_json::Value>> {
    let json = blocking(&state, move |s| {
        if device.role == Role::Admin {
            return Err(Error::AccessDenied);
        }
        let card = s.card(&card_id)?.ok_or(Error::AccessDenied)?;
        let scope = s.territories_of(&device.person_id, device.role)?;
        if !scope.contains(&card.territory) {
            return Err(Error::AccessDenied);
        }
        s.projection(&card_id)?.ok_or(Error::AccessDenied)
    })
    .await?;
    serde_json::from_str(&json)
        .map(Json)
        .map_err(|e| Error::Internal(format!("stored projection is not JSON: {e}")))
}

/// `POST /v1/admin/reps` and `/v1/admin/managers` body.
#[derive(Debug, Deserialize)]
struct PersonBody {
    id: String,
    name: String,
}

async fn add_person(
    state: AppState,
    device: Device,
    body: std::result::Result<Json<PersonBody>, JsonRejection>,
    kind: PersonKind,
) -> Result<StatusCode> {
    require_admin(&device)?;
    let body = json_body(body)?;
    blocking(&state, move |s| {
        admin::add_person(s, &body.id, &body.name, kind)
    })
    .await?;
    Ok(StatusCode::CREATED)
}

async fn admin_add_rep(
    State(state): State<AppState>,
    Extension(device): Extension<Device>,
    body: std::result::Result<Json<PersonBody>, JsonRejection>,
) -> Result<StatusCode> {
    add_person(state, device, body, PersonKind::Rep).await
}

async fn admin_add_manager(
    State(state): State<AppState>,
    Extension(device): Extension<Device>,
    body: std::result::Result<Json<PersonBody>, JsonRejection>,
) -> Result<StatusCode> {
    add_person(state, device, body, PersonKind::Manager).await
}

/// `POST /v1/admin/territories` body.
#[derive(Debug, Deserialize)]
struct TerritoryBody {
    id: String,
    name: String,
    manager: Option<String>,
}

async fn admin_add_territory(
    State(state): State<AppState>,
    Extension(device): Extension<Device>,
    body: std::result::Result<Json<TerritoryBody>, JsonRejection>,
) -> Result<StatusCode> {
    require_admin(&device)?;
    let body = json_body(body)?;
    blocking(&state, move |s| {
        admin::add_territory(s, &body.id, &body.name, body.manager.as_deref())
    })
    .await?;
    Ok(StatusCode::CREATED)
}

/// A territory in admin listings.
#[derive(Debug, serde::Serialize)]
struct TerritoryView {
    id: String,
    name: String,
    owner: Option<String>,
    manager: Option<String>,
}

impl From<Territory> for TerritoryView {
    fn from(t: Territory) -> Self {
        TerritoryView {
            id: t.id,
            name: t.name,
            owner: t.owner,
            manager: t.manager,
        }
    }
}

async fn admin_territories(
    State(state): State<AppState>,
    Extension(device): Extension<Device>,
) -> Result<Json<Vec<TerritoryView>>> {
    require_admin(&device)?;
    let list = blocking(&state, |s| s.territories()).await?;
    Ok(Json(list.into_iter().map(TerritoryView::from).collect()))
}

/// `POST /v1/admin/territories/{id}/assign` body.
#[derive(Debug, Deserialize)]
struct AssignBody {
    rep: String,
}

async fn admin_assign(
    State(state): State<AppState>,
    Extension(device): Extension<Device>,
    Path(territory_id): Path<String>,
    body: std::result::Result<Json<AssignBody>, JsonRejection>,
) -> Result<StatusCode> {
    require_admin(&device)?;
    let body = json_body(body)?;
    blocking(&state, move |s| {
        admin::assign_territory(s, &territory_id, &body.rep)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/admin/enrolments` body.
#[derive(Debug, Deserialize)]
struct EnrolBody {
    person: String,
    role: String,
    name: String,
}

async fn admin_enrol(
    State(state): State<AppState>,
    Extension(device): Extension<Device>,
    body: std::result::Result<Json<EnrolBody>, JsonRejection>,
) -> Result<(StatusCode, Json<admin::Enrolment>)> {
    require_admin(&device)?;
    let body = json_body(body)?;
    let role = Role::parse(&body.role)?;
    let enrolment = blocking(&state, move |s| {
        admin::enrol_device(s, &body.person, role, &body.name)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(enrolment)))
}

/// A device in admin listings (never its token hash).
#[derive(Debug, serde::Serialize)]
struct DeviceView {
    id: String,
    name: String,
    person: String,
    role: &'static str,
    actor: String,
    revoked: bool,
    created_at: i64,
    last_sync_at: Option<i64>,
}

async fn admin_devices(
    State(state): State<AppState>,
    Extension(device): Extension<Device>,
) -> Result<Json<Vec<DeviceView>>> {
    require_admin(&device)?;
    let list = blocking(&state, |s| s.devices()).await?;
    Ok(Json(
        list.into_iter()
            .map(|d| DeviceView {
                id: d.id,
                name: d.name,
                person: d.person_id,
                role: d.role.as_str(),
                actor: hex::encode(d.actor),
                revoked: d.revoked,
                created_at: d.created_at,
                last_sync_at: d.last_sync_at,
            })
            .collect(),
    ))
}

async fn admin_revoke(
    State(state): State<AppState>,
    Extension(device): Extension<Device>,
    Path(device_id): Path<String>,
) -> Result<StatusCode> {
    require_admin(&device)?;
    blocking(&state, move |s| admin::revoke_device(s, &device_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
