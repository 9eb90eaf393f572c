use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use scenarios::diagnostic::Style;

use super::*;

fn parse(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let lookup = move |name: &str| env.get(name).cloned();
    // The crate's own directory exists, so `scenarios_dir = "."` passes.
    let base = Path::new(env!("CARGO_MANIFEST_DIR"));
    Config::parse("scheduler.toml", text, base, &lookup)
}

fn rendered(err: &ConfigError) -> String {
    err.render(Style::Plain)
}

const MINIMAL: &str = "data_dir = \"./data\"\nscenarios_dir = \".\"\n";

#[test]
fn defaults_and_relative_paths() {
    let c = parse(MINIMAL, &[]).unwrap();
    assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
    assert_eq!(c.retention, DEFAULT_RETENTION);
    assert_eq!(c.probe_silence, Duration::from_secs(90));
    assert_eq!(c.max_batch_bytes, 4 * 1024 * 1024);
    assert_eq!(c.ingest_rate, 2000);
    assert!(c.data_dir.is_absolute());
    assert!(c.data_dir.ends_with("data"));
    assert_eq!(c.store_path().file_name().unwrap(), STORE_FILE);
}

#[test]
fn environment_overrides_the_file() {
    let text = format!("{MINIMAL}listen = \"127.0.0.1:1\"\nretention = \"7d\"\ningest_rate = 5\n");
    let c = parse(
        &text,
        &[
            ("SONDE_SCHEDULER_LISTEN", "0.0.0.0:9999"),
            ("SONDE_SCHEDULER_RETENTION", "2d"),
            ("SONDE_SCHEDULER_INGEST_RATE", "77"),
            ("SONDE_SCHEDULER_PROBE_SILENCE", "30s"),
        ],
    )
    .unwrap();
    assert_eq!(c.listen.to_string(), "0.0.0.0:9999");
    assert_eq!(c.retention, Duration::from_secs(2 * 86_400));
    assert_eq!(c.ingest_rate, 77);
    assert_eq!(c.probe_silence, Duration::from_secs(30));
}

#[test]
fn required_keys_may_come_from_the_environment() {
    let c = parse(
        "",
        &[
            ("SONDE_SCHEDULER_DATA_DIR", "/var/lib/sonde"),
            ("SONDE_SCHEDULER_SCENARIOS_DIR", "."),
        ],
    )
    .unwrap();
    assert_eq!(c.data_dir, Path::new("/var/lib/sonde"));
}

#[test]
fn a_bad_environment_value_names_the_variable() {
    let err = parse(MINIMAL, &[("SONDE_SCHEDULER_INGEST_RATE", "lots")]).unwrap_err();
    let text = rendered(&err);
    assert!(text.contains("SONDE_SCHEDULER_INGEST_RATE"), "{text}");
    assert!(text.contains("expected an integer"), "{text}");
}

#[test]
fn env_templates_expand_in_any_string() {
    let text = format!(
        "{MINIMAL}[[notify]]\nkind = \"webhook\"\nurl = \"https://hooks.example.com/{{{{env.HOOK_PATH}}}}\"\nsecret = \"{{{{ env.WEBHOOK_SECRET }}}}\"\n"
    );
    let c = parse(
        &text,
        &[("HOOK_PATH", "sonde"), ("WEBHOOK_SECRET", "whsec_abc")],
    )
    .unwrap();
    assert_eq!(c.notify.len(), 1);
    assert_eq!(c.notify[0].kind, NotifierKind::Webhook);
    assert_eq!(
        c.notify[0].url.as_deref(),
        Some("https://hooks.example.com/sonde")
    );
    assert_eq!(
        c.notify[0].secret,
        Some(crate::config::WebhookSecret::parse("whsec_abc").unwrap())
    );
}

#[test]
fn an_unset_template_variable_points_at_the_template() {
    let text = "data_dir = \"{{env.NOPE}}\"\nscenarios_dir = \".\"\n";
    let text_err = rendered(&parse(text, &[]).unwrap_err());
    assert!(
        text_err.contains("environment variable `NOPE` is not set"),
        "{text_err}"
    );
    assert!(text_err.contains("scheduler.toml:1:13"), "{text_err}");
}

#[test]
fn an_unknown_key_is_an_error_with_line_and_column() {
    let text = format!("{MINIMAL}\nlisten_adress = \"127.0.0.1:9470\"\n");
    let err = parse(&text, &[]).unwrap_err();
    let text = rendered(&err);
    assert!(text.contains("unknown field `listen_adress`"), "{text}");
    assert!(text.contains("scheduler.toml:4:1"), "{text}");
    assert!(text.contains("`listen`"), "{text}");
}

