//! Creating or verifying the per-partition streams.

use async_nats::jetstream::ErrorCode;
use async_nats::jetstream::context::{Context, GetStreamErrorKind};
use async_nats::jetstream::stream::{Config, DiscardPolicy, RetentionPolicy, StorageType};

use crate::error::{ApiKind, from_any, from_api, from_kind};
use crate::{LogConfig, LogError};

/// The stream every partition should have.
pub(crate) fn desired(cfg: &LogConfig, partition: u32) -> Config {
    Config {
        name: cfg.stream_name(partition),
        subjects: vec![cfg.subject(partition)],
        // Limits, not work-queue: several nodes read every partition, and the owner purges
        // only after its blocks are committed.
        retention: RetentionPolicy::Limits,
        storage: StorageType::File,
        num_replicas: cfg.replicas,
        duplicate_window: cfg.duplicate_window,
        max_bytes: cfg.max_bytes,
        // A full log refuses writes rather than dropping old, uncommitted data.
        discard: DiscardPolicy::New,
        ..Default::default()
    }
}

/// Creates the stream, or updates an existing one whose settings drifted. Never recreates:
/// that would drop data. Retention and storage cannot change in place, so a mismatch there is
/// a `Config` error for an operator to resolve.
pub(crate) async fn ensure(js: &Context, cfg: &LogConfig, partition: u32) -> Result<(), LogError> {
    let want = desired(cfg, partition);
    let what = format!("stream {}", want.name);
    // Two attempts: a concurrent creator may win the race between our get and create.
    for _ in 0..2 {
        match js.get_stream(&want.name).await {
            Ok(mut stream) => {
                let have = stream
                    .info()
                    .await
                    .map_err(|e| from_any(&what, &e))?
                    .config
                    .clone();
                if have.retention != want.retention || have.storage != want.storage {
                    return Err(LogError::Config(format!(
                        "{what} exists with retention {:?} / storage {:?}; want {:?} / {:?}",
                        have.retention, have.storage, want.retention, want.storage
                    )));
                }
                let drifted = have.subjects != want.subjects
                    || have.num_replicas != want.num_replicas
                    || have.duplicate_window != want.duplicate_window
                    || have.max_bytes != want.max_bytes
                    || have.discard != want.discard;
                if drifted {
                    tracing::info!(stream = %want.name, "updating ingest log stream settings");
                    let update = Config {
                        // Keep whatever else an operator set on the stream.
                        subjects: want.subjects.clone(),
                        num_replicas: want.num_replicas,
                        duplicate_window: want.duplicate_window,
                        max_bytes: want.max_bytes,
                        discard: want.discard,
                        ..have
                    };
                    js.update_stream(&update)
                        .await
                        .map_err(|e| from_kind(&what, &e))?;
                }
                return Ok(());
            }
            Err(e) => match e.kind() {
                GetStreamErrorKind::JetStream(api)
                    if api.error_code() == ErrorCode::STREAM_NOT_FOUND =>
                {
                    match js.create_stream(want.clone()).await {
                        Ok(_) => return Ok(()),
                        Err(ce) => {
                            let err = from_kind(&what, &ce);
                            if is_name_exists(&ce) {
                                continue;
                            }
                            return Err(err);
                        }
                    }
                }
                GetStreamErrorKind::JetStream(api) => return Err(from_api(&what, &api)),
                _ => return Err(from_kind(&what, &e)),
            },
        }
    }
    Err(LogError::Unavailable(format!(
        "{what}: created concurrently but not visible yet"
    )))
}

fn is_name_exists(err: &async_nats::jetstream::context::CreateStreamError) -> bool {
    err.kind()
        .api()
        .is_some_and(|api| api.error_code() == ErrorCode::STREAM_NAME_EXIST)
}
