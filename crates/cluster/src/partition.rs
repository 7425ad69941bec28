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

/// `nodes` ranked for partition `p`, best first (highest rendezvous score).
pub fn ranked<'a>(nodes: &[&'a str], p: u32) -> Vec<&'a str> {
    let mut scored: Vec<(u64, &str)> = nodes.iter().map(|n| (rendezvous_score(n, p), *n)).collect();
    // Ties (never expected from a 64-bit hash) broken by name, so every node agrees.
    scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().map(|(_, n)| n).collect()
}

/// Even shares of `total` items over `n` nodes: each takes ⌊total/n⌋, and
/// the first `total mod n` nodes to get there one more.
struct Shares {
    load: Vec<usize>,
    floor: usize,
    /// Nodes that may still go one above `floor`.
    extra: usize,
}

impl Shares {
    fn new(total: usize, n: usize) -> Shares {
        Shares {
            load: vec![0; n],
            floor: total / n,
            extra: total % n,
        }
    }

    fn has_room(&self, i: usize) -> bool {
        self.load[i] < self.floor || (self.load[i] == self.floor && self.extra > 0)
    }

    fn take(&mut self, i: usize) {
        if self.load[i] == self.floor && self.extra > 0 {
            self.extra -= 1;
        }
        self.load[i] += 1;
    }
}

