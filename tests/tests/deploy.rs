//! The `deploy/` folder is what users apply: the Dockerfiles, the compose
//! file, the Kustomize bases and region overlays, the Prometheus scrape
//! config and the Grafana dashboard. These tests render and check them with
//! the real tools (`kubectl kustomize`, `kubernetes-validate`,
//! `docker-compose`, `prometheus`), each skipped with a printed note when
//! the tool is not installed, and check the dashboard's metric names
//! against a real scrape of a running fleet.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;
use sonde_tests::fleet::{Fleet, FleetOptions};
use sonde_tests::metrics::Scrape;
use sonde_tests::shop::{self, ShopOptions};
use sonde_tests::{ChildGuard, Spawn, TestClient, free_port, harness::workspace_root};

const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-1"];
const IMAGES: [&str; 3] = ["probe", "scheduler", "demo-shop"];
const LONG: Duration = Duration::from_secs(40);
/// DESIGN.md's second group of scheduler metrics, which comes with the
/// alert engine: the dashboard may use them before the scheduler exports
/// them. Every other name must be in a real scrape.
const ALERT_ENGINE_METRICS: [&str; 7] = [
    "sonde_scenario_up",
    "sonde_scenario_state",
    "sonde_alerts_firing",
    "sonde_slo_error_budget_remaining_ratio",
    "sonde_slo_burn_rate",
    "sonde_notifications_total",
    "sonde_notification_queue",
];

// ---------------------------------------------------------------- helpers

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

/// `10s`, `1m`: the durations the deploy files use, in seconds.
fn seconds(text: &str) -> u64 {
    let (n, unit) = text.split_at(text.len() - 1);
    let n: u64 = n.parse().unwrap_or_else(|_| panic!("duration {text:?}"));
    match unit {
        "s" => n,
        "m" => n * 60,
        _ => panic!("duration {text:?}: expected s or m"),
    }
}

// ------------------------------------------------------------- Kubernetes

/// The directories `kubectl apply -k` is meant for: both bases and every
/// region overlay.
fn kustomizations() -> Vec<PathBuf> {
    let root = deploy("kubernetes");
    let mut dirs = vec![root.join("base/scheduler"), root.join("base/probe")];
    let mut overlays: Vec<PathBuf> = std::fs::read_dir(root.join("overlays"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("kustomization.yaml").is_file())
        .collect();
    overlays.sort();
    for region in REGIONS {
        assert!(
            overlays.iter().any(|p| p.ends_with(region)),
            "no overlay for {region}"
        );
    }
    dirs.extend(overlays);
    dirs
}

fn kustomize(kubectl: &Path, dir: &Path) -> String {
    let out = run(Command::new(kubectl).arg("kustomize").arg(dir));
    String::from_utf8(out.stdout).unwrap()
}

fn named<'a>(objects: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
}

fn env_value<'a>(container: &'a Value, name: &str) -> Option<&'a str> {
    container["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)?["value"]
        .as_str()
}

/// The hardening every container gets, at container level (pod-level
/// settings are checked too, but a container's own wins).
fn check_container(c: &Value, what: &str) {
    let sc = &c["securityContext"];
    assert_eq!(sc["runAsNonRoot"], true, "{what}: runAsNonRoot");
    assert_eq!(sc["runAsUser"], 65532, "{what}: runAsUser");
    assert_eq!(
        sc["readOnlyRootFilesystem"], true,
        "{what}: readOnlyRootFilesystem"
    );
    assert_eq!(
        sc["allowPrivilegeEscalation"], false,
        "{what}: allowPrivilegeEscalation"
    );
    let drop = sc["capabilities"]["drop"].as_array();
    assert!(
        drop.is_some_and(|d| d.iter().any(|c| c == "ALL")),
        "{what}: capabilities.drop ALL"
    );
    assert_eq!(
        sc["seccompProfile"]["type"], "RuntimeDefault",
        "{what}: seccompProfile"
    );
    assert_eq!(
        c["livenessProbe"]["httpGet"]["path"], "/livez",
        "{what}: liveness"
    );
    assert_eq!(
        c["readinessProbe"]["httpGet"]["path"], "/readyz",
        "{what}: readiness"
    );
    let resources = &c["resources"];
    for path in ["/requests/cpu", "/requests/memory", "/limits/memory"] {
        assert!(
            resources.pointer(path).is_some_and(|v| !v.is_null()),
            "{what}: resources{path}"
        );
    }
}

