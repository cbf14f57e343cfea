//! Wire types of the sync protocol, shared by the sync server and the device client.
//!
//! This module owns the byte format of every sync body, so that the server and the device
//! can never disagree about it: both sides encode and decode through [`encode`] and
//! [`decode`] here and nowhere else.
//!
//! # Format
//! A body is the [postcard] encoding of one top-level message ([`SyncRequest`],
//! [`SyncResponse`], [`FallbackRequest`], [`FallbackResponse`]), compressed with gzip.
//! Every top-level message starts with its `protocol: u16` field, so [`decode`] can read the
//! version before it trusts the rest of the layout and answer a newer client with
//! [`WireError::UnsupportedVersion`] instead of a confusing decode failure.
//! Decompression is bounded ([`decode`]'s `max_decompressed` argument): a small gzip bomb
//! cannot make the reader allocate without limit. Nothing here panics on hostile input.
//!
//! Errors travel as JSON ([`ErrorBody`]) so that a human with `curl` can read them; the
//! `code` strings are stable identifiers (`"auth.bad_token"`, `"sync.bad_cursor"`, ...).
//!
//! # One round trip
//! A device sends one [`SyncRequest`]: its [`Cursor`] (the last log position it has seen,
//! as issued by the server) and, per card, the Automerge changes it made since the heads the
//! server last acknowledged (`doc.save_after(&acked_heads)`). The server answers with one
//! [`SyncResponse`]: acknowledgements, refusals, the changes of other devices after the
//! cursor, the new cursor, revoked cards, and the cards that must fall back to
//! `automerge::sync` through [`FallbackRequest`]s. When [`SyncResponse::more`] is true the
//! response was paged: call again with the new cursor (and no pushes) to get the rest.

use std::io::{Read, Write};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The version of this wire format. Sent first in every top-level message.
///
/// postcard is positional and [`decode`] refuses trailing bytes, so any field added to a
/// message (always at its end) raises the version. 2: `SyncResponse::server_time`.
/// 3: `SyncResponse::actors` and `SyncResponse::assignments`.
/// 4: `SyncRequest::settings_revision` and `SyncResponse::settings`.
pub const PROTOCOL_VERSION: u16 = 4;

/// The HTTP `Content-Type` of sync bodies (postcard, gzip-compressed).
pub const CONTENT_TYPE: &str = "application/vnd.fieldbook.sync+postcard-gzip";

/// The default bound on the decompressed size of one body (64 MiB).
pub const DEFAULT_MAX_DECOMPRESSED: usize = 64 * 1024 * 1024;

/// An Automerge change hash (SHA-256), as raw bytes.
pub type Hash = [u8; 32];

/// An opaque position in the server's change log, issued by the server.
///
/// The device stores it and sends it back unchanged; it never interprets it. The server
/// authenticates it (a MAC bound to the device), so a cursor it never issued, or one issued
/// to another device, is refused with `sync.bad_cursor`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor(pub Vec<u8>);

/// One sync request: the device's cursor and its unacknowledged changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// Must be [`PROTOCOL_VERSION`]; first field on the wire.
    pub protocol: u16,
    /// The cursor of the previous response, or `None` for a device's first sync (the server
    /// then sends every card in scope as a snapshot).
    pub cursor: Option<Cursor>,
    /// Changes made on the device since the server last acknowledged, per card.
    pub pushes: Vec<CardPush>,
    /// The largest response the device wants (uncompressed payload bytes); the server pages
    /// above it (it always sends at least one card, so progress is guaranteed). `None` lets
    /// the server choose.
    pub max_response_bytes: Option<u32>,
    /// The revision of the company settings the device holds (0: none yet, the built-in
    /// defaults); the server sends its settings only when its revision differs. Added in
    /// protocol version 4; last.
    pub settings_revision: u64,
}

