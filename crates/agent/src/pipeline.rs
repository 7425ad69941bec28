//! Readings → CloudWatch datums, the stock agent's way: metric names and units
//! from the config, dimensions = the reading's tags + plugin and global
//! `append_dimensions` + `host`, `aggregation_dimensions` roll-up copies,
//! StorageResolution 1 for intervals under a minute.

use crate::collect::Reading;
use crate::config::{AgentConfig, DimensionValue, Measurement};
use crate::metadata::InstanceIdentity;
use crate::ship::{Datum, DatumValue};
use crate::statsd::StatsdMetric;
use std::collections::BTreeMap;
use std::time::Duration;

/// CloudWatch's per-datum dimension limit.
pub const MAX_DIMENSIONS: usize = 30;

/// Everything needed to turn readings into datums, resolved once at start.
#[derive(Debug, Clone)]
pub struct Pipeline {
    host: Option<String>,
    global: Vec<(String, String)>,
    aggregation: Vec<Vec<String>>,
    plugins: Vec<PluginPlan>,
}

/// One configured plugin's share of the pipeline (index = position in
/// `config.metrics.plugins`).
#[derive(Debug, Clone)]
pub struct PluginPlan {
    pub label: String,
    pub plugin: &'static str,
    pub interval: Duration,
    pub measurements: Vec<Measurement>,
    /// Plugin `append_dimensions` with placeholders resolved.
    pub dimensions: Vec<(String, String)>,
    pub high_resolution: bool,
}

impl Pipeline {
    /// Builds the pipeline. `identity` resolves `${aws:*}` placeholders (it
    /// may be `None` only when the config uses none). Placeholders that
    /// cannot be resolved here drop their dimension; the returned warnings
    /// say which (the caller logs them).
    pub fn new(
        cfg: &AgentConfig,
        hostname: &str,
        identity: Option<&InstanceIdentity>,
    ) -> (Pipeline, Vec<String>) {
        let mut warnings = Vec::new();
        // ec2tagger semantics: EC2 placeholders in the global map replace
        // the host dimension by the instance's own identity.
        let ec2tagger = cfg
            .metrics
            .append_dimensions
            .iter()
            .any(|(_, v)| matches!(v, DimensionValue::Ec2(_)));
        let host = (!cfg.agent.omit_hostname && !ec2tagger).then(|| hostname.to_owned());
        let global = resolve(
            "metrics.append_dimensions",
            &cfg.metrics.append_dimensions,
            identity,
            &mut warnings,
        );
        let plugins = cfg
            .metrics
            .plugins
            .iter()
            .map(|p| PluginPlan {
                label: p.label.clone(),
                plugin: p.plugin,
                interval: p.interval,
                measurements: p.measurements.clone(),
                dimensions: resolve(
                    &format!("metrics.metrics_collected.{}.append_dimensions", p.label),
                    &p.append_dimensions,
                    identity,
                    &mut warnings,
                ),
                high_resolution: p.interval < Duration::from_secs(60),
            })
            .collect();
        let pipeline = Pipeline {
            host,
            global,
            aggregation: cfg.metrics.aggregation_dimensions.clone(),
            plugins,
        };
        (pipeline, warnings)
    }

    pub fn plugins(&self) -> &[PluginPlan] {
        &self.plugins
    }

    /// Datums for readings of plugin `index` collected at `timestamp_ms`.
    pub fn datums(&self, index: usize, readings: &[Reading], timestamp_ms: i64) -> Vec<Datum> {
        let Some(plan) = self.plugins.get(index) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for reading in readings {
            let dims = self.dimensions(plan, reading);
            for &(field, value) in &reading.fields {
                // CloudWatch refuses NaN and infinities: never send them.
                if !value.is_finite() {
                    continue;
                }
                for m in plan.measurements.iter().filter(|m| m.field == field) {
                    let datum = Datum {
                        metric_name: m.metric_name.clone(),
                        dimensions: dims.clone(),
                        timestamp_ms,
                        value: DatumValue::Single(value),
                        unit: m.unit,
                        high_resolution: plan.high_resolution,
                    };
                    self.push_with_rollups(datum, &mut out);
                }
            }
        }
        out
    }

