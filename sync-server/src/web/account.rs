//! Dashboard accounts without HTTP: passwords (argon2id), one-time login links, sessions,
//! and the per-person limit on failed logins.
//!
//! Shared by the login pages and the `fieldbook-server set-password` / `login-link`
//! subcommands. Every token (link, session) is 32 random bytes shown once and stored only
//! as its SHA-256. A wrong password, an unknown person and a person without a password
//! get the same answer after the same argon2 work, so the answer does not tell which
//! people exist.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::auth::{hash_token, new_token};
use crate::error::{Error, Result};
use crate::storage::{NewLoginLink, Person, PersonKind, Role, Storage, WebSession};
use crate::viewer::Viewer;

/// Prefix of one-time login links' tokens.
pub const LINK_TOKEN_PREFIX: &str = "fbl_";
/// Prefix of session cookie tokens.
pub const SESSION_TOKEN_PREFIX: &str = "fbw_";
/// How long a session lasts (12 hours: a working day, then sign in again).
pub const SESSION_SECS: i64 = 12 * 3600;
/// How long a login link stays valid (15 minutes).
pub const LINK_SECS: i64 = 15 * 60;
/// Failed logins a person may have within [`FAILURE_WINDOW_SECS`] before the next
/// attempt is refused without checking the password.
pub const MAX_FAILURES: u32 = 5;
/// The window of [`MAX_FAILURES`] (15 minutes).
pub const FAILURE_WINDOW_SECS: i64 = 15 * 60;
/// Shortest password accepted by `set-password`.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password looked at, in bytes: argon2's cost does not depend on it, but a
/// megabyte form field should be refused before it is copied around.
pub const MAX_PASSWORD_BYTES: usize = 256;

/// Why a login was refused.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown person, no password set, or a wrong password (one answer for all three).
    #[error("wrong person or password")]
    BadLogin,
    /// The right password of a rep: the dashboard is for managers and admins.
    #[error("only managers and admins may open the dashboard")]
    NotAManager,
    /// Too many failed attempts lately.
    #[error("too many failed logins; try again later")]
    RateLimited,
    /// A link that is unknown, spent or expired.
    #[error("the login link is unknown, used or expired")]
    BadLink,
    /// Storage failed.
    #[error(transparent)]
    Server(#[from] Error),
}

/// The argon2id parameters of new hashes: 19 MiB, 2 passes, 1 lane (OWASP's minimum).
fn hasher() -> Result<Argon2<'static>> {
    let params = Params::new(19 * 1024, 2, 1, None)
        .map_err(|e| Error::Internal(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The argon2id PHC string of a password, with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String> {
    let salt: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Internal(format!("salt: {e}")))?;
    hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("argon2: {e}")))
}

/// Whether `password` matches a stored PHC string (its own parameters are used).
fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash nobody's password matches, verified when there is no real one to check, so an
/// unknown person costs the same time as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let random = hex::encode(rand::random::<[u8; 16]>());
        hash_password(&random).unwrap_or_default()
    })
}

