//! The demo shop serves the checkout journey and injects faults per region.

use serde_json::{Value, json};
use sonde_tests::TestClient;
use sonde_tests::shop::{self, RunningShop, ShopOptions};

struct Journey<'a> {
    client: TestClient,
    base: String,
    region: &'a str,
}

impl Journey<'_> {
    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let bearer = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![
            ("X-Sonde-Region", self.region),
            ("Accept", "application/json"),
        ];
        if let Some(bearer) = &bearer {
            headers.push(("Authorization", bearer));
        }
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        let url = format!("{}{path}", self.base);
        let response = self
            .client
            .request(
                method.parse().unwrap(),
                &url,
                &headers,
                body.map(|b| b.to_string().into()),
            )
            .await
            .unwrap();
        (
            response.status.as_u16(),
            response.json().unwrap_or(Value::Null),
        )
    }

    /// login → products → cart → checkout; returns the checkout's status.
    async fn checkout(&self) -> u16 {
        let (status, login) = self
            .send(
                "POST",
                "/api/login",
                None,
                Some(json!({"username": "synthetic", "password": "demo"})),
            )
            .await;
        assert_eq!(status, 200, "{login}");
        let token = login["token"].as_str().unwrap().to_owned();
        let (status, products) = self.send("GET", "/api/products", Some(&token), None).await;
        assert_eq!(status, 200);
        let product = products["items"][0]["id"].clone();
        let (status, cart) = self
            .send(
                "POST",
                "/api/cart",
                Some(&token),
                Some(json!({"product_id": product, "quantity": 1})),
            )
            .await;
        assert_eq!((status, &cart["items"]), (201, &json!(1)), "{cart}");
        let (status, order) = self
            .send(
                "POST",
                "/api/checkout",
                Some(&token),
                Some(json!({"payment": "test-card"})),
            )
            .await;
        if status == 200 {
            assert!(
                order["order_id"].as_str().is_some_and(|id| !id.is_empty()),
                "{order}"
            );
        }
        status
    }
}

async fn start_shop() -> (RunningShop, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let shop = shop::start(ShopOptions::for_tests(dir.path()))
        .await
        .unwrap();
    (shop, dir)
}

fn journey<'a>(shop: &RunningShop, region: &'a str) -> Journey<'a> {
    Journey {
        client: TestClient::new(),
        base: shop.http_url(""),
        region,
    }
}

