//! Hostile input never panics validation: arbitrary bytes, and arbitrary
//! TOML shaped like a scenario (so the deeper rules are exercised too).

use proptest::prelude::*;
use scenarios::load::{MapFiles, parse_scenario};

fn check(bytes: &[u8]) {
    if let Err(invalid) = parse_scenario("fuzz.toml", bytes, &MapFiles::default()) {
        // Rendering must not panic either, whatever the spans.
        let _ = invalid.render(scenarios::diagnostic::Style::Plain);
    }
}

/// Pieces a scenario is made of, recombined at random.
fn scenario_line() -> impl Strategy<Value = String> {
    let keys = prop_oneof![
        Just("name"),
        Just("interval"),
        Just("cron"),
        Just("timeout"),
        Just("get"),
        Just("post"),
        Just("expect"),
        Just("capture"),
        Just("kind"),
        Just("query"),
        Just("address"),
        Just("json"),
        Just("headers"),
        Just("tls"),
        Just("after"),
        Just("latency"),
        Just("slo"),
        Just("regions"),
        Just("depends_on"),
    ];
    let values = prop_oneof![
        Just("\"1m\"".to_string()),
        Just("\"/x/{{token}}\"".to_string()),
        Just("\"{{\"".to_string()),
        Just("['status == 200', 'jsonpath \"$.a\" count >= 1']".to_string()),
        Just("{ t = 'jsonpath \"$.t\"' }".to_string()),
        Just("\"dns\"".to_string()),
        Just("{ a = \"{{secret.X}}\" }".to_string()),
        Just("\"p95 < 1s over 10m\"".to_string()),
        Just("{ availability = 99.9, window = \"30d\" }".to_string()),
        Just("[\"eu-west-1\"]".to_string()),
        Just("[\"api-health\", \"API\", \"api-health\"]".to_string()),
        "\"[^\"\\\\]{0,20}\"".prop_map(|s| s),
        any::<i64>().prop_map(|i| i.to_string()),
    ];
    let header = prop_oneof![
        Just("[[steps]]"),
        Just("[defaults]"),
        Just("[alert]"),
        Just("[vars]"),
        Just("")
    ];
    (header, keys, values).prop_map(|(h, k, v)| format!("{h}\n{k} = {v}\n"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check(&bytes);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        check(text.as_bytes());
    }

    #[test]
    fn arbitrary_scenario_shaped_toml_never_panics(lines in proptest::collection::vec(scenario_line(), 1..12)) {
        check(lines.concat().as_bytes());
    }
}