/// Secrets, ConfigMaps and claims that the pod uses exist in the same render
/// (generated names carry a hash suffix that Kustomize must have rewritten).
fn check_references(pod: &Value, objects: &[Value], what: &str) {
    let volumes = pod["volumes"].as_array().cloned().unwrap_or_default();
    for v in &volumes {
        if let Some(name) = v["secret"]["secretName"].as_str() {
            assert!(
                named(objects, "Secret", name).is_some(),
                "{what}: Secret {name}"
            );
        }
        if let Some(name) = v["persistentVolumeClaim"]["claimName"].as_str() {
            assert!(
                named(objects, "PersistentVolumeClaim", name).is_some(),
                "{what}: PersistentVolumeClaim {name}"
            );
        }
        if let Some(name) = v["configMap"]["name"].as_str() {
            assert!(
                named(objects, "ConfigMap", name).is_some(),
                "{what}: ConfigMap {name}"
            );
        }
    }
    for c in pod["containers"].as_array().unwrap() {
        for source in c["envFrom"].as_array().cloned().unwrap_or_default() {
            if let Some(name) = source["secretRef"]["name"].as_str() {
                assert!(
                    named(objects, "Secret", name).is_some(),
                    "{what}: Secret {name}"
                );
            }
        }
    }
}

/// `terminationGracePeriodSeconds` covers the process's own drain.
fn check_grace(pod: &Value, objects: &[Value], what: &str) {
    let period = pod["terminationGracePeriodSeconds"].as_u64().unwrap_or(30);
    for c in pod["containers"].as_array().unwrap() {
        if let Some(grace) = env_value(c, "SONDE_PROBE_GRACE") {
            // Runs in flight get the grace, then the spool's last delivery.
            assert!(
                period >= 2 * seconds(grace),
                "{what}: {period}s < 2 × {grace}"
            );
        }
    }
    if let Some(toml) = scheduler_toml(objects) {
        let grace = toml_string(&toml, "shutdown_grace").unwrap_or_else(|| "10s".into());
        assert!(
            period >= seconds(&grace) + 10,
            "{what}: {period}s < {grace} + 10s"
        );
    }
}

fn scheduler_toml(objects: &[Value]) -> Option<String> {
    objects
        .iter()
        .filter(|o| o["kind"] == "ConfigMap")
        .find_map(|o| o["data"]["scheduler.toml"].as_str().map(str::to_owned))
}

/// The value of a top-level `key = "…"` line.
fn toml_string(toml: &str, key: &str) -> Option<String> {
    toml.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
    })
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

fn check_render(dir: &Path, objects: &[Value]) {
    let what = dir.display().to_string();
    assert!(!objects.is_empty(), "{what}: renders nothing");
    for o in objects {
        // Kustomize v2 drops the namespace of a replaced generator unless
        // the overlay sets it again.
        assert_eq!(
            o["metadata"]["namespace"], "sonde",
            "{what}: {} {} namespace",
            o["kind"], o["metadata"]["name"]
        );
    }
    let workloads: Vec<&Value> = objects
        .iter()
        .filter(|o| {
            matches!(
                o["kind"].as_str(),
                Some("Deployment" | "StatefulSet" | "DaemonSet")
            )
        })
        .collect();
    assert!(!workloads.is_empty(), "{what}: no workload");
    for w in workloads {
        let what = format!("{what}: {} {}", w["kind"], w["metadata"]["name"]);
        let pod = &w["spec"]["template"]["spec"];
        assert_eq!(
            pod["securityContext"]["runAsNonRoot"], true,
            "{what}: pod runAsNonRoot"
        );
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
            "{what}: pod seccompProfile"
        );
        let containers = pod["containers"].as_array().unwrap();
        let init = pod["initContainers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            init.is_empty(),
            "{what}: init containers are not hardened here"
        );
        for c in containers {
            check_container(c, &format!("{what}: container {}", c["name"]));
        }
        check_references(pod, objects, &what);
        check_grace(pod, objects, &what);
    }
}

fn check_overlay(region: &str, objects: &[Value]) {
    let deployment = objects.iter().find(|o| o["kind"] == "Deployment").unwrap();
    let probe = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(env_value(probe, "SONDE_PROBE_REGION"), Some(region));
    let name = format!("probe-{region}");
    assert_eq!(env_value(probe, "SONDE_PROBE_NAME"), Some(name.as_str()));
}

