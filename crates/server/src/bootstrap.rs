//! First-start bootstrap: the admin access key and the AWS shared-credentials
//! and config files that let `aws --profile stratus` work at once. The config
//! file's profile carries `endpoint_url`, so a command that forgets
//! `--endpoint-url` still reaches this server, never real AWS.

use crate::keys::KeyStore;
use crate::meta::{MetaStore, Table};
use crate::{DEFAULT_REGION, ServerError};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub(crate) const SETTINGS: Table = Table::new("settings");
pub(crate) const BOOTSTRAP_KEY: &str = "bootstrap_admin_key_id";
pub const PROFILE: &str = "stratus";

#[derive(Debug)]
pub struct Bootstrap {
    pub credentials_file: PathBuf,
    pub config_file: PathBuf,
    /// Set when this start created the admin key.
    pub created_key_id: Option<String>,
}

/// Marks a config file Stratus wrote (and may rewrite at each start).
const CONFIG_MARKER: &str = "# Written by Stratus at each start";
/// The config file Stratus wrote before it carried `endpoint_url`.
const LEGACY_CONFIG: &str = "[profile stratus]\nregion = us-east-1\noutput = json\n";

/// The URL a client on this machine reaches a server bound to `addr` at: an
/// unspecified address (0.0.0.0, ::) is reached over loopback; `tls`: https.
pub fn local_url(addr: SocketAddr, tls: bool) -> String {
    let ip = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => std::net::Ipv4Addr::LOCALHOST.into(),
        ip if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{}", SocketAddr::new(ip, addr.port()))
}

/// Ensures an admin key exists and its credentials file is on disk, and the
/// config file's `[profile stratus]` points at `endpoint_url`.
///
/// * `fixed` (from STRATUS_ADMIN_ACCESS_KEY_ID/SECRET) is installed as the
///   admin key, replacing an earlier bootstrap key.
/// * Otherwise the first start creates a random admin key.
/// * A deleted credentials file is rewritten while its key still exists.
pub fn admin_key(
    meta: &MetaStore,
    keys: &KeyStore,
    data_dir: &Path,
    fixed: Option<&(String, String)>,
    endpoint_url: &str,
) -> Result<Bootstrap, ServerError> {
    let credentials_file = data_dir.join("credentials");
    let config_file = data_dir.join("config");
    let previous: Option<String> = meta.get(SETTINGS, BOOTSTRAP_KEY)?;
    let mut created_key_id = None;
    let key = match fixed {
        Some((id, secret)) => {
            let existing = keys.lookup(id);
            let key = match existing {
                Some(k) if &k.secret == secret && k.policy.name == "admin" => (*k).clone(),
                _ => {
                    created_key_id = Some(id.clone());
                    keys.insert(id, secret, "admin", "admin")?
                }
            };
            if let Some(prev) = previous.filter(|p| p != id) {
                // The env key replaces the earlier bootstrap key.
                let _ = keys.delete(&prev);
            }
            meta.put(SETTINGS, BOOTSTRAP_KEY, &id)?;
            Some(key)
        }
        None => match previous.as_deref().and_then(|id| keys.lookup(id)) {
            Some(k) => Some((*k).clone()),
            None if previous.is_none() => {
                let k = keys.create("admin", "admin")?;
                meta.put(SETTINGS, BOOTSTRAP_KEY, &k.access_key_id)?;
                created_key_id = Some(k.access_key_id.clone());
                Some(k)
            }
            // The operator deleted the bootstrap key on purpose: respect it.
            None => None,
        },
    };
    if let Some(k) = key {
        // The config first: whoever waits for the credentials file to appear
        // (scripts, test harnesses) then finds the profile's region and
        // endpoint beside it.
        write_config(&config_file, endpoint_url)?;
        let wanted = credentials_text(&k.access_key_id, &k.secret);
        let current = std::fs::read_to_string(&credentials_file).ok();
        if current.as_deref() != Some(wanted.as_str()) {
            write(&credentials_file, &wanted)?;
        }
    }
    Ok(Bootstrap {
        credentials_file,
        config_file,
        created_key_id,
    })
}

/// Writes the config file unless an operator replaced it with their own
/// (one without the marker): the port may change between starts.
fn write_config(path: &Path, endpoint_url: &str) -> Result<(), ServerError> {
    let wanted = format!(
        "{CONFIG_MARKER}: `--profile stratus` reaches this server\n\
         # (endpoint_url; AWS CLI v2, AWS CLI v1 and boto3 with botocore >= 1.31 read it).\n\
         [profile {PROFILE}]\nregion = {DEFAULT_REGION}\noutput = json\nendpoint_url = {endpoint_url}\n"
    );
    match std::fs::read_to_string(path) {
        Ok(current) if current == wanted => Ok(()),
        Ok(current) if !current.starts_with(CONFIG_MARKER) && current != LEGACY_CONFIG => {
            tracing::info!(
                "{} was edited by hand: left as is (it should set endpoint_url = {endpoint_url})",
                path.display()
            );
            Ok(())
        }
        _ => write(path, &wanted),
    }
}

