//! Starts a real Garage S3 server on loopback through `scripts/lib/cluster-services.sh`
//! (the same functions `scripts/cluster-up` uses), or uses the one named by
//! `STRATUS_TEST_S3_ENV` (an `s3.env` written by `garage_start`, e.g. by the selftest).

use std::path::{Path, PathBuf};
use std::process::Command;

use stratus_cluster_s3::S3Config;

pub struct Garage {
    /// `Some` when this test started it (and so stops it).
    dir: Option<tempfile::TempDir>,
    pub config: S3Config,
}

fn lib() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/lib/cluster-services.sh")
}

/// Where `cluster_tools_install` puts garage (same rule as the shell's `cs_garage_bin`).
fn garage_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("GARAGE_BIN") {
        return bin.into();
    }
    let tools = std::env::var_os("STRATUS_TOOLS_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| Path::new(&d).join("stratus-tools")))
        .unwrap_or_else(|| {
            Path::new(&std::env::var_os("HOME").expect("HOME")).join(".cache/stratus-tools")
        });
    tools.join("bin/garage")
}

fn run(script: &str, dir: &Path) -> std::process::Output {
    Command::new("bash")
        .arg("-c")
        .arg(format!("set -eu; source \"$LIB\"; {script}"))
        .env("LIB", lib())
        .env("DIR", dir)
        .output()
        .expect("running bash")
}

impl Garage {
    pub fn start() -> Garage {
        if let Some(env) = std::env::var_os("STRATUS_TEST_S3_ENV") {
            return Garage {
                dir: None,
                config: read_env(Path::new(&env)),
            };
        }
        let bin = garage_bin();
        assert!(
            bin.exists(),
            "no garage binary at {}: the S3 tests need a real Garage 2.5.0. Build it once \
             (15-20 min on 2 cores) with `source scripts/lib/cluster-services.sh && \
             cluster_tools_install`, or `cargo install garage --version 2.5.0 --locked --root \
             <dir>` and set STRATUS_TOOLS_DIR=<dir>",
            bin.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let out = run(
            "set -- $(free_ports 3); garage_start \"$DIR\" \"$1\" \"$2\" \"$3\"",
            dir.path(),
        );
        if !out.status.success() {
            let log = std::fs::read_to_string(dir.path().join("garage.log")).unwrap_or_default();
            let setup =
                std::fs::read_to_string(dir.path().join("garage-setup.log")).unwrap_or_default();
            let started = Garage {
                dir: Some(dir),
                config: empty_config(),
            };
            drop(started); // stops whatever did start
            panic!(
                "garage_start failed: {}\n--- garage-setup.log\n{setup}\n--- garage.log\n{log}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let config = read_env(&dir.path().join("s3.env"));
        Garage {
            dir: Some(dir),
            config,
        }
    }

    /// Kills the server with SIGKILL (a crash: the store becomes unreachable). Only for a
    /// Garage we started; `false` for an external one.
    pub fn crash(&mut self) -> bool {
        let Some(dir) = &self.dir else { return false };
        let out = run("garage_stop \"$DIR\" KILL", dir.path());
        assert!(
            out.status.success(),
            "garage_stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        true
    }

    /// Starts the same node again (same data, key and ports).
    pub fn restart(&mut self) {
        let dir = self
            .dir
            .as_ref()
            .expect("restart of a Garage this test started");
        let out = run("garage_start \"$DIR\"", dir.path());
        assert!(
            out.status.success(),
            "garage_start (restart): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = run("garage_stop \"$DIR\"", dir.path());
        }
    }
}

fn empty_config() -> S3Config {
    S3Config {
        endpoint: None,
        bucket: String::new(),
        region: String::new(),
        access_key_id: String::new(),
        secret_access_key: String::new(),
        prefix: String::new(),
    }
}

fn read_env(path: &Path) -> S3Config {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let get = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
            .unwrap_or_else(|| panic!("{name} missing from {}", path.display()))
            .trim()
            .to_string()
    };
    S3Config {
        endpoint: Some(get("S3_ENDPOINT")),
        bucket: get("S3_BUCKET"),
        region: get("S3_REGION"),
        access_key_id: get("S3_ACCESS_KEY_ID"),
        secret_access_key: get("S3_SECRET_ACCESS_KEY"),
        // Unique per run: an external Garage may be shared by several runs.
        prefix: format!(
            "test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ),
    }
}
