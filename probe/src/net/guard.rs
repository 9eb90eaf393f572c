//! The target guard: a probe in a cloud network must not be turned into a
//! way to reach that network's insides (metadata service, private ranges).

use std::net::IpAddr;

use ipnet::IpNet;
use scenarios::wire::ErrorKind;

use super::failure::NetFailure;

/// Refuses addresses in loopback, private, link-local, metadata,
/// unspecified and CGNAT ranges unless an `allow` net holds them. Checked on
/// the address actually connected to, after resolution, so a public name
/// that resolves inward is refused too.
#[derive(Debug, Clone, Default)]
pub struct TargetGuard {
    /// Off for `probe run`, on for `probe agent`.
    pub enabled: bool,
    /// Nets opened with `--allow-target`.
    pub allow: Vec<IpNet>,
}

/// Guarded ranges, the most specific first so a refusal names the narrowest.
const REFUSED: &[(&str, &str)] = &[
    ("169.254.169.254/32", "cloud metadata"),
    ("fd00:ec2::254/128", "cloud metadata"),
    ("0.0.0.0/8", "unspecified"),
    ("::/128", "unspecified"),
    ("127.0.0.0/8", "loopback"),
    ("::1/128", "loopback"),
    ("10.0.0.0/8", "private"),
    ("172.16.0.0/12", "private"),
    ("192.168.0.0/16", "private"),
    ("fc00::/7", "private"),
    ("169.254.0.0/16", "link-local"),
    ("fe80::/10", "link-local"),
    ("100.64.0.0/10", "carrier-grade NAT"),
];

impl TargetGuard {
    /// A guard that lets everything through (`probe run`).
    #[must_use]
    pub fn disabled() -> Self {
        Self::default()
    }

    /// A guard that refuses the inner ranges except `allow`.
    #[must_use]
    pub fn enabled(allow: Vec<IpNet>) -> Self {
        Self {
            enabled: true,
            allow,
        }
    }

    /// Whether the probe may connect to `ip`.
    ///
    /// # Errors
    /// [`ErrorKind::TargetRefused`] naming the address and the range.
    pub fn check(&self, ip: IpAddr) -> Result<(), NetFailure> {
        if !self.enabled {
            return Ok(());
        }
        // `::ffff:127.0.0.1` reaches 127.0.0.1: judge the IPv4 address inside.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            IpAddr::V4(_) => ip,
        };
        if self.allow.iter().any(|net| net.contains(&ip)) {
            return Ok(());
        }
        match refused_range(ip) {
            None => Ok(()),
            Some((net, what)) => Err(NetFailure::new(
                ErrorKind::TargetRefused,
                format!(
                    "target address {ip} is in the {what} range {net}; \
                     the target guard refuses it (open it with --allow-target)"
                ),
            )),
        }
    }
}

fn refused_range(ip: IpAddr) -> Option<(IpNet, &'static str)> {
    REFUSED.iter().find_map(|(net, what)| {
        let net: IpNet = net.parse().ok()?;
        net.contains(&ip).then_some((net, *what))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(guard: &TargetGuard, ip: &str) -> Option<String> {
        let ip: IpAddr = ip.parse().expect("test IP parses");
        guard.check(ip).err().map(|f| {
            assert_eq!(f.kind, ErrorKind::TargetRefused);
            f.message
        })
    }

    #[test]
    fn refuses_inner_ranges_and_names_them() {
        let guard = TargetGuard::enabled(vec![]);
        let cases = [
            ("127.0.0.1", "127.0.0.0/8"),
            ("::1", "::1/128"),
            ("10.1.2.3", "10.0.0.0/8"),
            ("172.20.0.1", "172.16.0.0/12"),
            ("192.168.1.1", "192.168.0.0/16"),
            ("fd12::1", "fc00::/7"),
            ("169.254.169.254", "169.254.169.254/32"),
            ("169.254.1.1", "169.254.0.0/16"),
            ("fe80::1", "fe80::/10"),
            ("fd00:ec2::254", "fd00:ec2::254/128"),
            ("0.0.0.0", "0.0.0.0/8"),
            ("::", "::/128"),
            ("100.100.1.1", "100.64.0.0/10"),
            ("::ffff:127.0.0.1", "127.0.0.0/8"),
        ];
        for (ip, range) in cases {
            let message = refused(&guard, ip).unwrap_or_else(|| panic!("{ip} passed"));
            assert!(message.contains(range), "{ip}: {message}");
        }
        assert!(refused(&guard, "127.0.0.1").is_some_and(|m| m.contains("127.0.0.1 ")));
    }

    #[test]
    fn public_addresses_pass() {
        let guard = TargetGuard::enabled(vec![]);
        for ip in [
            "93.184.216.34",
            "2606:2800:220:1::1",
            "172.32.0.1",
            "100.128.0.1",
        ] {
            assert_eq!(refused(&guard, ip), None, "{ip}");
        }
    }

    #[test]
    fn allow_opens_a_range_and_disabled_passes_all() {
        let allow = vec!["127.0.0.0/8".parse().expect("net parses")];
        let guard = TargetGuard::enabled(allow);
        assert_eq!(refused(&guard, "127.0.0.1"), None);
        assert!(refused(&guard, "10.0.0.1").is_some());
        assert_eq!(refused(&TargetGuard::disabled(), "169.254.169.254"), None);
    }
}
