//! The HTTP application: one port serving the AWS APIs (CloudWatch in three
//! protocols, SNS in query), the admin API used by `stratus keys`, and health.
//!
//! Request path: read the body (bounded) → SigV4 over the raw bytes → inflate
//! gzip (bounded) → `proto` decodes → policy check → action → `proto` encodes.

use crate::auth::{self, Caller};
use crate::state::AppState;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use std::sync::Arc;
use stratus_model::ops::put_metric_data::PutMetricDataInput;
use stratus_model::{ApiError, ErrorCode};
use stratus_proto::{self as proto, Protocol, Service};
use stratus_sigv4 as sigv4;

/// AWS's limit on a request body (PutMetricData: 1 MB), checked on the bytes
/// as received (compressed or not).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// A CloudWatch Logs request's body cap: PutLogEvents carries up to
/// 1,048,576 bytes of messages, more once JSON-escaped and framed.
pub const MAX_LOGS_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Cap on a gzip body once inflated (zip-bomb guard). A full 1000-datum batch
/// with 150 values each is ~3 MB of JSON; 16 MiB leaves room.
pub const MAX_INFLATED_BYTES: usize = 16 * 1024 * 1024;

/// Target prefix of the admin API (`stratus keys ...`).
pub const ADMIN_TARGET_PREFIX: &str = "StratusAdmin.";
/// Credential-scope service of the admin API (as `monitoring` is CloudWatch's).
pub const ADMIN_SIGNING_NAME: &str = "stratus";

/// Idempotency token of a PutMetricData batch (32 hex digits, sent signed by
/// the Stratus agent on every retry of the same batch): a batch whose id was
/// already stored is answered 200 and not stored again.
pub const BATCH_ID_HEADER: &str = "x-stratus-batch-id";

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/ready", get(ready))
        .route(stratus_cluster::peer::PATH, axum::routing::post(peer_read))
        .route("/", any(api))
        .route("/service/{service}/operation/{op}", any(api))
        .route(
            "/confirmation.html",
            get(crate::sns::web::confirmation_page),
        )
        .route("/unsubscribe.html", get(crate::sns::web::unsubscribe_page))
        .route("/{file}", get(crate::sns::web::certificate))
        .merge(crate::console::router())
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .layer(DefaultBodyLimit::disable())
        // CSP, no framing, nosniff, no referrer on every HTML page.
        .layer(axum::middleware::map_response(harden_html))
        .with_state(state)
}

/// Readiness: 200 once this node can answer every call completely (in
/// cluster mode, every partition has a caught-up replica here or on a live
/// node that keeps it); 503 before.
async fn ready(axum::extract::State(state): axum::extract::State<Arc<AppState>>) -> Response {
    if state.metrics.ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "loading partitions\n").into_response()
    }
}

