//! Console sessions: login verification against the key store, the session
//! table (in memory: a restart logs everyone out, which is the safe default),
//! CSRF tokens and the throttle on failed logins.
//!
//! A session is a 256-bit random token in an HttpOnly cookie. It names an
//! access key, not a copy of it: every request looks the key up again, so
//! deleting a key ends its sessions at once and a changed policy applies on the
//! next click.

use crate::keys::{ActiveKey, KeyStore};
use rand::Rng;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// A session unused for this long is gone.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(12 * 3600);
/// A session older than this is gone however busy it is.
pub const MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// Bound on live sessions: a flood of logins cannot grow memory without end.
const MAX_SESSIONS: usize = 10_000;
/// Failed logins tolerated per [`FAILURE_WINDOW`] before logins are refused
/// for the rest of the window (server-wide: the server does not see client
/// addresses behind a proxy, and guessing a 40-character secret is hopeless
/// at this rate anyway).
pub const MAX_FAILURES: usize = 20;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// One logged-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    pub access_key_id: String,
    pub csrf: String,
    created: Instant,
    last_seen: Instant,
}

/// Why a login was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginError {
    BadCredentials,
    Throttled,
}

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<String, Session>,
    failures: VecDeque<Instant>,
}

/// The session table (cheap to share; lives in [`crate::state::AppState`]).
#[derive(Debug, Default)]
pub struct Sessions {
    inner: Mutex<Inner>,
}

/// 32 random bytes as 64 hex digits.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill(&mut b);
    hex::encode(b)
}

/// Equality that takes the same time wherever the strings differ (and
/// whatever their lengths: both sides are hashed to 32 bytes first).
pub fn secrets_match(a: &str, b: &str) -> bool {
    let (ha, hb) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    ha.as_slice().ct_eq(hb.as_slice()).into()
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Checks an access key id + secret and opens a session: `(token, session)`.
    pub fn login(
        &self,
        keys: &KeyStore,
        access_key_id: &str,
        secret: &str,
    ) -> Result<(String, Session), LoginError> {
        let now = Instant::now();
        {
            let mut inner = self.lock();
            while inner
                .failures
                .front()
                .is_some_and(|t| now.duration_since(*t) > FAILURE_WINDOW)
            {
                inner.failures.pop_front();
            }
            if inner.failures.len() >= MAX_FAILURES {
                return Err(LoginError::Throttled);
            }
        }
        let key = keys.lookup(access_key_id.trim());
        // An unknown id is compared against a dummy secret so both failures
        // take the same time.
        let expected = key.as_ref().map(|k| k.secret.as_str()).unwrap_or("\0");
        let ok = secrets_match(expected, secret) && key.is_some();
        let mut inner = self.lock();
        let Some(key) = key.filter(|_| ok) else {
            inner.failures.push_back(now);
            return Err(LoginError::BadCredentials);
        };
        inner.sessions.retain(|_, s| alive(s, now));
        if inner.sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = inner
                .sessions
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(t, _)| t.clone())
        {
            inner.sessions.remove(&oldest);
        }
        let session = Session {
            access_key_id: key.access_key_id.clone(),
            csrf: random_token(),
            created: now,
            last_seen: now,
        };
        let token = random_token();
        inner.sessions.insert(token.clone(), session.clone());
        Ok((token, session))
    }

    /// The live session of `token` (touching it) and its key, if the key
    /// still exists.
    pub fn get(&self, keys: &KeyStore, token: &str) -> Option<(Session, Arc<ActiveKey>)> {
        let now = Instant::now();
        let mut inner = self.lock();
        let session = inner.sessions.get_mut(token)?;
        if !alive(session, now) {
            inner.sessions.remove(token);
            return None;
        }
        session.last_seen = now;
        let session = session.clone();
        match keys.lookup(&session.access_key_id) {
            Some(key) => Some((session, key)),
            None => {
                inner.sessions.remove(token);
                None
            }
        }
    }

    pub fn logout(&self, token: &str) {
        self.lock().sessions.remove(token);
    }
}

fn alive(s: &Session, now: Instant) -> bool {
    now.duration_since(s.last_seen) < IDLE_TIMEOUT && now.duration_since(s.created) < MAX_AGE
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::MetaStore;

    fn store(dir: &std::path::Path) -> KeyStore {
        let meta = Arc::new(MetaStore::open(&dir.join("meta.redb")).unwrap());
        let keys = KeyStore::open(meta, &dir.join("master.key")).unwrap();
        keys.insert(
            "AKIDCONSOLETEST00001",
            "console-test-secret-1",
            "t",
            "admin",
        )
        .unwrap();
        keys
    }

    #[test]
    fn login_needs_the_exact_secret_and_sessions_follow_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let keys = store(dir.path());
        let s = Sessions::default();
        let id = "AKIDCONSOLETEST00001";
        assert_eq!(
            s.login(&keys, id, "console-test-secret-").unwrap_err(),
            LoginError::BadCredentials
        );
        assert_eq!(
            s.login(&keys, "AKIDNOSUCHKEY0000001", "x").unwrap_err(),
            LoginError::BadCredentials
        );
        let (token, session) = s.login(&keys, id, "console-test-secret-1").unwrap();
        assert_eq!(token.len(), 64);
        assert_ne!(token, session.csrf);
        assert_eq!(s.get(&keys, &token).unwrap().1.access_key_id, id);
        assert!(s.get(&keys, "nope").is_none());
        keys.delete(id).unwrap();
        assert!(
            s.get(&keys, &token).is_none(),
            "a deleted key ends its sessions"
        );
    }

    #[test]
    fn logout_ends_a_session() {
        let dir = tempfile::tempdir().unwrap();
        let keys = store(dir.path());
        let s = Sessions::default();
        let (token, _) = s
            .login(&keys, "AKIDCONSOLETEST00001", "console-test-secret-1")
            .unwrap();
        s.logout(&token);
        assert!(s.get(&keys, &token).is_none());
    }

    #[test]
    fn failures_are_throttled() {
        let dir = tempfile::tempdir().unwrap();
        let keys = store(dir.path());
        let s = Sessions::default();
        for _ in 0..MAX_FAILURES {
            assert_eq!(
                s.login(&keys, "AKIDCONSOLETEST00001", "wrong").unwrap_err(),
                LoginError::BadCredentials
            );
        }
        assert_eq!(
            s.login(&keys, "AKIDCONSOLETEST00001", "console-test-secret-1")
                .unwrap_err(),
            LoginError::Throttled
        );
    }

    #[test]
    fn sessions_expire_when_idle_or_old() {
        let now = Instant::now();
        let ago = |d: Duration| now.checked_sub(d).unwrap_or(now);
        let s = |created, last_seen| Session {
            access_key_id: "k".into(),
            csrf: "c".into(),
            created,
            last_seen,
        };
        let hour = Duration::from_secs(3600);
        assert!(alive(&s(ago(hour), ago(hour)), now));
        if ago(IDLE_TIMEOUT + hour) != now {
            assert!(!alive(
                &s(ago(IDLE_TIMEOUT + hour), ago(IDLE_TIMEOUT + hour)),
                now
            ));
        }
        if ago(MAX_AGE + hour) != now {
            assert!(!alive(&s(ago(MAX_AGE + hour), ago(hour)), now));
        }
    }

    #[test]
    fn secret_comparison() {
        assert!(secrets_match("abc", "abc"));
        assert!(!secrets_match("abc", "abd"));
        assert!(!secrets_match("abc", "abcd"));
    }
}
