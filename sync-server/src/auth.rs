//! Tokens, authentication and cursors: who is calling, and what they were told before.
//!
//! - Bearer tokens are 32 random bytes (hex, with a `fbd_` prefix for devices and `fbe_`
//!   for one-time enrolment tokens). The server stores only their SHA-256; a leaked
//!   database does not leak a usable token.
//! - [`authenticate`] maps an `Authorization` header to an enrolled, unrevoked, unexpired
//!   [`Device`], or to one of the `auth.*` errors.
//! - Cursors are issued by the server and authenticated with an HMAC-SHA256 keyed by a
//!   per-database secret and bound to the device id, so a forged cursor, or another
//!   device's, is refused (`sync.bad_cursor`) rather than trusted.

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};
use crate::storage::{Device, Storage};
use fieldbook_core::sync::wire::Cursor;

/// Prefix of device bearer tokens.
pub const DEVICE_TOKEN_PREFIX: &str = "fbd_";
/// Prefix of one-time enrolment tokens.
pub const ENROLMENT_TOKEN_PREFIX: &str = "fbe_";

/// A fresh random token with the given prefix.
pub fn new_token(prefix: &str) -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{prefix}{}", hex::encode(bytes))
}

/// The SHA-256 (hex) of a token: the only form the server stores.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Now, in unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The device behind an `Authorization` header value (blocking: reads storage).
pub fn authenticate(storage: &dyn Storage, header: Option<&str>, now: i64) -> Result<Device> {
    let header = header.ok_or(Error::MissingToken)?;
    let token = header
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| t.starts_with(DEVICE_TOKEN_PREFIX))
        .ok_or(Error::BadToken)?;
    let device = storage
        .device_by_token_hash(&hash_token(token))?
        .ok_or(Error::BadToken)?;
    if device.revoked {
        return Err(Error::Revoked);
    }
    if device.expires_at.is_some_and(|at| at <= now) {
        return Err(Error::ExpiredToken);
    }
    Ok(device)
}

/// HMAC-SHA256 (RFC 2104, RustCrypto `hmac`) over length-prefixed parts, so part
/// boundaries are bound too (`["ab", "c"]` and `["a", "bc"]` get different tags).
pub fn hmac_sha256(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = hmac_for(key);
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// A keyed HMAC-SHA256 state. HMAC takes keys of any length, so this cannot fail.
fn hmac_for(key: &[u8]) -> Hmac<Sha256> {
    match <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    }
}

/// What a cursor says: everything in the device's scope up to `position` was delivered,
/// and, when a pass was paged, the items up to `after` (by `(position, card id)`) too.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CursorState {
    /// All log entries and scope events up to here were delivered.
    pub position: u64,
    /// Within a paged pass: the sort key of the last item delivered.
    pub after: Option<(u64, String)>,
    /// The device's re-key count when the cursor was issued: a cursor from before a re-key
    /// starts a full pass (a copied or restored store may lack what the device itself
    /// pushed, which a pull never sends back).
    pub rekeys: u32,
}

const MAC_LEN: usize = 16;

/// Issues a cursor for a device.
pub fn issue_cursor(key: &[u8; 32], device_id: &str, state: &CursorState) -> Result<Cursor> {
    let mut body = postcard::to_allocvec(state).map_err(|e| Error::Internal(e.to_string()))?;
    let mac = hmac_sha256(key, &[b"fieldbook-cursor-v1", device_id.as_bytes(), &body]);
    body.extend_from_slice(&mac[..MAC_LEN]);
    Ok(Cursor(body))
}

/// Verifies a cursor was issued to this device by this server and reads it.
pub fn read_cursor(key: &[u8; 32], device_id: &str, cursor: &Cursor) -> Result<CursorState> {
    let bytes = &cursor.0;
    if bytes.len() < MAC_LEN {
        return Err(Error::BadCursor);
    }
    let (body, mac) = bytes.split_at(bytes.len() - MAC_LEN);
    let expected = hmac_sha256(key, &[b"fieldbook-cursor-v1", device_id.as_bytes(), body]);
    // Constant time: a forger learns nothing from how long the refusal took.
    if !bool::from(expected[..MAC_LEN].ct_eq(mac)) {
        return Err(Error::BadCursor);
    }
    postcard::from_bytes(body).map_err(|_| Error::BadCursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_is_bound_to_the_device() {
        let key = [9u8; 32];
        let state = CursorState {
            rekeys: 3,
            position: 42,
            after: Some((40, "card".into())),
        };
        let c = issue_cursor(&key, "dev-1", &state).expect("issue");
        assert_eq!(read_cursor(&key, "dev-1", &c).expect("read"), state);
        assert!(matches!(
            read_cursor(&key, "dev-2", &c),
            Err(Error::BadCursor)
        ));
        assert!(matches!(
            read_cursor(&[8; 32], "dev-1", &c),
            Err(Error::BadCursor)
        ));
        let mut forged = c.clone();
        forged.0[0] ^= 1;
        assert!(matches!(
            read_cursor(&key, "dev-1", &forged),
            Err(Error::BadCursor)
        ));
        assert!(matches!(
            read_cursor(&key, "dev-1", &Cursor(vec![1, 2])),
            Err(Error::BadCursor)
        ));
    }

    /// RFC 4231 test cases 1, 2, 3, 4, 6 and 7 (case 5 truncates the tag, covered by the
    /// cursor's own truncation), through the same keyed state the cursor MAC uses.
    #[test]
    fn hmac_matches_rfc_4231_vectors() {
        let cases: [(Vec<u8>, Vec<u8>, &str); 6] = [
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                vec![0xaa; 20],
                vec![0xdd; 50],
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            ),
            (
                (1u8..=25).collect(),
                vec![0xcd; 50],
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            ),
            (
                vec![0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                vec![0xaa; 131],
                b"This is a test using a larger than block-size key and a larger than \
                  block-size data. The key needs to be hashed before being used by the \
                  HMAC algorithm."
                    .to_vec(),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (key, data, tag) in cases {
            let mut mac = hmac_for(&key);
            mac.update(&data);
            assert_eq!(hex::encode(mac.finalize().into_bytes()), tag);
        }
    }

    #[test]
    fn hmac_separates_keys_messages_and_parts() {
        // Different keys and messages give different tags; equal inputs equal tags.
        let a = hmac_sha256(&[1; 32], &[b"x"]);
        assert_eq!(a, hmac_sha256(&[1; 32], &[b"x"]));
        assert_ne!(a, hmac_sha256(&[2; 32], &[b"x"]));
        assert_ne!(a, hmac_sha256(&[1; 32], &[b"y"]));
        // Part boundaries matter (length-prefixed).
        assert_ne!(
            hmac_sha256(&[1; 32], &[b"ab", b"c"]),
            hmac_sha256(&[1; 32], &[b"a", b"bc"])
        );
    }
}