/// Cluster mode: another node's read of partitions this node keeps,
/// authenticated by the cluster's peer secret (not SigV4: no access key is
/// involved). 404 outside cluster mode.
async fn peer_read(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    use stratus_cluster::PeerServeError;
    let Some(cluster) = state.metrics.cluster_runtime().cloned() else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let auth = headers
        .get(stratus_cluster::peer::AUTH_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = match read_body(body, MAX_BODY_BYTES).await {
        BodyRead::Complete(b) => b,
        BodyRead::TooLarge => {
            return (StatusCode::PAYLOAD_TOO_LARGE, "too large\n").into_response();
        }
        BodyRead::Failed => return (StatusCode::BAD_REQUEST, "unreadable body\n").into_response(),
    };
    let answer =
        tokio::task::spawn_blocking(move || cluster.serve_peer(auth.as_deref(), &body)).await;
    match answer {
        Ok(Ok(bytes)) => (
            StatusCode::OK,
            [(axum::http::header::CONTENT_TYPE, "application/octet-stream")],
            bytes,
        )
            .into_response(),
        Ok(Err(e)) => {
            let status = match e {
                PeerServeError::Unauthorized => StatusCode::UNAUTHORIZED,
                PeerServeError::Malformed(_) => StatusCode::BAD_REQUEST,
                PeerServeError::NotHere(_) => StatusCode::SERVICE_UNAVAILABLE,
            };
            (status, format!("{e}\n")).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

async fn harden_html(resp: Response) -> Response {
    crate::console::harden_html(resp)
}

/// Everything about a request the action layer needs, owned so it can move to
/// a blocking thread.
struct Incoming {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Bytes,
}

impl Incoming {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn head<'a>(&'a self, scope_service: Option<&'a str>) -> proto::RequestHead<'a> {
        proto::RequestHead {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            content_type: self.header("content-type"),
            target: self.header("x-amz-target"),
            smithy_protocol: self.header("smithy-protocol"),
            query_mode: self
                .header("x-amzn-query-mode")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            scope_service,
        }
    }
}

async fn api(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // SNS's SubscribeURL / UnsubscribeURL are unsigned GETs (the token is the
    // secret); any request carrying a signature goes through SigV4 below.
    if method == Method::GET
        && !headers.contains_key(axum::http::header::AUTHORIZATION)
        && !uri.query().unwrap_or("").contains("X-Amz-Signature")
        && let Some(resp) = crate::sns::web::unsigned_action(&state, uri.query()).await
    {
        return resp;
    }
    // A browser's plain `GET /` (no API parameters, no signature) is the console.
    if method == Method::GET
        && uri.query().is_none_or(str::is_empty)
        && !headers.contains_key(axum::http::header::AUTHORIZATION)
    {
        return crate::console::index(&state, &headers).await;
    }
    let request_id = uuid::Uuid::new_v4().to_string();
    let header_pairs: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let limit = if headers
        .get("x-amz-target")
        .and_then(|t| t.to_str().ok())
        .is_some_and(|t| proto::targets_logs(Some(t)))
    {
        MAX_LOGS_BODY_BYTES
    } else {
        MAX_BODY_BYTES
    };
    let (body, too_large) = match read_body(body, limit).await {
        BodyRead::Complete(b) => (b, false),
        BodyRead::TooLarge => (Bytes::new(), true),
        // The client vanished mid-body: nobody reads an answer.
        BodyRead::Failed => return (StatusCode::BAD_REQUEST, "incomplete body\n").into_response(),
    };
    let incoming = Incoming {
        method: method.as_str().to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or("").to_string(),
        headers: header_pairs,
        body,
    };
    let st = state.clone();
    let rid = request_id.clone();
    let result = tokio::task::spawn_blocking(move || {
        if too_large {
            let err = ApiError::new(
                ErrorCode::RequestEntityTooLarge,
                format!("Request body exceeds the limit of {limit} bytes."),
            );
            return error_response(&incoming, None, &err, &rid);
        }
        handle(&st, &incoming, &rid)
    })
    .await;
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "request handler panicked");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp
}

/// How far past [`MAX_BODY_BYTES`] a body is read (and discarded) before
/// answering 413: closing a socket that still has unread input resets it,
/// and the client then sees "connection reset" instead of our answer. A
/// body beyond this is cut off all the same.
const MAX_DRAINED_BYTES: usize = 8 * MAX_BODY_BYTES;

enum BodyRead {
    Complete(Bytes),
    TooLarge,
    Failed,
}

/// Reads a request body of at most `limit` bytes; a longer one is drained
/// (up to [`MAX_DRAINED_BYTES`] past the limit) and reported as too large.
async fn read_body(mut body: Body, limit: usize) -> BodyRead {
    use http_body_util::BodyExt as _;
    let mut buf = bytes::BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return BodyRead::Failed;
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        seen = seen.saturating_add(data.len());
        if seen <= limit {
            buf.extend_from_slice(&data);
        } else if seen > limit.saturating_add(MAX_DRAINED_BYTES) {
            return BodyRead::TooLarge;
        }
    }
    if seen > limit {
        BodyRead::TooLarge
    } else {
        BodyRead::Complete(buf.freeze())
    }
}

fn handle(state: &AppState, inc: &Incoming, request_id: &str) -> Response {
    let header_refs: Vec<(&str, &str)> = inc
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let sreq = sigv4::Request {
        method: &inc.method,
        path: &inc.path,
        query: &inc.query,
        headers: &header_refs,
        body: &inc.body,
    };
    let claimed = auth::claimed_scope(&sreq);
    let scope_service = claimed.as_ref().map(|a| a.service.as_str());
    let caller = match auth::authenticate(&state.keys, &sreq, jiff::Timestamp::now()) {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(code = %e.code, "request refused: {}", e.message);
            return error_response(inc, scope_service, &e, request_id);
        }
    };
    let body = match inflate(inc) {
        Ok(b) => b,
        Err(e) => return error_response(inc, scope_service, &e, request_id),
    };
    if let Some(op) = inc
        .header("x-amz-target")
        .and_then(|t| t.strip_prefix(ADMIN_TARGET_PREFIX))
    {
        if caller.scope_service != ADMIN_SIGNING_NAME {
            let e = ApiError::new(
                ErrorCode::SignatureDoesNotMatch,
                format!("Credential should be scoped to correct service: '{ADMIN_SIGNING_NAME}'."),
            );
            return error_response(inc, scope_service, &e, request_id);
        }
        return crate::admin::handle(state, &caller, op, &body, request_id);
    }
    let batch_id = match batch_id(inc) {
        Ok(id) => id,
        Err(e) => return error_response(inc, scope_service, &e, request_id),
    };
    let head = inc.head(scope_service);
    // Bulk writes over awsJson1_0 and awsQuery (the CloudWatch agent's
    // protocol) skip the generic Document tree.
    let direct = proto::decode_json_direct::<PutMetricDataInput>(&head, &body, "PutMetricData")
        .map(|input| (proto::Protocol::Json, input))
        .or_else(|| {
            proto::decode_query_put_metric_data(&head, &body)
                .map(|input| (proto::Protocol::Query, input))
        });
    if let Some((protocol, input)) = direct {
        let batch_id = write_batch_id(state, &caller, batch_id, &body);
        let result = crate::cloudwatch::authorized_put_metric_data(state, &caller, input, batch_id);
        return respond(
            Service::CloudWatch,
            protocol,
            "PutMetricData",
            result,
            request_id,
            head.query_mode,
        );
    }
    let decoded = match proto::decode_request(&head, &body) {
        Ok(d) => d,
        Err(e) => return error_response(inc, scope_service, &e, request_id),
    };
    // Only writes need an idempotency key: hash no other body.
    let batch_id = if decoded.action == "PutMetricData" {
        write_batch_id(state, &caller, batch_id, &body)
    } else {
        batch_id
    };
    let result = if decoded.service == Service::Logs {
        let req = crate::logs::LogsRequest {
            batch_id: batch_id.map(|b| b.0),
            emf: inc
                .header("x-amzn-logs-format")
                .is_some_and(|f| f.trim().eq_ignore_ascii_case("json/emf")),
        };
        crate::logs::dispatch(state, &caller, &decoded.action, decoded.params, req)
    } else {
        dispatch(
            state,
            &caller,
            &decoded.service,
            &decoded.action,
            decoded.params,
            batch_id,
        )
    };
    respond(
        decoded.service,
        decoded.protocol,
        &decoded.action,
        result,
        request_id,
        head.query_mode,
    )
}

/// The response to a decoded request: its output or its error, in the
/// request's protocol.
fn respond(
    service: Service,
    protocol: proto::Protocol,
    action: &str,
    result: Result<proto::Document, ApiError>,
    request_id: &str,
    query_mode: bool,
) -> Response {
    match result {
        Ok(doc) => to_axum(proto::encode_response(
            service, protocol, action, &doc, request_id,
        )),
        Err(e) => {
            if e.code.fault() == stratus_model::Fault::Receiver {
                tracing::error!(action = %action, "internal error: {}", e.message);
            }
            to_axum(proto::encode_error(
                service, protocol, &e, request_id, query_mode,
            ))
        }
    }
}

fn inflate(inc: &Incoming) -> Result<std::borrow::Cow<'_, [u8]>, ApiError> {
    match inc.header("content-encoding") {
        Some(enc) if enc.eq_ignore_ascii_case("gzip") => {
            proto::inflate_gzip(&inc.body, MAX_INFLATED_BYTES).map(std::borrow::Cow::Owned)
        }
        Some(enc) if !enc.is_empty() && !enc.eq_ignore_ascii_case("identity") => {
            Err(ApiError::new(
                ErrorCode::InvalidParameterValue,
                format!("Unsupported Content-Encoding '{enc}': only gzip is accepted."),
            ))
        }
        _ => Ok(std::borrow::Cow::Borrowed(&inc.body[..])),
    }
}