fn check_scheduler(objects: &[Value]) {
    let toml = scheduler_toml(objects).expect("a ConfigMap with scheduler.toml");
    for region in REGIONS {
        assert!(
            toml.contains(&format!("name = \"probe-{region}\"\nregion = \"{region}\"")),
            "scheduler.toml: no [[probe]] entry for probe-{region}"
        );
    }
    let hashes = objects
        .iter()
        .find(|o| {
            o["kind"] == "Secret"
                && o["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("sonde-probe-token-hashes"))
        })
        .expect("the token hash Secret");
    for name in env_refs(&toml) {
        assert!(
            hashes["data"].get(&name).is_some(),
            "Secret has no {name} for scheduler.toml"
        );
    }
    // Every file in scenarios/ is in the catalog ConfigMap.
    let catalog = objects
        .iter()
        .find(|o| {
            o["kind"] == "ConfigMap"
                && o["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("sonde-scenarios"))
        })
        .expect("the scenarios ConfigMap");
    for entry in std::fs::read_dir(deploy("kubernetes/base/scheduler/scenarios")).unwrap() {
        let file = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            catalog["data"].get(&file).is_some(),
            "{file} is not in the ConfigMap"
        );
    }
}

#[test]
fn every_kustomization_renders_hardened_probed_and_sized() {
    let Some(kubectl) = tool("kubectl", "KUBECTL") else {
        return skip("kustomize", "kubectl", "apt-get install kubernetes-client");
    };
    let validate = tool("kubernetes-validate", "KUBERNETES_VALIDATE");
    let tmp = tempfile::tempdir().unwrap();
    for dir in kustomizations() {
        let text = kustomize(&kubectl, &dir);
        let objects = yaml_docs(&text);
        check_render(&dir, &objects);
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if dir.parent().is_some_and(|p| p.ends_with("overlays")) {
            check_overlay(&name, &objects);
        }
        if dir.ends_with("base/scheduler") {
            check_scheduler(&objects);
        }
        if let Some(validate) = &validate {
            let file = tmp.path().join(format!("{name}.yaml"));
            std::fs::write(&file, &text).unwrap();
            run(Command::new(validate)
                .args(["--strict", "--quiet"])
                .arg(&file));
        }
    }
    if validate.is_none() {
        skip(
            "schema check",
            "kubernetes-validate",
            "pip install kubernetes-validate",
        );
    }
}

/// The Kubernetes scheduler.toml and the image's default one load, with
/// every scenario of their catalogs; the base's placeholder hashes stop
/// the scheduler with a diagnostic instead of starting without probes.
#[test]
fn the_shipped_scheduler_configs_validate() {
    let scheduler = sonde_tests::binary_path("scheduler").unwrap();
    let data = tempfile::tempdir().unwrap();
    let k8s = deploy("kubernetes/base/scheduler/scheduler.toml");
    let refs = env_refs(&read(&k8s));
    assert_eq!(refs.len(), REGIONS.len(), "one hash per region's probe");
    let validate = |config: &Path, scenarios: &Path, hash: &str| {
        let mut cmd = Command::new(&scheduler);
        cmd.arg("validate").arg("--config").arg(config);
        cmd.env("SONDE_SCHEDULER_SCENARIOS_DIR", scenarios);
        cmd.env("SONDE_SCHEDULER_DATA_DIR", data.path());
        for name in &refs {
            cmd.env(name, hash);
        }
        cmd.output().unwrap()
    };
    let catalog = deploy("kubernetes/base/scheduler/scenarios");
    let ok = validate(&k8s, &catalog, &"ab".repeat(32));
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let placeholder = validate(&k8s, &catalog, "replace-with-the-token-sha256");
    assert_eq!(placeholder.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&placeholder.stderr).contains("token_sha256"));
    let examples = workspace_root().join("scenarios/examples");
    let image = validate(&deploy("docker/scheduler.toml"), &examples, "");
    assert!(
        image.status.success(),
        "{}",
        String::from_utf8_lossy(&image.stderr)
    );
}

// ---------------------------------------------------------------- Docker