    /// Datums for statsd metrics drained at `timestamp_ms`: the bucket name
    /// as metric name, unit None, dimensions = host + statsd tags + global
    /// `append_dimensions` (the stock statsd input has no plugin-level ones).
    pub fn statsd_datums(
        &self,
        metrics: &[StatsdMetric],
        timestamp_ms: i64,
        high_resolution: bool,
    ) -> Vec<Datum> {
        let mut out = Vec::new();
        for m in metrics {
            let pairs: Vec<(f64, f64)> = m
                .values
                .iter()
                .zip(&m.counts)
                .filter(|(v, c)| v.is_finite() && c.is_finite() && **c > 0.0)
                .map(|(v, c)| (*v, *c))
                .collect();
            let value = match pairs.as_slice() {
                [] => continue,
                [(v, c)] if *c == 1.0 => DatumValue::Single(*v),
                _ => DatumValue::Distribution {
                    values: pairs.iter().map(|p| p.0).collect(),
                    counts: pairs.iter().map(|p| p.1).collect(),
                },
            };
            let datum = Datum {
                metric_name: m.name.clone(),
                dimensions: self.merge_dimensions(&m.tags, &[]),
                timestamp_ms,
                value,
                unit: "None",
                high_resolution,
            };
            self.push_with_rollups(datum, &mut out);
        }
        out
    }

    /// The original datum plus one copy per `aggregation_dimensions` set
    /// whose names are all on it and which is smaller than its set.
    fn push_with_rollups(&self, datum: Datum, out: &mut Vec<Datum>) {
        for set in &self.aggregation {
            if set.len() >= datum.dimensions.len() {
                continue;
            }
            let kept: Vec<(String, String)> = datum
                .dimensions
                .iter()
                .filter(|(k, _)| set.iter().any(|n| n == k))
                .cloned()
                .collect();
            if kept.len() == set.len() {
                out.push(Datum {
                    dimensions: kept,
                    ..datum.clone()
                });
            }
        }
        out.push(datum);
    }

    /// Sorted dimensions: host, then the reading's tags, plugin and global
    /// `append_dimensions` (later ones win a name clash); empty values are
    /// dropped (CloudWatch refuses them), and at most 30 are kept.
    fn dimensions(&self, plan: &PluginPlan, reading: &Reading) -> Vec<(String, String)> {
        self.merge_dimensions(&reading.tags, &plan.dimensions)
    }

    fn merge_dimensions(
        &self,
        tags: &[(String, String)],
        plugin: &[(String, String)],
    ) -> Vec<(String, String)> {
        let mut dims: BTreeMap<&str, &str> = BTreeMap::new();
        if let Some(h) = &self.host {
            dims.insert("host", h);
        }
        for (k, v) in tags.iter().chain(plugin).chain(&self.global) {
            dims.insert(k, v);
        }
        dims.into_iter()
            .filter(|(k, v)| !k.is_empty() && !v.is_empty())
            .take(MAX_DIMENSIONS)
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }
}

