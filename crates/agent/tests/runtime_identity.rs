//! `${aws:*}` placeholders end to end: a fake IMDSv2 on 127.0.0.1, and no
//! IMDS at all (machine-id fallback, fast). The design config then publishes
//! `disk_used_percent {InstanceId, device, fstype, path}` in Percent. IMDS
//! is asked only when a (fake) DMI tree says EC2, and never by check-config.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use stratus_agent::config::{AgentConfig, Ec2Placeholder};
use stratus_agent::metadata::{
    IdSource, IdentityOptions, detect_ec2, machine_id_instance_id, resolve_identity,
};
use stratus_agent::runtime::{AgentOptions, build_collectors, check_config, prepare_with};

const TOKEN: &str = "AQAEAFake-token==";

/// A tiny IMDS: IMDSv2 token flow (or IMDSv1-only), keep-alive aware.
struct FakeImds {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl FakeImds {
    fn start(v2: bool) -> FakeImds {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = Arc::clone(&log);
                std::thread::spawn(move || serve(stream, v2, &log));
            }
        });
        FakeImds { url, requests }
    }
}

fn serve(stream: TcpStream, v2: bool, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end().to_owned();
            if h.is_empty() {
                break;
            }
            headers.push(h.to_ascii_lowercase());
        }
        let has = |name: &str, value: Option<&str>| {
            headers.iter().any(|h| {
                h.split_once(':').is_some_and(|(k, v)| {
                    k.trim() == name
                        && value.is_none_or(|want| v.trim() == want.to_ascii_lowercase())
                })
            })
        };
        let mut parts = request_line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        log.lock().unwrap().push(format!("{method} {path}"));
        let (status, body) = match (method, path) {
            ("PUT", "/latest/api/token") if !v2 => (403, String::new()),
            ("PUT", "/latest/api/token") if has("x-aws-ec2-metadata-token-ttl-seconds", None) => {
                (200, TOKEN.to_owned())
            }
            ("PUT", _) => (400, String::new()),
            ("GET", p) if v2 && !has("x-aws-ec2-metadata-token", Some(TOKEN)) => {
                let _ = p;
                (401, String::new())
            }
            ("GET", "/latest/meta-data/instance-id") => (200, "i-0123456789abcdef0".to_owned()),
            ("GET", "/latest/meta-data/instance-type") => (200, "t3.micro".to_owned()),
            ("GET", "/latest/meta-data/ami-id") => (200, "ami-0fedcba9876543210".to_owned()),
            _ => (404, String::new()),
        };
        let reason = match status {
            200 => "OK",
            401 => "Unauthorized",
            403 => "Forbidden",
            _ => "Other",
        };
        let resp = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n{body}",
            body.len()
        );
        if out.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}

/// A local port nothing listens on: connections are refused at once.
fn closed_port_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    url
}

/// A fake `/sys` holding these files (path under it, contents).
fn sys_tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, contents) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, contents).unwrap();
    }
    dir
}

const NITRO_ASSET_TAG: &str = "i-0123456789abcdef0";

/// A Nitro instance's DMI, as `/sys/class/dmi/id` shows it.
fn ec2_sys() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        sys_tree(&[
            (
                "class/dmi/id/board_asset_tag",
                &format!("{NITRO_ASSET_TAG}\n"),
            ),
            ("class/dmi/id/sys_vendor", "Amazon EC2\n"),
        ])
    })
    .path()
}

/// A laptop's DMI.
fn laptop_sys() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        sys_tree(&[
            ("class/dmi/id/board_asset_tag", "Not Specified\n"),
            ("class/dmi/id/sys_vendor", "LENOVO\n"),
            (
                "class/dmi/id/product_uuid",
                "4c4c4544-0051-3510-8052-b4c04f4e3632\n",
            ),
        ])
    })
    .path()
}

fn opts(endpoint: &str, instance_id: Option<&str>, machine_ids: Vec<PathBuf>) -> IdentityOptions {
    IdentityOptions {
        imds_endpoint: endpoint.to_owned(),
        timeout: Duration::from_secs(1),
        instance_id: instance_id.map(str::to_owned),
        machine_id_paths: machine_ids,
        hostname: "web-1".into(),
        sys_root: ec2_sys().to_owned(),
        ask_imds: true,
    }
}

