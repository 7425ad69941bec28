//! Configs the agent accepts, and what they mean.

use std::path::PathBuf;
use std::time::Duration;
use stratus_agent::collect::{ProcstatSelector, Reading};
use stratus_agent::config::{AgentConfig, DimensionValue, Ec2Placeholder};
use stratus_agent::metadata::{IdSource, InstanceIdentity};
use stratus_agent::pipeline::Pipeline;
use stratus_agent::ship::DatumValue;

fn load(name: &str) -> AgentConfig {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/configs")
        .join(name);
    AgentConfig::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn the_design_config_means_one_hourly_disk_metric() {
    let c = load("design.json");
    assert_eq!(c.agent.interval, Duration::from_secs(3600));
    assert_eq!(c.metrics.namespace, "CWAgent");
    assert_eq!(c.metrics.force_flush_interval, Duration::from_secs(60));
    assert_eq!(
        c.metrics.endpoint_override.as_deref(),
        Some("http://127.0.0.1:4566")
    );
    assert_eq!(
        c.metrics.append_dimensions,
        [(
            "InstanceId".to_owned(),
            DimensionValue::Ec2(Ec2Placeholder::InstanceId)
        )]
    );
    assert_eq!(c.agent.profile, "AmazonCloudWatchAgent");
    assert_eq!(c.agent.imds_endpoint, "http://169.254.169.254");
    assert_eq!(c.agent.auth_failure_max_age, Duration::from_secs(86_400));
    let [disk] = c.metrics.plugins.as_slice() else {
        panic!("{:?}", c.metrics.plugins)
    };
    assert_eq!(disk.plugin, "disk");
    assert_eq!(disk.options.resources, ["/"]);
    assert_eq!(disk.options.fields, ["used_percent"]);
    assert_eq!(disk.measurements[0].metric_name, "disk_used_percent");
    assert_eq!(disk.measurements[0].unit, "Percent");
    assert!(c.uses_ec2_placeholders());
}

#[test]
fn the_reference_scenario_config_is_accepted() {
    let c = load("scenario.json");
    let labels: Vec<&str> = c.metrics.plugins.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(labels, ["cpu", "disk", "mem"]);
    assert!(c.metrics.plugins[1].options.drop_device);
    assert!(c.metrics.plugins[0].options.totalcpu);
    assert!(!c.metrics.plugins[0].options.percpu);
    assert_eq!(c.agent.region.as_deref(), Some("us-east-1"));
    // run_as_user is accepted and reported as ignored.
    assert_eq!(c.agent.run_as_user.as_deref(), Some("root"));
    assert!(c.ignored.iter().any(|(p, _)| p == "agent.run_as_user"));
}

#[test]
fn every_supported_key_at_once() {
    let c = load("everything.json");
    assert_eq!(c.agent.interval, Duration::from_secs(10));
    assert_eq!(c.agent.logfile, None, "\"\" logs to stderr");
    assert!(c.agent.debug);
    assert_eq!(c.agent.spool_max_bytes, Some(64 << 20));
    assert_eq!(c.agent.auth_failure_max_age, Duration::from_secs(3600));
    assert_eq!(c.agent.instance_id.as_deref(), Some("on-prem-db-1"));
    assert_eq!(c.metrics.namespace, "MyApp/Hosts");
    assert_eq!(c.metrics.force_flush_interval, Duration::from_secs(30));
    assert_eq!(
        c.metrics.aggregation_dimensions,
        vec![
            vec!["InstanceId".to_owned()],
            vec![],
            vec!["path".to_owned()]
        ]
    );
    assert_eq!(c.metrics.plugins.len(), 11);
    let cpu = &c.metrics.plugins[0];
    assert_eq!(cpu.interval, Duration::from_secs(1));
    assert!(cpu.options.percpu && !cpu.options.totalcpu);
    let names: Vec<(&str, &str, &str)> = cpu
        .measurements
        .iter()
        .map(|m| (m.field, m.metric_name.as_str(), m.unit))
        .collect();
    assert_eq!(
        names,
        [
            ("usage_active", "cpu_usage_active", "Percent"),
            ("usage_idle", "cpu_usage_idle", "Percent"),
            ("usage_user", "CPU_USER", "Percent"),
        ]
    );
    let disk = &c.metrics.plugins[1];
    assert_eq!(disk.options.ignore_file_system_types, ["tmpfs", "overlay"]);
    assert_eq!(
        disk.interval,
        Duration::from_secs(10),
        "plugin inherits the agent interval"
    );
    assert_eq!(disk.measurements[1].unit, "Count");
    let procstat: Vec<_> = c
        .metrics
        .plugins
        .iter()
        .filter(|p| p.plugin == "procstat")
        .collect();
    assert_eq!(procstat.len(), 3);
    assert_eq!(
        procstat[0].options.procstat,
        Some(ProcstatSelector::PidFile("/run/sshd.pid".into()))
    );
    assert_eq!(
        procstat[1].options.procstat,
        Some(ProcstatSelector::Exe("nginx".into()))
    );
    assert_eq!(
        procstat[1].measurements[0].metric_name,
        "procstat_lookup_pid_count"
    );
    assert_eq!(procstat[1].interval, Duration::from_secs(60));
    assert_eq!(procstat[2].label, "procstat[2]");
    assert_eq!(
        procstat[2].measurements[0].metric_name,
        "procstat_memory_rss"
    );
    assert_eq!(procstat[2].measurements[0].unit, "Bytes");
    let statsd = c.metrics.statsd.as_ref().unwrap();
    assert_eq!(statsd.service_address, "127.0.0.1:8125");
    assert_eq!(statsd.aggregation_interval, Duration::from_secs(60));
    assert_eq!(
        c.intervals(),
        [
            Duration::from_secs(1),
            Duration::from_secs(10),
            Duration::from_secs(60)
        ]
    );
}

#[test]
fn rename_and_unit_objects_reach_the_datums() {
    let c = AgentConfig::parse(
        r#"{"agent":{"omit_hostname":true},"metrics":{"metrics_collected":{"disk":{"measurement":[
            {"name":"disk_used_percent","rename":"RootFull"},
            {"name":"free","unit":"Gigabytes"},
            "inodes_used"]}}}}"#,
    )
    .unwrap();
    let (p, _) = Pipeline::new(&c, "h", None);
    let d = p.datums(
        0,
        &[Reading {
            tags: vec![("path".into(), "/".into())],
            fields: vec![
                ("used_percent", 12.5),
                ("free", 3.0),
                ("inodes_used", 9.0),
                ("total", 1.0),
            ],
        }],
        42,
    );
    let got: Vec<(&str, &str)> = d.iter().map(|d| (d.metric_name.as_str(), d.unit)).collect();
    assert_eq!(
        got,
        [
            ("RootFull", "Percent"),
            ("disk_free", "Gigabytes"),
            ("disk_inodes_used", "Count")
        ]
    );
    assert_eq!(d[0].value, DatumValue::Single(12.5));
}