/// A PutMetricData's idempotency key: the one it sent, else one derived from
/// the caller and the body (a retry of the same bytes is the same batch).
fn write_batch_id(
    state: &AppState,
    caller: &Caller,
    sent: Option<stratus_tsdb::BatchId>,
    body: &[u8],
) -> Option<stratus_tsdb::BatchId> {
    sent.or_else(|| {
        state
            .metrics
            .derived_batch_id(&caller.key.access_key_id, body)
    })
}

fn batch_id(inc: &Incoming) -> Result<Option<stratus_tsdb::BatchId>, ApiError> {
    let Some(value) = inc.header(BATCH_ID_HEADER) else {
        return Ok(None);
    };
    stratus_tsdb::BatchId::parse_hex(value.trim())
        .map(Some)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidParameterValue,
                format!("The header {BATCH_ID_HEADER} must be 32 hexadecimal digits."),
            )
        })
}

fn dispatch(
    state: &AppState,
    caller: &Caller,
    service: &Service,
    action: &str,
    params: proto::Document,
    batch_id: Option<stratus_tsdb::BatchId>,
) -> Result<proto::Document, ApiError> {
    match service {
        Service::CloudWatch => crate::cloudwatch::dispatch(state, caller, action, params, batch_id),
        Service::Sns => crate::sns::dispatch(state, caller, action, params),
        Service::Logs => crate::logs::dispatch(state, caller, action, params, Default::default()),
    }
}

