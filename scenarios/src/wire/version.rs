//! The version of a scenario: one hash over its source and its files.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// Starts the hashed framing, so that a future framing gives other hashes.
const FRAMING: &[u8] = b"sonde-scenario-version/1\0";

/// `sha256:` and the lowercase hex SHA-256 of a canonical framing of
/// `source` and `files`: the tag `sonde-scenario-version/1\0`, the source,
/// the number of files as a big-endian u64, then each file's name and
/// contents in name order. Each string is preceded by its length in bytes as
/// a big-endian u64, so no two different inputs frame alike.
pub fn scenario_version(source: &str, files: &BTreeMap<String, Vec<u8>>) -> String {
    version_of(
        source,
        files.iter().map(|(n, c)| (n.as_str(), c.as_slice())),
    )
}

/// [`scenario_version`] over files given in name order.
pub(super) fn version_of<'a>(
    source: &str,
    files: impl ExactSizeIterator<Item = (&'a str, &'a [u8])>,
) -> String {
    let mut hasher = Sha256::new();
    hasher.update(FRAMING);
    framed(&mut hasher, source.as_bytes());
    hasher.update((files.len() as u64).to_be_bytes());
    for (name, contents) in files {
        framed(&mut hasher, name.as_bytes());
        framed(&mut hasher, contents);
    }
    format!("sha256:{}", hex(&hasher.finalize()))
}

fn framed(hasher: &mut Sha256, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_be_bytes());
    hasher.update(bytes);
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(contents: &str) -> BTreeMap<String, Vec<u8>> {
        BTreeMap::from([("ca.pem".to_owned(), contents.as_bytes().to_vec())])
    }

    #[test]
    fn stable_for_the_same_input() {
        let a = scenario_version("name = \"x\"", &files("PEM"));
        assert_eq!(a, scenario_version("name = \"x\"", &files("PEM")));
        assert!(a.starts_with("sha256:"));
        assert_eq!(a.len(), "sha256:".len() + 64);
        assert!(
            a["sha256:".len()..]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }

    #[test]
    fn changes_with_any_file_content_or_name() {
        let base = scenario_version("src", &files("PEM"));
        assert_ne!(base, scenario_version("src", &files("PEM2")));
        assert_ne!(base, scenario_version("src2", &files("PEM")));
        assert_ne!(base, scenario_version("src", &BTreeMap::new()));
        let renamed = BTreeMap::from([("ca2.pem".to_owned(), b"PEM".to_vec())]);
        assert_ne!(base, scenario_version("src", &renamed));
    }

    #[test]
    fn framing_keeps_boundaries() {
        let split = BTreeMap::from([("ab".to_owned(), b"c".to_vec())]);
        let moved = BTreeMap::from([("a".to_owned(), b"bc".to_vec())]);
        assert_ne!(scenario_version("", &split), scenario_version("", &moved));
    }

    #[test]
    fn known_value() {
        // Pins the framing: a change here changes every deployed version.
        assert_eq!(
            scenario_version("", &BTreeMap::new()),
            "sha256:f27fc826a16ea4977e4dd4a3a1db65002b3b0f66bd8a5cb7ce7df73057573c6b"
        );
    }

    #[test]
    fn hex_by_hand() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    }
}
