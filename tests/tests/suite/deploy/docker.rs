//! The Dockerfiles build static binaries and run them from scratch as a
//! non-root user with a health check; the compose file is valid for
//! `docker-compose` and runs every service hardened in one network
//! namespace.

use std::process::Command;

use serde_json::Value;

use super::{REGIONS, deploy, read, run, skip, tool, yaml_docs};

const IMAGES: [&str; 3] = ["probe", "scheduler", "demo-shop"];

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
    check_browser_sidecar(config);
}

/// probe-eu-west-1 drives the headless Chromium beside it, whose DevTools
/// listens on loopback only, in a container as hardened as the others.
fn check_browser_sidecar(config: &Value) {
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    };
    let probe = service(config, "probe-eu-west-1");
    let command = strings(&probe["command"]);
    assert!(
        command.iter().any(|c| c == "--browser=ws://127.0.0.1:9222"),
        "{command:?}"
    );
    let chromium = service(config, "chromium-eu-west-1");
    assert_eq!(chromium["image"], "sonde-probe-browser:latest");
    assert_eq!(chromium["read_only"], true);
    assert_eq!(chromium["user"], "65532:65532");
    assert_eq!(chromium["network_mode"], "service:demo-shop");
    assert_eq!(strings(&chromium["entrypoint"]), ["/usr/bin/chromium"]);
    let flags = strings(&chromium["command"]);
    for flag in [
        "--headless",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=9222",
    ] {
        assert!(flags.iter().any(|f| f == flag), "{flag}: {flags:?}");
    }
    assert!(
        chromium["healthcheck"]["test"].to_string().contains("9222"),
        "the browser's own health check"
    );
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