#[test]
fn an_unknown_key_in_a_probe_entry_is_an_error() {
    let text = format!("{MINIMAL}[[probe]]\nname = \"p1\"\nregion = \"eu\"\ntoken = \"x\"\n");
    let text = rendered(&parse(&text, &[]).unwrap_err());
    assert!(text.contains("unknown field `token`"), "{text}");
    assert!(text.contains("scheduler.toml:6:1"), "{text}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = "data_dir = \"d\"\nscenarios_dir = \"does-not-exist\"\nretention = \"forever\"\nlisten = \"here\"\ntls_cert = \"c.pem\"\n";
    let text = rendered(&parse(text, &[]).unwrap_err());
    for needle in [
        "is not a directory",
        "invalid duration `forever`",
        "invalid listen address `here`",
        "`tls_cert` and `tls_key` go together",
        "scheduler.toml:3:13",
    ] {
        assert!(text.contains(needle), "{needle} missing in {text}");
    }
}

#[test]
fn probe_entries_are_checked() {
    let good = "a".repeat(64);
    let text = format!(
        "{MINIMAL}[[probe]]\nname = \"p-eu-1\"\nregion = \"eu-west-1\"\ntoken_sha256 = \"{good}\"\n[[probe]]\nname = \"Bad Name\"\nregion = \"eu\"\ntoken_sha256 = \"xyz\"\n"
    );
    let text = rendered(&parse(&text, &[]).unwrap_err());
    assert!(text.contains("invalid name `Bad Name`"), "{text}");
    assert!(text.contains("invalid `token_sha256`"), "{text}");
    let ok = format!(
        "{MINIMAL}[[probe]]\nname = \"p-eu-1\"\nregion = \"eu-west-1\"\ntoken_sha256 = \"{good}\"\n"
    );
    let c = parse(&ok, &[]).unwrap();
    assert_eq!(c.probes[0].region, "eu-west-1");
}

#[test]
fn the_example_file_validates() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scheduler.example.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let base = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lookup = |name: &str| (name == "WEBHOOK_SECRET").then(|| "whsec_test".to_owned());
    let c = Config::parse("scheduler.example.toml", &text, base, &lookup)
        .map_err(|e| e.render(Style::Plain))
        .unwrap();
    assert!(c.scenarios_dir.join("checkout.toml").is_file());
}

#[test]
fn trace_url_needs_the_trace_id_placeholder() {
    let url = "https://jaeger.example.com/trace/{trace_id}";
    let c = parse(&format!("{MINIMAL}trace_url = \"{url}\"\n"), &[]).unwrap();
    assert_eq!(c.trace_url.as_deref(), Some(url));
    assert_eq!(parse(MINIMAL, &[]).unwrap().trace_url, None);
    for bad in ["https://jaeger.example.com/trace/", "jaeger/{trace_id}"] {
        let err = parse(&format!("{MINIMAL}trace_url = \"{bad}\"\n"), &[]).unwrap_err();
        let text = rendered(&err);
        assert!(
            text.contains(&format!("invalid trace_url `{bad}`"))
                && text.contains("scheduler.toml:3:")
                && text.contains("`{trace_id}`"),
            "{text}"
        );
    }
}

#[test]
fn public_url_is_checked_and_kept_without_a_trailing_slash() {
    let c = parse(
        &format!("{MINIMAL}public_url = \"https://sonde.example.com/\"\n"),
        &[],
    )
    .unwrap();
    assert_eq!(c.public_url.as_deref(), Some("https://sonde.example.com"));
    let c = parse(
        MINIMAL,
        &[("SONDE_SCHEDULER_PUBLIC_URL", "http://10.1.2.3:9470")],
    )
    .unwrap();
    assert_eq!(c.public_url.as_deref(), Some("http://10.1.2.3:9470"));
    assert_eq!(parse(MINIMAL, &[]).unwrap().public_url, None);
    for bad in [
        "sonde.example.com",
        "ftp://sonde.example.com",
        "https://x/?a=1",
    ] {
        let err = parse(&format!("{MINIMAL}public_url = \"{bad}\"\n"), &[]).unwrap_err();
        let text = rendered(&err);
        assert!(
            text.contains(&format!("invalid public_url `{bad}`"))
                && text.contains("scheduler.toml:3:")
                && text.contains("expected an http or https URL"),
            "{text}"
        );
    }
}