/// The changes one card gained on the device since the server's last acknowledgement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardPush {
    /// The card's id (UUID v4 text).
    pub card_id: String,
    /// `doc.save_after(&acked_heads)`: Automerge changes in the storage format (a full
    /// `save()` is also accepted, e.g. for a new card).
    pub changes: Vec<u8>,
    /// The device's current heads for the card; acknowledged once the server holds them.
    pub heads: Vec<Hash>,
}

/// The answer to a [`SyncRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    /// Always [`PROTOCOL_VERSION`]; first field on the wire.
    pub protocol: u16,
    /// Pushes the server now holds: the device may record these heads as acknowledged.
    pub acks: Vec<CardAck>,
    /// Pushes the server refused; nothing of a refused card's push was stored.
    pub refused: Vec<CardRefusal>,
    /// Changes from other devices after the cursor (or whole documents), per card.
    pub changes: Vec<CardChanges>,
    /// The cursor to send next time.
    pub cursor: Cursor,
    /// True when the response was paged: sync again with [`Self::cursor`] to get the rest.
    pub more: bool,
    /// Cards the device may no longer hold (their territory left its scope): delete them.
    pub revoked: Vec<String>,
    /// Cards whose push depends on changes the server lacks: run `automerge::sync` for each
    /// through `POST /v1/fallback` ([`FallbackRequest`]).
    pub fallback: Vec<String>,
    /// The territories the device's person may write cards into now (sorted): where a
    /// card created on the device can go.
    pub territories: Vec<String>,
    /// The server's clock when it answered (Unix seconds): the device measures its own
    /// clock against it ([`crate::clock`]). Added in protocol version 2; last, as every
    /// field added to a message must be.
    pub server_time: Option<i64>,
    /// Who the actors of the delivered changes are (device name, person, role), so the
    /// device's history names devices instead of showing actor hex. Added in protocol
    /// version 3.
    pub actors: Vec<ActorInfo>,
    /// The assignment history of the delivered cards and of their territories (who held
    /// what, from when, who decided, why): the handover dossier. Added in protocol
    /// version 3.
    pub assignments: Vec<AssignmentRecord>,
    /// The company settings, when the server's revision differs from the one the device
    /// sent. Added in protocol version 4; last.
    pub settings: Option<SettingsPayload>,
}

/// The company settings as [`SyncResponse::settings`] carries them: JSON, so a setting
/// added later needs no new protocol version (see `crate::company`). The device bounds and
/// validates it before use; settings it refuses leave its previous ones in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsPayload {
    /// The server's revision of these settings.
    pub revision: u64,
    /// `CompanySettings` as JSON.
    pub json: String,
}

/// One entry of [`SyncResponse::actors`]: an Automerge actor bound to an enrolled device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorInfo {
    /// The actor id (raw bytes): a device's current actor or one it had before a re-key.
    pub actor: Vec<u8>,
    /// The name the device was enrolled with (演示手机).
    pub device_name: String,
    /// The person the device belongs to (the author of its changes).
    pub person_id: String,
    /// That person's display name.
    pub person_name: String,
    /// The device's role: `rep`, `manager` or `admin`.
    pub role: String,
}

/// One entry of [`SyncResponse::assignments`]: a territory, or one card of it, given to a
/// rep.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentRecord {
    /// The territory.
    pub territory: String,
    /// The card, when one card moved; `None` when the whole territory did.
    pub card_id: Option<String>,
    /// The previous holder, if any.
    pub from: Option<String>,
    /// The new holder.
    pub to: String,
    /// Who decided.
    pub decided_by: String,
    /// Why.
    pub reason: String,
    /// When (server time, Unix seconds).
    pub at: i64,
}

/// The server holds the pushed changes of one card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardAck {
    /// The card's id.
    pub card_id: String,
    /// The pushed heads, all now stored on the server.
    pub heads: Vec<Hash>,
}

/// A push the server refused, with a stable code (`access.denied`, `auth.actor_mismatch`,
/// `auth.author_mismatch`, `sync.bad_change`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardRefusal {
    /// The card's id, as pushed.
    pub card_id: String,
    /// A stable error code.
    pub code: String,
    /// A human-readable explanation (no personal data).
    pub message: String,
}