const ALL: &[Ec2Placeholder] = &[
    Ec2Placeholder::InstanceId,
    Ec2Placeholder::InstanceType,
    Ec2Placeholder::ImageId,
    Ec2Placeholder::AutoScalingGroupName,
];

#[test]
fn imdsv2_token_flow() {
    let imds = FakeImds::start(true);
    let id = resolve_identity(&opts(&imds.url, Some("ignored-on-ec2"), vec![]), ALL);
    assert_eq!(id.instance_id, "i-0123456789abcdef0");
    assert_eq!(id.source, IdSource::Imds(imds.url.clone()));
    assert_eq!(id.instance_type.as_deref(), Some("t3.micro"));
    assert_eq!(id.image_id.as_deref(), Some("ami-0fedcba9876543210"));
    assert_eq!(
        id.autoscaling_group, None,
        "no instance tags in metadata: dropped"
    );
    let reqs = imds.requests.lock().unwrap().clone();
    assert_eq!(reqs[0], "PUT /latest/api/token");
    assert!(
        reqs.contains(&"GET /latest/meta-data/instance-id".to_owned()),
        "{reqs:?}"
    );
}

#[test]
fn only_what_the_config_needs_is_asked() {
    let imds = FakeImds::start(true);
    let id = resolve_identity(
        &opts(&imds.url, None, vec![]),
        &[Ec2Placeholder::InstanceId],
    );
    assert_eq!(id.instance_type, None);
    assert_eq!(
        imds.requests.lock().unwrap().clone(),
        ["PUT /latest/api/token", "GET /latest/meta-data/instance-id"]
    );
}

#[test]
fn imdsv1_fallback_when_tokens_are_refused() {
    let imds = FakeImds::start(false);
    let id = resolve_identity(&opts(&imds.url, None, vec![]), ALL);
    assert_eq!(id.instance_id, "i-0123456789abcdef0");
    assert_eq!(id.instance_type.as_deref(), Some("t3.micro"));
}

#[test]
fn ec2_is_told_from_dmi_as_cloud_init_does() {
    for files in [
        &[("class/dmi/id/board_asset_tag", "i-0abc\n")][..],
        &[("class/dmi/id/sys_vendor", "Amazon EC2\n")],
        &[(
            "class/dmi/id/product_uuid",
            "EC2E1916-9099-7CAF-FD21-012345ABCDEF\n",
        )],
        &[(
            "class/dmi/id/product_uuid",
            "ec2e1916-9099-7caf-fd21-012345abcdef\n",
        )],
        &[("hypervisor/uuid", "ec2e1916-9099-7caf-fd21-012345abcdef\n")],
    ] {
        let sys = sys_tree(files);
        let ev = detect_ec2(sys.path()).unwrap_or_else(|| panic!("EC2: {files:?}"));
        assert_eq!(ev.file, sys.path().join(files[0].0));
        assert_eq!(ev.value, files[0].1.trim());
    }
    for files in [
        &[][..],
        &[("class/dmi/id/board_asset_tag", "Not Specified\n")],
        &[("class/dmi/id/sys_vendor", "QEMU\n")],
        &[("class/dmi/id/sys_vendor", "Amazon.com\n")],
        &[(
            "class/dmi/id/product_uuid",
            "4c4c4544-0051-3510-8052-b4c04f4e3632\n",
        )],
        &[("hypervisor/uuid", "2dbe7c2e-1a5d-4b49-9d3b-4c3a1e0f7d10\n")],
    ] {
        let sys = sys_tree(files);
        assert_eq!(detect_ec2(sys.path()), None, "{files:?}");
    }
    assert_eq!(detect_ec2(laptop_sys()), None);
}

