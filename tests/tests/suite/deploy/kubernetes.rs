//! The Kustomize bases and region overlays render with `kubectl kustomize`
//! (and pass `kubernetes-validate` when installed): hardened containers,
//! probes, resources, references that resolve, a grace period that covers
//! the drain, one overlay and token hash per region, the `ha` overlay's
//! three replicas on a shared database, and the browser overlay's Chromium
//! sidecar.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::{REGIONS, deploy, env_refs, run, skip, tool, yaml_docs};

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

/// The directories `kubectl apply -k` is meant for: both bases, every
/// region overlay and the `ha` overlay of the scheduler.
fn kustomizations() -> Vec<PathBuf> {
    let root = deploy("kubernetes");
    let mut dirs = vec![root.join("base/scheduler"), root.join("base/probe")];
    let mut overlays: Vec<PathBuf> = std::fs::read_dir(root.join("overlays"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("kustomization.yaml").is_file())
        .collect();
    assert!(overlays.iter().any(|p| p.ends_with("ha")), "no ha overlay");
    assert!(
        overlays.iter().any(|p| p.ends_with("eu-west-1-browser")),
        "no browser overlay"
    );
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
    if c["name"] == "chromium" {
        // DevTools listens on the pod's loopback, which only a check run
        // inside the container reaches.
        for check in ["livenessProbe", "readinessProbe"] {
            let command = c[check]["exec"]["command"].to_string();
            assert!(
                command.contains("/dev/tcp/127.0.0.1/9222"),
                "{what}: {check}: {command}"
            );
        }
    } else {
        assert_eq!(
            c["livenessProbe"]["httpGet"]["path"], "/livez",
            "{what}: liveness"
        );
        assert_eq!(
            c["readinessProbe"]["httpGet"]["path"], "/readyz",
            "{what}: readiness"
        );
    }
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
        // An optional Secret is the operator's (the database's), made elsewhere.
        if let Some(name) = v["secret"]["secretName"]
            .as_str()
            .filter(|_| v["secret"]["optional"] != true)
        {
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

/// The eu-west-1 probe in the sidecar form: it drives the Chromium of its
/// own pod over loopback, and that Chromium listens on loopback only.
fn check_browser_overlay(objects: &[Value]) {
    check_overlay("eu-west-1", objects);
    let deployment = objects.iter().find(|o| o["kind"] == "Deployment").unwrap();
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    let named = |name: &str| {
        containers
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("browser overlay: no {name} container"))
    };
    assert_eq!(
        env_value(named("probe"), "SONDE_PROBE_BROWSER"),
        Some("ws://127.0.0.1:9222")
    );
    let chromium = named("chromium");
    assert!(
        chromium["image"]
            .as_str()
            .is_some_and(|i| i.starts_with("sonde-probe-browser:")),
        "{chromium}"
    );
    assert_eq!(chromium["command"][0], "/usr/bin/chromium");
    let args: Vec<&str> = chromium["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for flag in [
        "--headless",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=9222",
    ] {
        assert!(args.contains(&flag), "browser overlay: {flag}: {args:?}");
    }
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
    for name in env_refs(&toml)
        .into_iter()
        .filter(|n| n.ends_with("_TOKEN_SHA256"))
    {
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

/// Three replicas that survive a node: a disruption budget, spread over
/// nodes and zones, each named after its pod, on a database whose
/// credentials come from Secrets, never from the manifests.
fn check_ha(objects: &[Value]) {
    let set = named(objects, "StatefulSet", "sonde-scheduler").expect("the StatefulSet");
    assert_eq!(set["spec"]["replicas"], 3, "ha: replicas");
    assert!(
        set["spec"].get("volumeClaimTemplates").is_none(),
        "ha: no claim, the store is the database"
    );
    let pod = &set["spec"]["template"]["spec"];
    let selects_schedulers =
        |selector: &Value| selector["matchLabels"]["app.kubernetes.io/name"] == "sonde-scheduler";
    let anti =
        pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
            .as_array()
            .expect("ha: preferred pod anti-affinity");
    assert!(
        anti.iter().any(
            |t| t["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
                && selects_schedulers(&t["podAffinityTerm"]["labelSelector"])
        ),
        "ha: anti-affinity across nodes: {anti:?}"
    );
    let spread = pod["topologySpreadConstraints"]
        .as_array()
        .expect("ha: topology spread");
    assert!(
        spread
            .iter()
            .any(|c| c["topologyKey"] == "topology.kubernetes.io/zone"
                && selects_schedulers(&c["labelSelector"])),
        "ha: spread over zones: {spread:?}"
    );
    let pdb = named(objects, "PodDisruptionBudget", "sonde-scheduler").expect("ha: a PDB");
    assert_eq!(pdb["spec"]["minAvailable"], 2, "ha: PDB minAvailable");
    assert!(
        selects_schedulers(&pdb["spec"]["selector"]),
        "ha: PDB selector"
    );
    let scheduler = &pod["containers"][0];
    let env = scheduler["env"].as_array().unwrap();
    let from = |name: &str| {
        &env.iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("ha: no {name}"))["valueFrom"]
    };
    assert_eq!(
        from("SONDE_SCHEDULER_REPLICA")["fieldRef"]["fieldPath"],
        "metadata.name",
        "ha: replica from the pod name"
    );
    assert!(
        from("SONDE_SCHEDULER_DATABASE_URL")["secretKeyRef"]["name"].is_string(),
        "ha: database URL from a Secret"
    );
    let toml = scheduler_toml(objects).unwrap();
    let url = toml_string(&toml, "database_url").expect("ha: database_url");
    let password = url
        .strip_prefix("postgres://")
        .and_then(|rest| rest.split_once('@'))
        .and_then(|(user, _)| user.split_once(':'))
        .map(|(_, password)| password)
        .expect("ha: a password in database_url");
    let [name] = env_refs(password)
        .try_into()
        .expect("ha: the password is {{env.NAME}}");
    assert_eq!(
        password,
        format!("{{{{env.{name}}}}}"),
        "ha: no plaintext password"
    );
    assert!(
        from(&name)["secretKeyRef"]["name"].is_string(),
        "ha: {name} from a Secret"
    );
    // Nothing in the render holds a database password in plain text.
    for o in objects.iter().filter(|o| o["kind"] == "Secret") {
        assert!(
            o["data"].get("password").is_none() && o["data"].get("url").is_none(),
            "ha: Secret {} carries database credentials",
            o["metadata"]["name"]
        );
    }
    assert_eq!(
        readiness_path(scheduler),
        Some("/readyz"),
        "ha: readiness on /readyz"
    );
    let service = named(objects, "Service", "sonde-scheduler").expect("ha: the Service");
    assert_eq!(
        service["spec"]["selector"]["app.kubernetes.io/name"], "sonde-scheduler",
        "ha: the Service spans every replica"
    );
}

fn readiness_path(container: &Value) -> Option<&str> {
    container["readinessProbe"]["httpGet"]["path"].as_str()
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
        if REGIONS.contains(&name.as_str()) {
            check_overlay(&name, &objects);
        }
        if name == "eu-west-1-browser" {
            check_browser_overlay(&objects);
        }
        if dir.ends_with("base/scheduler") || dir.ends_with("overlays/ha") {
            check_scheduler(&objects);
        }
        if dir.ends_with("overlays/ha") {
            check_ha(&objects);
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
