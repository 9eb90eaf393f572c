//! Shared set-up of the probe's integration tests.

use std::sync::Arc;

use probe::net::{Net, NetConfig, TargetGuard};
use probe::run::Runner;
use probe::secrets::Secrets;
use scenarios::Scenario;
use scenarios::load::{MapFiles, parse_scenario};

/// A runner for `region`, with the given secrets and the test CA trusted.
pub fn runner(region: &str, secrets: &[(&str, &str)]) -> Runner {
    let config = NetConfig {
        resolver: None,
        guard: TargetGuard {
            enabled: false,
            allow: Vec::new(),
        },
        extra_roots_pem: vec![sonde_tests::ca_pem().as_bytes().to_vec()],
        user_agent: probe::run::USER_AGENT.to_string(),
    };
    Runner {
        net: Arc::new(Net::new(config).expect("network layer")),
        secrets: Arc::new(Secrets::from_pairs(
            secrets.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )),
        region: region.to_string(),
        probe: "test-probe".to_string(),
    }
}

/// Parses scenario text, panicking with the rendered diagnostics.
pub fn scenario(text: &str) -> Scenario {
    match parse_scenario("test.toml", text.as_bytes(), &MapFiles::default()) {
        Ok(s) => s,
        Err(invalid) => panic!("{}", invalid.render(scenarios::diagnostic::Style::Plain)),
    }
}

/// An example journey pointed at `base` instead of the fleet's demo shop.
pub fn example(name: &str, base: &str) -> Scenario {
    let path = format!(
        "{}/../scenarios/examples/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("example exists");
    scenario(&text.replace("http://127.0.0.1:9480", base.trim_end_matches('/')))
}