/// A Dockerfile's stages: (the FROM line, the instructions after it).
fn stages(text: &str) -> Vec<(String, Vec<String>)> {
    let mut stages: Vec<(String, Vec<String>)> = Vec::new();
    let mut current = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // Join continuation lines into one instruction.
        current.push_str(line.trim_end_matches('\\'));
        if line.ends_with('\\') {
            current.push(' ');
            continue;
        }
        let instruction = std::mem::take(&mut current);
        if instruction.starts_with("FROM ") {
            stages.push((instruction, Vec::new()));
        } else if let Some((_, body)) = stages.last_mut() {
            body.push(instruction);
        }
    }
    stages
}

#[test]
fn dockerfiles_build_static_and_run_from_scratch_as_non_root_with_a_healthcheck() {
    for image in IMAGES {
        let path = deploy(&format!("docker/{image}.Dockerfile"));
        let stages = stages(&read(&path));
        let what = path.display();
        assert_eq!(stages.len(), 2, "{what}: a builder and a runtime stage");
        let (from, builder) = &stages[0];
        assert_eq!(from, "FROM rust:1.95-bookworm AS builder", "{what}");
        let builder = builder.join("\n");
        assert!(
            builder.contains("RUSTFLAGS=\"-C target-feature=+crt-static\""),
            "{what}"
        );
        assert!(
            builder.contains("--target x86_64-unknown-linux-gnu"),
            "{what}"
        );
        let (from, runtime) = &stages[1];
        assert_eq!(from, "FROM scratch AS runtime", "{what}");
        let has = |prefix: &str| runtime.iter().find(|i| i.starts_with(prefix));
        assert!(has("RUN").is_none(), "{what}: no shell in scratch");
        let user = has("USER ").expect("USER").trim_start_matches("USER ");
        let uid: u32 = user
            .split(':')
            .next()
            .unwrap()
            .parse()
            .expect("a numeric USER");
        assert_ne!(uid, 0, "{what}: non-root USER");
        let bin = format!("\"/{image}\"");
        let health = has("HEALTHCHECK").expect("HEALTHCHECK");
        assert!(
            health.contains(&format!("CMD [{bin}, \"health\"")),
            "{what}: {health}"
        );
        assert_eq!(
            has("ENTRYPOINT").unwrap(),
            &format!("ENTRYPOINT [{bin}]"),
            "{what}"
        );
        assert_eq!(has("STOPSIGNAL").unwrap(), "STOPSIGNAL SIGTERM", "{what}");
        assert!(
            has("VOLUME").unwrap().contains("\"/var/lib/sonde\""),
            "{what}"
        );
        for copy in runtime.iter().filter(|i| i.starts_with("COPY")) {
            // deploy/docker/build swaps exactly this source for its staged copy.
            assert!(
                copy.contains("--from=builder") && copy.contains(" /out/"),
                "{what}: {copy}"
            );
        }
        let ignore = read(&deploy(&format!("docker/{image}.Dockerfile.dockerignore")));
        assert!(
            ignore.lines().any(|l| l == "/target"),
            "{what}: context excludes /target"
        );
    }
    for script in ["docker/build", "docker/compose-tokens"] {
        run(Command::new("bash").arg("-n").arg(deploy(script)));
    }
}

fn service<'a>(config: &'a Value, name: &str) -> &'a Value {
    let s = &config["services"][name];
    assert!(s.is_object(), "compose: no service {name}");
    s
}

fn check_compose(config: &Value) {
    for name in ["demo-shop", "scheduler"]
        .into_iter()
        .map(str::to_owned)
        .chain(REGIONS.iter().map(|r| format!("probe-{r}")))
    {
        let s = service(config, &name);
        assert_eq!(s["read_only"], true, "{name}: read_only");
        assert_eq!(s["user"], "65532:65532", "{name}: user");
        assert!(
            s["cap_drop"].as_array().unwrap().iter().any(|c| c == "ALL"),
            "{name}"
        );
        if name != "demo-shop" {
            assert_eq!(
                s["network_mode"], "service:demo-shop",
                "{name}: one network namespace"
            );
        }
    }
    for region in REGIONS {
        let s = service(config, &format!("probe-{region}"));
        assert_eq!(s["environment"]["SONDE_PROBE_REGION"], region);
        let command: Vec<&str> = s["command"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            command.contains(&"--allow-target=127.0.0.0/8"),
            "{region}: {command:?}"
        );
        // The image's HEALTHCHECK (`probe health`) asks the port in
        // SONDE_PROBE_LISTEN, so each probe sets that and no override.
        assert!(
            s["environment"]["SONDE_PROBE_LISTEN"]
                .as_str()
                .is_some_and(|l| l.starts_with("0.0.0.0:")),
            "{region}: {s}"
        );
        assert!(s.get("healthcheck").is_none(), "{region}: {s}");
    }
}

