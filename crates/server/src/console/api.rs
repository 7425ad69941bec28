//! The console's JSON endpoint: `POST /console/api/{service}/{Action}` with
//! the action's parameters as a JSON body in awsJson's shapes.
//!
//! `monitoring` and `sns` run the very dispatch functions of the signed API
//! with a [`Caller`] built from the session's key, so the key's policy
//! decides exactly as it would for the CLI. `stratus` runs the admin API's
//! operations (keys, test notifications; authorised as `stratus:<Op>`) and
//! two console-only reads of the local mailbox (`ListMail`, `GetMail`).
//!
//! Answers: 200 with the output as JSON; on error the status of the AWS code
//! and `{"__type": code, "message": ...}`; 401 without a session; 403 when
//! the CSRF header is missing or wrong.

use super::{CSRF_HEADER, MAX_BODY, accepts_gzip, harden, session};
use crate::auth::{self, Caller};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use stratus_model::{ApiError, ErrorCode};
use stratus_proto as proto;

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    harden(resp)
}

/// Responses above this size are gzip'd for clients that accept it (a week
/// of one-minute points for four metrics is about a megabyte of JSON).
const COMPRESS_ABOVE: usize = 8 * 1024;

fn compressed_json(headers: &HeaderMap, body: Vec<u8>) -> Response {
    if body.len() <= COMPRESS_ABOVE || !accepts_gzip(headers) {
        return json_response(StatusCode::OK, body);
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let gzipped = std::io::Write::write_all(&mut gz, &body).and_then(|()| gz.finish());
    let Ok(gzipped) = gzipped else {
        return json_response(StatusCode::OK, body);
    };
    let mut resp = json_response(StatusCode::OK, gzipped);
    resp.headers_mut()
        .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    resp.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    resp
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "__type": code, "message": message });
    json_response(status, serde_json::to_vec(&body).unwrap_or_default())
}

fn api_error(e: &ApiError) -> Response {
    let status = StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    error(status, e.code.code(), &e.message)
}

fn not_logged_in() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "NotLoggedIn",
        "Your console session has ended. Log in again.",
    )
}

/// `GET /console/api/session`: who is logged in, and the CSRF token the page
/// sends back on every POST.
pub async fn session_info(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let Some((s, key)) = super::session_of(&state, &headers).await else {
        return not_logged_in();
    };
    let body = json!({
        "AccessKeyId": key.access_key_id,
        "Name": key.name,
        "Policy": key.policy.name,
        "Region": crate::DEFAULT_REGION,
        "CsrfToken": s.csrf,
        "PublicUrl": state.public_url,
        "AccountId": crate::ACCOUNT_ID,
    });
    json_response(
        StatusCode::OK,
        serde_json::to_vec(&body).unwrap_or_default(),
    )
}

pub async fn call(
    State(state): State<Arc<AppState>>,
    Path((service, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some((s, key)) = super::session_of(&state, &headers).await else {
        return not_logged_in();
    };
    let sent = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !session::secrets_match(&s.csrf, sent) {
        tracing::warn!(key = %key.access_key_id, %action, "console request refused: missing or wrong CSRF token");
        return error(
            StatusCode::FORBIDDEN,
            "InvalidCsrfToken",
            "The request is missing the session's CSRF token.",
        );
    }
    if action.is_empty() || action.len() > 64 || !action.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            "The action name is not valid.",
        );
    }
    if body.len() > MAX_BODY {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            "Request body too large.",
        );
    }
    let scope_service = match service.as_str() {
        "monitoring" | "sns" | "logs" | "stratus" => service.clone(),
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                "UnknownService",
                "Unknown service: use monitoring, sns, logs or stratus.",
            );
        }
    };
    let caller = Caller {
        key,
        region: crate::DEFAULT_REGION.to_string(),
        scope_service,
    };
    let st = state.clone();
    let result =
        tokio::task::spawn_blocking(move || run(&st, &caller, &service, &action, &body)).await;
    match result {
        Ok(Ok(bytes)) => compressed_json(&headers, bytes),
        Ok(Err(e)) => api_error(&e),
        Err(e) => {
            tracing::error!(error = %e, "console request handler panicked");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalFailure",
                "internal error",
            )
        }
    }
}

