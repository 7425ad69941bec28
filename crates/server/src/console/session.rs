//! Console sessions: login verification against the key store, the session
//! table (in memory: a restart logs everyone out, which is the safe default),
//! CSRF tokens and the throttle on failed logins (per client address).
//!
//! A session is a 256-bit random token in an HttpOnly cookie. It names an
//! access key, not a copy of it: every request looks the key up again, so
//! deleting a key ends its sessions at once and a changed policy applies on the
//! next click.

use crate::keys::{ActiveKey, KeyStore};
use crate::policy::Policy;
use rand::Rng;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// A session unused for this long is gone.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(12 * 3600);
/// A session older than this is gone however busy it is.
pub const MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// Bound on live sessions: a flood of logins cannot grow memory without end.
const MAX_SESSIONS: usize = 10_000;
/// Failed logins tolerated from one client per [`FAILURE_WINDOW`] before its
/// logins are refused for the rest of the window. Per client address, so a
/// guesser elsewhere cannot lock the admin out; behind a reverse proxy every
/// browser has the proxy's address and shares one allowance. (Guessing a
/// 40-character secret is hopeless at this rate anyway.)
pub const MAX_FAILURES: usize = 20;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Bound on the client addresses the throttle remembers (each at most
/// [`MAX_FAILURES`] instants): a flood from many addresses cannot grow memory.
const MAX_CLIENTS: usize = 4096;

/// One logged-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    pub access_key_id: String,
    pub csrf: String,
    created: Instant,
    last_seen: Instant,
}

/// Why a login was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginError {
    BadCredentials,
    Throttled,
    /// The key is right but its policy reads nothing the console shows (an
    /// `agent` key): every page would fail. Carries the policy's name.
    CannotRead(String),
}

/// Who the throttle counts failures for: an IPv4 address, or an IPv6 /64
/// (one host usually holds a whole /64). `None` (no peer address known)
/// is one shared client.
type Client = Option<IpAddr>;

fn client_of(peer: Option<IpAddr>) -> Client {
    peer.map(|ip| match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    })
}

/// The reads the console's pages are made of; a key allowed none of them
/// cannot use it.
const CONSOLE_READS: [&str; 4] = [
    "cloudwatch:DescribeAlarms",
    "cloudwatch:ListMetrics",
    "cloudwatch:GetMetricData",
    "sns:ListTopics",
];

/// Whether `policy` lets the console show anything.
pub fn can_use_console(policy: &Policy) -> bool {
    CONSOLE_READS.iter().any(|a| policy.allows(a, "*"))
}

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<String, Session>,
    failures: HashMap<Client, VecDeque<Instant>>,
}