#[test]
fn notifiers_are_named_by_kind_unless_named_and_names_are_unique() {
    let hook = "kind = \"webhook\"\nurl = \"http://127.0.0.1:1/\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n";
    let text = format!(
        "{MINIMAL}[[notify]]\nkind = \"alertmanager\"\nurl = \"http://127.0.0.1:9093\"\n\
         [[notify]]\n{hook}[[notify]]\n{hook}[[notify]]\nname = \"oncall\"\n{hook}"
    );
    let c = parse(&text, &[]).unwrap();
    let names: Vec<&str> = c.notify.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["alertmanager", "webhook-1", "webhook-2", "oncall"]);

    let twice = format!(
        "{MINIMAL}[[notify]]\nname = \"pager\"\n{hook}[[notify]]\nname = \"pager\"\n{hook}"
    );
    let err = rendered(&parse(&twice, &[]).unwrap_err());
    assert!(err.contains("two notifiers are named `pager`"), "{err}");
    assert!(
        err.contains("scheduler.toml:9:"),
        "at the second name: {err}"
    );

    let bad = format!("{MINIMAL}[[notify]]\nname = \"On Call\"\n{hook}");
    let err = rendered(&parse(&bad, &[]).unwrap_err());
    assert!(err.contains("invalid notifier name `On Call`"), "{err}");
}

#[test]
fn maintenance_windows_are_read_and_each_key_is_checked_at_its_line() {
    let text = format!(
        "{MINIMAL}[[maintenance]]\nname = \"db-upgrade\"\nstart = \"2026-12-05T02:00:00Z\"\nduration = \"2h\"\n\
         scenarios = [\"checkout\"]\nregions = [\"eu-west-1\"]\n\
         [[maintenance]]\nname = \"weekly-deploy\"\ncron = \"0 22 * * TUE\"\ntimezone = \"Europe/Berlin\"\n\
         duration = \"30m\"\nmatch = {{ team = \"shop\" }}\nexclude_from_slo = false\n"
    );
    let c = parse(&text, &[]).unwrap();
    let ids: Vec<&str> = c.maintenance.iter().map(|w| w.id.as_str()).collect();
    assert_eq!(ids, ["config/db-upgrade", "config/weekly-deploy"]);
    assert!(c.maintenance[0].exclude_from_slo);
    assert!(!c.maintenance[1].exclude_from_slo);

    let cases = [
        (
            "cron = \"0 25 * * *\"\nduration = \"1h\"",
            "invalid `cron`",
            "scheduler.toml:5:8",
        ),
        (
            "cron = \"0 2 * * *\"\ntimezone = \"Mars/Olympus\"\nduration = \"1h\"",
            "unknown `timezone`",
            "scheduler.toml:6:12",
        ),
        (
            "start = \"2026-12-05T02:00:00Z\"\nduration = \"9d\"",
            "out of range",
            "scheduler.toml:6:12",
        ),
        (
            "start = \"2026-12-05T02:00:00Z\"\ncron = \"0 2 * * *\"\nduration = \"1h\"",
            "exactly one of `start`",
            "scheduler.toml:4:8",
        ),
        (
            "duration = \"1h\"\nlength = \"1h\"",
            "unknown field `length`",
            "scheduler.toml:6:1",
        ),
    ];
    for (body, want, at) in cases {
        let text = format!("{MINIMAL}[[maintenance]]\nname = \"m\"\n{body}\n");
        let err = rendered(&parse(&text, &[]).unwrap_err());
        assert!(err.contains(want) && err.contains(at), "{body}: {err}");
    }

    let twice = format!(
        "{MINIMAL}[[maintenance]]\nname = \"m\"\nstart = \"2026-12-05T02:00:00Z\"\nduration = \"1h\"\n\
         [[maintenance]]\nname = \"m\"\nstart = \"2026-12-06T02:00:00Z\"\nduration = \"1h\"\n"
    );
    let err = rendered(&parse(&twice, &[]).unwrap_err());
    assert!(
        err.contains("two maintenance windows are named `m`") && err.contains("scheduler.toml:8:8"),
        "{err}"
    );
}

#[test]
fn max_clock_skew_defaults_to_a_minute_and_takes_the_file_or_environment() {
    assert_eq!(
        parse(MINIMAL, &[]).unwrap().max_clock_skew,
        Duration::from_secs(60)
    );
    let text = format!("{MINIMAL}max_clock_skew = \"5m\"\n");
    assert_eq!(
        parse(&text, &[]).unwrap().max_clock_skew,
        Duration::from_secs(300)
    );
    let c = parse(&text, &[("SONDE_SCHEDULER_MAX_CLOCK_SKEW", "30s")]).unwrap();
    assert_eq!(c.max_clock_skew, Duration::from_secs(30));
}

