//! The `deploy/` folder is what users apply: the Dockerfiles, the compose
//! file, the Kustomize bases and region overlays, the Prometheus scrape
//! config and the Grafana dashboard. These tests render and check them with
//! the real tools (`kubectl kustomize`, `kubernetes-validate`,
//! `docker-compose`, `prometheus`), each skipped with a printed note when
//! the tool is not installed, and check the dashboard's metric names
//! against a real scrape of a running fleet. One module per part of the
//! folder; this one holds what they share.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use sonde_tests::harness::workspace_root;

mod configs;
mod dashboard;
mod docker;
mod kubernetes;

const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-1"];

fn deploy(path: &str) -> PathBuf {
    workspace_root().join("deploy").join(path)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A program on PATH (or named by the environment variable `env`).
fn tool(name: &str, env: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path));
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|p| p.join(name))
        .find(|p| p.is_file())
}

fn skip(test: &str, tool: &str, package: &str) {
    println!("note: {test}: skipped, `{tool}` is not installed ({package})");
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Every YAML document in `text`, as JSON values.
fn yaml_docs(text: &str) -> Vec<Value> {
    yaml_rust2::YamlLoader::load_from_str(text)
        .unwrap_or_else(|e| panic!("invalid YAML: {e}\n{text}"))
        .iter()
        .map(yaml_to_json)
        .filter(|v| !v.is_null())
        .collect()
}

fn yaml_to_json(y: &yaml_rust2::Yaml) -> Value {
    use yaml_rust2::Yaml;
    match y {
        Yaml::Real(s) => s
            .parse::<f64>()
            .map_or_else(|_| Value::from(s.as_str()), Value::from),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::from(s.as_str()),
        Yaml::Boolean(b) => Value::from(*b),
        Yaml::Array(items) => items.iter().map(yaml_to_json).collect(),
        Yaml::Hash(map) => map
            .iter()
            .map(|(k, v)| {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    other => format!("{other:?}"),
                };
                (key, yaml_to_json(v))
            })
            .collect::<serde_json::Map<_, _>>()
            .into(),
        _ => Value::Null,
    }
}

/// Names in `{{env.NAME}}` templates.
fn env_refs(text: &str) -> Vec<String> {
    text.split("{{env.")
        .skip(1)
        .filter_map(|rest| {
            rest.split_once("}}")
                .map(|(name, _)| name.trim().to_owned())
        })
        .collect()
}
