//! The unsigned SNS endpoints a subscriber's browser or webhook reaches:
//! `GET /confirmation.html` and `GET /unsubscribe.html` (HTML result pages),
//! the SubscribeURL / UnsubscribeURL (`GET /?Action=ConfirmSubscription|
//! Unsubscribe&...`, answered in SNS's XML), and the signing certificate.
//! No credentials are needed: the token (or the unguessable subscription id)
//! is the secret. Every user-supplied string is HTML-escaped; the pages get
//! the console's CSP, no-framing, nosniff and referrer headers from the
//! app's HTML layer (`console::harden_html`).

use super::subscriptions;
use crate::app::to_axum;
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::sync::Arc;
use stratus_model::sns::ops::ConfirmSubscriptionInput;
use stratus_model::{ApiError, ApiResult, ErrorCode};
use stratus_proto::{self as proto, Document, Protocol, Service};

fn params(query: Option<&str>) -> BTreeMap<String, String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

fn page(status: StatusCode, title: &str, paragraphs: &[String]) -> Response {
    let mut body = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title></head>\n<body><h1>{t}</h1>\n",
        t = html_escape(title)
    );
    for p in paragraphs {
        body.push_str("<p>");
        body.push_str(p);
        body.push_str("</p>\n");
    }
    body.push_str("</body></html>\n");
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// An error page naming what was asked for (`what`: label and user value).
fn error_page(title: &str, e: &ApiError, what: &[(&str, Option<&String>)]) -> Response {
    let status = StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut paragraphs = vec![format!(
        "{}: {}",
        html_escape(e.code.code()),
        html_escape(&e.message)
    )];
    for (label, value) in what {
        if let Some(v) = value {
            paragraphs.push(format!("{label}: <code>{}</code>", html_escape(v)));
        }
    }
    page(status, title, &paragraphs)
}

fn confirm_from(state: &AppState, p: &BTreeMap<String, String>) -> ApiResult<String> {
    let input = ConfirmSubscriptionInput {
        topic_arn: p.get("TopicArn").cloned(),
        token: p.get("Token").cloned(),
        authenticate_on_unsubscribe: p.get("AuthenticateOnUnsubscribe").cloned(),
    };
    subscriptions::confirm(state, &input.validate()?, false)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}

/// `GET /confirmation.html?TopicArn=..&Token=..&Endpoint=..` (the link in
/// the confirmation email).
pub async fn confirmation_page(
    State(state): State<Arc<AppState>>,
    RawQuery(q): RawQuery,
) -> Response {
    let p = params(q.as_deref());
    let st = state.clone();
    let p2 = p.clone();
    let Some(result) = blocking(move || confirm_from(&st, &p2)).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response();
    };
    match result {
        Ok(arn) => page(
            StatusCode::OK,
            "Subscription confirmed!",
            &[
                format!(
                    "You have successfully subscribed{}.",
                    p.get("Endpoint")
                        .map(|e| format!(" <strong>{}</strong>", html_escape(e)))
                        .unwrap_or_default()
                ),
                format!(
                    "Your subscription's id is: <code>{}</code>",
                    html_escape(&arn)
                ),
                format!(
                    "If it was not your intention to subscribe, <a href=\"{}\">click here to unsubscribe</a>.",
                    html_escape(&format!(
                        "{}/unsubscribe.html?{}",
                        state.public_url,
                        form_urlencoded::Serializer::new(String::new())
                            .append_pair("SubscriptionArn", &arn)
                            .append_pair("Endpoint", p.get("Endpoint").map_or("", String::as_str))
                            .finish()
                    ))
                ),
            ],
        ),
        Err(e) => error_page(
            "Subscription not confirmed",
            &e,
            &[
                ("Topic", p.get("TopicArn")),
                ("Endpoint", p.get("Endpoint")),
            ],
        ),
    }
}

/// `GET /unsubscribe.html?SubscriptionArn=..&Endpoint=..` (the link in every email).
pub async fn unsubscribe_page(
    State(state): State<Arc<AppState>>,
    RawQuery(q): RawQuery,
) -> Response {
    let p = params(q.as_deref());
    let arn = p.get("SubscriptionArn").cloned();
    let st = state.clone();
    let arn2 = arn.clone();
    let Some(result) =
        blocking(move || subscriptions::unsubscribe_arn(&st, arn2.as_deref(), false)).await
    else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response();
    };
    match result {
        Ok(_) => page(
            StatusCode::OK,
            "Subscription removed!",
            &[format!(
                "Your subscription{} to the topic has been removed: <code>{}</code>. You will no longer receive notifications from it.",
                p.get("Endpoint")
                    .map(|e| format!(" of <strong>{}</strong>", html_escape(e)))
                    .unwrap_or_default(),
                html_escape(arn.as_deref().unwrap_or(""))
            )],
        ),
        Err(e) => error_page(
            "Subscription not removed",
            &e,
            &[("Subscription", arn.as_ref())],
        ),
    }
}

/// The SubscribeURL / UnsubscribeURL: an unsigned `GET /?Action=...` with
/// `ConfirmSubscription` or `Unsubscribe`. Returns `None` for any other
/// request, which then goes through SigV4 as usual.
pub async fn unsigned_action(state: &Arc<AppState>, query: Option<&str>) -> Option<Response> {
    let p = params(query);
    let action = p.get("Action")?.clone();
    if action != "ConfirmSubscription" && action != "Unsubscribe" {
        return None;
    }
    let request_id = uuid::Uuid::new_v4().to_string();
    let st = state.clone();
    let act = action.clone();
    let result = blocking(move || -> ApiResult<Document> {
        if act == "ConfirmSubscription" {
            let arn = confirm_from(&st, &p)?;
            Ok(Document::Struct(vec![(
                "SubscriptionArn".into(),
                Document::String(arn),
            )]))
        } else {
            subscriptions::unsubscribe_arn(
                &st,
                p.get("SubscriptionArn").map(String::as_str),
                false,
            )?;
            Ok(Document::Struct(Vec::new()))
        }
    })
    .await
    .unwrap_or_else(|| Err(ApiError::new(ErrorCode::InternalError, "internal error")));
    Some(to_axum(match result {
        Ok(doc) => {
            proto::encode_response(Service::Sns, Protocol::Query, &action, &doc, &request_id)
        }
        Err(e) => proto::encode_error(Service::Sns, Protocol::Query, &e, &request_id, false),
    }))
}

/// `GET /SimpleNotificationService-<id>.pem`: the signing certificate.
pub async fn certificate(State(state): State<Arc<AppState>>, Path(file): Path<String>) -> Response {
    let st = state.clone();
    let signer = blocking(move || st.sns.signer(&st.data_dir)).await;
    match signer {
        Some(Ok(s)) if s.certificate_file() == file => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/x-pem-file")],
            s.certificate_pem().to_string(),
        )
            .into_response(),
        _ => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            html_escape("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;&quot;"
        );
    }
}
