//! Broken configs are refused at start with a message naming the JSON path.

use stratus_agent::config::{AgentConfig, ConfigError};

/// (config, expected path, expected words in the message)
const CASES: &[(&str, &str, &str)] = &[
    (
        r#"{"agent":{"metrics_collection_interval":"60"},"metrics":{"metrics_collected":{"mem":{"measurement":["used_percent"]}}}}"#,
        "agent.metrics_collection_interval",
        "invalid type: string \"60\", expected u64",
    ),
    (
        r#"{"agent":{"metrics_colection_interval":60},"metrics":{"metrics_collected":{"mem":{"measurement":["used_percent"]}}}}"#,
        "agent.metrics_colection_interval",
        "unknown field `metrics_colection_interval`",
    ),
    (r#"{"metric":{}}"#, "metric", "unknown field `metric`"),
    (
        r#"{"metrics":{"metrics_collected":{"disk":{"measurement":["used_percent","used_percentt"]}}}}"#,
        "metrics.metrics_collected.disk.measurement[1]",
        "unknown measurement \"used_percentt\" for plugin disk (known: ",
    ),
    (
        r#"{"metrics":{"metrics_collected":{"nvidia_gpu":{"measurement":["utilization_gpu"]}}}}"#,
        "metrics.metrics_collected.nvidia_gpu",
        "plugin nvidia_gpu is not supported by the Stratus agent",
    ),
    (
        r#"{"metrics":{"metrics_collected":{"gpu":{}}}}"#,
        "metrics.metrics_collected.gpu",
        "unknown field `gpu`",
    ),
    (
        r#"{"logs":{"logs_collected":{}},"metrics":{"metrics_collected":{"mem":{"measurement":["used_percent"]}}}}"#,
        "logs",
        "nothing to collect",
    ),
    (
        r#"{"logs":{"logs_collected":{"journald":{"collect_list":[]}}}}"#,
        "logs.logs_collected.journald",
        "the journald collector is not supported by the Stratus agent",
    ),
    (
        r#"{"logs":{"logs_collected":{"windows_events":{}}}}"#,
        "logs.logs_collected.windows_events",
        "not supported by the Stratus agent",
    ),
    (
        r#"{"logs":{"logs_collected":{"files":{"collect_list":[{"file_path":"/var/log/x.log","log_grop_name":"g"}]}}}}"#,
        "logs.logs_collected.files.collect_list[0].log_grop_name",
        "unknown field `log_grop_name`",
    ),
    (
        r#"{"logs":{"logs_collected":{"files":{"collect_list":[{"file_path":"/var/log/x.log","timestamp_format":"%Y-%m-%d %Q"}]}}}}"#,
        "logs.logs_collected.files.collect_list[0].timestamp_format",
        "unsupported directive %Q",
    ),
    (
        r#"{"logs":{"logs_collected":{"files":{"collect_list":[{"file_path":"/var/log/x.log","filters":[{"type":"include","expression":"("}]}]}}}}"#,
        "logs.logs_collected.files.collect_list[0].filters[0].expression",
        "is not a valid regex",
    ),
    (
        r#"{"logs":{"logs_collected":{"files":{"collect_list":[{"file_path":"/var/log/x.log","filters":[{"type":"keep","expression":"x"}]}]}}}}"#,
        "logs.logs_collected.files.collect_list[0].filters[0].type",
        "\"keep\": expected \"include\" or \"exclude\"",
    ),
    (
        r#"{"logs":{"logs_collected":{"files":{"collect_list":[{"file_path":"/var/log/x.log","retention_in_days":2}]}}}}"#,
        "logs.logs_collected.files.collect_list[0].retention_in_days",
        "2 is not a CloudWatch Logs retention",
    ),
    (
        r#"{"logs":{"logs_collected":{"files":{"collect_list":[{"file_path":"/var/log/x.log","log_stream_name":"{hostname}-{pod}"}]}}}}"#,
        "logs.logs_collected.files.collect_list[0].log_stream_name",
        "unknown placeholder {pod}",
    ),
    (
        r#"{"logs":{"logs_collected":{"files":{"collect_list":[{"file_path":"/var/log/x.log","multi_line_start_pattern":"{timestamp_format}"}]}}}}"#,
        "logs.logs_collected.files.collect_list[0].multi_line_start_pattern",
        "needs a timestamp_format",
    ),
    (
        r#"{"logs":{"logs_collected":{"files":{"collect_list":[{"file_path":"/var/log/x.log","encoding":"ebcdic"}]}}}}"#,
        "logs.logs_collected.files.collect_list[0].encoding",
        "\"ebcdic\" is not supported by the Stratus agent",
    ),
    (
        r#"{"logs":{"logs_collected":{"files":{"collect_list":[{"file_path":"/var/log/x.log","timezone":"PST"}]}}}}"#,
        "logs.logs_collected.files.collect_list[0].timezone",
        "expected \"Local\" or \"UTC\"",
    ),
    (
        r#"{"logs":{"logs_collected":{"files":{"collect_list":[{"file_path":"x.log"}]}}}}"#,
        "logs.logs_collected.files.collect_list[0].file_path",
        "must be an absolute path",
    ),
    (
        r#"{"logs":{"credentials":{"role_arn":"arn:aws:iam::1:role/r"},"metrics_collected":{"emf":{}}}}"#,
        "logs.credentials.role_arn",
        "assuming a role is not supported",
    ),
    (
        r#"{"logs":{"metrics_collected":{"emf":{"service_address":"localhost"}}}}"#,
        "logs.metrics_collected.emf.service_address",
        "is not ip:port",
    ),
    (
        r#"{"logs":{"metrics_collected":{"prometheus":{}}}}"#,
        "logs.metrics_collected.prometheus",
        "unknown field `prometheus`",
    ),
    (
        r#"{"logs":{"force_flush_interval":0,"metrics_collected":{"emf":{}}}}"#,
        "logs.force_flush_interval",
        "0 is out of range",
    ),
    (
        r#"{"metrics":{"metrics_collected":{"cpu":{"measurement":[{"name":"usage_idle","unit":"Percents"}]}}}}"#,
        "metrics.metrics_collected.cpu.measurement[0].unit",
        "\"Percents\" is not a CloudWatch unit",
    ),
    (
        r#"{"metrics":{"metrics_collected":{"cpu":{"measurement":[{"name":"usage_idle","renam":"Idle"}]}}}}"#,
        "metrics.metrics_collected.cpu.measurement[0].renam",
        "unknown field `renam`",
    ),
    (
        r#"{"metrics":{"metrics_collected":{"cpu":{"measurement":["usage_idle"],"resources":["cpu0"]}}}}"#,
        "metrics.metrics_collected.cpu.resources[0]",
        "the only value allowed is \"*\"",
    ),
    (
        r#"{"metrics":{"metrics_collected":{"mem":{"measurement":["used_percent"],"metrics_collection_interval":0}}}}"#,
        "metrics.metrics_collected.mem.metrics_collection_interval",
        "0 is out of range: 1..=172800 seconds",
    ),
    (
        r#"{"metrics":{"append_dimensions":{"Region":"${aws:Region}"},"metrics_collected":{"mem":{"measurement":["used_percent"]}}}}"#,
        "metrics.append_dimensions.Region",
        "unknown placeholder ${aws:Region}",
    ),
    (
        r#"{"metrics":{"append_dimensions":{"InstanceId":42},"metrics_collected":{"mem":{"measurement":["used_percent"]}}}}"#,
        "metrics.append_dimensions.InstanceId",
        "invalid type: integer `42`, expected a string",
    ),
    (
        r#"{"metrics":{"metrics_collected":{"procstat":[{"exe":"nginx","measurement":["pid_count"]},{"measurement":["cpu_usage"]}]}}}"#,
        "metrics.metrics_collected.procstat[1]",
        "needs one of pid_file, exe or pattern",
    ),
    (
        r#"{"metrics":{"metrics_collected":{"procstat":[{"exe":"a","pattern":"b","measurement":["cpu_usage"]}]}}}"#,
        "metrics.metrics_collected.procstat[0]",
        "has exe and pattern: give exactly one process selector",
    ),
    (
        r#"{"metrics":{"metrics_collected":{}}}"#,
        "metrics.metrics_collected",
        "no plugin configured",
    ),
    (
        r#"{"metrics":{"metrics_collected":{"statsd":{"service_address":"8125"}}}}"#,
        "metrics.metrics_collected.statsd.service_address",
        "is not host:port",
    ),
    (
        r#"{"metrics":{"endpoint_override":"monitoring.local","metrics_collected":{"mem":{"measurement":["used_percent"]}}}}"#,
        "metrics.endpoint_override",
        "is not a URL",
    ),
    (
        r#"{"agent":{"credentials":{"role_arn":"arn:aws:iam::1:role/x"}},"metrics":{"metrics_collected":{"mem":{"measurement":["used_percent"]}}}}"#,
        "agent.credentials.role_arn",
        "assuming a role is not supported",
    ),
    (
        r#"{"metrics":{"namespace":"AWS/EC2","metrics_collected":{"mem":{"measurement":["used_percent"]}}}}"#,
        "metrics.namespace",
        "reserved",
    ),
    (
        r#"{"metrics":{"metrics_collected":{"disk":{"measurement":["used_percent"],"totalcpu":true}}}}"#,
        "metrics.metrics_collected.disk.totalcpu",
        "unknown field `totalcpu`",
    ),
    (
        r#"{"metrics":{"metrics_collected":{"mem":{"measurement":[]}}}}"#,
        "metrics.metrics_collected.mem.measurement",
        "empty: name at least one of",
    ),
    (
        r#"{"metrics":{"metrics_collected":{"mem":{}}}}"#,
        "metrics.metrics_collected.mem",
        "missing field `measurement`",
    ),
    (
        r#"{"agent":{"metrics_collection_interval":60}}"#,
        "metrics",
        "needs a metrics section",
    ),
    (
        r#"{"metrics":{"aggregation_dimensions":[["path"],"device"],"metrics_collected":{"mem":{"measurement":["used_percent"]}}}}"#,
        "metrics.aggregation_dimensions[1]",
        "invalid type: string \"device\", expected a sequence",
    ),
    (
        r#"{"agent":{"imds_endpoint":"https://169.254.169.254"},"metrics":{"metrics_collected":{"mem":{"measurement":["used_percent"]}}}}"#,
        "agent.imds_endpoint",
        "must be an http:// URL",
    ),
    (
        r#"{"agent":{"auth_failure_max_age":2592001},"metrics":{"metrics_collected":{"mem":{"measurement":["used_percent"]}}}}"#,
        "agent.auth_failure_max_age",
        "at most 2592000 seconds",
    ),
];

#[test]
fn broken_configs_are_refused_with_their_path() {
    let mut failures = Vec::new();
    for (json, path, words) in CASES {
        match AgentConfig::parse(json) {
            Ok(_) => failures.push(format!("accepted: {json}")),
            Err(e) => {
                let msg = e.to_string();
                if e.path() != Some(*path)
                    || !msg.starts_with(&format!("{path}: "))
                    || !msg.contains(words)
                {
                    failures.push(format!("{json}\n  want {path}: …{words}…\n  got  {msg}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn the_message_lists_the_known_measurements() {
    let e = AgentConfig::parse(CASES[3].0).unwrap_err();
    let msg = e.to_string();
    for known in ["free", "total", "used", "used_percent", "inodes_free"] {
        assert!(msg.contains(known), "{msg}");
    }
}

#[test]
fn syntax_errors_give_line_and_column() {
    let e = AgentConfig::parse("{\"agent\": {\n  \"debug\": tru }\n}").unwrap_err();
    assert!(matches!(e, ConfigError::Syntax(_)), "{e:?}");
    assert!(e.to_string().contains("line 2"), "{e}");
    let e = AgentConfig::parse(
        r#"{"metrics":{"metrics_collected":{"mem":{"measurement":["used_percent"]}}}} x"#,
    )
    .unwrap_err();
    assert!(matches!(e, ConfigError::Syntax(_)), "{e:?}");
}

#[test]
fn a_missing_file_names_the_file() {
    let e = AgentConfig::load(std::path::Path::new("/nonexistent/agent.json")).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/agent.json"), "{e}");
}
