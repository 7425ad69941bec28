//! meta.redb damaged at many offsets after alarms and topics were stored:
//! the store either opens with every acknowledged record back, or refuses
//! with an error naming meta.redb — never an older state, never a panic.

use super::*;
use std::collections::BTreeMap;
use std::path::Path;

const ALARMS: Table = Table::new("alarms");
const TOPICS: Table = Table::new("sns_topics");

type Contents = BTreeMap<&'static str, Vec<(String, serde_json::Value)>>;

/// Stores alarms and topics over many commits (inserts, updates, deletes),
/// the way the server does; returns what must be there.
fn populate(m: &MetaStore) -> Contents {
    for i in 0..40 {
        let alarm = serde_json::json!({
            "name": format!("alarm-{i:02}"),
            "threshold": i,
            "state": "OK",
            "description": "x".repeat(200),
        });
        m.put(ALARMS, &format!("alarm-{i:02}"), &alarm).unwrap();
    }
    for i in 0..15 {
        let arn = format!("arn:aws:sns:us-east-1:000000000000:topic-{i:02}");
        m.put(
            TOPICS,
            &arn,
            &serde_json::json!({ "arn": arn, "display": "t" }),
        )
        .unwrap();
    }
    // Later commits change earlier records: a fallback would show.
    for i in (0..40).step_by(3) {
        m.transact(|tx| {
            let key = format!("alarm-{i:02}");
            let mut a: serde_json::Value = tx.get(ALARMS, &key)?.unwrap();
            a["state"] = "ALARM".into();
            tx.put(ALARMS, &key, &a)
        })
        .unwrap();
    }
    m.delete(ALARMS, "alarm-05").unwrap();
    let mut out = Contents::new();
    out.insert("alarms", m.list(ALARMS).unwrap());
    out.insert("sns_topics", m.list(TOPICS).unwrap());
    out
}

fn contents(m: &MetaStore) -> Result<Contents> {
    let mut out = Contents::new();
    out.insert("alarms", m.list(ALARMS)?);
    out.insert("sns_topics", m.list(TOPICS)?);
    Ok(out)
}

const CHILD_ENV: &str = "STRATUS_META_DAMAGE_CHILD";

/// A store populated by a process that then exits without closing it, as
/// after a `kill -9`: redb must repair it at the next open, and a damaged
/// newest commit makes it fall back to the one before.
fn populated_then_killed(path: &Path) {
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "meta::damage_tests::child_populates_then_dies",
            "--nocapture",
        ])
        .env(CHILD_ENV, path)
        .status()
        .unwrap();
    assert!(status.success(), "child: {status}");
}

#[test]
fn child_populates_then_dies() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let m = MetaStore::open(Path::new(&path)).unwrap();
    populate(&m);
    // No destructors: the database is never closed.
    std::process::exit(0);
}

/// Damages one byte at a time and opens as the server does; returns
/// `(harmless, refused)`.
fn damage_each_offset(pristine: &Path, expected: &Contents) -> (usize, usize) {
    let bytes = std::fs::read(pristine).unwrap();
    let acked = std::fs::read(acked::path(pristine)).unwrap();
    let work = tempfile::tempdir().unwrap();
    let target = work.path().join("meta.redb");
    let (mut intact, mut refused) = (0, 0);
    // The file header's first bytes one by one, then every 509th byte (so
    // each 4 KiB page is hit at ~8 positions: headers, keys, values).
    let offsets = (0..64).chain((64..bytes.len()).step_by(509));
    for offset in offsets {
        let mut damaged = bytes.clone();
        damaged[offset] ^= 0x5A;
        std::fs::write(&target, &damaged).unwrap();
        std::fs::write(acked::path(&target), &acked).unwrap();
        match MetaStore::open_verified(&target).and_then(|m| contents(&m)) {
            Ok(found) => {
                assert_eq!(
                    &found, expected,
                    "offset {offset}: opened, but not as acknowledged"
                );
                intact += 1;
            }
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.contains("meta.redb"), "offset {offset}: {msg}");
                assert!(
                    matches!(e, MetaError::Damaged { .. }),
                    "offset {offset}: not reported as damage: {msg}"
                );
                refused += 1;
            }
        }
    }
    (intact, refused)
}

#[test]
fn damage_anywhere_is_either_harmless_or_refused_naming_meta_redb() {
    let dir = tempfile::tempdir().unwrap();
    let expected = {
        let m = MetaStore::open(&dir.path().join("reference.redb")).unwrap();
        populate(&m)
    };
    // Closed cleanly (a stopped server).
    let clean = dir.path().join("clean").join("meta.redb");
    std::fs::create_dir(clean.parent().unwrap()).unwrap();
    drop(populate(&MetaStore::open(&clean).unwrap()));
    let (intact, refused) = damage_each_offset(&clean, &expected);
    assert!(
        refused > 0 && intact > 0,
        "{intact} harmless, {refused} refused"
    );
    // Never closed (a killed server): the damage meets redb's crash repair.
    let killed = dir.path().join("killed").join("meta.redb");
    std::fs::create_dir(killed.parent().unwrap()).unwrap();
    populated_then_killed(&killed);
    let (intact, refused) = damage_each_offset(&killed, &expected);
    assert!(
        refused > 0 && intact > 0,
        "{intact} harmless, {refused} refused"
    );
}