/// What the bytes of a [`CardChanges`] are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PayloadKind {
    /// A compacted document (`save()`): the device has no copy of this card yet (first
    /// sync, card created since the cursor, or a territory newly in scope).
    Snapshot,
    /// Concatenated changes in the storage format, to apply with `load_incremental`.
    Changes,
}

/// Changes (or a whole document) for one card from the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardChanges {
    /// The card's id.
    pub card_id: String,
    /// How to read [`Self::bytes`]; both load with `load_incremental`.
    pub kind: PayloadKind,
    /// The payload.
    pub bytes: Vec<u8>,
    /// The server's heads for the card: once the device has applied [`Self::bytes`] it
    /// holds all of them and may record them as acknowledged.
    pub heads: Vec<Hash>,
}

/// One `automerge::sync` message for a card that fell back (`POST /v1/fallback`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FallbackRequest {
    /// Must be [`PROTOCOL_VERSION`]; first field on the wire.
    pub protocol: u16,
    /// The card's id.
    pub card_id: String,
    /// An encoded `automerge::sync::Message`.
    pub message: Vec<u8>,
}

/// The server's answer to a [`FallbackRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FallbackResponse {
    /// Always [`PROTOCOL_VERSION`]; first field on the wire.
    pub protocol: u16,
    /// The server's next encoded `automerge::sync::Message`, or `None` when it has nothing
    /// more to say (the exchange is over once both sides have nothing to send).
    pub message: Option<Vec<u8>>,
    /// The server's heads for the card after applying the device's message.
    pub heads: Vec<Hash>,
}

/// `POST /v1/rekey`: bind a fresh Automerge actor to the calling device, after the server
/// refused a push with `sync.actor_reused` (the store was copied or restored, so its old
/// actor's sequence numbers are taken). Changes by the device's earlier actors stay
/// acceptable; the device's next pull, from any copy, is a full pass.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RekeyRequest {
    /// Must be [`PROTOCOL_VERSION`]; first field on the wire.
    pub protocol: u16,
    /// The new actor id (raw bytes), never used before by any device.
    pub actor: Vec<u8>,
}

/// The answer to a [`RekeyRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RekeyResponse {
    /// Always [`PROTOCOL_VERSION`]; first field on the wire.
    pub protocol: u16,
    /// How many times the device has been re-keyed, this one included.
    pub rekeys: u32,
}

/// `POST /v1/enrol` (JSON): redeem a one-time enrolment token for a device token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolRequest {
    /// The one-time enrolment token an administrator handed out.
    pub token: String,
    /// The device's Automerge actor id, hex: bound to the device from now on.
    pub actor: String,
}

/// The answer to [`EnrolRequest`] (JSON). The token is shown once and never again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolResponse {
    /// The new device's id.
    pub device_id: String,
    /// The device's long-lived bearer token (`Authorization: Bearer <token>`).
    pub token: String,
    /// The rep (or manager) the device belongs to: the Automerge author of its changes.
    pub rep_id: String,
    /// The device's role: `rep`, `manager` or `admin`.
    pub role: String,
    /// The server's id, to recognise a server whose data was replaced.
    pub server_id: String,
}

/// The JSON body of every HTTP error: `{"code": "auth.bad_token", "message": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A stable error code.
    pub code: String,
    /// A human-readable explanation (no personal data, no internal detail).
    pub message: String,
}

/// Why a body could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The body is not valid gzip, or is truncated.
    #[error("body is not valid gzip data or is truncated")]
    Compression,
    /// The body decompresses to more than the allowed size.
    #[error("body decompresses to more than {limit} bytes")]
    TooLarge {
        /// The bound that was exceeded.
        limit: usize,
    },
    /// The message was sent with a protocol version this build does not speak.
    #[error("protocol version {0} is not supported (this side speaks {PROTOCOL_VERSION})")]
    UnsupportedVersion(u16),
    /// The decompressed bytes are not a valid message.
    #[error("body is not a valid message: {0}")]
    Malformed(String),
    /// The message could not be encoded (never expected for these types).
    #[error("message could not be encoded: {0}")]
    Encode(String),
}

