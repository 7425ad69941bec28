//! Console sessions: login verification against the key store, the session
//! table, CSRF tokens and the throttle on failed logins (per client address).
//!
//! A session is a 256-bit random token in an HttpOnly cookie. It names an
//! access key, not a copy of it: every request looks the key up again, so
//! deleting a key ends its sessions at once and a changed policy applies on the
//! next click.
//!
//! **Single node** ([`Sessions::default`]): the table is in memory only, so a
//! restart logs everyone out, which is the safe default.
//!
//! **Cluster mode** ([`Sessions::shared`]): every session is also a record in
//! the metadata store (table [`SESSIONS`], shared by every node), so a browser
//! logged in on one node is logged in on all of them, with no sticky sessions
//! at the load balancer. The record is keyed by the SHA-256 of the token
//! (hex), never the token: whoever reads the database cannot take over a
//! session. Each node caches the sessions it serves:
//! - a cached session is served from memory, and re-read from the store at
//!   most every [`RECHECK`]: a logout on another node ends it here within
//!   that time;
//! - a session this node has not cached is read from the store (and must be
//!   alive there: idle timeout and maximum age as on one node);
//! - its last use is written back at most every [`TOUCH_EVERY`] (not on
//!   every click), so another node may count a session idle up to that much
//!   early;
//! - while the store cannot be reached (a PostgreSQL restart), cached
//!   sessions keep working from memory and uncached ones are refused;
//! - expired records are deleted by the node that next handles a login (at
//!   most once per [`SWEEP_EVERY`], at most [`SWEEP_MAX`] records), which
//!   also trims the table back to [`MAX_SESSIONS`] live sessions, least
//!   recently used first.
//!
//! The store calls block (PostgreSQL's sync client): callers on an async
//! runtime run a shared table's [`Sessions::get`], [`Sessions::login`] and
//! [`Sessions::logout`] on a blocking thread ([`Sessions::is_shared`]).

use crate::keys::{ActiveKey, KeyStore};
use crate::meta::{MetaStore, Table};
use crate::policy::Policy;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use subtle::ConstantTimeEq;

/// A session unused for this long is gone.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(12 * 3600);
/// A session older than this is gone however busy it is.
pub const MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// Bound on live sessions: a flood of logins cannot grow memory without end.
/// In cluster mode it bounds each node's cache and (at each sweep) the
/// shared table.
const MAX_SESSIONS: usize = 10_000;
/// Failed logins tolerated from one client per [`FAILURE_WINDOW`] before its
/// logins are refused for the rest of the window. Per client address, so a
/// guesser elsewhere cannot lock the admin out; behind a reverse proxy every
/// browser has the proxy's address and shares one allowance. (Guessing a
/// 40-character secret is hopeless at this rate anyway.) In cluster mode the
/// count is per node (in memory, not shared): a guesser spread over N nodes
/// gets N allowances, still hopeless against a 40-character secret.
pub const MAX_FAILURES: usize = 20;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Bound on the client addresses the throttle remembers (each at most
/// [`MAX_FAILURES`] instants): a flood from many addresses cannot grow memory.
const MAX_CLIENTS: usize = 4096;

/// Cluster mode: the shared session records, keyed by the hex SHA-256 of
/// the token.
pub const SESSIONS: Table = Table::new("console_sessions");
/// Cluster mode: a node re-reads a cached session from the store at most
/// this often (how fast a logout on another node takes effect here).
pub const RECHECK: Duration = Duration::from_secs(15);
/// Cluster mode: a session's last use is written to the store at most this
/// often.
pub const TOUCH_EVERY: Duration = Duration::from_secs(300);
/// Cluster mode: a node sweeps expired records at most this often (at a login).
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// Cluster mode: records one sweep deletes at most.
pub const SWEEP_MAX: usize = 1000;

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
    /// Cluster mode: the session could not be written to the metadata store.
    Unavailable,
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

/// A session as the metadata store keeps it (cluster mode). Times are unix
/// milliseconds, comparable across nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stored {
    access_key_id: String,
    csrf: String,
    created_ms: u64,
    last_seen_ms: u64,
}