fn credentials_text(id: &str, secret: &str) -> String {
    format!("[{PROFILE}]\naws_access_key_id = {id}\naws_secret_access_key = {secret}\n")
}

fn write(path: &Path, text: &str) -> Result<(), ServerError> {
    crate::fsutil::write_private_file(path, text.as_bytes()).map_err(|source| {
        ServerError::DataDir {
            path: path.display().to_string(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Arc;

    const URL: &str = "http://127.0.0.1:4566";

    fn open(dir: &Path) -> (Arc<MetaStore>, KeyStore) {
        let meta = Arc::new(MetaStore::open(&dir.join("meta.redb")).unwrap());
        let ks = KeyStore::open(meta.clone(), &dir.join("master.key")).unwrap();
        (meta, ks)
    }

    #[test]
    fn first_start_creates_key_and_private_files() {
        let dir = tempfile::tempdir().unwrap();
        let (meta, ks) = open(dir.path());
        let b = admin_key(&meta, &ks, dir.path(), None, URL).unwrap();
        let id = b.created_key_id.clone().unwrap();
        let text = std::fs::read_to_string(&b.credentials_file).unwrap();
        assert!(text.starts_with("[stratus]\n"));
        assert!(text.contains(&id));
        assert!(text.contains(&ks.lookup(&id).unwrap().secret));
        let mode = std::fs::metadata(&b.credentials_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // Second start: same key, nothing created; a deleted file comes back.
        std::fs::remove_file(&b.credentials_file).unwrap();
        let b2 = admin_key(&meta, &ks, dir.path(), None, URL).unwrap();
        assert!(b2.created_key_id.is_none());
        assert_eq!(std::fs::read_to_string(&b2.credentials_file).unwrap(), text);
    }

    #[test]
    fn env_key_is_installed_and_replaces_random_one() {
        let dir = tempfile::tempdir().unwrap();
        let (meta, ks) = open(dir.path());
        let first = admin_key(&meta, &ks, dir.path(), None, URL)
            .unwrap()
            .created_key_id
            .unwrap();
        let fixed = (
            "AKIAFIXEDKEY00000001".to_string(),
            "s3cr3t-s3cr3t-s3cr3t".to_string(),
        );
        admin_key(&meta, &ks, dir.path(), Some(&fixed), URL).unwrap();
        assert!(ks.lookup(&first).is_none());
        assert_eq!(ks.lookup(&fixed.0).unwrap().secret, fixed.1);
        let text = std::fs::read_to_string(dir.path().join("credentials")).unwrap();
        assert!(text.contains("AKIAFIXEDKEY00000001"));
    }

    #[test]
    fn config_file_points_the_profile_at_the_server_and_follows_its_port() {
        let dir = tempfile::tempdir().unwrap();
        let (meta, ks) = open(dir.path());
        let b = admin_key(&meta, &ks, dir.path(), None, URL).unwrap();
        let text = std::fs::read_to_string(&b.config_file).unwrap();
        assert!(
            text.contains("[profile stratus]\nregion = us-east-1\noutput = json\nendpoint_url = http://127.0.0.1:4566\n"),
            "{text}"
        );
        admin_key(&meta, &ks, dir.path(), None, "http://127.0.0.1:5000").unwrap();
        let text = std::fs::read_to_string(&b.config_file).unwrap();
        assert!(
            text.contains("endpoint_url = http://127.0.0.1:5000\n"),
            "{text}"
        );
        assert!(!text.contains("4566"), "{text}");
    }

    #[test]
    fn config_file_of_an_older_stratus_is_upgraded_and_a_hand_made_one_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (meta, ks) = open(dir.path());
        let path = dir.path().join("config");
        std::fs::write(&path, LEGACY_CONFIG).unwrap();
        admin_key(&meta, &ks, dir.path(), None, URL).unwrap();
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("endpoint_url = ")
        );
        let mine = "[profile stratus]\nregion = eu-west-1\n";
        std::fs::write(&path, mine).unwrap();
        admin_key(&meta, &ks, dir.path(), None, URL).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), mine);
    }

    #[test]
    fn unspecified_listen_addresses_are_reached_over_loopback() {
        assert_eq!(
            local_url("0.0.0.0:4566".parse().unwrap(), false),
            "http://127.0.0.1:4566"
        );
        assert_eq!(
            local_url("[::]:4566".parse().unwrap(), false),
            "http://[::1]:4566"
        );
        assert_eq!(
            local_url("10.1.2.3:443".parse().unwrap(), true),
            "https://10.1.2.3:443"
        );
    }
}