pub(crate) fn not_implemented(service: &str, action: &str) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidAction,
        format!(
            "The action {action} is not valid for this endpoint or is not implemented by Stratus for {service}."
        ),
    )
}

/// Answers an error before (or without) a full decode: the protocol comes from
/// the request head, the service from the SigV4 scope or the route.
fn error_response(
    inc: &Incoming,
    scope_service: Option<&str>,
    err: &ApiError,
    request_id: &str,
) -> Response {
    let head = inc.head(scope_service);
    let protocol = proto::sniff(&head);
    let service = match (protocol, scope_service) {
        (Protocol::Query, Some("sns")) => Service::Sns,
        (Protocol::Query, _) if names_sns_version(inc) => Service::Sns,
        _ => proto::sniff_service(&head),
    };
    to_axum(proto::encode_error(
        service,
        protocol,
        err,
        request_id,
        head.query_mode,
    ))
}

/// Whether a query request says `Version=2010-03-31` (in its URL or its
/// uncompressed form body): an SNS request refused before decoding, e.g.
/// for a credential scoped to another service, is answered in SNS's envelope.
fn names_sns_version(inc: &Incoming) -> bool {
    let is_sns = |form: &[u8]| {
        form_urlencoded::parse(form).any(|(k, v)| k == "Version" && v == proto::SNS_VERSION)
    };
    is_sns(inc.query.as_bytes()) || (inc.header("content-encoding").is_none() && is_sns(&inc.body))
}