impl Stored {
    fn alive(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.last_seen_ms) < millis(IDLE_TIMEOUT)
            && now_ms.saturating_sub(self.created_ms) < millis(MAX_AGE)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, millis)
}

/// The store's key for `token`: its SHA-256 in hex.
fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `token` has the form [`random_token`] makes (anything else is
/// not worth a trip to the store).
fn well_formed(token: &str) -> bool {
    token.len() == 64
        && token
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A session in a node's memory.
#[derive(Debug, Clone)]
struct Cached {
    session: Session,
    /// Cluster mode: what the store said, and when. Aliveness is then
    /// judged on `record`'s unix times (`session`'s instants only order
    /// this node's cache).
    synced: Option<Synced>,
}

#[derive(Debug, Clone)]
struct Synced {
    /// The record, with `last_seen_ms` the latest use this node knows of.
    record: Stored,
    /// `last_seen_ms` as the store has it (as last read or written here).
    stored_seen_ms: u64,
    /// When this node last read (or wrote) the record.
    checked: Instant,
}

impl Cached {
    fn live(&self, now: Instant, now_ms: u64) -> bool {
        match &self.synced {
            Some(s) => s.record.alive(now_ms),
            None => alive(&self.session, now),
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<String, Cached>,
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

    /// Makes room for one more session: forgets dead ones, then (still
    /// full) the least recently used one here.
    fn make_room(&mut self, now: Instant, now_ms: u64) {
        self.sessions.retain(|_, c| c.live(now, now_ms));
        if self.sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = self
                .sessions
                .iter()
                .min_by_key(|(_, c)| c.session.last_seen)
                .map(|(t, _)| t.clone())
        {
            self.sessions.remove(&oldest);
        }
    }
}

/// The session table (cheap to share; lives in [`crate::state::AppState`]).
#[derive(Debug, Default)]
pub struct Sessions {
    inner: Mutex<Inner>,
    /// Cluster mode: the store every node shares.
    shared: Option<Shared>,
}

#[derive(Debug)]
struct Shared {
    meta: Arc<MetaStore>,
    /// When this node last swept expired records.
    last_sweep: Mutex<Option<Instant>>,
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

/// What [`Sessions::get`] does after looking in memory.
enum Next {
    /// Cached and recently checked.
    Serve(Session),
    /// Cached, due for a re-read (and a write-back of its last use).
    Check { write: bool },
    /// Not cached here: read the store.
    Load,
}

impl Sessions {
    /// Sessions kept in `meta` as well as in memory, shared by every node
    /// using that store (cluster mode). Works on either backend.
    pub fn shared(meta: Arc<MetaStore>) -> Self {
        Sessions {
            inner: Mutex::default(),
            shared: Some(Shared {
                meta,
                last_sweep: Mutex::new(None),
            }),
        }
    }

    /// Whether [`Self::get`], [`Self::login`] and [`Self::logout`] may call
    /// the metadata store (and so block).
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

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
        self.login_at(keys, peer, access_key_id, secret, Instant::now(), unix_ms())
    }

    fn login_at(
        &self,
        keys: &KeyStore,
        peer: Option<IpAddr>,
        access_key_id: &str,
        secret: &str,
        now: Instant,
        now_ms: u64,
    ) -> Result<(String, Session), LoginError> {
        let client = client_of(peer);
        if self.lock().throttled(client, now) {
            return Err(LoginError::Throttled);
        }
        let key = keys.lookup(access_key_id.trim());
        // An unknown id is compared against a dummy secret so both failures
        // take the same time.
        let expected = key.as_ref().map(|k| k.secret.as_str()).unwrap_or("\0");
        let ok = secrets_match(expected, secret) && key.is_some();
        let Some(key) = key.filter(|_| ok) else {
            self.lock().record_failure(client, now);
            return Err(LoginError::BadCredentials);
        };
        // Said only to whoever proved the secret.
        if !can_use_console(&key.policy) {
            return Err(LoginError::CannotRead(key.policy.name.clone()));
        }
        let session = Session {
            access_key_id: key.access_key_id.clone(),
            csrf: random_token(),
            created: now,
            last_seen: now,
        };
        let token = random_token();
        let synced = match &self.shared {
            None => None,
            Some(shared) => {
                shared.sweep_if_due(now, now_ms);
                let record = Stored {
                    access_key_id: session.access_key_id.clone(),
                    csrf: session.csrf.clone(),
                    created_ms: now_ms,
                    last_seen_ms: now_ms,
                };
                if let Err(e) = shared.meta.put(SESSIONS, &token_hash(&token), &record) {
                    tracing::warn!(error = %e, "console login: cannot store the session");
                    return Err(LoginError::Unavailable);
                }
                Some(Synced {
                    record,
                    stored_seen_ms: now_ms,
                    checked: now,
                })
            }
        };
        let mut inner = self.lock();
        inner.make_room(now, now_ms);
        inner.sessions.insert(
            token.clone(),
            Cached {
                session: session.clone(),
                synced,
            },
        );
        Ok((token, session))
    }

    /// The live session of `token` (touching it) and its key, if the key
    /// still exists.
    pub fn get(&self, keys: &KeyStore, token: &str) -> Option<(Session, Arc<ActiveKey>)> {
        self.get_at(keys, token, Instant::now(), unix_ms())
    }

    fn get_at(
        &self,
        keys: &KeyStore,
        token: &str,
        now: Instant,
        now_ms: u64,
    ) -> Option<(Session, Arc<ActiveKey>)> {
        let Some(shared) = &self.shared else {
            return self.get_local(keys, token, now);
        };
        if !well_formed(token) {
            return None;
        }
        let next = {
            let mut inner = self.lock();
            match inner.sessions.get_mut(token) {
                Some(Cached {
                    session,
                    synced: Some(synced),
                }) if synced.record.alive(now_ms) => {
                    session.last_seen = now;
                    let seen = &mut synced.record.last_seen_ms;
                    *seen = (*seen).max(now_ms);
                    let write = now_ms.saturating_sub(synced.stored_seen_ms) >= millis(TOUCH_EVERY);
                    if write || now.saturating_duration_since(synced.checked) >= RECHECK {
                        // Claimed: requests meanwhile are served from memory.
                        synced.checked = now;
                        Next::Check { write }
                    } else {
                        Next::Serve(session.clone())
                    }
                }
                // Idle as far as this node knows: the store may know better.
                Some(_) => {
                    inner.sessions.remove(token);
                    Next::Load
                }
                None => Next::Load,
            }
        };
        let hash = token_hash(token);
        let session = match next {
            Next::Serve(session) => session,
            Next::Check { write } => {
                let read = if write {
                    touch(&shared.meta, &hash, now_ms)
                } else {
                    shared.meta.get::<Stored>(SESSIONS, &hash)
                };
                let mut inner = self.lock();
                let Some(cached) = inner.sessions.get_mut(token) else {
                    // Logged out here meanwhile.
                    return None;
                };
                match read {
                    Err(e) => {
                        // The store is unreachable (a PostgreSQL restart):
                        // serve from memory, check again later.
                        tracing::warn!(error = %e, "console session: cannot re-read it; serving it from memory");
                        cached.session.clone()
                    }
                    Ok(None) => {
                        // Logged out on another node (or swept).
                        inner.sessions.remove(token);
                        return None;
                    }
                    Ok(Some(stored)) => {
                        let synced = cached.synced.as_mut()?;
                        let mut record = stored.clone();
                        record.last_seen_ms = record.last_seen_ms.max(synced.record.last_seen_ms);
                        if !record.alive(now_ms) {
                            inner.sessions.remove(token);
                            return None;
                        }
                        cached.session.csrf = record.csrf.clone();
                        cached.session.access_key_id = record.access_key_id.clone();
                        synced.stored_seen_ms = stored.last_seen_ms;
                        synced.record = record;
                        cached.session.clone()
                    }
                }
            }
            Next::Load => {
                let stored = match shared.meta.get::<Stored>(SESSIONS, &hash) {
                    Ok(Some(s)) if s.alive(now_ms) => s,
                    Ok(_) => return None,
                    Err(e) => {
                        tracing::warn!(error = %e, "console session: cannot read it from the metadata store");
                        return None;
                    }
                };
                let stored = if now_ms.saturating_sub(stored.last_seen_ms) >= millis(TOUCH_EVERY) {
                    match touch(&shared.meta, &hash, now_ms) {
                        Ok(Some(s)) => s,
                        // Logged out meanwhile.
                        Ok(None) => return None,
                        Err(e) => {
                            tracing::warn!(error = %e, "console session: cannot record its use");
                            stored
                        }
                    }
                } else {
                    stored
                };
                let age = |ms: u64| {
                    now.checked_sub(Duration::from_millis(now_ms.saturating_sub(ms)))
                        .unwrap_or(now)
                };
                let session = Session {
                    access_key_id: stored.access_key_id.clone(),
                    csrf: stored.csrf.clone(),
                    created: age(stored.created_ms),
                    last_seen: now,
                };
                // Not cached for a key this node does not know (yet).
                keys.lookup(&session.access_key_id)?;
                let mut record = stored.clone();
                record.last_seen_ms = record.last_seen_ms.max(now_ms);
                let mut inner = self.lock();
                if !inner.sessions.contains_key(token) {
                    inner.make_room(now, now_ms);
                }
                inner.sessions.insert(
                    token.to_owned(),
                    Cached {
                        session: session.clone(),
                        synced: Some(Synced {
                            record,
                            stored_seen_ms: stored.last_seen_ms,
                            checked: now,
                        }),
                    },
                );
                session
            }
        };
        match keys.lookup(&session.access_key_id) {
            Some(key) => Some((session, key)),
            None => {
                // Only this node's copy: another node may know a new key
                // before this one does (keys reload within a second).
                self.lock().sessions.remove(token);
                None
            }
        }
    }

    /// The single-node `get`: memory only.
    fn get_local(
        &self,
        keys: &KeyStore,
        token: &str,
        now: Instant,
    ) -> Option<(Session, Arc<ActiveKey>)> {
        let mut inner = self.lock();
        let session = &mut inner.sessions.get_mut(token)?.session;
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

    /// Ends the session of `token`; in cluster mode on every node (the others
    /// notice within [`RECHECK`]). False when the store could not be told:
    /// the session then still works (on the other nodes, and here once
    /// re-read), so the caller should say so.
    pub fn logout(&self, token: &str) -> bool {
        self.lock().sessions.remove(token);
        let Some(shared) = &self.shared else {
            return true;
        };
        match shared.meta.delete(SESSIONS, &token_hash(token)) {
            Ok(_) => {
                // A concurrent read may have cached it again meanwhile.
                self.lock().sessions.remove(token);
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "console logout: cannot delete the stored session");
                false
            }
        }
    }
}

impl Shared {
    /// Sweeps the store unless this node did so less than [`SWEEP_EVERY`] ago.
    fn sweep_if_due(&self, now: Instant, now_ms: u64) {
        {
            let mut last = self.last_sweep.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|t| now.saturating_duration_since(t) < SWEEP_EVERY) {
                return;
            }
            *last = Some(now);
        }
        match sweep(&self.meta, now_ms, MAX_SESSIONS - 1) {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "console sessions: swept expired sessions"),
            Err(e) => tracing::warn!(error = %e, "console sessions: sweeping expired ones"),
        }
    }
}

/// Records a use of the session stored under `hash` at `now_ms`, in one
/// transaction: a session logged out meanwhile is not written back. The
/// record as stored after, or `None` when there is none.
fn touch(meta: &MetaStore, hash: &str, now_ms: u64) -> crate::meta::Result<Option<Stored>> {
    meta.transact(|tx| {
        let Some(mut s) = tx.get::<Stored>(SESSIONS, hash)? else {
            return Ok(None);
        };
        s.last_seen_ms = s.last_seen_ms.max(now_ms);
        tx.put(SESSIONS, hash, &s)?;
        Ok(Some(s))
    })
}

/// Deletes (at most [`SWEEP_MAX`] of) the stored sessions that are expired or
/// unreadable, and the least recently used beyond `max_live` live ones.
/// Returns how many it deleted.
fn sweep(meta: &MetaStore, now_ms: u64, max_live: usize) -> crate::meta::Result<usize> {
    let all: Vec<(String, serde_json::Value)> = meta.list(SESSIONS)?;
    let mut doomed = Vec::new();
    let mut live = Vec::new();
    for (hash, value) in all {
        match serde_json::from_value::<Stored>(value) {
            Ok(s) if s.alive(now_ms) => live.push((s.last_seen_ms, hash)),
            _ => doomed.push(hash),
        }
    }
    if live.len() > max_live {
        live.sort();
        let excess = live.len() - max_live;
        doomed.extend(live.into_iter().take(excess).map(|(_, h)| h));
    }
    doomed.truncate(SWEEP_MAX);
    meta.delete_many(SESSIONS, &doomed)
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

    /// A key store over a metadata store that two "nodes" share (redb
    /// standing in for the cluster's PostgreSQL).
    fn shared_store(dir: &std::path::Path) -> (KeyStore, Arc<MetaStore>) {
        let meta = Arc::new(MetaStore::open(&dir.join("meta.redb")).unwrap());
        let keys = KeyStore::open(meta.clone(), &dir.join("master.key")).unwrap();
        keys.insert(
            "AKIDCONSOLETEST00001",
            "console-test-secret-1",
            "t",
            "admin",
        )
        .unwrap();
        (keys, meta)
    }

    const ID: &str = "AKIDCONSOLETEST00001";
    const SECRET: &str = "console-test-secret-1";

    fn stored(meta: &MetaStore) -> Vec<(String, Stored)> {
        meta.list(SESSIONS).unwrap()
    }

    fn record(created_ms: u64, last_seen_ms: u64) -> Stored {
        Stored {
            access_key_id: ID.into(),
            csrf: random_token(),
            created_ms,
            last_seen_ms,
        }
    }

    #[test]
    fn a_session_opened_on_one_node_works_on_every_node() {
        let dir = tempfile::tempdir().unwrap();
        let (keys, meta) = shared_store(dir.path());
        let (a, b) = (
            Sessions::shared(meta.clone()),
            Sessions::shared(meta.clone()),
        );
        assert!(a.is_shared() && !Sessions::default().is_shared());
        let (token, session) = a.login(&keys, PEER, ID, SECRET).unwrap();
        let (on_b, key) = b.get(&keys, &token).unwrap();
        assert_eq!(key.access_key_id, ID);
        assert_eq!(on_b.csrf, session.csrf, "one CSRF token on every node");
        assert!(a.get(&keys, &token).is_some());
        // The store holds the token's hash, never the token.
        let rows = stored(&meta);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].0, token_hash(&token));
        assert_eq!(rows[0].0, hex::encode(Sha256::digest(token.as_bytes())));
        assert_ne!(rows[0].0, token);
        let raw = serde_json::to_string(&rows[0].1).unwrap();
        assert!(!raw.contains(&token), "{raw}");
        assert_eq!(rows[0].1.access_key_id, ID);
        // Unknown and malformed tokens are nobody's.
        assert!(b.get(&keys, &random_token()).is_none());
        assert!(b.get(&keys, "nope").is_none());
        assert!(b.get(&keys, &rows[0].0).is_none(), "the hash is no token");
        // A deleted key ends its sessions on every node.
        keys.delete(ID).unwrap();
        assert!(a.get(&keys, &token).is_none());
        assert!(b.get(&keys, &token).is_none());
    }

    #[test]
    fn a_logout_ends_the_session_on_other_nodes_within_the_recheck() {
        let dir = tempfile::tempdir().unwrap();
        let (keys, meta) = shared_store(dir.path());
        let (a, b, c) = (
            Sessions::shared(meta.clone()),
            Sessions::shared(meta.clone()),
            Sessions::shared(meta.clone()),
        );
        let (token, _) = a.login(&keys, PEER, ID, SECRET).unwrap();
        let (now, ms) = (Instant::now(), unix_ms());
        assert!(b.get_at(&keys, &token, now, ms).is_some());
        assert!(c.logout(&token));
        assert!(stored(&meta).is_empty());
        // Cached on a and b: served from memory until re-read...
        assert!(
            b.get_at(&keys, &token, now + Duration::from_secs(1), ms + 1000)
                .is_some()
        );
        // ...which happens within RECHECK.
        let later = (now + RECHECK, ms + millis(RECHECK));
        assert!(b.get_at(&keys, &token, later.0, later.1).is_none());
        assert!(a.get_at(&keys, &token, later.0, later.1).is_none());
        assert!(a.lock().sessions.is_empty() && b.lock().sessions.is_empty());
        // And a node that never saw it refuses it at once.
        let (token, _) = a.login(&keys, PEER, ID, SECRET).unwrap();
        assert!(b.logout(&token));
        assert!(c.get(&keys, &token).is_none());
    }

    #[test]
    fn the_last_use_is_written_back_at_most_every_touch_interval() {
        let dir = tempfile::tempdir().unwrap();
        let (keys, meta) = shared_store(dir.path());
        let (a, b) = (
            Sessions::shared(meta.clone()),
            Sessions::shared(meta.clone()),
        );
        let (now, ms) = (Instant::now(), unix_ms());
        let (token, _) = a.login_at(&keys, PEER, ID, SECRET, now, ms).unwrap();
        let seen = || stored(&meta)[0].1.last_seen_ms;
        assert_eq!(seen(), ms);
        // Clicks, and re-reads, do not write.
        for s in [1, 2, 20, 40, 290] {
            let d = Duration::from_secs(s);
            assert!(a.get_at(&keys, &token, now + d, ms + millis(d)).is_some());
        }
        assert_eq!(seen(), ms);
        // Five minutes on, the next use is written back.
        let d = TOUCH_EVERY + Duration::from_secs(1);
        assert!(a.get_at(&keys, &token, now + d, ms + millis(d)).is_some());
        assert_eq!(seen(), ms + millis(d));
        // A node reading it later than the idle timeout after login but
        // within it after that use takes it as alive.
        let idle = IDLE_TIMEOUT + Duration::from_secs(60);
        assert!(
            b.get_at(&keys, &token, now + idle, ms + millis(idle))
                .is_some()
        );
        assert_eq!(
            seen(),
            ms + millis(idle),
            "read after a long gap: written back"
        );
    }

    #[test]
    fn idle_and_old_sessions_are_refused_from_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let (keys, meta) = shared_store(dir.path());
        let (a, b) = (
            Sessions::shared(meta.clone()),
            Sessions::shared(meta.clone()),
        );
        let (now, ms) = (Instant::now(), unix_ms());
        let (token, _) = a.login_at(&keys, PEER, ID, SECRET, now, ms).unwrap();
        let idle = IDLE_TIMEOUT + Duration::from_secs(1);
        assert!(
            b.get_at(&keys, &token, now + idle, ms + millis(idle))
                .is_none()
        );
        assert!(
            a.get_at(&keys, &token, now + idle, ms + millis(idle))
                .is_none()
        );
        // Used all along, but older than MAX_AGE.
        let token = random_token();
        let old = record(ms - millis(MAX_AGE) - 1000, ms - 1000);
        meta.put(SESSIONS, &token_hash(&token), &old).unwrap();
        assert!(b.get_at(&keys, &token, now, ms).is_none());
        let young = record(ms - millis(MAX_AGE) + 60_000, ms - 1000);
        meta.put(SESSIONS, &token_hash(&token), &young).unwrap();
        assert!(b.get_at(&keys, &token, now, ms).is_some());
        // Cached, it still ends at MAX_AGE.
        let d = Duration::from_secs(61);
        assert!(b.get_at(&keys, &token, now + d, ms + millis(d)).is_none());
    }

    #[test]
    fn a_late_write_back_never_revives_a_logged_out_session() {
        let dir = tempfile::tempdir().unwrap();
        let (keys, meta) = shared_store(dir.path());
        let (a, b) = (
            Sessions::shared(meta.clone()),
            Sessions::shared(meta.clone()),
        );
        let (now, ms) = (Instant::now(), unix_ms());
        let (token, _) = a.login_at(&keys, PEER, ID, SECRET, now, ms).unwrap();
        assert!(b.logout(&token));
        // a's next use is due for a write-back: it finds the session gone.
        let d = TOUCH_EVERY + Duration::from_secs(1);
        assert!(a.get_at(&keys, &token, now + d, ms + millis(d)).is_none());
        assert!(stored(&meta).is_empty());
        assert_eq!(touch(&meta, &token_hash(&token), ms).unwrap(), None);
        assert!(stored(&meta).is_empty());
    }

    #[test]
    fn a_store_error_keeps_cached_sessions_and_refuses_uncached_ones() {
        let dir = tempfile::tempdir().unwrap();
        let (keys, meta) = shared_store(dir.path());
        let (a, b) = (
            Sessions::shared(meta.clone()),
            Sessions::shared(meta.clone()),
        );
        let (now, ms) = (Instant::now(), unix_ms());
        let (token, session) = a.login_at(&keys, PEER, ID, SECRET, now, ms).unwrap();
        // An unreadable record: every read of it fails, as with a store
        // that cannot be reached.
        meta.put(SESSIONS, &token_hash(&token), &5u32).unwrap();
        for d in [RECHECK, TOUCH_EVERY + RECHECK] {
            let (s, _) = a.get_at(&keys, &token, now + d, ms + millis(d)).unwrap();
            assert_eq!(s.csrf, session.csrf);
        }
        assert!(b.get_at(&keys, &token, now, ms).is_none());
        // Readable again: both serve it.
        let mut r = record(ms, ms);
        r.csrf = session.csrf.clone();
        meta.put(SESSIONS, &token_hash(&token), &r).unwrap();
        let d = 3 * TOUCH_EVERY;
        assert!(a.get_at(&keys, &token, now + d, ms + millis(d)).is_some());
        assert!(b.get_at(&keys, &token, now + d, ms + millis(d)).is_some());
    }

    #[test]
    fn the_sweep_deletes_expired_records_and_trims_to_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let (_keys, meta) = shared_store(dir.path());
        let ms = unix_ms();
        let idle = ms - millis(IDLE_TIMEOUT) - 1;
        for n in 0..3u64 {
            meta.put(SESSIONS, &format!("dead{n}"), &record(idle - n, idle - n))
                .unwrap();
        }
        meta.put(SESSIONS, "unreadable", &"x").unwrap();
        for n in 0..5u64 {
            meta.put(
                SESSIONS,
                &format!("live{n}"),
                &record(ms - 10_000, ms - 5000 + n),
            )
            .unwrap();
        }
        assert_eq!(sweep(&meta, ms, 3).unwrap(), 6);
        let left: Vec<String> = stored(&meta).into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            left,
            ["live2", "live3", "live4"],
            "the most recently used stay"
        );
        assert_eq!(sweep(&meta, ms, 3).unwrap(), 0);
    }

    #[test]
    fn logins_sweep_at_most_every_sweep_interval() {
        let dir = tempfile::tempdir().unwrap();
        let (keys, meta) = shared_store(dir.path());
        let a = Sessions::shared(meta.clone());
        let (now, ms) = (Instant::now(), unix_ms());
        let dead = record(ms - millis(MAX_AGE) - 1, ms - 1);
        meta.put(SESSIONS, "dead-1", &dead).unwrap();
        a.login_at(&keys, PEER, ID, SECRET, now, ms).unwrap();
        assert!(meta.get::<Stored>(SESSIONS, "dead-1").unwrap().is_none());
        meta.put(SESSIONS, "dead-2", &dead).unwrap();
        a.login_at(
            &keys,
            PEER,
            ID,
            SECRET,
            now + Duration::from_secs(1),
            ms + 1000,
        )
        .unwrap();
        assert!(meta.get::<Stored>(SESSIONS, "dead-2").unwrap().is_some());
        a.login_at(
            &keys,
            PEER,
            ID,
            SECRET,
            now + SWEEP_EVERY,
            ms + millis(SWEEP_EVERY),
        )
        .unwrap();
        assert!(meta.get::<Stored>(SESSIONS, "dead-2").unwrap().is_none());
        assert_eq!(stored(&meta).len(), 3, "the three logins");
    }
}