/// Which nodes keep each of `partitions` partitions: `copies` per partition
/// (fewer only when there are fewer nodes), the preferred owner first.
///
/// Rendezvous hashing with bounded loads: each partition takes its
/// best-ranked nodes that are still below an even share — owners first
/// (at most ⌈partitions / nodes⌉ each), then the other copies (at most
/// ⌈partitions × copies / nodes⌉ in all). Plain rendezvous hashing moves
/// least when nodes come and go, but with a few partitions it is lumpy (one
/// node of three keeping 7 of 8, another 3); the bound keeps every node
/// within one partition of its share, while a change of nodes still moves
/// mostly the partitions it must (measured in the tests). Every node
/// computes the same answer from the same list.
pub fn assign(nodes: &[&str], partitions: u32, copies: usize) -> Vec<Vec<String>> {
    let mut nodes: Vec<&str> = nodes.to_vec();
    nodes.sort_unstable();
    nodes.dedup();
    let n = nodes.len();
    if n == 0 {
        return vec![Vec::new(); partitions as usize];
    }
    let copies = copies.clamp(1, n);
    let index = |name: &str| nodes.binary_search(&name).unwrap_or(0);
    let mut owners = Shares::new(partitions as usize, n);
    let mut keepers = Shares::new(partitions as usize * copies, n);
    let ranks: Vec<Vec<&str>> = (0..partitions).map(|p| ranked(&nodes, p)).collect();
    let mut out: Vec<Vec<String>> = Vec::with_capacity(partitions as usize);
    for rank in &ranks {
        let owner = rank
            .iter()
            .copied()
            .find(|c| owners.has_room(index(c)))
            .unwrap_or(rank[0]);
        owners.take(index(owner));
        keepers.take(index(owner));
        out.push(vec![owner.to_string()]);
    }
    for (holders, rank) in out.iter_mut().zip(&ranks) {
        for pass in [true, false] {
            for &c in rank {
                if holders.len() == copies {
                    break;
                }
                // First pass: only within the share; second: whatever it takes.
                if holders.iter().any(|h| h == c) || (pass && !keepers.has_room(index(c))) {
                    continue;
                }
                keepers.take(index(c));
                holders.push(c.to_string());
            }
        }
    }
    // The greedy pass can leave a node short when the only nodes with room
    // already keep a partition: move copies (never owners) from the fullest
    // node to the emptiest until they are within one of each other.
    let mut load = vec![0usize; n];
    for h in &out {
        for k in h {
            load[index(k)] += 1;
        }
    }
    for _ in 0..partitions as usize * copies {
        let hi = (0..n)
            .max_by_key(|&i| (load[i], std::cmp::Reverse(i)))
            .unwrap_or(0);
        let lo = (0..n).min_by_key(|&i| (load[i], i)).unwrap_or(0);
        if load[hi] <= load[lo] + 1 {
            break;
        }
        let Some(h) = out
            .iter_mut()
            .find(|h| h[1..].iter().any(|k| k == nodes[hi]) && !h.iter().any(|k| k == nodes[lo]))
        else {
            break;
        };
        if let Some(slot) = h[1..].iter_mut().find(|k| *k == nodes[hi]) {
            *slot = nodes[lo].to_string();
        }
        load[hi] -= 1;
        load[lo] += 1;
    }
    out
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

    fn counts(a: &[Vec<String>], owners_only: bool) -> std::collections::BTreeMap<String, usize> {
        let mut m = std::collections::BTreeMap::new();
        for h in a {
            let take = if owners_only { 1 } else { h.len() };
            for n in &h[..take] {
                *m.entry(n.clone()).or_insert(0) += 1;
            }
        }
        m
    }

    #[test]
    fn every_node_keeps_and_owns_its_share() {
        for (nodes, partitions, copies) in [
            (vec!["n1", "n2", "n3"], 8u32, 2usize),
            (vec!["a", "b"], 8, 2),
            (vec!["n1", "n2", "n3", "n4", "n5"], 128, 2),
            (vec!["az1-a", "az2-a", "az3-a", "az1-b"], 64, 3),
            (vec!["x", "y", "z"], 5, 1),
        ] {
            let a = assign(&nodes, partitions, copies);
            assert_eq!(a.len(), partitions as usize);
            for h in &a {
                assert_eq!(h.len(), copies, "{h:?}");
                let distinct: std::collections::HashSet<_> = h.iter().collect();
                assert_eq!(distinct.len(), copies, "{h:?}");
            }
            let n = nodes.len();
            let kept = counts(&a, false);
            let owned = counts(&a, true);
            let share = (partitions as usize * copies).div_ceil(n);
            for node in &nodes {
                let k = kept.get(*node).copied().unwrap_or(0);
                assert!(
                    k + 1 >= share && k <= share,
                    "{node} keeps {k}, share {share}: {kept:?}"
                );
                let o = owned.get(*node).copied().unwrap_or(0);
                let os = (partitions as usize).div_ceil(n);
                assert!(
                    o + 1 >= os && o <= os,
                    "{node} owns {o}, share {os}: {owned:?}"
                );
            }
            // The order of the list does not matter.
            let mut reversed = nodes.clone();
            reversed.reverse();
            assert_eq!(assign(&reversed, partitions, copies), a);
        }
        // Fewer nodes than copies: every node keeps everything.
        assert_eq!(assign(&["a"], 3, 2), vec![vec!["a".to_string()]; 3]);
        assert!(assign(&[], 2, 2).iter().all(Vec::is_empty));
    }

    #[test]
    fn a_node_leaving_moves_mostly_its_own_partitions() {
        let five = ["n1", "n2", "n3", "n4", "n5"];
        let four = ["n1", "n2", "n3", "n4"];
        let before = assign(&five, 128, 2);
        let after = assign(&four, 128, 2);
        let (mut unchanged_elsewhere, mut elsewhere) = (0, 0);
        let (mut survivor_kept, mut with_n5) = (0, 0);
        for (b, a) in before.iter().zip(&after) {
            if b.iter().any(|h| h == "n5") {
                with_n5 += 1;
                // A survivor among its keepers should stay one: its warm replica is reused.
                let survivor = b.iter().find(|h| *h != "n5").unwrap();
                if a.contains(survivor) {
                    survivor_kept += 1;
                }
            } else {
                elsewhere += 1;
                let same: std::collections::HashSet<_> = b.iter().collect();
                if a.iter().all(|h| same.contains(h)) {
                    unchanged_elsewhere += 1;
                }
            }
        }
        // Most partitions n5 did not keep stay where they were, and most of those it
        // kept keep their other copy (plain rendezvous: all of both; bounded loads
        // trade a little of that for even shares).
        assert!(
            unchanged_elsewhere * 10 >= elsewhere * 6,
            "{unchanged_elsewhere} of {elsewhere} unchanged"
        );
        assert!(
            survivor_kept * 10 >= with_n5 * 8,
            "{survivor_kept} of {with_n5} kept their surviving copy"
        );
        // Two names never rank alike everywhere (the score mixes its input).
        for pair in [["a", "b"], ["n1", "n2"], ["az1-a", "az2-a"]] {
            let firsts = (0..32).filter(|&p| ranked(&pair, p)[0] == pair[0]).count();
            assert!((8..=24).contains(&firsts), "{pair:?}: {firsts} of 32");
        }
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