#[test]
fn off_ec2_by_dmi_the_metadata_service_is_never_asked() {
    let imds = FakeImds::start(true);
    let dir = tempfile::tempdir().unwrap();
    let mid = machine_id_file(dir.path(), "4f1c2d3e4a5b6c7d8e9fa0b1c2d3e4f5\n");
    let id = resolve_identity(
        &IdentityOptions {
            sys_root: laptop_sys().to_owned(),
            ..opts(&imds.url, None, vec![mid.clone()])
        },
        ALL,
    );
    assert_eq!(id.source, IdSource::MachineId(mid));
    assert_eq!(
        imds.requests.lock().unwrap().len(),
        0,
        "no request to the metadata endpoint off EC2"
    );
    // The same host with EC2's DMI asks it.
    let id = resolve_identity(&opts(&imds.url, None, vec![]), ALL);
    assert_eq!(id.source, IdSource::Imds(imds.url.clone()));
    assert!(!imds.requests.lock().unwrap().is_empty());
}

#[test]
fn without_imds_access_ec2_takes_the_instance_id_from_dmi() {
    let imds = FakeImds::start(true);
    let id = resolve_identity(
        &IdentityOptions {
            ask_imds: false,
            ..opts(&imds.url, None, vec![])
        },
        ALL,
    );
    assert_eq!(id.instance_id, NITRO_ASSET_TAG);
    assert_eq!(
        id.source,
        IdSource::Dmi(ec2_sys().join("class/dmi/id/board_asset_tag"))
    );
    assert_eq!(id.instance_type, None);
    assert_eq!(imds.requests.lock().unwrap().len(), 0);
}

fn machine_id_file(dir: &Path, contents: &str) -> PathBuf {
    let p = dir.join("machine-id");
    std::fs::write(&p, contents).unwrap();
    p
}

#[test]
fn off_ec2_config_then_machine_id_then_hostname_and_fast() {
    let dir = tempfile::tempdir().unwrap();
    let mid = machine_id_file(dir.path(), "4f1c2d3e4a5b6c7d8e9fa0b1c2d3e4f5\n");
    let url = closed_port_url();

    let t = Instant::now();
    let id = resolve_identity(&opts(&url, Some("db-1"), vec![mid.clone()]), ALL);
    assert_eq!(
        (id.instance_id.as_str(), &id.source),
        ("db-1", &IdSource::Config)
    );
    assert_eq!(id.instance_type, None);

    let id = resolve_identity(
        &opts(&url, None, vec![dir.path().join("absent"), mid.clone()]),
        ALL,
    );
    assert_eq!(id.source, IdSource::MachineId(mid.clone()));
    assert!(
        id.instance_id.starts_with("mi-") && id.instance_id.len() == 20,
        "{}",
        id.instance_id
    );
    assert!(id.instance_id[3..].bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(
        !id.instance_id.contains("4f1c2d3e4a5b6c7d8"),
        "the machine id itself is not published"
    );
    // Stable: the same machine id always gives the same instance id.
    assert_eq!(
        machine_id_instance_id(&mid).as_deref(),
        Some(id.instance_id.as_str())
    );

    let bad = dir.path().join("bad-id");
    std::fs::write(&bad, "not-a-machine-id").unwrap();
    let id = resolve_identity(&opts(&url, None, vec![bad]), ALL);
    assert_eq!(
        (id.instance_id.as_str(), &id.source),
        ("web-1", &IdSource::Hostname)
    );
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "refused connections must not wait: {:?}",
        t.elapsed()
    );
}

fn design_config(imds_endpoint: &str) -> AgentConfig {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/configs/design.json"),
    )
    .unwrap();
    // The design config verbatim, plus where the (fake) IMDS is.
    let text = text.replacen(
        r#"{"agent":{"#,
        &format!(r#"{{"agent":{{"imds_endpoint":"{imds_endpoint}","#),
        1,
    );
    AgentConfig::parse(&text).unwrap()
}

/// Runs the design config's collectors once and returns its datums.
fn design_datums(imds_endpoint: &str) -> (Vec<stratus_agent::ship::Datum>, String) {
    let config = design_config(imds_endpoint);
    let mut slots = build_collectors(&config).unwrap();
    let prepared = prepare_with(config, ec2_sys(), true);
    let id = prepared.identity.clone().expect("placeholders resolved");
    let readings = slots[0].collector.collect().unwrap();
    (
        prepared.pipeline.datums(0, &readings, 1_700_000_000_000),
        id.instance_id,
    )
}