#[test]
fn a_bad_max_clock_skew_is_an_error_with_line_and_column() {
    let text = format!("{MINIMAL}max_clock_skew = \"a minute\"\n");
    let text = rendered(&parse(&text, &[]).unwrap_err());
    assert!(
        text.contains("invalid duration `a minute` for `max_clock_skew`"),
        "{text}"
    );
    assert!(text.contains("scheduler.toml:3:18"), "{text}");
    let text = format!("{MINIMAL}max_clock_skew = \"0s\"\n");
    let text = rendered(&parse(&text, &[]).unwrap_err());
    assert!(text.contains("`max_clock_skew` is too short"), "{text}");
    assert!(text.contains("expected at least 1s"), "{text}");
}

#[test]
fn read_access_is_open_unless_set_to_token_in_the_file_or_environment() {
    assert_eq!(parse(MINIMAL, &[]).unwrap().read_access, ReadAccess::Open);
    let text = format!("{MINIMAL}read_access = \"token\"\n");
    assert_eq!(parse(&text, &[]).unwrap().read_access, ReadAccess::Token);
    let c = parse(MINIMAL, &[("SONDE_SCHEDULER_READ_ACCESS", "token")]).unwrap();
    assert_eq!(c.read_access, ReadAccess::Token);
    let c = parse(&text, &[("SONDE_SCHEDULER_READ_ACCESS", "open")]).unwrap();
    assert_eq!(c.read_access, ReadAccess::Open);
}

#[test]
fn a_bad_read_access_names_the_key_the_value_and_what_is_expected() {
    let text = format!("{MINIMAL}read_access = \"viewer\"\n");
    let text = rendered(&parse(&text, &[]).unwrap_err());
    assert!(
        text.contains("invalid value `viewer` for `read_access`"),
        "{text}"
    );
    assert!(text.contains("expected `open`"), "{text}");
    assert!(text.contains("`token`"), "{text}");
    assert!(text.contains("scheduler.toml:3:15"), "{text}");
    let err = parse(MINIMAL, &[("SONDE_SCHEDULER_READ_ACCESS", "closed")]).unwrap_err();
    let text = rendered(&err);
    assert!(
        text.contains("invalid value `closed` for `read_access`"),
        "{text}"
    );
    assert!(text.contains("SONDE_SCHEDULER_READ_ACCESS"), "{text}");
}

#[test]
fn replica_defaults_to_the_host_name_and_may_be_set() {
    let c = parse(MINIMAL, &[]).unwrap();
    assert_eq!(c.replica, host_name());
    assert!(is_valid_replica(&c.replica), "{}", c.replica);
    let c = parse(&format!("{MINIMAL}replica = \"sched-a\"\n"), &[]).unwrap();
    assert_eq!(c.replica, "sched-a");
    let c = parse(
        &format!("{MINIMAL}replica = \"sched-a\"\n"),
        &[("SONDE_SCHEDULER_REPLICA", "sched-b")],
    )
    .unwrap();
    assert_eq!(c.replica, "sched-b");
}

#[test]
fn a_replica_name_with_spaces_is_diagnosed() {
    let err = parse(&format!("{MINIMAL}replica = \"sched a\"\n"), &[]).unwrap_err();
    let text = rendered(&err);
    assert!(text.contains("invalid replica name `sched a`"), "{text}");
    let err = parse(MINIMAL, &[("SONDE_SCHEDULER_REPLICA", "a\tb")]).unwrap_err();
    assert!(
        rendered(&err).contains("SONDE_SCHEDULER_REPLICA"),
        "{}",
        rendered(&err)
    );
}

#[test]
fn database_url_takes_its_password_from_the_environment() {
    let text = format!(
        "{MINIMAL}database_url = \"postgres://sonde:{{{{env.PGPASS}}}}@127.0.0.1:5433/sonde?sslmode=require\"\n"
    );
    let c = parse(&text, &[("PGPASS", "hunter2")]).unwrap();
    let url = c.database_url.as_ref().expect("database_url");
    assert_eq!(url.password.as_deref(), Some("hunter2"));
    assert_eq!(url.sslmode, crate::config::SslMode::Require);
    assert!(!format!("{c:?}").contains("hunter2"));
}

#[test]
fn a_bad_database_url_is_an_error_at_its_place() {
    let text = format!("{MINIMAL}database_url = \"postgres://u@h/d?sslmode=always\"\n");
    let text = rendered(&parse(&text, &[]).unwrap_err());
    assert!(text.contains("invalid `database_url`"), "{text}");
    assert!(text.contains("unknown sslmode `always`"), "{text}");
    assert!(text.contains("scheduler.toml:3:"), "{text}");
    let env = parse(MINIMAL, &[("SONDE_SCHEDULER_DATABASE_URL", "sqlite://x")]).unwrap_err();
    let env = rendered(&env);
    assert!(env.contains("SONDE_SCHEDULER_DATABASE_URL"), "{env}");
    assert!(env.contains("unknown scheme `sqlite`"), "{env}");
}
