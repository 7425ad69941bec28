//! The admin API behind `stratus keys`: JSON over the same port, SigV4-signed,
//! `X-Amz-Target: StratusAdmin.<Op>`, authorised as `stratus:<Op>` (only the
//! `admin` policy allows it). AWS has no words for these tasks, so the shapes
//! are ours and deliberately small.
//!
//! Besides keys: `SendTestNotification` (enqueue a test email or webhook
//! call, like Grafana's "test contact point") and `ListDeliveries` (the
//! outbox's recent records), behind `stratus mail test`, and
//! `OptOutPhoneNumber` (a recipient's STOP reply: `stratus mail sms-opt-out`).

use crate::app::to_axum;
use crate::auth::{self, Caller};
use crate::keys::KeyError;
use crate::state::AppState;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use stratus_model::{ApiError, ErrorCode};
use stratus_proto::{self as proto, Protocol, Service};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct CreateKeyInput {
    name: String,
    #[serde(default = "default_policy")]
    policy: String,
}

fn default_policy() -> String {
    "agent".into()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct DeleteKeyInput {
    access_key_id: String,
}

/// `OptOutPhoneNumber`: what a STOP reply to an SMS does on AWS.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct OptOutInput {
    phone_number: String,
}

pub fn handle(
    state: &AppState,
    caller: &Caller,
    op: &str,
    body: &[u8],
    request_id: &str,
) -> Response {
    let result =
        auth::authorize(caller, &format!("stratus:{op}"), "*").and_then(|()| run(state, op, body));
    let r = match result {
        Ok(v) => proto::Response {
            status: 200,
            headers: vec![
                ("content-type", "application/x-amz-json-1.0".to_string()),
                ("x-amzn-requestid", request_id.to_string()),
            ],
            body: serde_json::to_vec(&v).unwrap_or_default(),
        },
        Err(e) => proto::encode_error(Service::CloudWatch, Protocol::Json, &e, request_id, true),
    };
    to_axum(r)
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.is_empty() {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(ErrorCode::ValidationError, format!("Invalid request: {e}")))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct SendTestNotificationInput {
    protocol: String,
    endpoint: String,
    /// Overrides of the protocol's default retry policy (tests use short ones).
    num_retries: Option<u32>,
    min_delay_seconds: Option<u32>,
    max_delay_seconds: Option<u32>,
    backoff_function: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct ListDeliveriesInput {
    max_results: Option<usize>,
}

/// Upper bounds on a test message's retry policy (SNS caps delays at an hour).
const MAX_TEST_RETRIES: u32 = 100;
const MAX_DELAY_SECONDS: u32 = 3600;

fn send_test_notification(state: &AppState, body: &[u8]) -> Result<serde_json::Value, ApiError> {
    use crate::notify::test_message::{self, Protocol};
    let input: SendTestNotificationInput = parse(body)?;
    let protocol = Protocol::parse(&input.protocol).ok_or_else(|| {
        ApiError::invalid_value(format!(
            "Invalid parameter: Protocol {:?}; valid: email, http, https.",
            input.protocol
        ))
    })?;
    test_message::validate_endpoint(protocol, &input.endpoint).map_err(ApiError::invalid_value)?;
    if protocol != Protocol::Email {
        state.egress.check_endpoint(&input.endpoint).map_err(|r| {
            ApiError::invalid_value(format!("Invalid parameter: Endpoint Reason: {r}"))
        })?;
    }
    let mut policy = test_message::default_policy(protocol);
    if let Some(n) = input.num_retries {
        if n > MAX_TEST_RETRIES {
            return Err(ApiError::invalid_value(format!(
                "Invalid parameter: NumRetries must be at most {MAX_TEST_RETRIES}."
            )));
        }
        policy.num_retries = n;
    }
    for (v, slot) in [
        (input.min_delay_seconds, &mut policy.min_delay_secs),
        (input.max_delay_seconds, &mut policy.max_delay_secs),
    ] {
        if let Some(v) = v {
            if v > MAX_DELAY_SECONDS {
                return Err(ApiError::invalid_value(format!(
                    "Invalid parameter: delays must be at most {MAX_DELAY_SECONDS} seconds."
                )));
            }
            *slot = v;
        }
    }
    if policy.min_delay_secs > policy.max_delay_secs {
        return Err(ApiError::invalid_value(
            "Invalid parameter: MinDelaySeconds must not exceed MaxDelaySeconds.",
        ));
    }
    if let Some(b) = &input.backoff_function {
        policy.backoff = test_message::parse_backoff(b).ok_or_else(|| {
            ApiError::invalid_value(format!(
                "Invalid parameter: BackoffFunction {b:?}; valid: linear, arithmetic, geometric, exponential."
            ))
        })?;
    }
    let message_id = uuid::Uuid::new_v4().to_string();
    let d = test_message::build(
        protocol,
        &input.endpoint,
        policy,
        &state.public_url,
        &message_id,
        jiff::Timestamp::now(),
    );
    state.notifier.enqueue(d).map_err(|e| {
        ApiError::internal(format!("The test notification could not be queued: {e}"))
    })?;
    tracing::info!(%message_id, protocol = %input.protocol, endpoint = %input.endpoint, "test notification queued");
    Ok(json!({ "MessageId": message_id }))
}

/// `stratus cluster status`: this node's view of the cluster (nodes, roles,
/// leases, log positions, the last commit per partition).
fn cluster_status(state: &AppState, body: &[u8]) -> Result<serde_json::Value, ApiError> {
    let _: serde_json::Value = parse(body)?;
    let Some(cluster) = state.metrics.cluster_runtime() else {
        return Err(ApiError::invalid_value(
            "This server is not in cluster mode (its config file has no [cluster] table).",
        ));
    };
    let status = cluster.status().map_err(|e| {
        if e.retryable() {
            ApiError::unavailable(e.to_string())
        } else {
            ApiError::internal(e.to_string())
        }
    })?;
    serde_json::to_value(status).map_err(|e| ApiError::internal(e.to_string()))
}

fn list_deliveries(state: &AppState, body: &[u8]) -> Result<serde_json::Value, ApiError> {
    use crate::notify::{Status, Target};
    let input: ListDeliveriesInput = parse(body)?;
    let limit = input.max_results.unwrap_or(100).clamp(1, 1000);
    let recs = state
        .notifier
        .recent(limit)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let ts = |ms: Option<i64>| ms.map(|m| stratus_model::Timestamp::from_millis(m).to_iso8601());
    Ok(json!({
        "Deliveries": recs.iter().map(|r| {
            let (protocol, endpoint, subject) = match &r.delivery.target {
                Target::Email { to, subject, .. } => ("email", to.as_str(), Some(subject.as_str())),
                Target::Http { url, .. } => (if url.starts_with("https:") { "https" } else { "http" }, url.as_str(), None),
                Target::Sms(sms) => ("sms", sms.phone_number.as_str(), None),
            };
            json!({
                "MessageId": r.delivery.message_id,
                "SubscriptionArn": r.delivery.subscription_arn,
                "TopicArn": r.delivery.topic_arn,
                "Protocol": protocol,
                "Endpoint": endpoint,
                "Subject": subject,
                "Status": match r.status {
                    Status::Pending => "Pending",
                    Status::Delivered => "Delivered",
                    Status::GaveUp => "GaveUp",
                },
                "Attempts": r.attempts,
                "LastError": r.last_error,
                "EnqueuedAt": ts(Some(r.enqueued_at_ms)),
                "NextAttemptAt": ts(r.next_attempt_at_ms),
                "DeliveredAt": ts(r.delivered_at_ms),
                "GivenUpAt": ts(r.given_up_at_ms),
            })
        }).collect::<Vec<_>>()
    }))
}

fn key_error(e: KeyError) -> ApiError {
    match e {
        KeyError::UnknownPolicy(_) | KeyError::BadKeyId(_) | KeyError::BadSecret => {
            ApiError::invalid_value(e.to_string())
        }
        KeyError::NotFound(_) => ApiError::new(ErrorCode::ResourceNotFound, e.to_string()),
        other => ApiError::internal(other.to_string()),
    }
}

/// Runs admin operation `op` (the caller is already authorised); shared
/// with the console's `stratus` service.
pub(crate) fn run(state: &AppState, op: &str, body: &[u8]) -> Result<serde_json::Value, ApiError> {
    match op {
        "CreateKey" => {
            let input: CreateKeyInput = parse(body)?;
            if input.name.is_empty() || input.name.len() > 128 {
                return Err(ApiError::invalid_value(
                    "The parameter Name must be 1 to 128 characters long.",
                ));
            }
            // Names are unique (like IAM's user names, EntityAlreadyExists):
            // two keys called "web-1" could not be told apart in a list. The
            // lock makes check-and-create one step for this node's requests.
            static CREATE: std::sync::Mutex<()> = std::sync::Mutex::new(());
            let _one_at_a_time = CREATE.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(other) = state
                .keys
                .list()
                .map_err(key_error)?
                .into_iter()
                .find(|k| k.name == input.name)
            {
                return Err(ApiError::new(
                    ErrorCode::ResourceConflict,
                    format!(
                        "An access key named {} already exists ({}). Choose another name, \
                         or delete that key first.",
                        input.name, other.access_key_id
                    ),
                ));
            }
            let k = state
                .keys
                .create(&input.name, &input.policy)
                .map_err(key_error)?;
            tracing::info!(key = %k.access_key_id, name = %k.name, policy = %k.policy.name, "access key created");
            Ok(json!({
                "AccessKeyId": k.access_key_id,
                "SecretAccessKey": k.secret,
                "Name": k.name,
                "Policy": k.policy.name,
            }))
        }
        "ListKeys" => {
            let _: serde_json::Value = parse(body)?;
            let keys = state.keys.list().map_err(key_error)?;
            Ok(json!({
                "Keys": keys.iter().map(|k| json!({
                    "AccessKeyId": k.access_key_id,
                    "Name": k.name,
                    "Policy": k.policy,
                    "Created": k.created,
                })).collect::<Vec<_>>()
            }))
        }
        "DeleteKey" => {
            let input: DeleteKeyInput = parse(body)?;
            state.keys.delete(&input.access_key_id).map_err(key_error)?;
            tracing::info!(key = %input.access_key_id, "access key deleted");
            Ok(json!({}))
        }
        "SendTestNotification" => send_test_notification(state, body),
        "ListDeliveries" => list_deliveries(state, body),
        "ClusterStatus" => cluster_status(state, body),
        "OptOutPhoneNumber" => {
            let input: OptOutInput = parse(body)?;
            let number = crate::sns::sms::opt_out(&state.meta, &input.phone_number)?;
            tracing::info!(%number, "phone number opted out of SMS");
            Ok(json!({ "PhoneNumber": number }))
        }
        other => Err(ApiError::new(
            ErrorCode::InvalidAction,
            format!(
                "Unknown admin operation {other}; valid: CreateKey, ListKeys, DeleteKey, \
                 SendTestNotification, ListDeliveries, ClusterStatus, OptOutPhoneNumber."
            ),
        )),
    }
}
