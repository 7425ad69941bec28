//! Shared by the ship_* tests: a scripted HTTP endpoint on 127.0.0.1, a
//! decoder that checks what the agent sent (signature, gzip, awsQuery), a
//! real `stratus server` child, and datum builders.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stratus_agent::ship::{Datum, DatumValue, ShipperConfig};
use stratus_model::ops::put_metric_data::{self as pmd, PutMetricDataInput};

pub const KEY_ID: &str = "AKIDSHIPTEST00000001";
pub const SECRET: &str = "ship-test-secret-key";

/// One request as the endpoint saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn batch_id(&self) -> String {
        self.header("x-stratus-batch-id").unwrap_or("").to_owned()
    }

    /// Checks signature, signed headers, gzip and the awsQuery envelope;
    /// returns the datums as a server would store them.
    pub fn decode(&self) -> Vec<pmd::Datum> {
        assert_eq!(self.method, "POST");
        assert_eq!(
            self.header("content-type"),
            Some("application/x-www-form-urlencoded; charset=utf-8")
        );
        assert_eq!(self.header("content-encoding"), Some("gzip"));
        let refs: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let req = stratus_sigv4::Request {
            method: &self.method,
            path: &self.path,
            query: "",
            headers: &refs,
            body: &self.body,
        };
        let auth = stratus_sigv4::extract(&req)
            .expect("parsable Authorization")
            .expect("signed");
        assert_eq!(auth.access_key_id, KEY_ID);
        assert_eq!(auth.service, "monitoring");
        assert_eq!(auth.region, "us-east-1");
        for h in [
            "content-encoding",
            "content-type",
            "host",
            "x-amz-date",
            "x-stratus-batch-id",
        ] {
            assert!(
                auth.signed_headers.iter().any(|s| s == h),
                "{h} not signed: {:?}",
                auth.signed_headers
            );
        }
        stratus_sigv4::verify(
            &req,
            &auth,
            SECRET,
            jiff::Timestamp::now(),
            Duration::from_secs(900),
        )
        .expect("valid signature");
        let id = self.batch_id();
        assert_eq!(id.len(), 32, "batch id {id:?}");
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));

        let mut form = Vec::new();
        flate2::read::GzDecoder::new(&self.body[..])
            .read_to_end(&mut form)
            .expect("gzip body");
        assert!(form.len() < 1_000_000, "form body {} bytes", form.len());
        let q = stratus_proto::decode_form(&[&form]).expect("form");
        assert_eq!(q.action.as_deref(), Some("PutMetricData"));
        assert_eq!(q.version.as_deref(), Some("2010-08-01"));
        let input: PutMetricDataInput =
            stratus_proto::from_document(q.params).expect("PutMetricData input");
        let valid = input
            .validate(stratus_model::Timestamp::now())
            .expect("a request the server accepts");
        assert!(valid.datums.len() <= 1000);
        valid.datums
    }
}

/// What the endpoint answers: status and body.
pub type Script = dyn Fn(&Seen, usize) -> (u16, String) + Send + Sync;

/// A scripted HTTP/1.1 endpoint on 127.0.0.1 that records every request.
pub struct FakeEndpoint {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

pub fn ok() -> (u16, String) {
    (
        200,
        "<PutMetricDataResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">\
         <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PutMetricDataResponse>"
            .into(),
    )
}

pub fn error(status: u16, code: &str, message: &str) -> (u16, String) {
    (
        status,
        format!(
            "<ErrorResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><Error>\
             <Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
             <RequestId>r</RequestId></ErrorResponse>"
        ),
    )
}

impl FakeEndpoint {
    /// Listens on `addr` (port 0: any) and answers with `script(request, index)`.
    pub fn start(
        addr: &str,
        script: impl Fn(&Seen, usize) -> (u16, String) + Send + Sync + 'static,
    ) -> FakeEndpoint {
        let listener = TcpListener::bind(addr).expect("bind fake endpoint");
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let script: Arc<Script> = Arc::new(script);
        let (s2, st2) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (s3, st3, sc) = (s2.clone(), st2.clone(), script.clone());
                std::thread::spawn(move || serve_conn(conn, &s3, &st3, &*sc));
            }
        });
        FakeEndpoint {
            addr,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Stops listening (the port refuses connections afterwards).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for FakeEndpoint {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn serve_conn(conn: TcpStream, seen: &Mutex<Vec<Seen>>, stop: &AtomicBool, script: &Script) {
    let _ = conn.set_read_timeout(Some(Duration::from_millis(200)));
    let mut out = match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    };
    let mut r = BufReader::new(conn);
    loop {
        let mut line = String::new();
        // Idle keep-alive connection: poll the stop flag between reads.
        let n = loop {
            match r.read_line(&mut line) {
                Ok(n) => break n,
                Err(_) if stop.load(Ordering::SeqCst) => return,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return,
            }
        };
        if n == 0 || stop.load(Ordering::SeqCst) {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_owned();
        let path = parts.next().unwrap_or("/").to_owned();
        let mut headers = Vec::new();
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_owned());
                if k == "content-length" {
                    len = v.parse().unwrap_or(0);
                }
                headers.push((k, v));
            }
        }
        let mut body = vec![0u8; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let req = Seen {
            method,
            path,
            headers,
            body,
        };
        let index = {
            let mut s = seen.lock().unwrap();
            s.push(req.clone());
            s.len() - 1
        };
        let (status, text) = script(&req, index);
        let resp = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: text/xml\r\ncontent-length: {}\r\n\r\n{text}",
            text.len()
        );
        if out.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}

