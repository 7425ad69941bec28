//! Harness: start a real `stratus server` in a temp dir, and build an aws-sdk-rust
//! CloudWatch client from the credentials and config files the server wrote, exactly
//! as a user would with `--profile stratus`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_config::BehaviorVersion;
use aws_config::profile::{ProfileFileCredentialsProvider, ProfileFileRegionProvider};
use aws_config::provider_config::ProviderConfig;
use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_cloudwatch::config::retry::RetryConfig;
use aws_sdk_cloudwatch::config::{ConfigBag, Credentials, Intercept, Region, RuntimeComponents};
use aws_sdk_cloudwatch::primitives::DateTime;

const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The binary under test: `STRATUS_BIN`, else the workspace's default target dir.
pub fn stratus_bin() -> PathBuf {
    match std::env::var_os("STRATUS_BIN") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/stratus"),
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

/// hyper without TLS: the server under test is on plain-HTTP loopback.
fn plain_http_client() -> aws_sdk_cloudwatch::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new().build_http()
}

/// A running server; killed when dropped.
pub struct Server {
    child: Child,
    pub endpoint: String,
    dir: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Server {
        let bin = stratus_bin();
        assert!(
            bin.is_file(),
            "stratus binary not found at {}: run `cargo build -p stratus` or set STRATUS_BIN",
            bin.display()
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
        let mut cmd = Command::new(&bin);
        cmd.arg("server")
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log"))
            .stderr(log);
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().into_owned();
            if k.starts_with("AWS_") || k.starts_with("STRATUS_ADMIN_") {
                cmd.env_remove(k);
            }
        }
        let child = cmd.spawn().expect("spawn stratus server");
        let mut server = Server {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            dir,
        };
        server.wait_ready(port);
        server
    }

    fn wait_ready(&mut self, port: u16) {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "stratus server exited ({status}) before it was ready:\n{}",
                    self.log()
                );
            }
            let up = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok();
            // Both files the client reads: credentials, and config for the region.
            if up && self.credentials_file().is_file() && self.data_dir().join("config").is_file() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "stratus server not ready after {READY_TIMEOUT:?}:\n{}",
            self.log()
        );
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn credentials_file(&self) -> PathBuf {
        self.data_dir().join("credentials")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// A client configured from the server's own credentials + config files (profile `stratus`).
    pub async fn client(&self) -> (Client, WireLog) {
        let files = EnvConfigFiles::builder()
            .with_file(EnvConfigFileKind::Credentials, self.credentials_file())
            .with_file(EnvConfigFileKind::Config, self.data_dir().join("config"))
            .build();
        // The providers get the plain-HTTP client too: the profile provider builds its
        // (unused here) IMDS fallback eagerly and would panic without one.
        let provider_config =
            ProviderConfig::without_region().with_http_client(plain_http_client());
        let creds = ProfileFileCredentialsProvider::builder()
            .configure(&provider_config)
            .profile_files(files.clone())
            .profile_name("stratus")
            .build();
        let region = ProfileFileRegionProvider::builder()
            .configure(&provider_config)
            .profile_files(files)
            .profile_name("stratus")
            .build();
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .http_client(plain_http_client())
            .credentials_provider(creds)
            .region(region)
            .endpoint_url(&self.endpoint)
            .load()
            .await;
        assert_eq!(
            sdk.region().map(|r| r.as_ref()),
            Some("us-east-1"),
            "region must come from <data-dir>/config"
        );
        let wire = WireLog::default();
        let conf = aws_sdk_cloudwatch::config::Builder::from(&sdk)
            .interceptor(wire.clone())
            .retry_config(RetryConfig::disabled())
            .build();
        (Client::from_conf(conf), wire)
    }

    /// A client with explicit (possibly wrong) keys.
    pub fn client_with_keys(&self, key: &str, secret: &str) -> Client {
        let conf = aws_sdk_cloudwatch::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(plain_http_client())
            .endpoint_url(&self.endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(key, secret, None, None, "conformance"))
            .retry_config(RetryConfig::disabled())
            .build();
        Client::from_conf(conf)
    }

    /// The admin key id written to the credentials file.
    pub fn admin_key_id(&self) -> String {
        let text = std::fs::read_to_string(self.credentials_file()).expect("read credentials");
        text.lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim() == "aws_access_key_id")
            .map(|(_, v)| v.trim().to_string())
            .expect("aws_access_key_id in credentials file")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- stratus server log ----\n{}", self.log());
        }
    }
}

/// What went over the wire for each call: request path and content type, response
/// status and headers. Lets tests assert the protocol really is RPC v2 CBOR.
#[derive(Debug, Clone, Default)]
pub struct WireLog(Arc<Mutex<Vec<Exchange>>>);

#[derive(Debug, Clone, Default)]
pub struct Exchange {
    pub path: String,
    pub request_headers: Vec<(String, String)>,
    pub status: u16,
    pub response_headers: Vec<(String, String)>,
}

impl Exchange {
    pub fn request_header(&self, name: &str) -> Option<&str> {
        find(&self.request_headers, name)
    }
    pub fn response_header(&self, name: &str) -> Option<&str> {
        find(&self.response_headers, name)
    }
}

fn find<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

impl WireLog {
    pub fn last(&self) -> Exchange {
        self.0
            .lock()
            .expect("wire log lock")
            .last()
            .cloned()
            .expect("no exchange recorded")
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Intercept for WireLog {
    fn name(&self) -> &'static str {
        "WireLog"
    }

    fn read_before_transmit(
        &self,
        ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let req = ctx.request();
        let uri = req.uri().to_string();
        let path = match uri.find("://") {
            Some(i) => uri[i + 3..]
                .find('/')
                .map(|j| uri[i + 3 + j..].to_string())
                .unwrap_or_else(|| "/".into()),
            None => uri,
        };
        let headers = req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.0.lock().expect("wire log lock").push(Exchange {
            path,
            request_headers: headers,
            ..Exchange::default()
        });
        Ok(())
    }

    fn read_before_deserialization(
        &self,
        ctx: &BeforeDeserializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let resp = ctx.response();
        let mut log = self.0.lock().expect("wire log lock");
        if let Some(last) = log.last_mut() {
            last.status = resp.status().as_u16();
            last.response_headers = resp
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        }
        Ok(())
    }
}

/// Seconds since the epoch, now.
pub fn now_secs() -> i64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(d.as_secs()).expect("time fits i64")
}

/// An hour boundary two hours back: recent enough for any period, never in the future.
pub fn base_time() -> i64 {
    now_secs() / 3600 * 3600 - 2 * 3600
}

pub fn ts(secs: i64) -> DateTime {
    DateTime::from_secs(secs)
}

/// Weighted nearest rank, computed here independently of the server: the smallest
/// value v whose cumulative count reaches p/100 of the total (p0 = minimum).
pub fn percentile(pop: &[(f64, f64)], p: f64) -> f64 {
    let mut sorted = pop.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = sorted.iter().map(|(_, c)| c).sum();
    if p == 0.0 {
        return sorted[0].0;
    }
    let target = p / 100.0 * total;
    let mut cum = 0.0;
    for (v, c) in &sorted {
        cum += c;
        if cum >= target {
            return *v;
        }
    }
    sorted[sorted.len() - 1].0
}