pub(crate) fn to_axum(r: proto::Response) -> Response {
    let mut resp = Response::new(Body::from(r.body));
    *resp.status_mut() =
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in r.headers {
        if let Ok(v) = HeaderValue::from_str(&v) {
            resp.headers_mut().append(k, v);
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    const KEY_ID: &str = "AKIDIDEMPOTENCYTEST1";
    const SECRET: &str = "idempotency-test-secret";

    fn state(dir: &std::path::Path) -> AppState {
        AppState::for_tests(dir, (KEY_ID, SECRET))
    }

    /// A gzip'd, signed awsQuery PutMetricData of `n` datums, as the agent sends it.
    fn put_request(n: usize, batch_id: Option<&str>) -> Incoming {
        let now = stratus_model::Timestamp::now().millis();
        let mut form = String::from("Action=PutMetricData&Version=2010-08-01&Namespace=Idem");
        for i in 1..=n {
            form.push_str(&format!(
                "&MetricData.member.{i}.MetricName=m&MetricData.member.{i}.Value={i}\
                 &MetricData.member.{i}.Timestamp={}",
                stratus_model::Timestamp::from_millis(now - i as i64 * 1000).to_iso8601()
            ));
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(form.as_bytes()).unwrap();
        let body = gz.finish().unwrap();
        let mut headers = vec![
            ("host".to_string(), "127.0.0.1:4566".to_string()),
            (
                "content-type".to_string(),
                "application/x-www-form-urlencoded; charset=utf-8".to_string(),
            ),
            ("content-encoding".to_string(), "gzip".to_string()),
        ];
        if let Some(id) = batch_id {
            headers.push((BATCH_ID_HEADER.to_string(), id.to_string()));
        }
        let refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let signed = sigv4::sign(
            &sigv4::Request {
                method: "POST",
                path: "/",
                query: "",
                headers: &refs,
                body: &body,
            },
            &sigv4::Credentials {
                access_key_id: KEY_ID,
                secret_access_key: SECRET,
            },
            "us-east-1",
            "monitoring",
            jiff::Timestamp::now(),
        );
        headers.extend(signed);
        Incoming {
            method: "POST".into(),
            path: "/".into(),
            query: String::new(),
            headers,
            body: Bytes::from(body),
        }
    }

    fn stored_samples(state: &AppState) -> usize {
        state.metrics.stats().head_samples
    }

    #[test]
    fn a_batch_id_is_stored_once_and_duplicates_answer_200() {
        let dir = tempfile::tempdir().unwrap();
        let st = state(dir.path());
        let id = "00112233445566778899aabbccddeeff";
        for attempt in 0..3 {
            let resp = handle(&st, &put_request(5, Some(id)), "rid");
            assert_eq!(resp.status(), StatusCode::OK, "attempt {attempt}");
        }
        assert_eq!(stored_samples(&st), 5);
        assert_eq!(st.metrics.stats().duplicate_batches, 2);

        // Another id, and requests without one (stock agents), are stored every time.
        let other = "ffeeddccbbaa99887766554433221100";
        assert_eq!(handle(&st, &put_request(2, Some(other)), "r").status(), 200);
        assert_eq!(handle(&st, &put_request(2, None), "r").status(), 200);
        assert_eq!(handle(&st, &put_request(2, None), "r").status(), 200);
        assert_eq!(stored_samples(&st), 5 + 2 + 4);
    }

    #[test]
    fn a_malformed_batch_id_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let st = state(dir.path());
        let resp = handle(&st, &put_request(1, Some("not-hex")), "rid");
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(stored_samples(&st), 0);
    }

    #[test]
    fn duplicates_are_recognised_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let id = "0123456789abcdef0123456789abcdef";
        {
            let st = state(dir.path());
            assert_eq!(handle(&st, &put_request(3, Some(id)), "r").status(), 200);
            st.metrics.shutdown().unwrap(); // seals: the WAL that carried the id is deleted
        }
        let st = state(dir.path());
        assert_eq!(handle(&st, &put_request(3, Some(id)), "r").status(), 200);
        let stats = st.metrics.stats();
        assert_eq!((stats.sealed_samples, stats.head_samples), (3, 0));
    }

    #[tokio::test]
    async fn every_html_page_carries_the_security_headers() {
        use tower::ServiceExt as _;
        let dir = tempfile::tempdir().unwrap();
        let app = router(Arc::new(state(dir.path())));
        for path in [
            "/confirmation.html?TopicArn=arn:aws:sns:us-east-1:123456789012:t&Token=ab",
            "/unsubscribe.html?SubscriptionArn=bad",
            "/console/login",
        ] {
            let req = axum::http::Request::get(path).body(Body::empty()).unwrap();
            let resp = app.clone().oneshot(req).await.unwrap();
            let h = resp.headers();
            let get = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).unwrap_or("");
            assert!(get("content-type").starts_with("text/html"), "{path}");
            assert_eq!(
                get("content-security-policy"),
                crate::console::CSP,
                "{path}"
            );
            assert_eq!(get("x-frame-options"), "DENY", "{path}");
            assert_eq!(get("x-content-type-options"), "nosniff", "{path}");
            assert_eq!(get("referrer-policy"), "no-referrer", "{path}");
        }
    }
}
