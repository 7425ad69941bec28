//! Access keys: creation, lookup for SigV4 verification, and the secret's
//! protection at rest.
//!
//! SigV4 needs the secret itself (the signing key is derived from it per day,
//! region and service), so it cannot be stored as a one-way hash. Secrets are
//! instead sealed with ChaCha20-Poly1305 under a master key kept in a separate
//! file (`<data-dir>/master.key`, mode 0600): a copy of the metadata database
//! alone does not reveal them. Decrypted secrets are cached in memory.

use crate::meta::{MetaError, MetaStore, Table};
use crate::policy::Policy;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

const KEYS: Table = Table::new("access_keys");

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error("master key file {path}: {source}")]
    MasterKey {
        path: String,
        source: std::io::Error,
    },
    #[error("master key file {0} is malformed (expected 32 bytes)")]
    MasterKeyMalformed(String),
    #[error("the secret of access key {0} cannot be decrypted with this master key")]
    Decrypt(String),
    #[error("unknown policy '{0}' (built-in policies: admin, agent, readonly)")]
    UnknownPolicy(String),
    #[error("access key id '{0}' is not valid: 16-128 characters of A-Z and 0-9")]
    BadKeyId(String),
    #[error("secret access key must be 16-128 printable characters")]
    BadSecret,
    #[error("access key {0} does not exist")]
    NotFound(String),
}

/// What is stored per key. The secret is sealed, never stored in the clear.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredKey {
    name: String,
    policy: Policy,
    created: String,
    nonce_b64: String,
    sealed_secret_b64: String,
}

/// A key's public description (never includes the secret).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KeyInfo {
    pub access_key_id: String,
    pub name: String,
    pub policy: String,
    pub created: String,
}

/// A usable key for request verification.
#[derive(Debug, Clone)]
pub struct ActiveKey {
    pub access_key_id: String,
    pub secret: String,
    pub name: String,
    pub policy: Policy,
}

pub struct KeyStore {
    meta: Arc<MetaStore>,
    cipher: ChaCha20Poly1305,
    cache: RwLock<HashMap<String, Arc<ActiveKey>>>,
    /// The keys table's version when the cache was loaded (cluster mode:
    /// other nodes create and delete keys too).
    loaded_version: std::sync::atomic::AtomicI64,
    /// Cluster mode's peer-read secret, derived from the master key (which
    /// every node holds) and never the key itself.
    peer_secret: [u8; 32],
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore").finish_non_exhaustive()
    }
}

impl KeyStore {
    pub fn open(meta: Arc<MetaStore>, master_key_path: &Path) -> Result<Self, KeyError> {
        let key = load_or_create_master_key(master_key_path)?;
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&key));
        let store = KeyStore {
            meta,
            cipher,
            cache: RwLock::new(HashMap::new()),
            loaded_version: std::sync::atomic::AtomicI64::new(0),
            peer_secret: stratus_cluster::peer::derive_secret(&key),
        };
        store.reload()?;
        Ok(store)
    }

    /// The secret cluster nodes sign their reads of each other with.
    pub fn peer_secret(&self) -> [u8; 32] {
        self.peer_secret
    }

    /// Reloads the cache when another node changed the keys table (cluster
    /// mode; a no-op on redb, whose table version is always 0). Blocking.
    pub fn refresh_if_changed(&self) -> Result<bool, KeyError> {
        use std::sync::atomic::Ordering;
        let version = self.meta.table_version(KEYS)?;
        if version == self.loaded_version.load(Ordering::SeqCst) {
            return Ok(false);
        }
        self.reload()?;
        self.loaded_version.store(version, Ordering::SeqCst);
        Ok(true)
    }

    fn reload(&self) -> Result<(), KeyError> {
        let mut map = HashMap::new();
        for (id, stored) in self.meta.list::<StoredKey>(KEYS)? {
            let secret = self.open_secret(&id, &stored)?;
            map.insert(
                id.clone(),
                Arc::new(ActiveKey {
                    access_key_id: id,
                    secret,
                    name: stored.name,
                    policy: stored.policy,
                }),
            );
        }
        *self.cache.write().unwrap_or_else(|e| e.into_inner()) = map;
        Ok(())
    }

    fn open_secret(&self, id: &str, stored: &StoredKey) -> Result<String, KeyError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let nonce = b64
            .decode(&stored.nonce_b64)
            .map_err(|_| KeyError::Decrypt(id.into()))?;
        let sealed = b64
            .decode(&stored.sealed_secret_b64)
            .map_err(|_| KeyError::Decrypt(id.into()))?;
        if nonce.len() != 12 {
            return Err(KeyError::Decrypt(id.into()));
        }
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(&nonce), sealed.as_slice())
            .map_err(|_| KeyError::Decrypt(id.into()))?;
        String::from_utf8(plain).map_err(|_| KeyError::Decrypt(id.into()))
    }

    pub fn lookup(&self, access_key_id: &str) -> Option<Arc<ActiveKey>> {
        self.cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(access_key_id)
            .cloned()
    }

    pub fn is_empty(&self) -> bool {
        self.cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// Creates a key with a fresh random id and secret.
    pub fn create(&self, name: &str, policy_name: &str) -> Result<ActiveKey, KeyError> {
        self.insert(&random_key_id(), &random_secret(), name, policy_name)
    }

    /// Stores a key with a caller-chosen id and secret (bootstrap from env),
    /// replacing any key with that id.
    pub fn insert(
        &self,
        access_key_id: &str,
        secret: &str,
        name: &str,
        policy_name: &str,
    ) -> Result<ActiveKey, KeyError> {
        let valid_id = (16..=128).contains(&access_key_id.len())
            && access_key_id
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !valid_id {
            return Err(KeyError::BadKeyId(access_key_id.into()));
        }
        if !(16..=128).contains(&secret.len()) || !secret.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(KeyError::BadSecret);
        }
        let policy = Policy::builtin(policy_name)
            .ok_or_else(|| KeyError::UnknownPolicy(policy_name.into()))?;
        let mut nonce = [0u8; 12];
        rand::rng().fill(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), secret.as_bytes())
            .map_err(|_| KeyError::Decrypt(access_key_id.into()))?;
        let b64 = base64::engine::general_purpose::STANDARD;
        let stored = StoredKey {
            name: name.to_string(),
            policy: policy.clone(),
            created: jiff::Timestamp::from_second(jiff::Timestamp::now().as_second())
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
                .to_string(),
            nonce_b64: b64.encode(nonce),
            sealed_secret_b64: b64.encode(sealed),
        };
        self.meta.put(KEYS, access_key_id, &stored)?;
        let key = ActiveKey {
            access_key_id: access_key_id.to_string(),
            secret: secret.to_string(),
            name: name.to_string(),
            policy,
        };
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(access_key_id.to_string(), Arc::new(key.clone()));
        Ok(key)
    }

    pub fn list(&self) -> Result<Vec<KeyInfo>, KeyError> {
        Ok(self
            .meta
            .list::<StoredKey>(KEYS)?
            .into_iter()
            .map(|(id, s)| KeyInfo {
                access_key_id: id,
                name: s.name,
                policy: s.policy.name,
                created: s.created,
            })
            .collect())
    }

    pub fn delete(&self, access_key_id: &str) -> Result<(), KeyError> {
        if !self.meta.delete(KEYS, access_key_id)? {
            return Err(KeyError::NotFound(access_key_id.into()));
        }
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(access_key_id);
        Ok(())
    }
}

