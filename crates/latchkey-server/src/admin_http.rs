//! The admin port (`LATCHKEY_ADMIN_LISTEN`, loopback unless told otherwise), never the public one:
//! `GET /metrics` for the monitoring system, and the operator's commands under `/admin/` for a
//! session of an active administrator that entered its password in the last 5 minutes
//! (`POST /admin/reauth/`). Only a bearer token counts here: a browser never sends one on its own,
//! so no page can make a signed-in administrator's browser act on this port.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Path, Request as HttpRequest, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use latchkey_core::auth::admin;
use latchkey_core::auth::secret::Token;
use latchkey_core::auth::Timestamp;
use latchkey_core::error::Error;
use latchkey_core::store::users::UserRow;
use latchkey_core::store::{AdminAction, Store};

use crate::extractors::{Fields, Session};
use crate::http::{hashing, not_found, Failure};
use crate::Service;

/// How long an administrator's password, entered again, opens the admin tools.
pub const REAUTH_SECS: i64 = 300;
pub const REAUTH: &str = "/admin/reauth/";
pub const METRICS: &str = "/metrics";

type Shared<S> = State<Arc<Service<S>>>;
type Answer = Result<Response, Failure>;

pub fn router<S: Store>(service: Arc<Service<S>>) -> Router {
    Router::new()
        .route(METRICS, get(metrics::<S>))
        .route(REAUTH, hashing(reauthenticate::<S>))
        .route("/admin/users/", get(users::<S>))
        .route("/admin/users/{name}/", get(show::<S>))
        .route("/admin/users/{name}/{action}/", post(act::<S>))
        .fallback(not_found)
        .layer(middleware::from_fn(log))
        .with_state(service)
}

fn bearer(headers: &HeaderMap) -> Result<Token, Failure> {
    match Session::from_headers(headers)? {
        Session::Bearer(token) => Ok(token),
        _ => Err(Error::NotAuthenticated.into()),
    }
}

/// The administrator this request acts for: a live session of an active administrator, whose
/// password was entered again within `REAUTH_SECS`.
async fn administrator<S: Store>(s: &Service<S>, headers: &HeaderMap) -> Result<UserRow, Failure> {
    let token = bearer(headers)?;
    let now = s.now();
    let user = admin::administrator(&s.accounts.pool, Some(&token), now).await?;
    let at = s.reauthenticated.lock().ok().and_then(|m| m.get(&token.digest()).copied());
    if !at.is_some_and(|at| fresh(at, now)) {
        return Err(Error::ReauthRequired.into());
    }
    Ok(user)
}

fn fresh(at: Timestamp, now: Timestamp) -> bool {
    (0..REAUTH_SECS).contains(&(now - at))
}

fn success(detail: String, mut data: serde_json::Value) -> Answer {
    if let Some(map) = data.as_object_mut() {
        map.insert("success".into(), json!(true));
        map.insert("detail".into(), json!(detail));
    }
    Ok((StatusCode::OK, Json(data)).into_response())
}

async fn reauthenticate<S: Store>(State(s): Shared<S>, headers: HeaderMap, Fields(r): Fields) -> Answer {
    let token = bearer(&headers)?;
    let now = s.now();
    let user = admin::reauthenticate(&s.accounts.pool, Some(&token), r.text("password")?, now).await?;
    if let Ok(mut at) = s.reauthenticated.lock() {
        at.retain(|_, when| fresh(*when, now));
        at.insert(token.digest(), now);
    }
    let detail = format!("The administrator's tools are open to {} for {} minutes.", user.username, REAUTH_SECS / 60);
    success(detail, json!({"valid_for": REAUTH_SECS}))
}

#[derive(serde::Deserialize)]
struct Page {
    #[serde(default)]
    search: String,
    #[serde(default = "fifty")]
    limit: i64,
    #[serde(default)]
    after: i64,
}

fn fifty() -> i64 {
    50
}

/// `?search=TEXT&limit=N&after=CURSOR`: accounts whose username or address starts with TEXT.
async fn users<S: Store>(State(s): Shared<S>, headers: HeaderMap, uri: axum::http::Uri) -> Answer {
    administrator(&s, &headers).await?;
    let page: Page = serde_urlencoded::from_str(uri.query().unwrap_or_default())
        .map_err(|_| Error::invalid("limit", "The page is `search`, `limit` and `after` (whole numbers)."))?;
    let found = admin::search(&s.accounts.pool, &page.search, page.after, page.limit, s.now()).await?;
    let n = found.accounts.len();
    success(format!("{n} {}.", if n == 1 { "account" } else { "accounts" }), json!(found))
}

async fn show<S: Store>(State(s): Shared<S>, headers: HeaderMap, Path(name): Path<String>) -> Answer {
    administrator(&s, &headers).await?;
    let account = admin::show(&s.accounts.pool, &name, s.now()).await?;
    success(String::new(), json!({"account": account}))
}

/// `POST /admin/users/NAME/ACTION/`, ACTION as the command line spells it (`deactivate`, ...).
async fn act<S: Store>(
    State(s): Shared<S>,
    headers: HeaderMap,
    Path((name, action)): Path<(String, String)>,
) -> Answer {
    let by = administrator(&s, &headers).await?;
    let Some(action) = AdminAction::named(&action) else { return Ok(not_found().await) };
    let operator = format!("{} (admin port)", by.username);
    let (account, notice_sent) =
        admin::act(&s.accounts.pool, &s.accounts.mailer, &name, action, &operator, s.now()).await?;
    let detail = format!("{} done by {}.", action.name(), by.username);
    success(detail, json!({"account": account, "notice_sent": notice_sent}))
}

async fn metrics<S: Store>(State(s): Shared<S>) -> Response {
    match s.metrics.render(s.accounts.pool.connections()) {
        Ok(text) => {
            let kind = "application/openmetrics-text; version=1.0.0; charset=utf-8";
            ([(header::CONTENT_TYPE, kind)], text).into_response()
        }
        Err(e) => Failure::Domain(Error::internal("metrics", e)).into_response(),
    }
}

/// One JSON line per request, as on the public port: never a body, a header or a query string
/// (nor the account named in the path: the route's pattern is logged).
async fn log(request: HttpRequest, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |m| m.as_str()).to_string();
    let response = next.run(request).await;
    let line = json!({
        "event": "admin_request",
        "method": method.as_str(),
        "route": route,
        "status": response.status().as_u16(),
        "ms": started.elapsed().as_secs_f64() * 1000.0,
    });
    log::info!("{line}");
    response
}
