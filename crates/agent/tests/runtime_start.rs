//! The whole start-up path with a recording sink: config file, credentials
//! profile, log file lines, collection, and the flush on stop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use stratus_agent::runtime::{AgentError, AgentOptions, DatumSink, resolve_shipping, start};
use stratus_agent::ship::Datum;

#[derive(Default)]
struct Recorder {
    datums: Mutex<Vec<Datum>>,
    shut: AtomicBool,
}

impl DatumSink for Recorder {
    fn submit(&self, datums: Vec<Datum>) {
        assert!(!self.shut.load(Ordering::SeqCst), "submit after shutdown");
        self.datums.lock().unwrap().extend(datums);
    }
    fn shutdown(&self) {
        self.shut.store(true, Ordering::SeqCst);
    }
}

#[test]
fn starts_collects_logs_and_flushes_on_stop() {
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("credentials");
    std::fs::write(
        &creds,
        "[AmazonCloudWatchAgent]\naws_access_key_id = AKIDAGENT\naws_secret_access_key = s3cr3t\n",
    )
    .unwrap();
    let log = dir.path().join("logs/agent.log");
    let config = dir.path().join("agent.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"agent":{{"metrics_collection_interval":1,"logfile":"{}","credentials_file":"{}",
                "run_as_user":"cwagent","region":"eu-central-1"}},
               "metrics":{{"endpoint_override":"http://127.0.0.1:9","metrics_collected":{{
                 "mem":{{"measurement":["used_percent"]}},
                 "swap":{{"measurement":["swap_used_percent"],"metrics_collection_interval":60}}}}}}}}"#,
            log.display(),
            creds.display()
        ),
    )
    .unwrap();
    let sink = Arc::new(Recorder::default());
    let seen_settings = Arc::new(Mutex::new(None));
    let (s2, seen2) = (Arc::clone(&sink), Arc::clone(&seen_settings));
    let agent = start(
        &AgentOptions {
            config_path: config.clone(),
            ..Default::default()
        },
        move |settings| {
            *seen2.lock().unwrap() = Some(settings.clone());
            Ok(s2 as Arc<dyn DatumSink>)
        },
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while sink.datums.lock().unwrap().len() < 3 {
        assert!(Instant::now() < deadline, "no datums");
        std::thread::sleep(Duration::from_millis(50));
    }
    let t = Instant::now();
    agent.stop_handle().stop();
    agent.wait();
    assert!(t.elapsed() < Duration::from_secs(1));
    assert!(
        sink.shut.load(Ordering::SeqCst),
        "shutdown flushes the sink"
    );

    let settings = seen_settings.lock().unwrap().clone().unwrap();
    assert_eq!(settings.endpoint, "http://127.0.0.1:9");
    assert_eq!(settings.region, "eu-central-1");
    assert_eq!(settings.credentials.access_key_id, "AKIDAGENT");
    assert_eq!(settings.namespace, "CWAgent");

    let datums = sink.datums.lock().unwrap();
    let mem = datums
        .iter()
        .filter(|d| d.metric_name == "mem_used_percent")
        .count();
    let swap = datums
        .iter()
        .filter(|d| d.metric_name == "swap_used_percent")
        .count();
    assert!(mem >= 2, "1 s group keeps collecting: {mem}");
    assert_eq!(swap, 1, "60 s group collected once at start");
    assert!(
        datums
            .iter()
            .all(|d| d.dimensions.iter().any(|(k, _)| k == "host"))
    );
    assert!(
        datums
            .iter()
            .find(|d| d.metric_name == "mem_used_percent")
            .unwrap()
            .high_resolution
    );

    let text = std::fs::read_to_string(&log).unwrap();
    for want in [
        "I! Stratus agent ",
        &format!("config {}", config.display()),
        "endpoint http://127.0.0.1:9, region eu-central-1 (agent.region)",
        "credentials from profile [AmazonCloudWatchAgent] of",
        "agent.run_as_user: accepted and ignored",
        "instance id: not needed",
        "config: namespace CWAgent, 2 plugin(s) [mem every 1s, swap every 60s], 2 metric(s)",
        "agent stopped",
    ] {
        assert!(text.contains(want), "log lacks {want:?}:\n{text}");
    }
    assert!(!text.contains("s3cr3t"), "the secret is never logged");
}

#[test]
fn start_refuses_what_it_cannot_honour() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.json");
    std::fs::write(
        &config,
        r#"{"metrics":{"metrics_collected":{"mem":{"measurement":["used_percent"]}}}}"#,
    )
    .unwrap();
    let creds = dir.path().join("credentials");
    std::fs::write(
        &creds,
        "[p]\naws_access_key_id=a\naws_secret_access_key=b\n",
    )
    .unwrap();
    let opts = |profile: &str| AgentOptions {
        config_path: config.clone(),
        credentials_file: Some(creds.clone()),
        profile: Some(profile.into()),
        sys_root: None,
    };
    // (Not through `start`: the log sink is process-wide and the other test
    // owns it.)
    let cfg = stratus_agent::config::AgentConfig::load(&config).unwrap();
    // Without endpoint_override the agent ships to AWS itself, over https.
    let ok = resolve_shipping(&cfg, &opts("p"), &|_| None).unwrap();
    assert_eq!(ok.0.endpoint, "https://monitoring.us-east-1.amazonaws.com");
    // A profile the file does not have is refused at start, naming both.
    let e = resolve_shipping(&cfg, &opts("missing"), &|_| None)
        .err()
        .unwrap();
    assert!(matches!(e, AgentError::Credentials(_)), "{e:?}");
    assert!(e.to_string().contains("no [missing] profile"), "{e}");
}
