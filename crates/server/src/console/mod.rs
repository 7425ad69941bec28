//! The web console: a single-page app served on the API's port.
//!
//! It owns the console's HTTP surface — the login/logout forms, sessions,
//! the embedded assets and the console's JSON endpoint — and nothing else:
//! every read and write goes through the same action dispatch as the signed
//! API ([`api`]), with the caller's key taken from the session, so policies
//! and validation apply identically.
//!
//! Routes: `GET /` (the app shell; without a session a redirect to the login
//! page — the browser keeps the `#/...` fragment across it), `GET|POST
//! /console/login`, `POST /console/logout`, `GET /console/assets/{file}`,
//! `GET /favicon.ico` (the SVG icon),
//! `GET /console/api/session`, `POST /console/api/{monitoring|sns|stratus}/{Action}`.
//!
//! Security: session cookie HttpOnly + SameSite=Strict (+ Secure behind
//! https), a CSRF token per session on every POST (header `X-CSRF-Token` for
//! fetch, a form field for logout; the login form uses a double-submit
//! cookie), a strict Content-Security-Policy with no inline script or style,
//! no framing. The JS renders user data with `textContent` only.
//!
//! The security headers ([`harden`]) are on every console response, and the
//! app adds them to every HTML page the server serves (SNS's confirmation
//! and unsubscribe pages included), in one layer: [`harden_html`].
//!
//! Modules: `session` (login, session table, throttle), `assets` (embedded
//! files), `api` (the JSON endpoint).

mod api;
pub mod assets;
pub mod session;

pub use session::Sessions;

use crate::state::AppState;
use axum::Extension;
use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::net::SocketAddr;
use std::sync::Arc;

pub const SESSION_COOKIE: &str = "stratus_session";
const LOGIN_CSRF_COOKIE: &str = "stratus_login_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The Content-Security-Policy of every console response.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// Largest request body any console route reads (the JSON of an alarm or a
/// dashboard; login and logout forms are tiny).
pub const MAX_BODY: usize = 1024 * 1024;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console/login", get(login_page).post(login_submit))
        .route("/console/logout", post(logout))
        .route("/console/assets/{file}", get(asset))
        // Browsers ask for it on every page without a <link rel=icon> (the
        // SNS confirmation pages, a bare API URL): the console's SVG icon.
        .route("/favicon.ico", get(favicon))
        .route("/console/api/session", get(api::session_info))
        .route("/console/api/{service}/{action}", post(api::call))
        // The app disables axum's default limit for the API (it reads bodies
        // itself, bounded); this inner layer bounds the console's extractors.
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

/// Adds the console's security headers to a response.
pub fn harden(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// [`harden`] for every `text/html` response (the app's outermost layer).
pub fn harden_html(resp: Response) -> Response {
    let html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("text/html"));
    if html { harden(resp) } else { resp }
}

/// The value of cookie `name` in the request, if any.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn cookie_header(state: &AppState, name: &str, value: &str, max_age_secs: u64) -> HeaderValue {
    let secure = if state.public_url.starts_with("https:") {
        "; Secure"
    } else {
        ""
    };
    let v = format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    );
    // Names and values are ASCII hex / fixed words, so this cannot fail.
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn redirect(location: &str) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    harden(resp)
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| e.trim().split(';').next() == Some("gzip"))
}

/// An embedded file, gzip'd when the client accepts it, revalidated by ETag.
fn serve_asset(headers: &HeaderMap, a: &'static assets::Asset, cache: &'static str) -> Response {
    let etag = a.etag();
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        let mut resp = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(v) = HeaderValue::from_str(etag) {
            resp.headers_mut().insert(header::ETAG, v);
        }
        return harden(resp);
    }
    let gzip = accepts_gzip(headers);
    let body: &'static [u8] = if gzip { a.gzipped() } else { a.body };
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    harden(resp)
}

async fn asset(headers: HeaderMap, Path(file): Path<String>) -> Response {
    // The HTML shells are served by their own routes only.
    if let Some(resp) = dev_asset(&headers, &file).filter(|_| !file.ends_with(".html")) {
        return resp;
    }
    match assets::find(&file).filter(|a| !a.name.ends_with(".html")) {
        // Revalidated on every load (ETag), so a new binary's assets are
        // picked up at once while unchanged ones cost a 304.
        Some(a) => serve_asset(&headers, a, "no-cache"),
        None => harden((StatusCode::NOT_FOUND, "not found\n").into_response()),
    }
}

