//! What validation builds: defaults applied, URLs joined, timeouts derived,
//! the alert block read, and a version that tracks the source.

use std::time::Duration;

use scenarios::Scenario;
use scenarios::load::{MapFiles, parse_scenario};
use scenarios::model::{Action, Body, Schedule, Severity, Threshold};
use scenarios::template::{JsonTemplate, Ref, Segment};

fn parse(text: &str) -> Scenario {
    match parse_scenario("checkout.toml", text.as_bytes(), &MapFiles::default()) {
        Ok(s) => s,
        Err(e) => panic!("{}", e.render(scenarios::diagnostic::Style::Plain)),
    }
}

fn checkout_source() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/checkout.toml"
    ))
    .expect("example")
}

#[test]
fn the_checkout_example_becomes_the_model_an_sre_expects() {
    let s = parse(&checkout_source());
    assert_eq!(s.name, "checkout");
    assert!(matches!(s.schedule, Schedule::Interval(d) if d == Duration::from_secs(30)));
    assert_eq!(s.regions.as_deref().map(<[String]>::len), Some(3));
    assert_eq!(s.labels.get("tier").map(String::as_str), Some("critical"));
    let names: Vec<&str> = s.steps.iter().map(|st| st.name.as_str()).collect();
    assert_eq!(
        names,
        ["home", "login", "products", "add to cart", "checkout"]
    );
    let Action::Http(home) = &s.steps[0].action else {
        panic!("http step")
    };
    assert_eq!(
        home.url.as_literal().as_deref(),
        Some("http://127.0.0.1:9480/")
    );
    assert!(
        home.headers
            .iter()
            .any(|(n, v)| n == "Accept" && v.as_literal().as_deref() == Some("application/json"))
    );
    // Step timeouts come from [defaults] and stay within the scenario's.
    assert!(s.steps.iter().all(|st| st.timeout <= s.timeout));
    // `"{{product}}"` in a json body keeps the captured value's type.
    let Action::Http(cart) = &s.steps[3].action else {
        panic!("http step")
    };
    let Some(Body::Json(JsonTemplate::Object(fields))) = &cart.body else {
        panic!("json body")
    };
    let (_, product) = fields
        .iter()
        .find(|(k, _)| k == "product_id")
        .expect("product_id");
    let JsonTemplate::String(t) = product else {
        panic!("a template")
    };
    assert_eq!(t.sole_ref(), Some(&Ref::Name("product".into())));
    assert_eq!(s.alert.after, Threshold::consecutive(2));
    assert_eq!(s.alert.global_regions, 2);
    assert_eq!(s.alert.severity, Severity::Critical);
    let latency = s.alert.latency.as_ref().expect("latency objective");
    assert_eq!(
        (latency.percentile, latency.threshold),
        (95.0, Duration::from_millis(1500))
    );
    assert!(
        s.alert
            .slo
            .as_ref()
            .is_some_and(|slo| slo.availability == 99.9)
    );
}

#[test]
fn defaults_fill_in_timeouts_and_global_regions() {
    let s = parse(
        "interval = \"5s\"\nregions = [\"eu-west-1\"]\n[[steps]]\nname = \"a\"\nget = \"https://example.test/{{region}}\"\n",
    );
    assert_eq!(
        s.timeout,
        Duration::from_secs(5),
        "scenario timeout is the interval when shorter than 30s"
    );
    assert_eq!(
        s.steps[0].timeout,
        Duration::from_secs(5),
        "step timeout is the scenario's when shorter than 10s"
    );
    assert_eq!(
        s.alert.global_regions, 1,
        "a single region cannot need two regions down"
    );
    let Action::Http(req) = &s.steps[0].action else {
        panic!("http step")
    };
    assert!(req.url.segments.contains(&Segment::Ref(Ref::Region)));
    assert!(!req.follow_redirects);
    assert_eq!(req.max_redirects, 10);
}

