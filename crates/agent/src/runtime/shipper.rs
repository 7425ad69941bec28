//! The runtime's side of the shipping contract: builds the `ship::Shipper`
//! from the resolved settings and adapts it to [`DatumSink`].

use super::{AgentError, DatumSink, ShipSettings};
use std::sync::Arc;

/// Starts the shipper for `settings`.
pub fn start_shipper(_settings: &ShipSettings) -> Result<Arc<dyn DatumSink>, AgentError> {
    Err(AgentError::Ship(
        "shipping is not wired in this build yet (use --check-config)".into(),
    ))
}
