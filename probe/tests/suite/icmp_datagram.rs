//! Which ICMP socket answers an `icmp` step, made certain: each probe runs
//! in a network namespace of its own (`unshare -n`, loopback up), where
//! `net.ipv4.ping_group_range` is set for that namespace alone, and
//! without CAP_NET_RAW (`setpriv --bounding-set -net_raw`) unless the test
//! keeps it. With the probe's group in the range, only the datagram socket
//! can answer; with the range empty and CAP_NET_RAW, only the raw one; with
//! neither, the step is the `icmp_unavailable` error naming the sysctl.
//! Skipped, saying so, where network namespaces cannot be made.

use serde_json::Value;

/// Every group: the probe's is in it.
const ALL_GROUPS: &str = "0 2147483647";
/// No group (the kernel's default).
const NO_GROUP: &str = "1 0";

/// Brings loopback up, sets the namespace's range to `$1`, then runs the
/// rest: the probe, through `setpriv` when CAP_NET_RAW is dropped.
const IN_NAMESPACE: &str = r#"range=$1; shift
ip link set lo up || exit 97
echo "$range" > /proc/sys/net/ipv4/ping_group_range || exit 98
exec "$@""#;

/// Whether this host lets the test make a network namespace; prints why
/// not when it does not.
fn namespaces_allowed() -> bool {
    let made = std::process::Command::new("unshare")
        .args(["-n", "--", "ip", "link", "set", "lo", "up"])
        .output();
    match made {
        Ok(out) if out.status.success() => true,
        Ok(out) => {
            eprintln!(
                "skipped: `unshare -n` is not permitted here: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            false
        }
        Err(e) => {
            eprintln!("skipped: cannot run `unshare`: {e}");
            false
        }
    }
}

/// Runs one `icmp` step to `host` in a fresh namespace whose range is
/// `range`, with or without CAP_NET_RAW.
async fn run_in_namespace(host: &str, range: &str, cap_net_raw: bool) -> Value {
    let text = format!(
        "interval = \"1m\"\n[[steps]]\nname = \"ping\"\nkind = \"icmp\"\nhost = \"{host}\"\ncount = 2\ninterval = \"50ms\"\nexpect = [\"loss == 0%\", \"rtt < 1s\"]\n"
    );
    let mut launcher = vec!["unshare", "-n", "--", "sh", "-c", IN_NAMESPACE, "sh", range];
    if !cap_net_raw {
        launcher.extend([
            "setpriv",
            "--bounding-set",
            "-net_raw",
            "--inh-caps",
            "-net_raw",
            "--",
        ]);
    }
    crate::common::probe_run_step_via(&launcher, text, &[], &[])
        .await
        .0
}

#[tokio::test]
async fn datagram_sockets_echo_ipv4_loopback_without_cap_net_raw() {
    if !namespaces_allowed() {
        return;
    }
    let step = run_in_namespace("127.0.0.1", ALL_GROUPS, false).await;
    assert_eq!(step["status"], "passed", "{step}");
    assert_eq!(step["assertions"][0]["actual"], "0%", "{step}");
}

#[tokio::test]
async fn datagram_sockets_echo_ipv6_loopback_without_cap_net_raw() {
    if !namespaces_allowed() {
        return;
    }
    let step = run_in_namespace("::1", ALL_GROUPS, false).await;
    assert_eq!(step["status"], "passed", "{step}");
    assert_eq!(step["assertions"][0]["actual"], "0%", "{step}");
}

#[tokio::test]
async fn raw_sockets_echo_loopback_when_the_range_is_empty_but_cap_net_raw_is_held() {
    if !namespaces_allowed() {
        return;
    }
    for host in ["127.0.0.1", "::1"] {
        let step = run_in_namespace(host, NO_GROUP, true).await;
        assert_eq!(step["status"], "passed", "{host}: {step}");
    }
}

#[tokio::test]
async fn neither_the_group_in_the_range_nor_cap_net_raw_is_icmp_unavailable() {
    if !namespaces_allowed() {
        return;
    }
    for host in ["127.0.0.1", "::1"] {
        let step = run_in_namespace(host, NO_GROUP, false).await;
        assert_eq!(step["status"], "failed", "{host}: {step}");
        assert_eq!(step["error"]["kind"], "icmp_unavailable", "{host}: {step}");
        let message = step["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("net.ipv4.ping_group_range (now `1 0`)"),
            "names the sysctl and its value: {message}"
        );
        assert!(message.contains("CAP_NET_RAW"), "{message}");
    }
}
