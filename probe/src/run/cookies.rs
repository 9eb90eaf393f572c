//! The cookie jar of one run: cookies set by a response are sent back to
//! the same host by later steps, and never outlive the run.

use std::collections::BTreeMap;

/// Cookies by host, then by name.
#[derive(Debug, Default)]
pub struct CookieJar {
    by_host: BTreeMap<String, BTreeMap<String, String>>,
}

impl CookieJar {
    /// Takes the `Set-Cookie` headers of a response from `host`, returning
    /// the (name, value) pairs it set, for the `cookie` subject.
    pub fn store(&mut self, host: &str, headers: &[(String, String)]) -> Vec<(String, String)> {
        let mut set = Vec::new();
        for (_, value) in headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        {
            let mut attrs = value.split(';');
            let Some((name, val)) = attrs.next().and_then(|kv| kv.split_once('=')) else {
                continue;
            };
            let (name, val) = (
                name.trim().to_string(),
                val.trim().trim_matches('"').to_string(),
            );
            if name.is_empty() {
                continue;
            }
            let expired = attrs.any(|a| {
                let a = a.trim().to_ascii_lowercase();
                a == "max-age=0" || a.starts_with("max-age=-")
            });
            let jar = self.by_host.entry(host.to_ascii_lowercase()).or_default();
            if expired {
                jar.remove(&name);
            } else {
                jar.insert(name.clone(), val.clone());
            }
            set.push((name, val));
        }
        set
    }

    /// The `Cookie` header for a request to `host`, if any cookie applies.
    pub fn header_for(&self, host: &str) -> Option<String> {
        let jar = self.by_host.get(&host.to_ascii_lowercase())?;
        (!jar.is_empty()).then(|| {
            jar.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_sends_and_expires_cookies() {
        let mut jar = CookieJar::default();
        let set = jar.store(
            "Shop.test",
            &[("Set-Cookie".into(), "session=abc; Path=/; HttpOnly".into())],
        );
        assert_eq!(set, vec![("session".into(), "abc".into())]);
        assert_eq!(jar.header_for("shop.test").as_deref(), Some("session=abc"));
        assert_eq!(jar.header_for("other.test"), None);
        jar.store(
            "shop.test",
            &[("set-cookie".into(), "session=; Max-Age=0".into())],
        );
        assert_eq!(jar.header_for("shop.test"), None);
    }
}