#[test]
fn cron_timeout_is_bounded_by_the_shortest_gap() {
    let s =
        parse("cron = \"*/5 * * * *\"\n[[steps]]\nname = \"a\"\nget = \"https://example.test/\"\n");
    assert!(
        matches!(s.schedule, Schedule::Cron { min_gap, .. } if min_gap == Duration::from_secs(300))
    );
    assert_eq!(s.timeout, Duration::from_secs(30));
}

#[test]
fn retry_that_fits_a_daily_cron_is_read() {
    let s = parse(
        "cron = \"0 6 * * *\"\ntimeout = \"1m\"\n[[steps]]\nname = \"a\"\nget = \"https://example.test/\"\n[alert]\nafter = 1\nretry = { attempts = 10, delay = \"5m\" }\n",
    );
    let retry = s.alert.retry.expect("retry is read");
    assert_eq!(retry.attempts, 10);
    assert_eq!(retry.delay, Duration::from_secs(300));
    assert!(
        retry.will_retry(10),
        "the 10th attempt is followed by one more"
    );
    assert!(!retry.will_retry(11), "the 11th attempt is the last");
    assert_eq!(
        parse(&checkout_source()).alert.retry,
        None,
        "no retry unless asked"
    );
}

#[test]
fn the_version_tracks_the_source() {
    let a = parse(&checkout_source());
    let b = parse(&checkout_source());
    let c = parse(&checkout_source().replace("interval = \"30s\"", "interval = \"45s\""));
    assert_eq!(a.version, b.version);
    assert_ne!(a.version, c.version);
    assert!(a.version.starts_with("sha256:"));
}

#[test]
fn depends_on_keeps_the_names_in_file_order() {
    let s = parse(
        "interval = \"1m\"\ndepends_on = [\"api-health\", \"db\"]\n[[steps]]\nname = \"a\"\nget = \"https://example.test/\"\n",
    );
    assert_eq!(s.depends_on, ["api-health", "db"]);
    let plain =
        parse("interval = \"1m\"\n[[steps]]\nname = \"a\"\nget = \"https://example.test/\"\n");
    assert!(plain.depends_on.is_empty());
}

#[test]
fn after_and_recover_after_take_a_count_or_n_of_m() {
    let alert = |keys: &str| {
        parse(&format!(
            "interval = \"1m\"\n[[steps]]\nname = \"a\"\nget = \"https://example.test/\"\n[alert]\n{keys}"
        ))
        .alert
    };
    let table = [
        // (keys, after, recover_after)
        ("after = 3", (3, 3), (1, 1)),
        ("after = \"3 of 5\"", (3, 5), (3, 3)),
        ("after = \" 2  of 10 \"\nrecover_after = 4", (2, 10), (4, 4)),
        (
            "after = \"3 of 5\"\nrecover_after = \"4 of 6\"",
            (3, 5),
            (4, 6),
        ),
        ("after = \"4 of 4\"", (4, 4), (1, 1)),
        ("recover_after = \"1 of 100\"", (2, 2), (1, 100)),
    ];
    for (keys, (runs, of), (up_runs, up_of)) in table {
        let a = alert(keys);
        assert_eq!(a.after, Threshold { runs, of }, "{keys}");
        assert_eq!(
            a.recover_after,
            Threshold {
                runs: up_runs,
                of: up_of
            },
            "{keys}"
        );
    }
}

#[test]
fn anomaly_detection_is_read_with_its_defaults() {
    let with = |line: &str| {
        parse(&format!(
            "interval = \"1m\"\n[[steps]]\nname = \"a\"\nget = \"https://example.test/\"\n[alert]\n{line}\n"
        ))
        .alert
        .anomaly
    };
    let defaults = with("anomaly = {}").expect("anomaly is read");
    assert_eq!((defaults.sensitivity, defaults.min_runs), (3.0, 50));
    assert_eq!(defaults.severity, scenarios::model::Severity::Warning);
    let tuned = with("anomaly = { sensitivity = 2.5, min_runs = 10, severity = \"critical\" }")
        .expect("anomaly is read");
    assert_eq!((tuned.sensitivity, tuned.min_runs), (2.5, 10));
    assert_eq!(tuned.severity, scenarios::model::Severity::Critical);
    assert_eq!(with("after = 1"), None, "no anomaly detection unless asked");
}
