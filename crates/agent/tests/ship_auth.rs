//! Refusals for authentication (401/403: a wrong or deleted key, a denying
//! policy, clock skew) are an outage the operator must fix, not bad data: the
//! shipper keeps such batches in the spool and retries them with backoff,
//! until they are older than `auth_failure_max_age`, then drops and counts
//! them.

mod ship_support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ship_support::*;
use stratus_agent::ship::Shipper;

#[test]
fn refused_keys_are_spooled_and_retried_until_the_key_works() {
    let fixed = Arc::new(AtomicBool::new(false));
    let key_ok = Arc::clone(&fixed);
    let ep = FakeEndpoint::start("127.0.0.1:0", move |_, _| {
        if key_ok.load(Ordering::SeqCst) {
            ok()
        } else {
            error(
                403,
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
            )
        }
    });
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = config(&ep.url(), spool.path());
    cfg.max_datums_per_batch = 10;
    let shipper = Shipper::start(cfg).unwrap();
    shipper.submit((0..25).map(datum).collect());
    wait_until("several refused attempts", Duration::from_secs(10), || {
        let s = shipper.stats();
        s.retries >= 3 && s.datums_spooled == 25
    });
    let refused = shipper.stats();
    assert_eq!(
        (refused.datums_dropped, refused.datums_rejected),
        (0, 0),
        "nothing dropped while the key is refused: {refused:?}"
    );

    fixed.store(true, Ordering::SeqCst);
    wait_until(
        "the drain once the key works",
        Duration::from_secs(10),
        || shipper.stats().datums_sent == 25,
    );
    let stats = shipper.stats();
    assert_eq!((stats.datums_spooled, stats.datums_dropped), (0, 0));
    let seen = ep.seen();
    let ids: HashSet<String> = seen.iter().map(|s| s.batch_id()).collect();
    assert_eq!(ids.len(), 3, "three batches, each retried under its own id");
    assert!(seen.len() > 3, "the refused batch was sent again");
    let mut got: Vec<u64> = seen
        .iter()
        .flat_map(|r| r.decode())
        .map(|d| index_of(&d))
        .collect();
    got.sort_unstable();
    got.dedup();
    assert_eq!(got, (0..25).collect::<Vec<u64>>(), "every datum arrived");
}

#[test]
fn clock_skew_refusals_are_kept_too() {
    let ep = FakeEndpoint::start("127.0.0.1:0", |_, n| match n {
        0..=2 => error(
            403,
            "SignatureDoesNotMatch",
            "Signature expired: 20260101T000000Z is now earlier than 20260101T001500Z",
        ),
        _ => ok(),
    });
    let spool = tempfile::tempdir().unwrap();
    let shipper = Shipper::start(config(&ep.url(), spool.path())).unwrap();
    shipper.submit((0..5).map(datum).collect());
    wait_until(
        "delivery after the clock is fixed",
        Duration::from_secs(10),
        || shipper.stats().datums_sent == 5,
    );
    let seen = ep.seen();
    assert_eq!(seen.len(), 4);
    assert!(seen.iter().all(|s| s.batch_id() == seen[0].batch_id()));
    assert_eq!(shipper.stats().datums_dropped, 0);
}

#[test]
fn batches_refused_longer_than_the_bound_are_dropped_and_counted() {
    let ep = FakeEndpoint::start("127.0.0.1:0", |_, _| {
        error(403, "AccessDenied", "User is not authorized")
    });
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = config(&ep.url(), spool.path());
    cfg.auth_failure_max_age = Duration::from_millis(600);
    let shipper = Shipper::start(cfg).unwrap();
    shipper.submit((0..4).map(datum).collect());
    wait_until("the batch is dropped", Duration::from_secs(10), || {
        shipper.stats().datums_auth_expired == 4
    });
    let stats = shipper.stats();
    assert_eq!(
        (
            stats.batches_dropped,
            stats.datums_dropped,
            stats.datums_spooled
        ),
        (1, 4, 0),
        "{stats:?}"
    );
    assert_eq!(
        stats.datums_rejected, 0,
        "not counted as a bad-data refusal"
    );
    let seen = ep.seen();
    assert!(
        seen.len() >= 2,
        "kept and retried before the bound: {} attempt(s)",
        seen.len()
    );
    assert!(seen.iter().all(|s| s.batch_id() == seen[0].batch_id()));

    // A zero bound drops at the first refusal, as a permanent refusal.
    let spool = tempfile::tempdir().unwrap();
    let ep = FakeEndpoint::start("127.0.0.1:0", |_, _| {
        error(403, "AccessDenied", "User is not authorized")
    });
    let mut cfg = config(&ep.url(), spool.path());
    cfg.auth_failure_max_age = Duration::ZERO;
    let shipper = Shipper::start(cfg).unwrap();
    shipper.submit((0..4).map(datum).collect());
    wait_until("the batch is dropped", Duration::from_secs(10), || {
        shipper.stats().datums_auth_expired == 4
    });
    assert_eq!(ep.seen().len(), 1);
    assert_eq!(shipper.stats().retries, 0);
}

#[test]
fn shutdown_while_the_key_is_refused_spools_without_retrying() {
    let ep = FakeEndpoint::start("127.0.0.1:0", |_, _| {
        error(
            403,
            "InvalidClientTokenId",
            "The security token is invalid.",
        )
    });
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = config(&ep.url(), spool.path());
    cfg.retry_cap = Duration::from_millis(50);
    let shipper = Shipper::start(cfg.clone()).unwrap();
    shipper.submit((0..5).map(datum).collect());
    wait_until("refusals", Duration::from_secs(10), || {
        shipper.stats().retries >= 2
    });
    shipper.submit((5..8).map(datum).collect());
    let attempts = ep.seen().len();
    let report = shipper.shutdown(Duration::from_secs(10));
    assert_eq!(report.datums_spooled, 8, "{report:?}");
    assert!(
        ep.seen().len() <= attempts + 1,
        "at most the attempt in flight: {} then {}",
        attempts,
        ep.seen().len()
    );
    // The next start has them.
    let shipper = Shipper::start(cfg).unwrap();
    assert_eq!(shipper.stats().datums_spooled, 8);
}