fn resolve(
    path: &str,
    dims: &[(String, DimensionValue)],
    identity: Option<&InstanceIdentity>,
    warnings: &mut Vec<String>,
) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(dims.len());
    for (key, value) in dims {
        match value {
            DimensionValue::Literal(v) => out.push((key.clone(), v.clone())),
            DimensionValue::Ec2(p) => match identity.and_then(|i| i.value(*p)) {
                Some(v) => out.push((key.clone(), v.to_owned())),
                None => {
                    let why = match identity {
                        Some(i) if !i.on_ec2() => "not on EC2",
                        Some(i) if matches!(i.source, crate::metadata::IdSource::Dmi(_)) => {
                            "asked from the instance metadata only when the agent runs"
                        }
                        Some(_) => "not available from the instance metadata",
                        None => "instance identity not resolved",
                    };
                    warnings.push(format!(
                        "{path}.{key}: {} is unknown ({why}); the {key} dimension is dropped",
                        p.as_str()
                    ));
                }
            },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::IdSource;

    fn identity() -> InstanceIdentity {
        InstanceIdentity {
            instance_id: "i-0abc".into(),
            source: IdSource::Config,
            instance_type: None,
            image_id: None,
            autoscaling_group: None,
        }
    }

    fn reading(tags: &[(&str, &str)], fields: &[(&'static str, f64)]) -> Reading {
        Reading {
            tags: tags
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            fields: fields.to_vec(),
        }
    }

    #[test]
    fn host_rename_unit_and_resolution() {
        let cfg = AgentConfig::parse(
            r#"{"agent":{"metrics_collection_interval":10},"metrics":{"metrics_collected":{
              "mem":{"measurement":[{"name":"used_percent","rename":"MemUse","unit":"Count"},"mem_free"],
                     "append_dimensions":{"team":"db"}}}}}"#,
        )
        .unwrap();
        let (p, warnings) = Pipeline::new(&cfg, "web1", None);
        assert!(warnings.is_empty());
        let d = p.datums(
            0,
            &[reading(
                &[],
                &[("used_percent", 42.5), ("free", 7.0), ("total", 9.0)],
            )],
            1000,
        );
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(d[0].metric_name, "MemUse");
        assert_eq!(d[0].unit, "Count");
        assert_eq!(d[0].value, DatumValue::Single(42.5));
        assert!(d[0].high_resolution);
        assert_eq!(d[0].timestamp_ms, 1000);
        let dims: Vec<(&str, &str)> = d[0]
            .dimensions
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(dims, [("host", "web1"), ("team", "db")]);
        assert_eq!(d[1].metric_name, "mem_free");
        assert_eq!(d[1].unit, "Bytes");
    }

    #[test]
    fn ec2_placeholder_drops_host_and_unknown_ones_warn() {
        let cfg = AgentConfig::parse(
            r#"{"metrics":{"append_dimensions":{"InstanceId":"${aws:InstanceId}","ImageId":"${aws:ImageId}"},
              "metrics_collected":{"swap":{"measurement":["used_percent"]}}}}"#,
        )
        .unwrap();
        let (p, warnings) = Pipeline::new(&cfg, "web1", Some(&identity()));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("${aws:ImageId}"), "{warnings:?}");
        let d = p.datums(0, &[reading(&[], &[("used_percent", 1.0)])], 0);
        assert_eq!(
            d[0].dimensions,
            [("InstanceId".to_owned(), "i-0abc".to_owned())]
        );
        assert!(!d[0].high_resolution);
    }

    #[test]
    fn statsd_values_and_distributions() {
        let cfg = AgentConfig::parse(
            r#"{"metrics":{"append_dimensions":{"env":"prod"},"metrics_collected":{"statsd":{}}}}"#,
        )
        .unwrap();
        let (p, _) = Pipeline::new(&cfg, "web1", None);
        let metric = |values: Vec<f64>, counts: Vec<f64>| StatsdMetric {
            name: "req_latency".into(),
            tags: vec![("route".into(), "/a".into())],
            kind: crate::statsd::StatsdKind::Timer,
            values,
            counts,
        };
        let d = p.statsd_datums(
            &[
                metric(vec![3.0], vec![1.0]),
                metric(vec![1.0, 2.0], vec![1.0, 4.0]),
            ],
            5,
            true,
        );
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].value, DatumValue::Single(3.0));
        assert_eq!(
            d[1].value,
            DatumValue::Distribution {
                values: vec![1.0, 2.0],
                counts: vec![1.0, 4.0]
            }
        );
        let keys: Vec<&str> = d[0].dimensions.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["env", "host", "route"]);
        assert_eq!(d[0].unit, "None");
    }

    #[test]
    fn aggregation_copies() {
        let cfg = AgentConfig::parse(
            r#"{"agent":{"omit_hostname":true},"metrics":{
              "aggregation_dimensions":[["path"],[],["path","nope"],["device","fstype","path"]],
              "metrics_collected":{"disk":{"measurement":["used_percent"]}}}}"#,
        )
        .unwrap();
        let (p, _) = Pipeline::new(&cfg, "h", None);
        let d = p.datums(
            0,
            &[reading(
                &[("path", "/"), ("device", "sda1"), ("fstype", "ext4")],
                &[("used_percent", 50.0), ("free", f64::NAN)],
            )],
            0,
        );
        let sets: Vec<Vec<&str>> = d
            .iter()
            .map(|d| d.dimensions.iter().map(|(k, _)| k.as_str()).collect())
            .collect();
        // [path], [], the original; not ["path","nope"]; not the full set twice.
        assert_eq!(
            sets,
            vec![vec!["path"], vec![], vec!["device", "fstype", "path"]]
        );
        assert!(d.iter().all(|d| d.metric_name == "disk_used_percent"));
    }
}