fn run(
    state: &AppState,
    caller: &Caller,
    service: &str,
    action: &str,
    body: &[u8],
) -> Result<Vec<u8>, ApiError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    match service {
        "monitoring" => {
            let params = proto::decode_json(body)?;
            let doc = crate::cloudwatch::dispatch(state, caller, action, params, None)?;
            Ok(proto::encode_json(&doc))
        }
        "sns" => {
            let params = proto::decode_json(body)?;
            let doc = crate::sns::dispatch(state, caller, action, params)?;
            Ok(proto::encode_json(&doc))
        }
        "logs" => {
            let params = proto::decode_json(body)?;
            let doc = crate::logs::dispatch(state, caller, action, params, Default::default())?;
            Ok(proto::encode_json(&doc))
        }
        _ => {
            auth::authorize(caller, &format!("stratus:{action}"), "*")?;
            let value = match action {
                "ListMail" => list_mail(state)?,
                "GetMail" => get_mail(state, body)?,
                op => crate::admin::run(state, op, body)?,
            };
            Ok(serde_json::to_vec(&value).unwrap_or_default())
        }
    }
}

fn mailbox(state: &AppState) -> Result<&crate::notify::Mailbox, ApiError> {
    state
        .notifier
        .mailbox()
        .ok_or_else(|| ApiError::internal("The local mailbox is not available."))
}

/// Summaries of the local mailbox, newest first (at most 500).
fn list_mail(state: &AppState) -> Result<serde_json::Value, ApiError> {
    let list = mailbox(state)?
        .list()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let total = list.len();
    let messages: Vec<_> = list.into_iter().take(500).collect();
    Ok(json!({ "Messages": messages, "Total": total }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct GetMailInput {
    id: String,
}

fn get_mail(state: &AppState, body: &[u8]) -> Result<serde_json::Value, ApiError> {
    let input: GetMailInput = serde_json::from_slice(body)
        .map_err(|e| ApiError::new(ErrorCode::ValidationError, format!("Invalid request: {e}")))?;
    match mailbox(state)?.get(&input.id) {
        Ok(m) => Ok(json!({
            "Id": m.summary.id,
            "DateMs": m.summary.date_ms,
            "From": m.summary.from,
            "To": m.summary.to,
            "Subject": m.summary.subject,
            "Text": m.text,
        })),
        Err(crate::notify::MailboxError::NotFound(id)) => Err(ApiError::new(
            ErrorCode::ResourceNotFound,
            format!("No message {id:?} in the mailbox."),
        )),
        Err(e) => Err(ApiError::internal(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADMIN: (&str, &str) = ("AKIDCONSOLEAPITEST01", "console-api-test-secret");

    fn caller(state: &AppState, policy: &str) -> Caller {
        let key = if policy == "admin" {
            state.keys.lookup(ADMIN.0).expect("admin key")
        } else {
            Arc::new(state.keys.create("t", policy).expect("key"))
        };
        Caller {
            key,
            region: crate::DEFAULT_REGION.into(),
            scope_service: "monitoring".into(),
        }
    }

    #[test]
    fn the_session_key_policy_decides_as_for_the_api() {
        let dir = tempfile::tempdir().unwrap();
        let st = AppState::for_tests(dir.path(), ADMIN);
        let put = br#"{"Namespace":"C","MetricData":[{"MetricName":"m","Value":1}]}"#;
        let agent = caller(&st, "agent");
        run(&st, &agent, "monitoring", "PutMetricData", put).unwrap();
        let e = run(&st, &agent, "monitoring", "ListMetrics", b"").unwrap_err();
        assert_eq!(e.code, ErrorCode::AccessDenied);
        let e = run(&st, &agent, "stratus", "ListMail", b"").unwrap_err();
        assert_eq!(e.code, ErrorCode::AccessDenied);
        let e = run(&st, &agent, "sns", "ListTopics", b"{}").unwrap_err();
        assert_eq!(e.code, ErrorCode::AuthorizationError);

        let admin = caller(&st, "admin");
        let out = run(&st, &admin, "monitoring", "ListMetrics", b"  ").unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["Metrics"][0]["MetricName"], "m");
        let e = run(&st, &admin, "monitoring", "PutMetricData", b"{not json").unwrap_err();
        assert_eq!(e.code, ErrorCode::MalformedInput);
        let out = run(&st, &admin, "stratus", "ListMail", b"{}").unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&out).unwrap()["Total"],
            0
        );
        let e = run(&st, &admin, "stratus", "GetMail", br#"{"Id":"nope"}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::ResourceNotFound);
    }
}
