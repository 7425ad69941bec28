//! Random appends, seals, stream re-creations and reopens read back exactly
//! what a plain model says.

mod store_common;

use proptest::prelude::*;
use store_common::*;
use stratus_logs::store::{Scan, Store};

#[derive(Clone, Debug)]
enum Op {
    /// Stream index, events as (minutes before now, message length).
    Append(usize, Vec<(i64, usize)>, Option<u8>),
    /// Advance the clock by that many minutes, then maintain.
    Maintain(i64),
    Recreate(usize),
    /// Reopen, after a clean shutdown or not.
    Reopen(bool),
    /// Mark batches emitted up to the one at this index (of those stored).
    MarkEmitted(proptest::sample::Index),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..2usize, proptest::collection::vec((0..200i64, 0..40usize), 0..12), proptest::option::of(0..4u8))
            .prop_map(|(s, e, b)| Op::Append(s, e, b)),
        2 => (0..150i64).prop_map(Op::Maintain),
        1 => (0..2usize).prop_map(Op::Recreate),
        1 => any::<bool>().prop_map(Op::Reopen),
        1 => any::<proptest::sample::Index>().prop_map(Op::MarkEmitted),
    ]
}

const STREAMS: [&str; 2] = ["a", "b"];

/// (stream, timestamp, message) in arrival order.
type Model = Vec<(usize, i64, String)>;

fn expected_scan(model: &Model) -> Vec<(String, i64, String)> {
    let mut v: Vec<(i64, usize, &(usize, i64, String))> =
        model.iter().enumerate().map(|(i, e)| (e.1, i, e)).collect();
    v.sort_by_key(|(ts, arrival, _)| (*ts, *arrival));
    v.into_iter()
        .map(|(_, _, e)| (STREAMS[e.0].to_owned(), e.1, e.2.clone()))
        .collect()
}

fn check(store: &Store, model: &Model) -> Result<(), TestCaseError> {
    let want = expected_scan(model);
    prop_assert_eq!(scan_all(store, "/g", &Scan::default()), want.clone());
    for (si, s) in STREAMS.iter().enumerate() {
        let mine: Vec<(i64, String)> = want
            .iter()
            .filter(|e| e.0 == STREAMS[si])
            .map(|e| (e.1, e.2.clone()))
            .collect();
        prop_assert_eq!(read_all(store, "/g", s, 5), mine.clone());
        prop_assert_eq!(read_all_backward(store, "/g", s, 4), mine);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_histories_read_back_exactly(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = Clock::new(T0 + 5 * HOUR);
        let mut opts = clock.options();
        opts.head_max_bytes = 600;
        let open_store = |opts: &stratus_logs::store::Options| Store::open(dir.path(), opts.clone()).expect("open").0;
        let mut store = open_store(&opts);
        store.create_group("/g", spec()).expect("group");
        for s in STREAMS {
            store.create_stream("/g", s, T0).expect("stream");
        }
        let mut model: Model = Vec::new();
        let mut batch_ids: std::collections::HashSet<u8> = Default::default();
        let mut n = 0u64;
        // Seqs of the stored batches, and the emission checkpoint.
        let mut seqs: Vec<u64> = Vec::new();
        let mut emitted = 0u64;
        for op in ops {
            match op {
                Op::Append(s, events, batch) => {
                    let now = (clock.options().clock)();
                    let evs: Vec<(i64, String)> = events
                        .iter()
                        .map(|(ago, len)| {
                            n += 1;
                            (now - ago * 60_000 + (n as i64 % 7), format!("{n}:{}", "x".repeat(*len)))
                        })
                        .collect();
                    let id = batch.map(|b| [b; 16]);
                    let out = store
                        .append("/g", STREAMS[s], evs.iter().map(|(t, m)| ev(*t, m)).collect(), id)
                        .expect("append");
                    let dup = batch.is_some_and(|b| !batch_ids.insert(b));
                    prop_assert_eq!(out.duplicate, dup);
                    if !dup {
                        model.extend(evs.into_iter().map(|(t, m)| (s, t, m)));
                        seqs.push(out.seq);
                    }
                }
                Op::Maintain(minutes) => {
                    clock.set((clock.options().clock)() + minutes * 60_000);
                    store.maintain().expect("maintain");
                }
                Op::Recreate(s) => {
                    store.delete_stream("/g", STREAMS[s]).expect("delete");
                    store.create_stream("/g", STREAMS[s], T0).expect("recreate");
                    model.retain(|e| e.0 != s);
                }
                Op::Reopen(clean) => {
                    if clean {
                        store.shutdown().expect("shutdown");
                    }
                    drop(store);
                    store = open_store(&opts);
                }
                Op::MarkEmitted(i) => {
                    if !seqs.is_empty() {
                        let seq = seqs[i.index(seqs.len())];
                        store.mark_emitted(seq);
                        emitted = emitted.max(seq);
                    }
                }
            }
            check(&store, &model)?;
            let pending: Vec<u64> = store.pending_emissions().expect("pending").iter().map(|b| b.seq).collect();
            let want: Vec<u64> = seqs.iter().copied().filter(|s| *s > emitted).collect();
            prop_assert_eq!(pending, want);
        }
    }
}
