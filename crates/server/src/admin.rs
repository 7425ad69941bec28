//! The admin API behind `stratus keys`: JSON over the same port, SigV4-signed,
//! `X-Amz-Target: StratusAdmin.<Op>`, authorised as `stratus:<Op>` (only the
//! `admin` policy allows it). AWS has no words for these tasks, so the shapes
//! are ours and deliberately small.

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

fn key_error(e: KeyError) -> ApiError {
    match e {
        KeyError::UnknownPolicy(_) | KeyError::BadKeyId(_) | KeyError::BadSecret => {
            ApiError::invalid_value(e.to_string())
        }
        KeyError::NotFound(_) => ApiError::new(ErrorCode::ResourceNotFound, e.to_string()),
        other => ApiError::internal(other.to_string()),
    }
}

fn run(state: &AppState, op: &str, body: &[u8]) -> Result<serde_json::Value, ApiError> {
    match op {
        "CreateKey" => {
            let input: CreateKeyInput = parse(body)?;
            if input.name.is_empty() || input.name.len() > 128 {
                return Err(ApiError::invalid_value(
                    "The parameter Name must be 1 to 128 characters long.",
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
        other => Err(ApiError::new(
            ErrorCode::InvalidAction,
            format!("Unknown admin operation {other}; valid: CreateKey, ListKeys, DeleteKey."),
        )),
    }
}