fn load_or_create_master_key(path: &Path) -> Result<[u8; 32], KeyError> {
    let io = |source| KeyError::MasterKey {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read(path) {
        Ok(bytes) => bytes
            .try_into()
            .map_err(|_| KeyError::MasterKeyMalformed(path.display().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            rand::rng().fill(&mut key);
            crate::fsutil::write_private_file(path, &key).map_err(io)?;
            Ok(key)
        }
        Err(e) => Err(io(e)),
    }
}

const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `AKIA` + 16 characters, like AWS long-term key ids.
pub fn random_key_id() -> String {
    let mut rng = rand::rng();
    let mut s = String::from("AKIA");
    for _ in 0..16 {
        s.push(ID_ALPHABET[rng.random_range(0..ID_ALPHABET.len())] as char);
    }
    s
}

/// 40 characters from AWS's secret alphabet (~238 bits).
pub fn random_secret() -> String {
    let mut rng = rand::rng();
    (0..40)
        .map(|_| SECRET_ALPHABET[rng.random_range(0..SECRET_ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_sealed_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let meta = Arc::new(MetaStore::open(&dir.path().join("meta.redb")).unwrap());
        let ks = KeyStore::open(meta.clone(), &dir.path().join("master.key")).unwrap();
        let k = ks.create("host-1", "agent").unwrap();
        assert!(k.access_key_id.starts_with("AKIA") && k.access_key_id.len() == 20);
        assert_eq!(k.secret.len(), 40);
        assert!(
            ks.lookup(&k.access_key_id)
                .unwrap()
                .policy
                .allows("cloudwatch:PutMetricData", "*")
        );
        drop(ks);
        drop(meta);
        // The database file must not contain the secret in the clear.
        let raw = std::fs::read(dir.path().join("meta.redb")).unwrap();
        assert!(
            !raw.windows(k.secret.len())
                .any(|w| w == k.secret.as_bytes())
        );
        let meta = Arc::new(MetaStore::open(&dir.path().join("meta.redb")).unwrap());
        let ks = KeyStore::open(meta.clone(), &dir.path().join("master.key")).unwrap();
        assert_eq!(ks.lookup(&k.access_key_id).unwrap().secret, k.secret);
        assert_eq!(ks.list().unwrap().len(), 1);
        ks.delete(&k.access_key_id).unwrap();
        assert!(ks.lookup(&k.access_key_id).is_none());
        assert!(matches!(
            ks.delete(&k.access_key_id),
            Err(KeyError::NotFound(_))
        ));
        assert!(matches!(
            ks.create("x", "root"),
            Err(KeyError::UnknownPolicy(_))
        ));
        ks.create("kept", "readonly").unwrap();
        drop(ks);
        drop(meta);
        // Another master key cannot open the secrets.
        std::fs::write(dir.path().join("master.key"), [7u8; 32]).unwrap();
        let meta = Arc::new(MetaStore::open(&dir.path().join("meta.redb")).unwrap());
        assert!(matches!(
            KeyStore::open(meta, &dir.path().join("master.key")),
            Err(KeyError::Decrypt(_))
        ));
    }
}
