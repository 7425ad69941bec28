//! Which partition a series lives in, and which shard an alarm: a stable
//! hash (FNV-1a, 64 bit) that every node and every version computes alike —
//! changing it would move series between partitions of a running cluster.

use stratus_tsdb::SeriesKey;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// Hashes strings with their lengths, so ("ab", "c") and ("a", "bc") differ.
fn hash_fields<'a>(fields: impl IntoIterator<Item = &'a str>) -> u64 {
    let mut h = FNV_OFFSET;
    for f in fields {
        h = fnv(h, &(f.len() as u64).to_le_bytes());
        h = fnv(h, f.as_bytes());
    }
    h
}

pub fn of_series(key: &SeriesKey, partitions: u32) -> u32 {
    let fields = [key.namespace.as_str(), key.name.as_str()]
        .into_iter()
        .chain(
            key.dimensions
                .iter()
                .flat_map(|(n, v)| [n.as_str(), v.as_str()]),
        );
    (hash_fields(fields) % u64::from(partitions.max(1))) as u32
}

pub fn of_alarm(name: &str, shards: u32) -> u32 {
    (hash_fields([name]) % u64::from(shards.max(1))) as u32
}

/// How many of `total` leases one of `live` nodes may hold: an even share,
/// rounded up, so that every lease finds an owner (alarm shards).
pub fn fair_share(total: u32, live: usize) -> usize {
    let live = live.max(1);
    (total as usize).div_ceil(live)
}

/// A node's rendezvous (highest-random-weight) score for a partition: the
/// nodes with the highest scores keep its replicas, the highest owns it. When
/// a node joins or leaves, only the partitions it scores among the top for
/// move — the others keep their replicas where they are.
pub fn rendezvous_score(node_id: &str, partition: u32) -> u64 {
    // FNV alone keeps a fixed difference between two node names through the
    // shared suffix, so one node would outscore another on every partition:
    // MurmurHash3's finaliser mixes every input bit into every output bit.
    let mut h = hash_fields([node_id, &partition.to_string()]);
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The `copies` nodes of `nodes` that keep partition `p`, best first.
pub fn holders_of<'a>(nodes: &[&'a str], p: u32, copies: usize) -> Vec<&'a str> {
    let mut scored: Vec<(u64, &str)> = nodes.iter().map(|n| (rendezvous_score(n, p), *n)).collect();
    // Ties (never expected from a 64-bit hash) broken by name, so every node agrees.
    scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(copies).map(|(_, n)| n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_across_versions() {
        // Pinned (and mirrored by tests/cluster's Python copy): a change here moves
        // series between partitions and alarms between shards of a live cluster.
        assert_eq!(hash_fields(["a"]), 0x529a_4ddc_8ff5_6bbf);
        let k = SeriesKey::new("CWAgent", "cpu_usage_idle", [("host".into(), "a".into())]);
        assert_eq!(of_series(&k, 1 << 20), 855_056);
        assert_eq!(of_alarm("disk-root-50", 64), 63);
        assert_ne!(hash_fields(["ab", "c"]), hash_fields(["a", "bc"]));
    }

    #[test]
    fn holders_spread_and_move_little() {
        let nodes = ["n1", "n2", "n3", "n4"];
        let mut held = std::collections::HashMap::new();
        for p in 0..64 {
            let h = holders_of(&nodes, p, 2);
            assert_eq!(h.len(), 2);
            assert_ne!(h[0], h[1]);
            for n in h {
                *held.entry(n).or_insert(0) += 1;
            }
        }
        // 128 copies over 4 nodes: each holds a fair part (32 on average).
        for n in nodes {
            assert!((20..=44).contains(&held[n]), "{n} holds {}", held[n]);
        }
        // And each is the preferred owner of some: two names never rank alike everywhere.
        for pair in [["a", "b"], ["n1", "n2"], ["az1-a", "az2-a"]] {
            let firsts = (0..32)
                .filter(|&p| holders_of(&pair, p, 1) == [pair[0]])
                .count();
            assert!((8..=24).contains(&firsts), "{pair:?}: {firsts} of 32");
        }
        // n4 leaves: only partitions it held change keepers, and those keep the survivor.
        let three = ["n1", "n2", "n3"];
        for p in 0..64 {
            let before = holders_of(&nodes, p, 2);
            let after = holders_of(&three, p, 2);
            if !before.contains(&"n4") {
                assert_eq!(before, after, "partition {p}");
            } else {
                let survivor = before.iter().find(|n| **n != "n4").unwrap();
                assert!(after.contains(survivor), "partition {p}");
            }
        }
        assert_eq!(holders_of(&["a"], 3, 2), vec!["a"]);
    }

    #[test]
    fn spreads_series_over_partitions() {
        let mut counts = [0usize; 8];
        for i in 0..8000 {
            let k = SeriesKey::new("NS", "m", [("host".into(), format!("h{i}"))]);
            counts[of_series(&k, 8) as usize] += 1;
        }
        for c in counts {
            assert!((800..1200).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn fair_shares_cover_everything() {
        assert_eq!(fair_share(8, 3), 3);
        assert_eq!(fair_share(8, 2), 4);
        assert_eq!(fair_share(8, 0), 8);
        assert_eq!(fair_share(64, 1), 64);
    }
}
