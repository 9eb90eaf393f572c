//! Which probe runs a scenario in a region: rendezvous (highest random
//! weight) hashing over the region's live probes. Every scheduler computes
//! the same answer from the same inputs; when the owner goes silent the
//! next probe by score takes over, and when it returns it wins again.

use sha2::{Digest, Sha256};

/// The stable score of `probe` for `scenario` in `region`: the first eight
/// bytes of a SHA-256 over the three, length-framed.
pub fn score(scenario: &str, region: &str, probe: &str) -> u64 {
    let mut hasher = Sha256::new();
    for part in [scenario, region, probe] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// The probe among `live` (probes of `region`) that runs `scenario` there;
/// `None` when the region has no live probe. Ties go to the smaller name.
pub fn owner<'a>(
    scenario: &str,
    region: &str,
    live: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    live.into_iter()
        .map(|probe| (score(scenario, region, probe), probe))
        .max_by(|(sa, pa), (sb, pb)| sa.cmp(sb).then_with(|| pb.cmp(pa)))
        .map(|(_, probe)| probe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_is_stable_and_framed() {
        assert_eq!(score("a", "b", "c"), score("a", "b", "c"));
        assert_ne!(score("ab", "", "c"), score("a", "b", "c"));
    }

    #[test]
    fn no_live_probe_no_owner() {
        assert_eq!(owner("checkout", "eu", []), None);
    }

    #[test]
    fn removing_a_non_owner_keeps_the_owner() {
        let probes = ["p1", "p2", "p3", "p4"];
        for scenario in ["a", "b", "c", "d", "e", "f"] {
            let first = owner(scenario, "eu", probes).expect("owner");
            for gone in probes.iter().filter(|p| **p != first) {
                let rest = probes.iter().copied().filter(|p| p != gone);
                assert_eq!(owner(scenario, "eu", rest), Some(first));
            }
        }
    }

    #[test]
    fn spreads_scenarios_over_probes() {
        let probes = ["p1", "p2", "p3"];
        let owners: std::collections::BTreeSet<_> = (0..60)
            .filter_map(|i| owner(&format!("s{i}"), "eu", probes))
            .collect();
        assert_eq!(owners.len(), 3);
    }
}