/// Debug builds only: with `STRATUS_CONSOLE_DEV_DIR` set, console files are
/// read from that directory on every request, so editing the JavaScript needs
/// a reload, not a rebuild. Release builds never look at the variable.
fn dev_asset(headers: &HeaderMap, file: &str) -> Option<Response> {
    if !cfg!(debug_assertions) {
        return None;
    }
    let dir = std::env::var_os("STRATUS_CONSOLE_DEV_DIR")?;
    // Plain file names only: nothing outside the directory.
    if file.is_empty() || file.starts_with('.') || file.contains(['/', '\\']) {
        return None;
    }
    let mut body = std::fs::read(std::path::Path::new(&dir).join(file)).ok()?;
    use sha2::Digest as _;
    let etag = format!("\"{}\"", hex::encode(&sha2::Sha256::digest(&body)[..12]));
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return Some(harden(StatusCode::NOT_MODIFIED.into_response()));
    }
    // Compressed as the embedded files are, so the headers tests check hold.
    let gzip = accepts_gzip(headers);
    if gzip {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut gz, &body).ok()?;
        body = gz.finish().ok()?;
    }
    let ct = match file.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "text/plain; charset=utf-8",
    };
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    Some(harden(resp))
}

async fn favicon(headers: HeaderMap) -> Response {
    match assets::find("favicon.svg") {
        Some(a) => serve_asset(&headers, a, "max-age=86400"),
        None => harden((StatusCode::NOT_FOUND, "not found\n").into_response()),
    }
}

/// The live session named by the request's session cookie, and its key. In
/// cluster mode this may read the metadata store, so it runs on a blocking
/// thread there.
pub(crate) async fn session_of(
    state: &Arc<AppState>,
    headers: &HeaderMap,
) -> Option<(session::Session, Arc<crate::keys::ActiveKey>)> {
    let token = cookie(headers, SESSION_COOKIE)?;
    if !state.console.is_shared() {
        return state.console.get(&state.keys, token);
    }
    let (st, token) = (state.clone(), token.to_owned());
    tokio::task::spawn_blocking(move || st.console.get(&st.keys, &token))
        .await
        .ok()
        .flatten()
}

/// `GET /` without API parameters: the app shell for a logged-in browser,
/// else a redirect to the login page.
pub async fn index(state: &Arc<AppState>, headers: &HeaderMap) -> Response {
    let logged_in = session_of(state, headers).await.is_some();
    if !logged_in {
        return redirect("/console/login");
    }
    if let Some(resp) = dev_asset(headers, "index.html") {
        return resp;
    }
    match assets::find("index.html") {
        Some(a) => serve_asset(headers, a, "no-store"),
        None => harden(StatusCode::NOT_FOUND.into_response()),
    }
}

/// The login page, with `error` (plain text) shown under the form.
fn login_form(state: &AppState, status: StatusCode, error: Option<&str>) -> Response {
    let csrf = session::random_token();
    let template = assets::find("login.html")
        .map(|a| String::from_utf8_lossy(a.body).into_owned())
        .unwrap_or_default();
    let html = template
        .replace("{{csrf}}", &csrf)
        .replace(
            "{{error}}",
            &crate::sns::web::html_escape(error.unwrap_or("")),
        )
        .replace(
            "{{error_hidden}}",
            if error.is_some() { "" } else { "hidden" },
        );
    let mut resp = (status, html).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.append(
        header::SET_COOKIE,
        cookie_header(state, LOGIN_CSRF_COOKIE, &csrf, 3600),
    );
    harden(resp)
}

async fn login_page(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if session_of(&state, &headers).await.is_some() {
        return redirect("/");
    }
    login_form(&state, StatusCode::OK, None)
}

/// Where to go after login: a `#/...` route of the app, nothing else.
fn safe_next(next: Option<&String>) -> String {
    match next {
        Some(n)
            if n.starts_with("#/")
                && n.len() <= 1024
                && n.bytes()
                    .all(|b| b.is_ascii_graphic() && !b"\"<>\\^`{|}".contains(&b)) =>
        {
            format!("/{n}")
        }
        _ => "/".to_string(),
    }
}

fn form(body: &[u8]) -> std::collections::HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