/// PostgreSQL and three scheduler replicas: every probe lists every
/// replica, replicas beyond the image's port have their own health check,
/// and the database password is a file and an env file, never the compose file.
fn check_compose_ha(config: &Value) {
    let replicas = ["scheduler-a", "scheduler-b", "scheduler-c"];
    let postgres = service(config, "postgres");
    assert!(
        postgres["image"]
            .as_str()
            .is_some_and(|i| i.starts_with("postgres:") && i.ends_with("-bookworm")),
        "postgres: the official Debian-based image"
    );
    assert_eq!(
        postgres["environment"]["POSTGRES_PASSWORD_FILE"], "/run/secrets/sonde-db-password",
        "postgres: password from a secret file"
    );
    assert!(postgres["environment"].get("POSTGRES_PASSWORD").is_none());
    assert!(
        postgres["healthcheck"]["test"].is_array(),
        "postgres: healthcheck"
    );
    let mut ports = Vec::new();
    for name in replicas {
        let s = service(config, name);
        assert_eq!(s["read_only"], true, "{name}: read_only");
        assert_eq!(s["user"], "65532:65532", "{name}: user");
        assert_eq!(s["network_mode"], "service:demo-shop", "{name}");
        assert_eq!(
            s["depends_on"]["postgres"]["condition"], "service_healthy",
            "{name}: starts on a healthy database"
        );
        let env = &s["environment"];
        assert!(
            env["SONDE_SCHEDULER_REPLICA"].is_string(),
            "{name}: replica"
        );
        assert!(
            env.get("SONDE_DB_PASSWORD").is_some(),
            "{name}: password from ha.env"
        );
        let listen = env["SONDE_SCHEDULER_LISTEN"].as_str().expect("listen");
        let port = listen.rsplit(':').next().unwrap().to_owned();
        if port != "9470" {
            let test = s["healthcheck"]["test"].to_string();
            assert!(
                test.contains(&format!("127.0.0.1:{port}/readyz")),
                "{name}: health check on its own port: {test}"
            );
        }
        ports.push(port);
    }
    let toml = read(&deploy("docker/scheduler-ha.toml"));
    assert!(
        toml.contains("database_url = \"postgres://sonde:{{env.SONDE_DB_PASSWORD}}@"),
        "scheduler-ha.toml: password from the environment"
    );
    for region in REGIONS {
        let s = service(config, &format!("probe-{region}"));
        let command: Vec<&str> = s["command"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for port in &ports {
            let flag = format!("--scheduler=http://127.0.0.1:{port}");
            assert!(command.contains(&flag.as_str()), "{region}: {command:?}");
        }
        for name in replicas {
            assert_eq!(
                s["depends_on"][name]["condition"], "service_healthy",
                "{region}: waits for {name}"
            );
        }
    }
}

#[test]
fn compose_ha_file_is_valid_for_docker_compose() {
    let file = deploy("docker/compose-ha.yaml");
    assert_eq!(yaml_docs(&read(&file)).len(), 1);
    let Some(compose) = tool("docker-compose", "DOCKER_COMPOSE") else {
        return skip(
            "compose HA",
            "docker-compose",
            "apt-get install docker-compose",
        );
    };
    // A copy beside stand-ins for what `compose-tokens --ha` writes, so the
    // check needs no secrets in the working tree.
    let tmp = tempfile::tempdir().unwrap();
    let docker = tmp.path().join("deploy/docker");
    let secrets = tmp.path().join(".sonde-local/compose");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::create_dir_all(&secrets).unwrap();
    std::fs::copy(&file, docker.join("compose-ha.yaml")).unwrap();
    std::fs::write(secrets.join("db-password"), "x").unwrap();
    std::fs::write(
        secrets.join("ha.env"),
        "SONDE_DB_PASSWORD=x\nPROBE_US_EAST_1_TOKEN_SHA256=x\n",
    )
    .unwrap();
    let out = run(Command::new(compose)
        .arg("-f")
        .arg(docker.join("compose-ha.yaml"))
        .arg("config"));
    let config = yaml_docs(&String::from_utf8(out.stdout).unwrap()).remove(0);
    check_compose_ha(&config);
}

/// The `probe-browser` image needs Debian and its `chromium` package, which
/// cannot be had offline: this checks the Dockerfile's shape only, and says so.
#[test]
fn probe_browser_dockerfile_runs_debian_chromium_as_non_root() {
    let path = deploy("docker/probe-browser.Dockerfile");
    let what = path.display();
    println!(
        "note: probe-browser: not built (no Debian base image or apt mirror offline); \
         checking the Dockerfile's shape only"
    );
    let stages = stages(&read(&path));
    assert_eq!(stages.len(), 2, "{what}: a builder and a runtime stage");
    let (from, builder) = &stages[0];
    assert_eq!(from, "FROM rust:1.95-bookworm AS builder", "{what}");
    assert!(
        builder.join("\n").contains("--bin probe -p sonde-probe"),
        "{what}: builds the probe"
    );
    let (from, runtime) = &stages[1];
    assert!(
        from.starts_with("FROM debian:") && from.ends_with(" AS runtime"),
        "{what}: {from}"
    );
    let has = |prefix: &str| runtime.iter().find(|i| i.starts_with(prefix));
    let install = has("RUN").expect("RUN");
    let packages: Vec<&str> = install
        .split("apt-get install")
        .nth(1)
        .expect("apt-get install")
        .split("&&")
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert!(packages.contains(&"chromium"), "{what}: {packages:?}");
    assert!(
        install.contains("rm -rf /var/lib/apt/lists/*"),
        "{what}: no apt lists in the image"
    );
    let user = has("USER ").expect("USER").trim_start_matches("USER ");
    let uid: u32 = user
        .split(':')
        .next()
        .unwrap()
        .parse()
        .expect("a numeric USER");
    assert_ne!(uid, 0, "{what}: non-root USER");
    assert!(
        install.contains(&format!("--uid {uid}")),
        "{what}: the user exists in /etc/passwd (Chromium wants one)"
    );
    assert_eq!(
        has("ENTRYPOINT").unwrap(),
        "ENTRYPOINT [\"/probe\"]",
        "{what}"
    );
    assert_eq!(
        has("CMD").unwrap(),
        "CMD [\"agent\", \"--browser-path\", \"/usr/bin/chromium\"]",
        "{what}"
    );
    assert!(
        has("HEALTHCHECK")
            .unwrap()
            .contains("CMD [\"/probe\", \"health\"]"),
        "{what}"
    );
    assert_eq!(has("STOPSIGNAL").unwrap(), "STOPSIGNAL SIGTERM", "{what}");
    assert!(
        has("VOLUME").unwrap().contains("\"/var/lib/sonde\""),
        "{what}"
    );
    let ignore = read(&deploy("docker/probe-browser.Dockerfile.dockerignore"));
    assert!(
        ignore.lines().any(|l| l == "/target"),
        "{what}: context excludes /target"
    );
}
