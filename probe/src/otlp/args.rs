//! The `--otlp-*` flags of `probe run` and `probe agent`, and the exporter
//! they configure.

use std::sync::Arc;

use reqwest::header::{HeaderName, HeaderValue};
use scenarios::template::{Ref, Scope};
use url::Url;

use super::export::{ExportConfig, TraceExport};
use crate::secrets::Secrets;

/// Where each run's trace is sent.
#[derive(Debug, Clone, clap::Args)]
pub struct OtlpArgs {
    /// OTLP/HTTP collector (protobuf) to send one trace per run to, e.g.
    /// `http://otel-collector:4318`; `/v1/traces` is appended to its path.
    #[arg(long, env = "SONDE_PROBE_OTLP_ENDPOINT", value_name = "URL", value_parser = parse_endpoint)]
    pub otlp_endpoint: Option<Url>,
    /// `NAME=VALUE` sent with every export (repeatable), e.g. an API key;
    /// the value may use `{{secret.NAME}}`.
    #[arg(long = "otlp-header", env = "SONDE_PROBE_OTLP_HEADER", value_name = "NAME=VALUE",
          value_parser = parse_header)]
    pub otlp_header: Vec<OtlpHeader>,
    /// Share of passing runs whose trace is sent, 0 to 1; failed runs are
    /// always sent.
    #[arg(long, env = "SONDE_PROBE_OTLP_SAMPLE_SUCCESS", value_name = "RATIO",
          default_value_t = 1.0, value_parser = parse_ratio)]
    pub otlp_sample_success: f64,
}

/// An `--otlp-header` as given: its value is rendered once the secrets are
/// loaded.
#[derive(Debug, Clone)]
pub struct OtlpHeader {
    name: HeaderName,
    value: scenarios::template::Template,
}

impl OtlpArgs {
    /// The exporter, started on the current runtime, or `None` without
    /// `--otlp-endpoint`.
    ///
    /// # Errors
    /// A header whose secret is missing or whose value cannot be sent.
    pub fn start(&self, secrets: &Secrets) -> Result<Option<Arc<TraceExport>>, String> {
        let Some(endpoint) = &self.otlp_endpoint else {
            return Ok(None);
        };
        let mut headers = Vec::with_capacity(self.otlp_header.len());
        for h in &self.otlp_header {
            let text = h
                .value
                .render(&SecretsOnly(secrets))
                .map_err(|e| missing(&h.name, &e.0))?;
            let mut value = HeaderValue::from_str(&text).map_err(|_| {
                format!(
                    "--otlp-header `{}`: the value has characters a header cannot carry",
                    h.name
                )
            })?;
            value.set_sensitive(true);
            headers.push((h.name.clone(), value));
        }
        let config = ExportConfig {
            url: traces_url(endpoint),
            headers,
            sample_success: self.otlp_sample_success,
        };
        TraceExport::start(config).map(|t| Some(Arc::new(t)))
    }
}

fn missing(header: &HeaderName, reference: &str) -> String {
    match reference.strip_prefix("secret.") {
        Some(name) => format!(
            "--otlp-header `{header}`: secret `{name}` is not set (set {}{name} or put a file `{name}` in --secrets-dir)",
            crate::secrets::ENV_PREFIX
        ),
        None => format!(
            "--otlp-header `{header}`: `{{{{{reference}}}}}` is not available here; only `{{{{secret.NAME}}}}` is"
        ),
    }
}

/// Only secrets: a header of the exporter is not part of any run.
struct SecretsOnly<'a>(&'a Secrets);

impl Scope for SecretsOnly<'_> {
    fn lookup(&self, reference: &Ref) -> Option<serde_json::Value> {
        match reference {
            Ref::Secret(name) => self
                .0
                .get(name)
                .map(|v| serde_json::Value::String(v.to_string())),
            _ => None,
        }
    }
}

/// The endpoint with `/v1/traces` appended to its path, as OTLP/HTTP says
/// for a base URL.
fn traces_url(endpoint: &Url) -> Url {
    let mut url = endpoint.clone();
    let path = url.path().trim_end_matches('/').to_string();
    url.set_path(&format!("{path}/v1/traces"));
    url
}

fn parse_endpoint(text: &str) -> Result<Url, String> {
    let expected = "expected a collector URL like `http://otel-collector:4318`";
    let url =
        Url::parse(text.trim()).map_err(|e| format!("`{text}` is not a URL ({e}); {expected}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "`{text}` is not an http:// or https:// URL with a host; {expected}"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "`{text}` has a query or fragment; {expected} (`/v1/traces` is appended to its path)"
        ));
    }
    Ok(url)
}

fn parse_header(text: &str) -> Result<OtlpHeader, String> {
    let expected = "expected NAME=VALUE, like `x-api-key={{secret.OTLP_KEY}}`";
    let Some((name, value)) = text.split_once('=') else {
        return Err(format!("`{text}` has no `=`; {expected}"));
    };
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("`{}` is not a header name; {expected}", name.trim()))?;
    let (value, _) = scenarios::template::parse(value)
        .map_err(|e| format!("the value of `{name}`: {}; {expected}", e.message))?;
    Ok(OtlpHeader { name, value })
}

fn parse_ratio(text: &str) -> Result<f64, String> {
    let expected = "expected a ratio from 0 to 1, like 0.1 for one passing run in ten";
    match text.trim().parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("`{text}` is not a ratio; {expected}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_path_is_appended_to_the_endpoint_path() {
        let url = |s: &str| traces_url(&parse_endpoint(s).expect("valid"));
        assert_eq!(
            url("http://127.0.0.1:4318").as_str(),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            url("https://c.example/otlp/").as_str(),
            "https://c.example/otlp/v1/traces"
        );
        assert!(parse_endpoint("ftp://c.example").is_err());
        assert!(parse_endpoint("http://c.example/?x=1").is_err());
    }

    #[test]
    fn ratios_outside_zero_to_one_are_refused() {
        assert_eq!(parse_ratio("0.25"), Ok(0.25));
        assert_eq!(parse_ratio("0"), Ok(0.0));
        for bad in ["1.5", "-0.1", "half", "NaN"] {
            let e = parse_ratio(bad).expect_err(bad);
            assert!(e.contains("from 0 to 1"), "{e}");
        }
    }

    #[test]
    fn header_values_take_secrets() {
        let args = OtlpArgs {
            otlp_endpoint: None,
            otlp_header: vec![parse_header("x-api-key=k-{{secret.KEY}}").expect("valid")],
            otlp_sample_success: 1.0,
        };
        let h = &args.otlp_header[0];
        let secrets = Secrets::from_pairs([("KEY".to_string(), "abc".to_string())]);
        assert_eq!(
            h.value.render(&SecretsOnly(&secrets)).expect("rendered"),
            "k-abc"
        );
        let e = h
            .value
            .render(&SecretsOnly(&Secrets::default()))
            .map_err(|e| missing(&h.name, &e.0))
            .expect_err("missing");
        assert!(e.contains("secret `KEY` is not set"), "{e}");
        assert!(parse_header("no-equals").is_err());
        assert!(parse_header("bad name=v").is_err());
    }
}