async fn login_submit(
    State(state): State<Arc<AppState>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    // The socket's peer: behind a reverse proxy, the proxy's address.
    let peer = peer.map(|Extension(ConnectInfo(a))| a.ip());
    let f = form(&body);
    let csrf_ok = match (cookie(&headers, LOGIN_CSRF_COOKIE), f.get("csrf")) {
        (Some(c), Some(v)) => session::secrets_match(c, v),
        _ => false,
    };
    if !csrf_ok {
        tracing::warn!("console login refused: missing or wrong CSRF token");
        return login_form(
            &state,
            StatusCode::FORBIDDEN,
            Some("The form expired or was not sent by this page. Please try again."),
        );
    }
    let id = f.get("access_key_id").map(String::as_str).unwrap_or("");
    let secret = f.get("secret_access_key").map(String::as_str).unwrap_or("");
    let result = if state.console.is_shared() {
        let (st, id, secret) = (state.clone(), id.to_owned(), secret.to_owned());
        tokio::task::spawn_blocking(move || st.console.login(&st.keys, peer, &id, &secret))
            .await
            .unwrap_or(Err(session::LoginError::Unavailable))
    } else {
        state.console.login(&state.keys, peer, id, secret)
    };
    match result {
        Ok((token, s)) => {
            tracing::info!(key = %s.access_key_id, "console login");
            let mut resp = redirect(&safe_next(f.get("next")));
            let h = resp.headers_mut();
            h.append(
                header::SET_COOKIE,
                cookie_header(&state, SESSION_COOKIE, &token, session::MAX_AGE.as_secs()),
            );
            h.append(
                header::SET_COOKIE,
                cookie_header(&state, LOGIN_CSRF_COOKIE, "", 0),
            );
            resp
        }
        Err(session::LoginError::BadCredentials) => {
            // A failed login costs the guesser time.
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            // Only the id's safe characters reach the log (no forged lines).
            let shown: String = id
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(128)
                .collect();
            tracing::warn!(key = %shown, "console login failed: wrong access key id or secret");
            login_form(
                &state,
                StatusCode::UNAUTHORIZED,
                Some("Wrong access key id or secret access key."),
            )
        }
        Err(session::LoginError::CannotRead(policy)) => {
            tracing::warn!(%policy, "console login refused: the key's policy cannot read");
            login_form(
                &state,
                StatusCode::FORBIDDEN,
                Some(&format!(
                    "This access key's policy ({policy}) cannot read metrics, alarms or topics, \
                     so the console has nothing to show it. Log in with a readonly or admin key."
                )),
            )
        }
        Err(session::LoginError::Unavailable) => login_form(
            &state,
            StatusCode::SERVICE_UNAVAILABLE,
            Some("The metadata store cannot be reached right now. Please try again shortly."),
        ),
        Err(session::LoginError::Throttled) => {
            tracing::warn!(
                ?peer,
                "console login refused: too many failed logins from this address"
            );
            login_form(
                &state,
                StatusCode::TOO_MANY_REQUESTS,
                Some("Too many failed logins from your address. Wait a minute and try again."),
            )
        }
    }
}

async fn logout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let f = form(&body);
    if let Some(token) = cookie(&headers, SESSION_COOKIE)
        && let Some((s, _)) = session_of(&state, &headers).await
    {
        let sent = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .or(f.get("csrf").map(String::as_str))
            .unwrap_or("");
        if !session::secrets_match(&s.csrf, sent) {
            return harden(
                (StatusCode::FORBIDDEN, "missing or wrong CSRF token\n").into_response(),
            );
        }
        let ended = if state.console.is_shared() {
            let (st, token) = (state.clone(), token.to_owned());
            tokio::task::spawn_blocking(move || st.console.logout(&token))
                .await
                .unwrap_or(false)
        } else {
            state.console.logout(token)
        };
        if !ended {
            // The cookie stays, so the user can try again.
            return harden(
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The session could not be ended on every node (the metadata store \
                     cannot be reached). Please try again shortly.\n",
                )
                    .into_response(),
            );
        }
    }
    let mut resp = redirect("/console/login");
    resp.headers_mut().append(
        header::SET_COOKIE,
        cookie_header(&state, SESSION_COOKIE, "", 0),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_only_an_app_route() {
        assert_eq!(safe_next(Some(&"#/alarms/a%20b".into())), "/#/alarms/a%20b");
        assert_eq!(safe_next(Some(&"//evil.example".into())), "/");
        assert_eq!(safe_next(Some(&"#/x\r\nSet-Cookie: a".into())), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn the_session_cookie_is_secure_behind_https() {
        let dir = tempfile::tempdir().unwrap();
        let mut st = AppState::for_tests(
            dir.path(),
            ("AKIDCONSOLECOOKIE001", "console-cookie-secret"),
        );
        let plain = cookie_header(&st, SESSION_COOKIE, "abc", 60);
        assert_eq!(
            plain.to_str().unwrap(),
            "stratus_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=60"
        );
        st.public_url = "https://stratus.example".into();
        let secure = cookie_header(&st, SESSION_COOKIE, "abc", 60);
        assert!(secure.to_str().unwrap().ends_with("; Secure"));
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("xstratus_session=1; stratus_session=abc; other=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "missing"), None);
    }
}