#[test]
fn compose_file_is_valid_for_docker_compose() {
    let file = deploy("docker/compose.yaml");
    // Plain YAML in any case (anchors resolved, merge keys left as keys).
    assert_eq!(yaml_docs(&read(&file)).len(), 1);
    let Some(compose) = tool("docker-compose", "DOCKER_COMPOSE") else {
        return skip(
            "compose",
            "docker-compose",
            "apt-get install docker-compose",
        );
    };
    let out = run(Command::new(compose).arg("-f").arg(&file).arg("config"));
    let config = yaml_docs(&String::from_utf8(out.stdout).unwrap()).remove(0);
    check_compose(&config);
}

// ------------------------------------------------------ Grafana, Prometheus

/// Every panel (rows' nested panels too).
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in dashboard["panels"].as_array().unwrap() {
        out.push(p);
        out.extend(p["panels"].as_array().into_iter().flatten());
    }
    out
}

/// Every PromQL expression: panel targets and the template variables'
/// queries (`label_values(SELECTOR, label)` reduced to its selector).
fn expressions(dashboard: &Value) -> Vec<String> {
    let mut exprs: Vec<String> = panels(dashboard)
        .iter()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .filter_map(|t| t["expr"].as_str().map(str::to_owned))
        .collect();
    for var in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(q) = var["query"]["query"].as_str() {
            let inner = q.trim_start_matches("label_values(").trim_end_matches(')');
            exprs.push(inner.rsplit_once(',').map_or(inner, |(s, _)| s).to_owned());
        }
    }
    exprs
}

/// Metric names: `sonde_[a-z_]+` (sample names, e.g. `…_bucket`).
fn metric_names(exprs: &[String]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for expr in exprs {
        for (i, _) in expr.match_indices("sonde_") {
            let name: String = expr[i..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            names.push(name);
        }
    }
    names.sort();
    names.dedup();
    names
}

fn family(sample: &str) -> &str {
    ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|s| sample.strip_suffix(s))
        .unwrap_or(sample)
}

fn load_dashboard() -> Value {
    let dashboard: Value =
        serde_json::from_str(&read(&deploy("grafana/sonde.json"))).expect("the dashboard is JSON");
    assert!(dashboard["schemaVersion"].as_u64().unwrap() >= 36);
    let vars = dashboard["templating"]["list"].as_array().unwrap();
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no ${name}"))
    };
    assert_eq!(var("DS_PROMETHEUS")["type"], "datasource");
    for label in ["scenario", "region"] {
        let q = var(label)["query"]["query"].as_str().unwrap();
        assert!(
            q.starts_with("label_values(sonde_scenario_success")
                && q.ends_with(&format!(", {label})")),
            "{q}"
        );
    }
    let mut ids = Vec::new();
    for p in panels(&dashboard) {
        ids.push(p["id"].as_u64().unwrap());
        if p["type"] != "row" {
            assert_eq!(
                p["datasource"]["uid"], "${DS_PROMETHEUS}",
                "panel {}",
                p["title"]
            );
        }
    }
    let count = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), count, "panel ids are unique");
    dashboard
}

