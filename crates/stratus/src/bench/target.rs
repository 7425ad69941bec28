//! The server a benchmark loads: one it starts on a temporary data dir, or a
//! running one named by `--endpoint`, with the key to sign for it and what
//! can be measured of it (pid, data dir). Shared by `bench fleet` and
//! `bench logs`, which take the same flags for it.

use std::path::PathBuf;

use clap::Args;

use super::fleet::procinfo;
use super::{BENCH_KEY_ID, BENCH_SECRET, ServerProc};

/// `--endpoint` and what goes with it.
#[derive(Args, Debug, Clone, Default)]
pub(super) struct TargetArgs {
    /// Drive a running server (http://host:port) instead of starting one.
    #[arg(long)]
    pub endpoint: Option<String>,
    /// With --endpoint: shared credentials file holding a key allowed what
    /// the benchmark sends. Default, first found: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
    /// the profile in AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, the
    /// credentials file of --data-dir (or of the found server's data dir).
    #[arg(long, value_name = "FILE")]
    pub credentials_file: Option<PathBuf>,
    /// With --endpoint: profile in the credentials file (default: $AWS_PROFILE, else stratus).
    #[arg(long)]
    pub profile: Option<String>,
    /// With --endpoint: the server's pid, for RSS and CPU (default: the
    /// local process listening on the endpoint's port).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// With --endpoint: the server's data dir, for bytes on disk and its
    /// credentials file (default: the found server's --data-dir).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// The server under load.
pub(super) struct Target {
    pub endpoint: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub pid: Option<u32>,
    pub data_dir: Option<PathBuf>,
    /// The server this bench started, and its data dir (stopped at the end).
    pub own: Option<(ServerProc, PathBuf)>,
}

impl TargetArgs {
    /// Starts a server when there is no `--endpoint`, else finds the running one.
    pub fn resolve(&self) -> anyhow::Result<Target> {
        let Some(endpoint) = &self.endpoint else {
            let dir = super::tempdir()?;
            let server = ServerProc::start(&dir, true)?;
            return Ok(Target {
                endpoint: server.endpoint.clone(),
                access_key_id: BENCH_KEY_ID.into(),
                secret_access_key: BENCH_SECRET.into(),
                pid: Some(server.pid()),
                data_dir: Some(dir.clone()),
                own: Some((server, dir)),
            });
        };
        let procinfo::RunningServer { pid, data_dir } =
            procinfo::find_server(endpoint, self.server_pid, self.data_dir.clone())?;
        let creds = crate::client::admin_credentials(
            self.credentials_file.as_deref(),
            self.profile.as_deref(),
            data_dir.as_deref(),
            &|k| std::env::var(k).ok(),
        )?;
        Ok(Target {
            endpoint: endpoint.clone(),
            access_key_id: creds.access_key_id,
            secret_access_key: creds.secret_access_key,
            pid,
            data_dir,
            own: None,
        })
    }
}