/// Encodes a top-level message: postcard, then gzip.
pub fn encode<T: Serialize>(message: &T) -> Result<Vec<u8>, WireError> {
    let raw = postcard::to_allocvec(message).map_err(|e| WireError::Encode(e.to_string()))?;
    let mut gz = flate2::write::GzEncoder::new(
        Vec::with_capacity(raw.len() / 2 + 32),
        flate2::Compression::fast(),
    );
    gz.write_all(&raw)
        .map_err(|e| WireError::Encode(e.to_string()))?;
    gz.finish().map_err(|e| WireError::Encode(e.to_string()))
}

/// Decodes a top-level message: gunzip (at most `max_decompressed` bytes), check the
/// protocol version, then postcard. Never panics on hostile input.
pub fn decode<T: DeserializeOwned>(body: &[u8], max_decompressed: usize) -> Result<T, WireError> {
    let raw = decompress(body, max_decompressed)?;
    let (version, _) =
        postcard::take_from_bytes::<u16>(&raw).map_err(|e| WireError::Malformed(e.to_string()))?;
    if version != PROTOCOL_VERSION {
        return Err(WireError::UnsupportedVersion(version));
    }
    let (message, rest) =
        postcard::take_from_bytes::<T>(&raw).map_err(|e| WireError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(WireError::Malformed(format!(
            "{} unexpected trailing bytes",
            rest.len()
        )));
    }
    Ok(message)
}

fn decompress(body: &[u8], max_decompressed: usize) -> Result<Vec<u8>, WireError> {
    let limit = u64::try_from(max_decompressed)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|_| WireError::Compression)?;
    if out.len() > max_decompressed {
        return Err(WireError::TooLarge {
            limit: max_decompressed,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> SyncRequest {
        SyncRequest {
            protocol: PROTOCOL_VERSION,
            cursor: Some(Cursor(vec![1, 2, 3])),
            pushes: vec![CardPush {
                card_id: "c1".into(),
                changes: vec![0x85, 0x6f, 0x4a, 0x83],
                heads: vec![[7; 32]],
            }],
            max_response_bytes: Some(1024),
            settings_revision: 3,
        }
    }

    #[test]
    fn round_trips() {
        let req = request();
        let bytes = encode(&req).expect("encode");
        let back: SyncRequest = decode(&bytes, DEFAULT_MAX_DECOMPRESSED).expect("decode");
        assert_eq!(back, req);
    }

    #[test]
    fn unknown_version_is_reported_as_such() {
        let mut req = request();
        req.protocol = 99;
        let bytes = encode(&req).expect("encode");
        let err = decode::<SyncRequest>(&bytes, DEFAULT_MAX_DECOMPRESSED)
            .expect_err("an unknown version is refused");
        assert!(matches!(err, WireError::UnsupportedVersion(99)), "{err}");
    }

    #[test]
    fn truncated_and_garbage_bodies_are_errors() {
        let bytes = encode(&request()).expect("encode");
        for cut in 0..bytes.len() {
            assert!(decode::<SyncRequest>(&bytes[..cut], DEFAULT_MAX_DECOMPRESSED).is_err());
        }
        assert!(matches!(
            decode::<SyncRequest>(b"not gzip at all", DEFAULT_MAX_DECOMPRESSED),
            Err(WireError::Compression)
        ));
    }

    #[test]
    fn decompressed_size_is_bounded() {
        let big = SyncRequest {
            pushes: vec![CardPush {
                card_id: "c".into(),
                changes: vec![0; 100_000],
                heads: vec![],
            }],
            ..request()
        };
        let bytes = encode(&big).expect("encode");
        assert!(bytes.len() < 2_000, "zeros compress well");
        assert!(matches!(
            decode::<SyncRequest>(&bytes, 10_000),
            Err(WireError::TooLarge { limit: 10_000 })
        ));
    }
}