/// A fleet whose scrape has every first-group family: a scenario with a
/// plain and an HTTPS step (phases, TLS expiry) runs every second.
async fn scrape_until_complete(fleet: &Fleet, wanted: &[String]) -> Vec<String> {
    let end = tokio::time::Instant::now() + LONG;
    loop {
        let scrape: Scrape = fleet
            .scrape(&fleet.url("/metrics"))
            .await
            .unwrap_or_default();
        let missing: Vec<String> = wanted
            .iter()
            .filter(|n| !scrape.has(n, &[]))
            .cloned()
            .collect();
        if missing.is_empty() || tokio::time::Instant::now() > end {
            return missing;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboard_queries_use_only_metrics_the_scheduler_exposes_and_parse_in_prometheus() {
    let dashboard = load_dashboard();
    let exprs = expressions(&dashboard);
    let names = metric_names(&exprs);
    for family in [
        "sonde_scenario_success",
        "sonde_probe_up",
        "sonde_step_phase_seconds",
        "sonde_slo_burn_rate",
    ] {
        assert!(
            names.iter().any(|n| n == family),
            "the dashboard shows {family}"
        );
    }
    let wanted: Vec<String> = names
        .iter()
        .filter(|n| !ALERT_ENGINE_METRICS.contains(&family(n)))
        .cloned()
        .collect();

    let shop_dir = tempfile::tempdir().unwrap();
    let shop = shop::start(ShopOptions::for_tests(shop_dir.path()))
        .await
        .unwrap();
    let scenario = format!(
        "name = \"deploy-check\"\ninterval = \"1s\"\nregions = [\"us-east-1\"]\n\n\
         [[steps]]\nname = \"home\"\nget = \"{}\"\nexpect = [\"status == 200\"]\n\n\
         [[steps]]\nname = \"secure\"\nget = \"{}\"\nexpect = [\"status == 200\", \"cert_expiry > 1d\"]\n",
        shop.http_url("/"),
        shop.https_url("/healthz")
    );
    let mut options = FleetOptions::one_probe_per_region(&["us-east-1"]);
    options.probe_args = vec!["--ca-file".into(), shop.ca_path().display().to_string()];
    let fleet = Fleet::start(options, &[("deploy-check.toml", scenario)])
        .await
        .unwrap();
    let missing = scrape_until_complete(&fleet, &wanted).await;
    assert!(
        missing.is_empty(),
        "the dashboard uses metrics the scheduler does not expose: {missing:?} (logs: {})",
        fleet.logs().display()
    );

    let Some(prometheus) = tool("prometheus", "PROMETHEUS") else {
        return skip("PromQL check", "prometheus", "apt-get install prometheus");
    };
    let (_prometheus, port) = start_prometheus(&prometheus, &fleet).await;
    let failures = bad_queries(port, &exprs).await;
    assert!(
        failures.is_empty(),
        "queries Prometheus rejects:\n{}",
        failures.join("\n")
    );
}

/// Prometheus with deploy/prometheus/prometheus.yml, pointed at the fleet's
/// scheduler (its own rules file is the alerting work's; an empty one
/// stands in). Returns it, and its port, once it scraped the scheduler.
async fn start_prometheus(program: &Path, fleet: &Fleet) -> (ChildGuard, u16) {
    let dir = fleet.dir.path().join("prometheus");
    std::fs::create_dir_all(&dir).unwrap();
    let config = read(&deploy("prometheus/prometheus.yml"))
        .replace(
            "127.0.0.1:9470",
            &format!("127.0.0.1:{}", fleet.scheduler_port),
        )
        .replace("scrape_interval: 15s", "scrape_interval: 1s");
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    std::fs::write(dir.join("rules.yml"), "groups: []\n").unwrap();
    let port = free_port().unwrap();
    let guard = Spawn::new(program)
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .log_dir(fleet.logs())
        .start()
        .unwrap();
    let up = "up%7Bjob%3D%22sonde-scheduler%22%7D";
    let end = tokio::time::Instant::now() + LONG;
    loop {
        let url = format!("http://127.0.0.1:{port}/api/v1/query?query={up}");
        let body: Option<Value> = match TestClient::new().get(&url).await {
            Ok(r) => r.json().ok(),
            Err(_) => None,
        };
        if body
            .as_ref()
            .is_some_and(|b| b["data"]["result"][0]["value"][1] == "1")
        {
            return (guard, port);
        }
        assert!(
            tokio::time::Instant::now() < end,
            "Prometheus never scraped the scheduler up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The expressions (Grafana variables filled in) Prometheus answers with
/// an error.
async fn bad_queries(port: u16, exprs: &[String]) -> Vec<String> {
    let client = TestClient::new();
    let mut failures = Vec::new();
    for expr in exprs {
        let query = expr
            .replace("$__rate_interval", "1m")
            .replace("$scenario", ".*")
            .replace("$region", ".*");
        let url = format!(
            "http://127.0.0.1:{port}/api/v1/query?query={}",
            percent_encode(&query)
        );
        let body: Value = client.get(&url).await.unwrap().json().unwrap();
        if body["status"] != "success" {
            failures.push(format!("{query}: {}", body["error"]));
        }
    }
    failures
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
