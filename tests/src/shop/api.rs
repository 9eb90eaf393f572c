//! The shop's routes: home (and `/index.html`, redirected to it), health,
//! login (JSON, a URL-encoded form, or HTTP Basic credentials), products,
//! cart, checkout, the JavaScript app (`/app`), and the `/_faults` control
//! endpoint.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::faults::{Fault, Faults};
use super::store::{PRODUCTS, Store, StoreError};
use crate::serve::{RespBody, full};

/// The header probes send their region in.
pub const REGION_HEADER: &str = "x-sonde-region";

/// Request bodies above this are refused.
const MAX_BODY: usize = 64 * 1024;

const HOME: &str = "<!doctype html>\n<html><head><title>Sonde demo shop</title></head>\n\
<body><h1>Welcome to the Sonde demo shop</h1>\n\
<p>A JSON API for synthetic checks: <code>POST /api/login</code>, \
<code>GET /api/products</code>, <code>POST /api/cart</code>, <code>POST /api/checkout</code>.</p>\n\
</body></html>\n";

/// Shared state of one shop.
#[derive(Debug)]
pub(crate) struct Shop {
    pub password: String,
    pub store: Mutex<Store>,
    pub faults: Mutex<Faults>,
}

type Answer = Response<RespBody>;

pub(crate) async fn handle(shop: Arc<Shop>, req: Request<Incoming>) -> Answer {
    let started = tokio::time::Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let region = header_text(&req, REGION_HEADER).map(str::to_owned);
    // As a traced service would: the caller's trace context, so a probe's
    // request can be found in the shop's log and its trace.
    let traceparent = header_text(&req, "traceparent").map(str::to_owned);
    let response = route(&shop, req, region.as_deref()).await;
    tracing::info!(
        %method,
        %path,
        status = response.status().as_u16(),
        region = region.as_deref().unwrap_or("-"),
        traceparent = traceparent.as_deref().unwrap_or("-"),
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "Request served."
    );
    response
}

async fn route(shop: &Shop, req: Request<Incoming>, region: Option<&str>) -> Answer {
    let path = req.uri().path().to_owned();
    if path == "/_faults" {
        return faults(shop, req).await;
    }
    if path != "/healthz" {
        let injection = shop
            .faults
            .lock()
            .ok()
            .and_then(|mut f| f.check(region, &path));
        if let Some(injection) = injection {
            tokio::time::sleep(injection.latency).await;
            if let Some(status) = injection.status {
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                return json_answer(
                    status,
                    &json!({"error": "injected fault", "region": region, "path": path}),
                );
            }
        }
    }
    match (req.method(), path.as_str()) {
        (&Method::GET, "/") => html(HOME),
        (&Method::GET, "/index.html") => moved_to("/"),
        (&Method::GET, "/app") => html(super::app::APP),
        (&Method::GET, "/app/stalled") => html(super::app::STALLED),
        // Never answered: the stalled page's `load` event never comes.
        (&Method::GET, "/app/never.js") => std::future::pending().await,
        (&Method::GET, "/healthz") => json_answer(StatusCode::OK, &json!({"status": "ok"})),
        (&Method::POST, "/api/login") => login(shop, req).await,
        (&Method::GET, "/api/products") => products(shop, &req),
        (&Method::POST, "/api/cart") => cart(shop, req).await,
        (&Method::POST, "/api/checkout") => checkout(shop, req).await,
        (
            _,
            "/" | "/index.html" | "/healthz" | "/api/login" | "/api/products" | "/api/cart"
            | "/api/checkout",
        ) => error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
        _ => error(StatusCode::NOT_FOUND, "not found"),
    }
}

#[derive(Deserialize)]
struct LoginBody {
    username: String,
    password: String,
}

async fn login(shop: &Shop, req: Request<Incoming>) -> Answer {
    // A login page's form posts URL-encoded fields; API clients send JSON
    // or Basic credentials.
    let form = header_text(&req, header::CONTENT_TYPE.as_str())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let body = if let Some(basic) = basic_credentials(&req) {
        Ok(basic)
    } else if form {
        read_form_login(req).await
    } else {
        read_json::<LoginBody>(req).await
    };
    let body = match body {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    if body.username.is_empty() || body.password != shop.password {
        return error(StatusCode::UNAUTHORIZED, "invalid credentials");
    }
    let Ok(mut store) = shop.store.lock() else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "store unavailable");
    };
    let token = store.login(&body.username);
    drop(store);
    let mut response = json_answer(
        StatusCode::OK,
        &json!({"token": token, "user": body.username}),
    );
    let cookie = format!("session={token}; Path=/; HttpOnly; SameSite=Lax");
    if let Ok(cookie) = HeaderValue::try_from(cookie) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

fn products(shop: &Shop, req: &Request<Incoming>) -> Answer {
    let authorized = bearer(req).is_some_and(|token| {
        shop.store
            .lock()
            .is_ok_and(|store| store.user(token).is_some())
    });
    if !authorized {
        return unauthorized();
    }
    json_answer(StatusCode::OK, &json!({"items": PRODUCTS}))
}

#[derive(Deserialize)]
struct CartBody {
    product_id: Value,
    #[serde(default)]
    quantity: Option<u32>,
}

