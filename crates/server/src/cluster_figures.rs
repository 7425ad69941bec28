//! In cluster mode each node publishes its own figures — log lag, partitions
//! owned, lease changes, blocks committed, outbox depth — as metrics in the
//! `Stratus` namespace (dimension `NodeId`), through the same write path as
//! any PutMetricData, so alarms can watch the cluster itself.

use crate::state::AppState;
use std::sync::Arc;
use std::time::Duration;
use stratus_model::Timestamp;
use stratus_model::metric::{Dimension, MetricId};
use stratus_model::ops::put_metric_data::{Datum, DatumValue};
use stratus_model::unit::Unit;

pub const NAMESPACE: &str = "Stratus";
const EVERY: Duration = Duration::from_secs(60);

pub async fn publish(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tick.tick().await;
        let st = state.clone();
        let done = tokio::task::spawn_blocking(move || publish_once(&st)).await;
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("publishing this node's cluster figures: {e}"),
            Err(e) => tracing::warn!("publishing this node's cluster figures: {e}"),
        }
    }
}

fn publish_once(state: &AppState) -> Result<(), String> {
    let Some(cluster) = state.metrics.cluster_runtime() else {
        return Ok(());
    };
    if !cluster.config().roles.gateway {
        return Ok(());
    }
    let node = cluster.config().node_id.clone();
    let mut figures: Vec<(&str, f64, Unit)> = cluster
        .own_figures()
        .into_iter()
        .map(|(name, value)| (name, value, Unit::Count))
        .collect();
    if let Ok(pending) = crate::notify::outbox::pending(&state.meta) {
        figures.push(("OutboxDepth", pending.len() as f64, Unit::Count));
    }
    let now = Timestamp::now();
    let datums = figures
        .into_iter()
        .map(|(name, value, unit)| Datum {
            metric: MetricId {
                namespace: NAMESPACE.into(),
                metric_name: name.into(),
                dimensions: vec![Dimension {
                    name: "NodeId".into(),
                    value: node.clone(),
                }],
            },
            timestamp: now,
            unit,
            high_resolution: false,
            value: DatumValue::Single(value),
        })
        .collect();
    state
        .metrics
        .put(datums, None)
        .map(|_| ())
        .map_err(|e| e.message)
}
