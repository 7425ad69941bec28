use super::*;

#[test]
fn design_config_parses() {
    let c = AgentConfig::parse(
        r#"{"agent":{"metrics_collection_interval":3600},
 "metrics":{"append_dimensions":{"InstanceId":"${aws:InstanceId}"},
  "metrics_collected":{"disk":{"measurement":["used_percent"],"metrics_collection_interval":3600,"resources":["/"]}}}}"#,
    )
    .unwrap();
    assert_eq!(c.metrics.namespace, "CWAgent");
    assert_eq!(c.metrics.plugins.len(), 1);
    let p = &c.metrics.plugins[0];
    assert_eq!(p.interval, Duration::from_secs(3600));
    assert_eq!(p.measurements[0].metric_name, "disk_used_percent");
    assert_eq!(p.measurements[0].unit, "Percent");
    assert_eq!(p.options.resources, vec!["/".to_owned()]);
}
