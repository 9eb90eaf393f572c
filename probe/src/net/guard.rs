//! The target guard: a probe in a cloud network must not be turned into a
//! way to reach that network's insides (metadata service, private ranges).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use scenarios::wire::ErrorKind;

use super::failure::NetFailure;

/// Refuses addresses in the loopback, private, link-local, metadata,
/// unspecified, CGNAT, benchmarking, IETF-protocol, multicast and reserved
/// ranges unless an `allow` net holds them. Checked on the address actually
/// connected to, after resolution, so a public name that resolves inward is
/// refused too; an IPv6 address that carries an IPv4 address (mapped,
/// compatible, NAT64, 6to4, Teredo) is judged by that address as well.
#[derive(Debug, Clone, Default)]
pub struct TargetGuard {
    /// On for `probe agent`; for `probe run`, with `--target-guard` or any
    /// `--allow-target`.
    pub enabled: bool,
    /// Nets opened with `--allow-target`.
    pub allow: Vec<IpNet>,
}

/// Guarded ranges, the most specific first so a refusal names the narrowest.
const REFUSED: &[(&str, &str)] = &[
    ("169.254.169.254/32", "cloud metadata"),
    ("fd00:ec2::254/128", "cloud metadata"),
    ("255.255.255.255/32", "broadcast"),
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
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("198.18.0.0/15", "benchmarking"),
    ("224.0.0.0/4", "multicast"),
    ("ff00::/8", "multicast"),
    ("240.0.0.0/4", "reserved"),
];

/// The IPv4 address an IPv6 address carries, and the form that carries it.
fn embedded_v4(ip: Ipv6Addr) -> Vec<(Ipv4Addr, &'static str)> {
    let bits = u128::from(ip);
    let low32 = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    let seg = ip.segments();
    let mut out = Vec::new();
    if let Some(v4) = ip.to_ipv4_mapped() {
        out.push((v4, "IPv4-mapped"));
    } else if bits >> 32 == 0 && bits > 1 {
        // `::a.b.c.d`, IPv4-compatible (`::` and `::1` are judged as such).
        out.push((low32, "IPv4-compatible"));
    } else if bits >> 32 == 0x0064_ff9b_0000_0000_0000_0000 {
        out.push((low32, "NAT64"));
    } else if seg[0] == 0x2002 {
        let v4 = (u32::from(seg[1]) << 16) | u32::from(seg[2]);
        out.push((Ipv4Addr::from(v4), "6to4"));
    } else if seg[0] == 0x2001 && seg[1] == 0 {
        // Teredo: the server's address, then the client's, stored inverted.
        let server = (u32::from(seg[2]) << 16) | u32::from(seg[3]);
        out.push((Ipv4Addr::from(server), "Teredo"));
        out.push((Ipv4Addr::from(!((bits & 0xffff_ffff) as u32)), "Teredo"));
    }
    out
}

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
        let allowed = |a: IpAddr| self.allow.iter().any(|net| net.contains(&a));
        if allowed(ip) {
            return Ok(());
        }
        let mut judged: Vec<(IpAddr, Option<&'static str>)> = vec![(ip, None)];
        if let IpAddr::V6(v6) = ip {
            judged.extend(
                embedded_v4(v6)
                    .into_iter()
                    .map(|(v4, form)| (IpAddr::V4(v4), Some(form))),
            );
        }
        for (addr, form) in judged {
            if form.is_some() && allowed(addr) {
                continue;
            }
            if let Some((net, what)) = refused_range(addr) {
                let carried =
                    form.map_or_else(String::new, |f| format!(" (the {f} form of {addr})"));
                return Err(NetFailure::new(
                    ErrorKind::TargetRefused,
                    format!(
                        "target address {ip}{carried} is in the {what} range {net}; \
                         the target guard refuses it (open it with --allow-target)"
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn refused_range(ip: IpAddr) -> Option<(IpNet, &'static str)> {
    REFUSED.iter().find_map(|(net, what)| {
        let net: IpNet = net.parse().ok()?;
        net.contains(&ip).then_some((net, *what))
    })
}

impl super::Net {
    /// Whether the target guard lets a page be loaded from `host`, judged
    /// on the addresses the probe resolves it to (`localhost` is loopback).
    /// The browser connects on its own, so this is the guard's only say:
    /// what the page loads or redirects to afterwards is not judged.
    ///
    /// # Errors
    /// [`ErrorKind::TargetRefused`], or the lookup's failure.
    pub async fn guard_page(&self, host: &str) -> Result<(), NetFailure> {
        if !self.guard.enabled {
            return Ok(());
        }
        let ips = if host.eq_ignore_ascii_case("localhost") {
            vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]
        } else {
            self.resolve(host).await?.0
        };
        ips.into_iter().try_for_each(|ip| self.guard.check(ip))
    }
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
            ("192.0.0.8", "192.0.0.0/24"),
            ("198.18.0.1", "198.18.0.0/15"),
            ("198.19.255.255", "198.18.0.0/15"),
            ("224.0.0.251", "224.0.0.0/4"),
            ("239.255.255.250", "224.0.0.0/4"),
            ("240.0.0.1", "240.0.0.0/4"),
            ("255.255.255.255", "255.255.255.255/32"),
            ("ff02::1", "ff00::/8"),
            // IPv6 forms of the metadata address and of private ones.
            ("64:ff9b::a9fe:a9fe", "169.254.169.254/32"),
            ("64:ff9b::10.0.0.1", "10.0.0.0/8"),
            ("::169.254.169.254", "169.254.169.254/32"),
            ("::127.0.0.1", "127.0.0.0/8"),
            ("2002:a9fe:a9fe::1", "169.254.169.254/32"),
            ("2002:c0a8:0101::", "192.168.0.0/16"),
            // Teredo: server 65.54.227.120, client 169.254.169.254 (inverted).
            ("2001:0:4136:e378:8000:63bf:5601:5601", "169.254.169.254/32"),
            ("2001:0:0a00:0001::1", "10.0.0.0/8"),
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
            "198.20.0.1",
            "192.0.1.1",
            "64:ff9b::5db8:d822",
            "2002:5db8:d822::1",
            "::ffff:93.184.216.34",
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
        // Opening loopback opens its IPv6 forms too, and nothing else.
        assert_eq!(refused(&guard, "::ffff:127.0.0.1"), None);
        assert!(refused(&guard, "64:ff9b::a9fe:a9fe").is_some());
    }

    #[test]
    fn a_refusal_names_the_embedded_address() {
        let guard = TargetGuard::enabled(vec![]);
        let message = refused(&guard, "64:ff9b::a9fe:a9fe").unwrap_or_default();
        assert!(
            message.contains("the NAT64 form of 169.254.169.254")
                && message.contains("cloud metadata"),
            "{message}"
        );
    }
}