#[tokio::test]
async fn home_and_health_answer() {
    let (shop, _dir) = start_shop().await;
    let client = TestClient::new();
    let home = client.get(&shop.http_url("/")).await.unwrap();
    assert_eq!(home.status.as_u16(), 200);
    assert!(home.text().contains("Welcome"));
    assert!(
        home.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let health = client.get(&shop.http_url("/healthz")).await.unwrap();
    assert_eq!(health.json().unwrap(), json!({"status": "ok"}));
}

#[tokio::test]
async fn checkout_journey_passes_over_http_and_https() {
    let (shop, _dir) = start_shop().await;
    assert_eq!(journey(&shop, "us-east-1").checkout().await, 200);
    let ca_pem = std::fs::read_to_string(shop.ca_path()).unwrap();
    assert_eq!(ca_pem, shop.ca_pem());
    let https = Journey {
        client: TestClient::trusting_pem(&ca_pem).unwrap(),
        base: format!("https://localhost:{}", shop.https_addr().port()),
        region: "us-east-1",
    };
    assert_eq!(https.checkout().await, 200);
}

#[tokio::test]
async fn login_and_bearer_token_are_enforced() {
    let (shop, _dir) = start_shop().await;
    let j = journey(&shop, "us-east-1");
    let (status, body) = j
        .send(
            "POST",
            "/api/login",
            None,
            Some(json!({"username": "u", "password": "nope"})),
        )
        .await;
    assert_eq!((status, body["error"].is_string()), (401, true));
    assert_eq!(j.send("GET", "/api/products", None, None).await.0, 401);
    assert_eq!(
        j.send("GET", "/api/products", Some("forged"), None).await.0,
        401
    );
    assert_eq!(
        j.send("POST", "/api/cart", None, Some(json!({"product_id": 42})))
            .await
            .0,
        401
    );
    assert_eq!(
        j.send("POST", "/api/checkout", None, Some(json!({"payment": "x"})))
            .await
            .0,
        401
    );
    assert_eq!(
        j.send("POST", "/api/login", None, Some(json!({"nope": 1})))
            .await
            .0,
        400
    );
    assert_eq!(j.send("GET", "/api/login", None, None).await.0, 405);
    assert_eq!(j.send("GET", "/nowhere", None, None).await.0, 404);

    let response = TestClient::new()
        .post_json(
            &shop.http_url("/api/login"),
            &[],
            &json!({"username": "u", "password": "demo"}),
        )
        .await
        .unwrap();
    let cookie = response.header("set-cookie").unwrap();
    assert!(cookie.starts_with(&format!(
        "session={}",
        response.json().unwrap()["token"].as_str().unwrap()
    )));
}

#[tokio::test]
async fn cart_takes_a_templated_string_id_and_checkout_needs_a_cart() {
    let (shop, _dir) = start_shop().await;
    let j = journey(&shop, "us-east-1");
    let (_, login) = j
        .send(
            "POST",
            "/api/login",
            None,
            Some(json!({"username": "u", "password": "demo"})),
        )
        .await;
    let token = login["token"].as_str().unwrap();
    assert_eq!(
        j.send(
            "POST",
            "/api/checkout",
            Some(token),
            Some(json!({"payment": "card"}))
        )
        .await
        .0,
        409
    );
    let (status, cart) = j
        .send(
            "POST",
            "/api/cart",
            Some(token),
            Some(json!({"product_id": "42", "quantity": 2})),
        )
        .await;
    assert_eq!((status, cart["items"].as_u64()), (201, Some(2)));
    assert_eq!(
        j.send(
            "POST",
            "/api/cart",
            Some(token),
            Some(json!({"product_id": 9999}))
        )
        .await
        .0,
        404
    );
    assert_eq!(
        j.send(
            "POST",
            "/api/checkout",
            Some(token),
            Some(json!({"payment": "card"}))
        )
        .await
        .0,
        200
    );
}

#[tokio::test]
async fn region_fault_fails_checkout_there_only_until_cleared() {
    let (shop, _dir) = start_shop().await;
    let client = TestClient::new();
    let fault = json!({"region": "eu-west-1", "path": "/api/checkout", "status": 503});
    let set = client
        .post_json(&shop.http_url("/_faults"), &[], &fault)
        .await
        .unwrap();
    assert_eq!(set.status.as_u16(), 201, "{}", set.text());
    let listed = client
        .get(&shop.http_url("/_faults"))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(listed["faults"][0]["region"], "eu-west-1");

    assert_eq!(journey(&shop, "eu-west-1").checkout().await, 503);
    assert_eq!(journey(&shop, "us-east-1").checkout().await, 200);
    assert_eq!(journey(&shop, "ap-southeast-1").checkout().await, 200);

    let cleared = client
        .request(hyper::Method::DELETE, &shop.http_url("/_faults"), &[], None)
        .await
        .unwrap();
    assert_eq!(cleared.json().unwrap()["cleared"], 1);
    assert_eq!(journey(&shop, "eu-west-1").checkout().await, 200);
}

#[tokio::test]
async fn flapping_fault_and_region_clear() {
    let (shop, _dir) = start_shop().await;
    let client = TestClient::new();
    let flap = json!({"region": "ap-southeast-1", "flap": true});
    client
        .post_json(&shop.http_url("/_faults"), &[], &flap)
        .await
        .unwrap();
    let bad = client
        .post_json(&shop.http_url("/_faults"), &[], &json!({"status": 42}))
        .await
        .unwrap();
    assert_eq!(bad.status.as_u16(), 400);
    let home = |region: &'static str| {
        let client = client.clone();
        let url = shop.http_url("/");
        async move {
            client
                .request(
                    hyper::Method::GET,
                    &url,
                    &[("X-Sonde-Region", region)],
                    None,
                )
                .await
                .unwrap()
                .status
                .as_u16()
        }
    };
    let statuses = [
        home("ap-southeast-1").await,
        home("ap-southeast-1").await,
        home("ap-southeast-1").await,
    ];
    assert_eq!(statuses, [503, 200, 503]);
    assert_eq!(home("us-east-1").await, 200);
    let health = client
        .request(
            hyper::Method::GET,
            &shop.http_url("/healthz"),
            &[("X-Sonde-Region", "ap-southeast-1")],
            None,
        )
        .await
        .unwrap();
    assert_eq!(health.status.as_u16(), 200, "health is never faulted");
    let url = shop.http_url("/_faults?region=ap-southeast-1");
    let cleared = client
        .request(hyper::Method::DELETE, &url, &[], None)
        .await
        .unwrap();
    assert_eq!(cleared.json().unwrap()["cleared"], 1);
    assert_eq!(home("ap-southeast-1").await, 200);
}

#[tokio::test]
async fn restart_keeps_the_ca() {
    let dir = tempfile::tempdir().unwrap();
    let first = shop::start(ShopOptions::for_tests(dir.path()))
        .await
        .unwrap();
    let pem = first.ca_pem().to_owned();
    assert!(first.stop().await);
    let second = shop::start(ShopOptions::for_tests(dir.path()))
        .await
        .unwrap();
    assert_eq!(second.ca_pem(), pem);
}

#[tokio::test]
async fn login_takes_a_form_or_basic_credentials_and_index_html_redirects_home() {
    use base64::Engine as _;
    let (shop, _dir) = start_shop().await;
    let client = TestClient::new();
    let login = shop.http_url("/api/login");
    let form = |body: &'static str| {
        client.request(
            hyper::Method::POST,
            &login,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(body.into()),
        )
    };
    let ok = form("username=form+user&password=demo").await.unwrap();
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json().unwrap()["user"], "form user");
    assert_eq!(form("username=u&password=nope").await.unwrap().status, 401);
    let missing = form("username=u").await.unwrap();
    assert_eq!(missing.status, 400);
    assert!(missing.text().contains("username and password"));

    let basic = |pair: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    };
    for (pair, status) in [("basic:demo", 200), ("basic:nope", 401)] {
        let auth = basic(pair);
        let response = client
            .request(
                hyper::Method::POST,
                &login,
                &[("Authorization", &auth)],
                None,
            )
            .await
            .unwrap();
        assert_eq!(response.status, status, "{pair}: {}", response.text());
    }

    let moved = client.get(&shop.http_url("/index.html")).await.unwrap();
    assert_eq!(moved.status, 301);
    assert_eq!(moved.header("location"), Some("/"));
}