/// A port nothing listens on (yet).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn config(endpoint: &str, spool: &Path) -> ShipperConfig {
    let mut c = ShipperConfig::new(endpoint, "us-east-1", KEY_ID, SECRET, "ShipTest", spool);
    c.force_flush_interval = Duration::from_millis(100);
    c.retry_base = Duration::from_millis(20);
    c.retry_cap = Duration::from_millis(200);
    c.request_timeout = Duration::from_secs(5);
    c
}

/// Datum `i`: metric `m{i % 7}`, a timestamp that encodes `i`, value `i`.
pub fn datum(i: u64) -> Datum {
    Datum {
        metric_name: format!("m{}", i % 7),
        dimensions: vec![
            ("host".into(), "test-host".into()),
            ("path".into(), "/".into()),
        ],
        timestamp_ms: base_ms() + i as i64,
        value: DatumValue::Single(i as f64),
        unit: "Count",
        high_resolution: true,
    }
}

/// Recent enough for the server's two-week window; stable within a run.
pub fn base_ms() -> i64 {
    static BASE: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *BASE.get_or_init(|| (jiff::Timestamp::now().as_millisecond() / 1000 - 3600) * 1000)
}

/// The `i` of a decoded datum built by [`datum`].
pub fn index_of(d: &pmd::Datum) -> u64 {
    (d.timestamp.millis() - base_ms()) as u64
}

pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ------------------------------------------------------------ real server

/// The `stratus` binary: `STRATUS_BIN`, else next to this test's target
/// dir (built with `cargo build -p stratus` if missing).
pub fn stratus_bin() -> PathBuf {
    if let Ok(p) = std::env::var("STRATUS_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_owned();
    let bin = profile_dir.join("stratus");
    if !bin.exists() {
        let target_dir = profile_dir.parent().unwrap();
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "-p", "stratus"])
            .env("CARGO_TARGET_DIR", target_dir)
            .status()
            .expect("running cargo build -p stratus");
        assert!(status.success(), "cargo build -p stratus failed");
    }
    bin
}

/// A `stratus server` child with a fixed admin key.
pub struct Server {
    pub port: u16,
    pub data: PathBuf,
    child: Child,
}

impl Server {
    pub fn start(data: &Path, port: u16) -> Server {
        let child = Command::new(stratus_bin())
            .args([
                "server",
                "--data-dir",
                data.to_str().unwrap(),
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .env("STRATUS_ADMIN_ACCESS_KEY_ID", KEY_ID)
            .env("STRATUS_ADMIN_SECRET_ACCESS_KEY", SECRET)
            .env("STRATUS_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawning stratus server");
        let s = Server {
            port,
            data: data.to_owned(),
            child,
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_millis(500)))
            .build()
            .into();
        wait_until(
            "the server to answer /health",
            Duration::from_secs(60),
            || {
                agent
                    .get(&format!("{}/health", s.url()))
                    .call()
                    .is_ok_and(|r| r.status() == 200)
            },
        );
        s
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: no seal, the WAL alone carries what was acknowledged.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sum of SampleCount of `metric` (with the [`datum`] dimensions) over
    /// the last day, via a signed awsQuery GetMetricStatistics.
    pub fn sample_count(&self, metric: &str) -> f64 {
        let end = jiff::Timestamp::now().as_second() + 60;
        let start = end - 86_400;
        let iso = |s: i64| stratus_model::Timestamp::from_millis(s * 1000).to_iso8601();
        let form = format!(
            "Action=GetMetricStatistics&Version=2010-08-01&Namespace=ShipTest&MetricName={metric}\
             &Dimensions.member.1.Name=host&Dimensions.member.1.Value=test-host\
             &Dimensions.member.2.Name=path&Dimensions.member.2.Value=%2F\
             &StartTime={}&EndTime={}&Period=86400&Statistics.member.1=SampleCount",
            iso(start),
            iso(end)
        );
        let body = self.call(&form);
        let doc = stratus_proto::decode_xml_response(body.as_bytes()).expect("XML");
        let result = stratus_proto::query_result(&doc, "GetMetricStatistics").expect("result");
        let mut total = 0.0;
        sum_named(&result, "SampleCount", &mut total);
        total
    }

    fn call(&self, form: &str) -> String {
        let host = format!("127.0.0.1:{}", self.port);
        let headers = [
            (
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("host", host.as_str()),
        ];
        let signed = stratus_sigv4::sign(
            &stratus_sigv4::Request {
                method: "POST",
                path: "/",
                query: "",
                headers: &headers,
                body: form.as_bytes(),
            },
            &stratus_sigv4::Credentials {
                access_key_id: KEY_ID,
                secret_access_key: SECRET,
            },
            "us-east-1",
            "monitoring",
            jiff::Timestamp::now(),
        );
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut req = agent
            .post(&format!("{}/", self.url()))
            .header("content-type", headers[0].1);
        for (k, v) in &signed {
            req = req.header(k.as_str(), v.as_str());
        }
        let mut resp = req.send(form.as_bytes()).expect("query the server");
        let text = resp.body_mut().read_to_string().unwrap();
        assert_eq!(resp.status(), 200, "{text}");
        text
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sum_named(doc: &stratus_proto::Document, name: &str, total: &mut f64) {
    use stratus_proto::Document;
    match doc {
        Document::Map(m) | Document::Struct(m) => {
            for (k, v) in m {
                if k == name {
                    if let Some(x) = v.as_str().and_then(|s| s.parse::<f64>().ok()) {
                        *total += x;
                    }
                } else {
                    sum_named(v, name, total);
                }
            }
        }
        Document::List(l) => l.iter().for_each(|v| sum_named(v, name, total)),
        _ => {}
    }
}