#[test]
fn aggregation_dimensions_publish_rollups() {
    let c = AgentConfig::parse(
        r#"{"metrics":{"append_dimensions":{"InstanceId":"${aws:InstanceId}"},
            "aggregation_dimensions":[["InstanceId"],[]],
            "metrics_collected":{"cpu":{"measurement":["usage_idle"],"resources":["*"]}}}}"#,
    )
    .unwrap();
    let id = InstanceIdentity {
        instance_id: "i-1".into(),
        source: IdSource::Config,
        instance_type: None,
        image_id: None,
        autoscaling_group: None,
    };
    let (p, _) = Pipeline::new(&c, "h", Some(&id));
    let reading = |cpu: &str, v: f64| Reading {
        tags: vec![("cpu".into(), cpu.into())],
        fields: vec![("usage_idle", v)],
    };
    let d = p.datums(0, &[reading("cpu0", 90.0), reading("cpu1", 70.0)], 0);
    let dims: Vec<String> = d
        .iter()
        .map(|d| {
            d.dimensions
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    // Per core: the InstanceId-only copy, the no-dimension copy, the original.
    assert_eq!(
        dims,
        [
            "InstanceId=i-1",
            "",
            "InstanceId=i-1,cpu=cpu0",
            "InstanceId=i-1",
            "",
            "InstanceId=i-1,cpu=cpu1"
        ]
    );
}

#[test]
fn a_logs_only_config_runs_without_metrics_and_gets_the_stock_defaults() {
    use stratus_agent::config::{Encoding, LogTimezone, MultiLineStart};
    let c = AgentConfig::parse(
        r#"{"logs":{
            "logs_collected":{"files":{"collect_list":[
                {"file_path":"/var/log/syslog"},
                {"file_path":"/var/log/app/**/*.log","log_group_name":"app-{hostname}",
                 "log_stream_name":"{instance_id}-{ip_address}","timezone":"UTC",
                 "timestamp_format":"%b %-d %H:%M:%S","multi_line_start_pattern":"{timestamp_format}",
                 "encoding":"ISO-8859-1","retention_in_days":30,"log_group_class":"standard",
                 "filters":[{"type":"exclude","expression":"DEBUG"},{"type":"include","expression":"ERROR|WARN"}],
                 "auto_removal":true,"trim_timestamp":true,"publish_multi_logs":false}
            ]}},
            "metrics_collected":{"emf":{}},
            "log_stream_name":"{hostname}",
            "concurrency":4
        }}"#,
    )
    .unwrap();
    assert!(c.metrics.is_empty());
    let logs = c.logs.expect("logs section");
    assert_eq!(logs.force_flush_interval, Duration::from_secs(5));
    assert_eq!(logs.endpoint_override, None);
    assert_eq!(
        logs.emf.map(|e| e.service_address).as_deref(),
        Some("127.0.0.1:25888")
    );
    let [syslog, app] = logs.files.as_slice() else {
        panic!("{:?}", logs.files)
    };
    // Entry without its own stream name: the section's.
    assert_eq!(syslog.log_stream_name, "{hostname}");
    assert_eq!(syslog.log_group_name, None);
    assert_eq!(syslog.timezone, LogTimezone::Local);
    assert_eq!(syslog.encoding, Encoding::Utf8);
    assert_eq!(app.log_group_name.as_deref(), Some("app-{hostname}"));
    assert_eq!(app.log_stream_name, "{instance_id}-{ip_address}");
    assert_eq!(app.timezone, LogTimezone::Utc);
    assert_eq!(app.encoding, Encoding::Latin1);
    assert_eq!(app.retention_in_days, Some(30));
    assert_eq!(app.log_group_class.as_deref(), Some("STANDARD"));
    assert!(matches!(
        app.multi_line_start,
        Some(MultiLineStart::TimestampFormat)
    ));
    assert_eq!(
        app.filters.iter().map(|f| f.include).collect::<Vec<_>>(),
        [false, true]
    );
    assert!(app.auto_removal && app.trim_timestamp && !app.publish_multi_logs);
    assert!(
        c.ignored.iter().any(|(p, _)| p == "logs.concurrency"),
        "{:?}",
        c.ignored
    );
    // retention_in_days -1 (the stock default) sets no policy.
    let c = AgentConfig::parse(
        r#"{"logs":{"logs_collected":{"files":{"collect_list":[{"file_path":"/x","retention_in_days":-1}]}}}}"#,
    )
    .unwrap();
    assert_eq!(c.logs.unwrap().files[0].retention_in_days, None);
}