async fn cart(shop: &Shop, req: Request<Incoming>) -> Answer {
    let Some(token) = bearer(&req).map(str::to_owned) else {
        return unauthorized();
    };
    let body: CartBody = match read_json(req).await {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    // A templated id may arrive as a number or as its text.
    let product = match &body.product_id {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    let Some(product) = product else {
        return error(StatusCode::BAD_REQUEST, "product_id must be a product id");
    };
    let quantity = body.quantity.unwrap_or(1);
    if !(1..=100).contains(&quantity) {
        return error(StatusCode::BAD_REQUEST, "quantity must be from 1 to 100");
    }
    let added = shop
        .store
        .lock()
        .map(|mut s| s.add_to_cart(&token, product, quantity));
    match added {
        Ok(Ok((cart_id, items))) => json_answer(
            StatusCode::CREATED,
            &json!({"cart_id": cart_id, "items": items}),
        ),
        Ok(Err(e)) => store_error(&e),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "store unavailable"),
    }
}

#[derive(Deserialize)]
struct CheckoutBody {
    payment: String,
}

async fn checkout(shop: &Shop, req: Request<Incoming>) -> Answer {
    let Some(token) = bearer(&req).map(str::to_owned) else {
        return unauthorized();
    };
    let body: CheckoutBody = match read_json(req).await {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    if body.payment.is_empty() {
        return error(StatusCode::BAD_REQUEST, "payment is required");
    }
    let done = shop.store.lock().map(|mut s| s.checkout(&token));
    match done {
        Ok(Ok((order_id, total))) => json_answer(
            StatusCode::OK,
            &json!({"order_id": order_id, "total": total, "currency": "EUR"}),
        ),
        Ok(Err(e)) => store_error(&e),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "store unavailable"),
    }
}

async fn faults(shop: &Shop, req: Request<Incoming>) -> Answer {
    match *req.method() {
        Method::GET => {
            let list = shop.faults.lock().map(|f| f.list()).unwrap_or_default();
            json_answer(StatusCode::OK, &json!({"faults": list}))
        }
        Method::POST => {
            let fault = match read_json::<Fault>(req).await.map(Fault::normalized) {
                Ok(Ok(fault)) => fault,
                Ok(Err(message)) => return error(StatusCode::BAD_REQUEST, &message),
                Err(answer) => return answer,
            };
            tracing::info!(
                region = fault.region.as_deref().unwrap_or("*"),
                path = fault.path.as_deref().unwrap_or("*"),
                status = fault.status,
                latency_ms = fault.latency_ms,
                flap = fault.flap,
                "Fault set."
            );
            if let Ok(mut faults) = shop.faults.lock() {
                faults.set(fault.clone());
            }
            json_answer(StatusCode::CREATED, &json!({"fault": fault}))
        }
        Method::DELETE => {
            let region = query_param(req.uri().query(), "region");
            let cleared = shop
                .faults
                .lock()
                .map(|mut f| f.clear(region.as_deref()))
                .unwrap_or(0);
            tracing::info!(
                region = region.as_deref().unwrap_or("*"),
                cleared,
                "Faults cleared."
            );
            json_answer(StatusCode::OK, &json!({"cleared": cleared}))
        }
        _ => error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
    }
}

fn store_error(e: &StoreError) -> Answer {
    match e {
        StoreError::Unauthorized => unauthorized(),
        StoreError::UnknownProduct(id) => error(StatusCode::NOT_FOUND, &format!("no product {id}")),
        StoreError::EmptyCart => error(StatusCode::CONFLICT, "cart is empty"),
    }
}

fn header_text<'r>(req: &'r Request<Incoming>, name: &str) -> Option<&'r str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn bearer(req: &Request<Incoming>) -> Option<&str> {
    let value = header_text(req, header::AUTHORIZATION.as_str())?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// `Authorization: Basic base64(user:password)`; `None` without one or
/// when it does not decode (the login then reads the body).
fn basic_credentials(req: &Request<Incoming>) -> Option<LoginBody> {
    use base64::Engine as _;
    let value = header_text(req, header::AUTHORIZATION.as_str())?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let (username, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some(LoginBody {
        username: username.to_owned(),
        password: password.to_owned(),
    })
}

/// A query parameter's value, percent- and `+`-decoded as a form's.
fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

async fn read_body(req: Request<Incoming>) -> Result<Bytes, Answer> {
    match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(_) => Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body too large or broken",
        )),
    }
}

async fn read_json<T: DeserializeOwned>(req: Request<Incoming>) -> Result<T, Answer> {
    let bytes = read_body(req).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("invalid JSON body: {e}")))
}

async fn read_form_login(req: Request<Incoming>) -> Result<LoginBody, Answer> {
    let bytes = read_body(req).await?;
    let field = |name: &str| {
        url::form_urlencoded::parse(&bytes)
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    match (field("username"), field("password")) {
        (Some(username), Some(password)) => Ok(LoginBody { username, password }),
        _ => Err(error(
            StatusCode::BAD_REQUEST,
            "form needs username and password",
        )),
    }
}

fn moved_to(location: &'static str) -> Answer {
    let mut response = error(StatusCode::MOVED_PERMANENTLY, "moved");
    response
        .headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(location));
    response
}

fn unauthorized() -> Answer {
    let mut response = error(StatusCode::UNAUTHORIZED, "bearer token required");
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

fn error(status: StatusCode, message: &str) -> Answer {
    json_answer(status, &json!({"error": message}))
}

fn json_answer(status: StatusCode, value: &Value) -> Answer {
    let mut response = Response::new(full(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn html(body: &'static str) -> Answer {
    let mut response = Response::new(full(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::query_param;

    #[test]
    fn query_param_finds_the_named_value() {
        assert_eq!(
            query_param(Some("a=1&region=eu-west-1"), "region").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            query_param(Some("region=ap%20hurl%26x"), "region").as_deref(),
            Some("ap hurl&x")
        );
        assert_eq!(query_param(Some("a=1"), "region"), None);
        assert_eq!(query_param(None, "region"), None);
    }
}