/// Sets a person's dashboard password (their open sessions end).
pub fn set_password(
    storage: &dyn Storage,
    person_id: &str,
    password: &str,
    now: i64,
) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::Invalid(format!(
            "a password needs at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::Invalid(format!(
            "a password has at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    storage
        .person(person_id)?
        .ok_or(Error::NotFound("person"))?;
    storage.set_web_password(person_id, &hash_password(password)?, now)
}

/// A one-time login link's token for a person (valid [`LINK_SECS`], spent when used).
pub fn login_link(storage: &dyn Storage, person_id: &str, now: i64) -> Result<String> {
    storage
        .person(person_id)?
        .ok_or(Error::NotFound("person"))?;
    let token = new_token(LINK_TOKEN_PREFIX);
    storage.create_login_link(&NewLoginLink {
        token_hash: hash_token(&token),
        person_id: person_id.to_owned(),
        expires_at: now.saturating_add(LINK_SECS),
    })?;
    Ok(token)
}

/// A session just opened: the cookie's token (shown once) and what is stored.
#[derive(Debug)]
pub struct Opened {
    /// The session cookie's value.
    pub token: String,
    /// The stored session (by the token's hash).
    pub session: WebSession,
}

/// Checks a person's password and opens a session, or says why not.
///
/// Refused without looking at the password once the person had [`MAX_FAILURES`] failures
/// in the last [`FAILURE_WINDOW_SECS`]; a failure is recorded for a person who exists.
/// A rep's correct password is [`LoginError::NotAManager`].
pub fn password_login(
    storage: &dyn Storage,
    person_id: &str,
    password: &str,
    now: i64,
) -> std::result::Result<Opened, LoginError> {
    let person = if crate::admin::validate_id("person", person_id).is_ok() {
        storage.person(person_id)?
    } else {
        None
    };
    if let Some(p) = &person
        && storage.login_failures(&p.id, now.saturating_sub(FAILURE_WINDOW_SECS))? >= MAX_FAILURES
    {
        return Err(LoginError::RateLimited);
    }
    let stored = match &person {
        Some(p) => storage.web_password(&p.id)?,
        None => None,
    };
    let matches = password.len() <= MAX_PASSWORD_BYTES
        && match &stored {
            Some(phc) => verify(password, phc),
            None => {
                verify(password, decoy_hash());
                false
            }
        };
    let Some(person) = person else {
        return Err(LoginError::BadLogin);
    };
    if !matches {
        storage.record_login_failure(&person.id, now, FAILURE_WINDOW_SECS)?;
        return Err(LoginError::BadLogin);
    }
    storage.clear_login_failures(&person.id)?;
    open_session(storage, &person, now)
}

/// Spends a login link and opens a session for its person.
pub fn link_login(
    storage: &dyn Storage,
    token: &str,
    now: i64,
) -> std::result::Result<Opened, LoginError> {
    if !token.starts_with(LINK_TOKEN_PREFIX) || token.len() > 128 {
        return Err(LoginError::BadLink);
    }
    let person_id = storage
        .redeem_login_link(&hash_token(token), now)?
        .ok_or(LoginError::BadLink)?;
    let person = storage.person(&person_id)?.ok_or(LoginError::BadLink)?;
    open_session(storage, &person, now)
}

/// The role a person signs in to the dashboard with: managers as managers; a rep, or a
/// deactivated person, never.
pub fn dashboard_role(person: &Person) -> Option<Role> {
    if !person.active {
        return None;
    }
    match person.kind {
        PersonKind::Manager => Some(Role::Manager),
        PersonKind::Rep => None,
    }
}

fn open_session(
    storage: &dyn Storage,
    person: &Person,
    now: i64,
) -> std::result::Result<Opened, LoginError> {
    if dashboard_role(person).is_none() {
        return Err(LoginError::NotAManager);
    }
    let token = new_token(SESSION_TOKEN_PREFIX);
    let session = WebSession {
        token_hash: hash_token(&token),
        person_id: person.id.clone(),
        csrf_token: hex::encode(rand::random::<[u8; 32]>()),
        created_at: now,
        expires_at: now.saturating_add(SESSION_SECS),
    };
    storage.create_web_session(&session)?;
    Ok(Opened { token, session })
}

/// The signed-in person behind a session cookie's token, if the session is live.
pub fn session_viewer(
    storage: &dyn Storage,
    token: &str,
    now: i64,
) -> Result<Option<(Viewer, Person, WebSession)>> {
    if !token.starts_with(SESSION_TOKEN_PREFIX) || token.len() > 128 {
        return Ok(None);
    }
    let Some(session) = storage.web_session(&hash_token(token), now)? else {
        return Ok(None);
    };
    let Some(person) = storage.person(&session.person_id)? else {
        return Ok(None);
    };
    let Some(role) = dashboard_role(&person) else {
        return Ok(None);
    };
    Ok(Some((
        Viewer::new(person.id.clone(), role)?,
        person,
        session,
    )))
}

/// Ends a session (logout).
pub fn end_session(storage: &dyn Storage, token: &str) -> Result<()> {
    storage.delete_web_session(&hash_token(token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sqlite::SqliteStorage;

    fn company() -> (tempfile::TempDir, SqliteStorage) {
        let dir = tempfile::tempdir().expect("dir");
        let s = SqliteStorage::open(&dir.path().join("s.db")).expect("open");
        crate::admin::add_person(&s, "wangfang", "王芳", PersonKind::Manager).expect("m");
        crate::admin::add_person(&s, "zhangwei", "张伟", PersonKind::Rep).expect("r");
        (dir, s)
    }

    #[test]
    fn hashes_are_argon2id_with_their_own_salt() {
        let a = hash_password("一个很长的密码 correct horse").expect("hash");
        let b = hash_password("一个很长的密码 correct horse").expect("hash");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b);
        assert!(verify("一个很长的密码 correct horse", &a));
        assert!(!verify("一个很长的密码 correct hors", &a));
        assert!(!verify("x", "not a phc string"));
    }

    #[test]
    fn a_password_logs_a_manager_in_and_a_rep_is_refused() {
        let (_d, s) = company();
        set_password(&s, "wangfang", "王芳的演示密码2026", 100).expect("set");
        set_password(&s, "zhangwei", "张伟的演示密码2026", 100).expect("set");
        assert!(matches!(
            set_password(&s, "wangfang", "短", 100),
            Err(Error::Invalid(_))
        ));
        let opened = password_login(&s, "wangfang", "王芳的演示密码2026", 200).expect("login");
        let (viewer, person, _) = session_viewer(&s, &opened.token, 201)
            .expect("lookup")
            .expect("live");
        assert_eq!((viewer.role, person.name.as_str()), (Role::Manager, "王芳"));
        assert!(
            session_viewer(&s, &opened.token, 200 + SESSION_SECS)
                .expect("lookup")
                .is_none()
        );
        assert!(matches!(
            password_login(&s, "zhangwei", "张伟的演示密码2026", 200),
            Err(LoginError::NotAManager)
        ));
        for (who, pw) in [
            ("wangfang", "wrong password!"),
            ("nobody", "王芳的演示密码2026"),
            ("<script>", "x"),
        ] {
            assert!(matches!(
                password_login(&s, who, pw, 200),
                Err(LoginError::BadLogin)
            ));
        }
        end_session(&s, &opened.token).expect("logout");
        assert!(
            session_viewer(&s, &opened.token, 201)
                .expect("lookup")
                .is_none()
        );
    }

    #[test]
    fn failed_logins_are_limited_per_person() {
        let (_d, s) = company();
        set_password(&s, "wangfang", "王芳的演示密码2026", 0).expect("set");
        for _ in 0..MAX_FAILURES {
            assert!(matches!(
                password_login(&s, "wangfang", "wrong password!", 10),
                Err(LoginError::BadLogin)
            ));
        }
        // Now even the right password is refused, until the window has passed.
        assert!(matches!(
            password_login(&s, "wangfang", "王芳的演示密码2026", 20),
            Err(LoginError::RateLimited)
        ));
        assert!(
            password_login(
                &s,
                "wangfang",
                "王芳的演示密码2026",
                11 + FAILURE_WINDOW_SECS
            )
            .is_ok()
        );
    }

    #[test]
    fn a_login_link_works_once_and_expires() {
        let (_d, s) = company();
        let token = login_link(&s, "wangfang", 1_000).expect("link");
        assert!(token.starts_with(LINK_TOKEN_PREFIX));
        assert!(link_login(&s, &token, 1_001).is_ok());
        assert!(matches!(
            link_login(&s, &token, 1_002),
            Err(LoginError::BadLink)
        ));
        let late = login_link(&s, "wangfang", 1_000).expect("link");
        assert!(matches!(
            link_login(&s, &late, 1_000 + LINK_SECS),
            Err(LoginError::BadLink)
        ));
        let rep = login_link(&s, "zhangwei", 1_000).expect("link");
        assert!(matches!(
            link_login(&s, &rep, 1_001),
            Err(LoginError::NotAManager)
        ));
        assert!(matches!(
            login_link(&s, "nobody", 1),
            Err(Error::NotFound(_))
        ));
    }
}