fn assert_disk_used_percent(datums: &[stratus_agent::ship::Datum], instance_id: &str) {
    let root: Vec<_> = datums
        .iter()
        .filter(|d| d.dimensions.iter().any(|(k, v)| k == "path" && v == "/"))
        .collect();
    assert_eq!(root.len(), 1, "{datums:?}");
    let d = root[0];
    assert_eq!(d.metric_name, "disk_used_percent");
    assert_eq!(d.unit, "Percent");
    assert!(!d.high_resolution, "3600 s interval: standard resolution");
    let keys: Vec<&str> = d.dimensions.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["InstanceId", "device", "fstype", "path"]);
    assert_eq!(d.dimensions[0].1, instance_id);
    match d.value {
        stratus_agent::ship::DatumValue::Single(v) => assert!((0.0..=100.0).contains(&v), "{v}"),
        ref other => panic!("{other:?}"),
    }
}

#[test]
fn design_config_on_ec2_publishes_disk_used_percent_with_the_instance_id() {
    let imds = FakeImds::start(true);
    let (datums, id) = design_datums(&imds.url);
    assert_eq!(id, "i-0123456789abcdef0");
    assert_disk_used_percent(&datums, "i-0123456789abcdef0");
}

#[test]
fn design_config_off_ec2_uses_the_fallback_id_quickly() {
    let t = Instant::now();
    let (datums, id) = design_datums(&closed_port_url());
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    assert!(!id.starts_with("i-"), "{id}");
    assert_disk_used_percent(&datums, &id);
}

#[test]
fn check_config_prints_what_would_be_published() {
    let imds = FakeImds::start(true);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.json");
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/configs/design.json"),
    )
    .unwrap()
    .replacen(
        r#"{"agent":{"#,
        &format!(r#"{{"agent":{{"imds_endpoint":"{}","#, imds.url),
        1,
    );
    std::fs::write(&path, text).unwrap();
    let mut out = Vec::new();
    let report = check_config(
        &AgentOptions {
            config_path: path.clone(),
            sys_root: Some(ec2_sys().to_owned()),
            ..Default::default()
        },
        &mut out,
    )
    .unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("config OK"), "{out}");
    assert!(out.contains("endpoint http://127.0.0.1:4566"), "{out}");
    // On EC2 (by DMI) the instance id comes from DMI: check-config makes no
    // network call, not even to the metadata service.
    assert!(
        out.contains("instance id i-0123456789abcdef0 from EC2 DMI"),
        "{out}"
    );
    assert_eq!(imds.requests.lock().unwrap().len(), 0, "{out}");
    let line = out
        .lines()
        .find(|l| l.contains("disk_used_percent") && l.contains("path=/  = "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains("Percent  60s  InstanceId=i-0123456789abcdef0, device="),
        "{line}"
    );
    assert!(
        report
            .datums
            .iter()
            .all(|d| d.metric_name == "disk_used_percent")
    );

    // A broken config is an error naming the path (exit code 1 in the CLI).
    std::fs::write(
        &path,
        r#"{"metrics":{"metrics_collected":{"disk":{"measurement":["usedpercent"]}}}}"#,
    )
    .unwrap();
    let e = check_config(
        &AgentOptions {
            config_path: path,
            ..Default::default()
        },
        &mut Vec::new(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("metrics.metrics_collected.disk.measurement[0]: unknown measurement"),
        "{e}"
    );
}

#[test]
fn check_config_off_ec2_asks_no_metadata() {
    let imds = FakeImds::start(true);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.json");
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/configs/design.json"),
    )
    .unwrap()
    .replacen(
        r#"{"agent":{"#,
        &format!(r#"{{"agent":{{"imds_endpoint":"{}","#, imds.url),
        1,
    );
    std::fs::write(&path, text).unwrap();
    let mut out = Vec::new();
    check_config(
        &AgentOptions {
            config_path: path,
            sys_root: Some(laptop_sys().to_owned()),
            ..Default::default()
        },
        &mut out,
    )
    .unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("config OK"), "{out}");
    assert!(!out.contains("i-0123456789abcdef0"), "{out}");
    assert_eq!(imds.requests.lock().unwrap().len(), 0, "{out}");
}