impl Inner {
    /// Whether `client` has used up its failures (forgetting expired ones).
    fn throttled(&mut self, client: Client, now: Instant) -> bool {
        let Some(times) = self.failures.get_mut(&client) else {
            return false;
        };
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) > FAILURE_WINDOW)
        {
            times.pop_front();
        }
        if times.is_empty() {
            self.failures.remove(&client);
            return false;
        }
        times.len() >= MAX_FAILURES
    }

    fn record_failure(&mut self, client: Client, now: Instant) {
        if !self.failures.contains_key(&client) && self.failures.len() >= MAX_CLIENTS {
            let recent = |t: &VecDeque<Instant>| {
                t.back()
                    .is_some_and(|l| now.duration_since(*l) <= FAILURE_WINDOW)
            };
            self.failures.retain(|_, t| recent(t));
            if self.failures.len() >= MAX_CLIENTS
                && let Some(stalest) = self
                    .failures
                    .iter()
                    .min_by_key(|(_, t)| t.back().copied())
                    .map(|(c, _)| *c)
            {
                self.failures.remove(&stalest);
            }
        }
        let times = self.failures.entry(client).or_default();
        times.push_back(now);
        if times.len() > MAX_FAILURES {
            times.pop_front();
        }
    }
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

    /// Checks an access key id + secret sent from `peer` (the client's
    /// address, as the socket sees it) and opens a session: `(token, session)`.
    pub fn login(
        &self,
        keys: &KeyStore,
        peer: Option<IpAddr>,
        access_key_id: &str,
        secret: &str,
    ) -> Result<(String, Session), LoginError> {
        let now = Instant::now();
        let client = client_of(peer);
        if self.lock().throttled(client, now) {
            return Err(LoginError::Throttled);
        }
        let key = keys.lookup(access_key_id.trim());
        // An unknown id is compared against a dummy secret so both failures
        // take the same time.
        let expected = key.as_ref().map(|k| k.secret.as_str()).unwrap_or("\0");
        let ok = secrets_match(expected, secret) && key.is_some();
        let mut inner = self.lock();
        let Some(key) = key.filter(|_| ok) else {
            inner.record_failure(client, now);
            return Err(LoginError::BadCredentials);
        };
        // Said only to whoever proved the secret.
        if !can_use_console(&key.policy) {
            return Err(LoginError::CannotRead(key.policy.name.clone()));
        }
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

    const PEER: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1)));

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

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
        keys.insert("AKIDCONSOLEAGENT0001", "console-agent-secret", "a", "agent")
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
            s.login(&keys, PEER, id, "console-test-secret-")
                .unwrap_err(),
            LoginError::BadCredentials
        );
        assert_eq!(
            s.login(&keys, PEER, "AKIDNOSUCHKEY0000001", "x")
                .unwrap_err(),
            LoginError::BadCredentials
        );
        let (token, session) = s.login(&keys, PEER, id, "console-test-secret-1").unwrap();
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
            .login(&keys, PEER, "AKIDCONSOLETEST00001", "console-test-secret-1")
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
                s.login(&keys, PEER, "AKIDCONSOLETEST00001", "wrong")
                    .unwrap_err(),
                LoginError::BadCredentials
            );
        }
        assert_eq!(
            s.login(&keys, PEER, "AKIDCONSOLETEST00001", "console-test-secret-1")
                .unwrap_err(),
            LoginError::Throttled
        );
    }

    #[test]
    fn the_throttle_counts_per_client_address() {
        let dir = tempfile::tempdir().unwrap();
        let keys = store(dir.path());
        let s = Sessions::default();
        let id = "AKIDCONSOLETEST00001";
        for _ in 0..MAX_FAILURES {
            s.login(&keys, ip("127.0.0.2"), id, "wrong").unwrap_err();
        }
        assert_eq!(
            s.login(&keys, ip("127.0.0.2"), id, "console-test-secret-1")
                .unwrap_err(),
            LoginError::Throttled
        );
        // The same address spelled as IPv6 is the same client.
        assert_eq!(
            s.login(&keys, ip("::ffff:127.0.0.2"), id, "console-test-secret-1")
                .unwrap_err(),
            LoginError::Throttled
        );
        // Another address logs in.
        assert!(s.login(&keys, PEER, id, "console-test-secret-1").is_ok());
        // An IPv6 /64 counts as one client.
        for n in 0..MAX_FAILURES {
            let addr = format!("2001:db8:1:2::{:x}", n + 1);
            s.login(&keys, ip(&addr), id, "wrong").unwrap_err();
        }
        assert_eq!(
            s.login(&keys, ip("2001:db8:1:2::ffff"), id, "console-test-secret-1")
                .unwrap_err(),
            LoginError::Throttled
        );
        assert!(
            s.login(&keys, ip("2001:db8:1:3::1"), id, "console-test-secret-1")
                .is_ok()
        );
    }

    #[test]
    fn the_throttle_remembers_a_bounded_number_of_clients() {
        let mut inner = Inner::default();
        let now = Instant::now();
        for n in 0..(MAX_CLIENTS as u32 + 500) {
            let client = client_of(Some(IpAddr::V4(std::net::Ipv4Addr::from(n))));
            for _ in 0..MAX_FAILURES + 3 {
                inner.record_failure(client, now);
            }
        }
        assert_eq!(inner.failures.len(), MAX_CLIENTS);
        assert!(inner.failures.values().all(|t| t.len() == MAX_FAILURES));
    }

    #[test]
    fn a_key_that_cannot_read_cannot_log_in() {
        let dir = tempfile::tempdir().unwrap();
        let keys = store(dir.path());
        let s = Sessions::default();
        assert_eq!(
            s.login(&keys, PEER, "AKIDCONSOLEAGENT0001", "console-agent-secret")
                .unwrap_err(),
            LoginError::CannotRead("agent".into())
        );
        // Only after the secret is proven: a wrong one is just wrong.
        assert_eq!(
            s.login(&keys, PEER, "AKIDCONSOLEAGENT0001", "x")
                .unwrap_err(),
            LoginError::BadCredentials
        );
        assert!(s.lock().sessions.is_empty());
        assert!(can_use_console(&Policy::builtin("readonly").unwrap()));
        assert!(can_use_console(&Policy::builtin("admin").unwrap()));
        assert!(!can_use_console(&Policy::builtin("agent").unwrap()));
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
