//! Damage every kind of file at many offsets and reopen: the outcome is
//! always "every acknowledged datapoint is back" or "open refused with an
//! error naming the file" (a torn tail of the newest WAL segment is cut and
//! reported, losing only the records the damage reaches). With recovery
//! chosen, every record not physically damaged comes back and the original
//! file is kept aside. `check` (fsck) reports every case.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use stratus_tsdb::check::{self, FileState};
use stratus_tsdb::{BatchId, Db, Options, RangeQuery, Retention, Sample, SeriesKey, WriteBatch};

const NAMESPACES: [&str; 4] = ["NS/A", "NS/B", "NS/C", "NS/D"];
const METRICS: [&str; 2] = ["m1", "m2"];
const SAMPLES_PER_BATCH: i64 = 5;
/// Batches 0..10 and 10..20 are sealed into blocks (two seals, merged),
/// 20..30 stay in an older WAL segment, 30..40 in the newest one.
const BATCHES: i64 = 40;

fn opts() -> Options {
    Options {
        retention: Retention::forever(),
        hide_inactive_after: None,
        fsync: false,
        ..Options::default()
    }
}

fn recovering() -> Options {
    Options {
        recover: true,
        ..opts()
    }
}

fn all_series() -> Vec<SeriesKey> {
    let mut out = Vec::new();
    for ns in NAMESPACES {
        for m in METRICS {
            out.push(SeriesKey::new(ns, m, [("host".into(), "h1".into())]));
        }
    }
    out
}

/// Batch `b`: every series gets 5 samples at `b*10 ..` with value `b`; one
/// WAL record per batch.
fn batch(b: i64) -> WriteBatch {
    let mut w = WriteBatch::new();
    for k in all_series() {
        for i in 0..SAMPLES_PER_BATCH {
            w.push(k.clone(), Sample::single(b * 10 + i, 0, b as f64));
        }
    }
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&b.to_le_bytes());
    w.batch_id = Some(BatchId(id));
    w
}

/// The acknowledged data set, written as the server would: some sealed,
/// some in an older WAL segment, some in the newest; the handle dropped
/// without close (kill -9).
fn build(dir: &Path) {
    let db = Db::open(dir, opts()).unwrap();
    for b in 0..10 {
        db.write(&batch(b)).unwrap();
    }
    db.seal().unwrap();
    for b in 10..20 {
        db.write(&batch(b)).unwrap();
    }
    db.seal().unwrap();
    for b in 20..30 {
        db.write(&batch(b)).unwrap();
    }
    drop(db);
    let db = Db::open(dir, opts()).unwrap();
    for b in 30..BATCHES {
        db.write(&batch(b)).unwrap();
    }
}

/// Batches present in every series (they must agree); an error names what
/// failed.
fn observe(db: &Db) -> Result<BTreeSet<i64>, String> {
    let mut per_series = observe_each(db)?;
    // One record (or one block) holds a batch for every series at once.
    for s in &per_series[1..] {
        assert_eq!(s, &per_series[0], "series disagree on the batches present");
    }
    Ok(per_series.swap_remove(0))
}

/// Batches present per series; an error names what failed. A batch present
/// with the wrong count or sum is a mis-read and fails the test.
fn observe_each(db: &Db) -> Result<Vec<BTreeSet<i64>>, String> {
    let mut per_series: Vec<BTreeSet<i64>> = Vec::new();
    for k in all_series() {
        let aggs = db
            .query(&RangeQuery {
                series: &k,
                start_ms: 0,
                end_ms: BATCHES * 10,
                period_ms: 10,
                unit: None,
            })
            .map_err(|e| e.to_string())?;
        let mut got = BTreeSet::new();
        for a in aggs {
            let b = a.start_ms / 10;
            assert_eq!(
                (a.count, a.sum),
                (SAMPLES_PER_BATCH as f64, (SAMPLES_PER_BATCH * b) as f64),
                "batch {b} of {k:?} mis-read"
            );
            got.insert(b);
        }
        per_series.push(got);
    }
    Ok(per_series)
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            fs::copy(e.path(), &target).unwrap();
        }
    }
}

fn files_in(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().unwrap().ends_with(suffix))
        .collect();
    v.sort();
    v
}

/// `(start, end)` of each record frame of a WAL segment, in order.
fn wal_records(data: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut pos = 8;
    while pos + 12 <= data.len() {
        let len = u32::from_le_bytes(data[pos + 4..pos + 8].try_into().unwrap()) as usize;
        out.push((pos, pos + 12 + len));
        pos += 12 + len;
    }
    out
}

#[derive(Clone, Copy, Debug)]
enum Harm {
    FlipBit(usize),
    Xor8(usize),
    TruncateAt(usize),
}

impl Harm {
    fn apply(self, data: &mut Vec<u8>) {
        match self {
            Harm::FlipBit(o) => data[o] ^= 1 << (o % 8),
            Harm::Xor8(o) => {
                let end = (o + 8).min(data.len());
                for b in &mut data[o..end] {
                    *b ^= 0xA5;
                }
            }
            Harm::TruncateAt(o) => data.truncate(o),
        }
    }

    /// The byte range the harm touches in a file of `len` bytes.
    fn range(self, len: usize) -> (usize, usize) {
        match self {
            Harm::FlipBit(o) => (o, o + 1),
            Harm::Xor8(o) => (o, (o + 8).min(len)),
            Harm::TruncateAt(o) => (o, len),
        }
    }
}

/// Offsets worth hitting in a file of `len` bytes: the header, the first
/// record's header and payload, a spread through the middle, the last
/// record, the last bytes.
fn offsets(len: usize, last_record: Option<usize>) -> Vec<usize> {
    let mut v = vec![0, 3, 7, 8, 10, 13, 17, 25];
    for i in 1..8 {
        v.push(len * i / 8);
    }
    if let Some(l) = last_record {
        v.extend([l, l + 5, l + 13]);
    }
    v.extend([len.saturating_sub(9), len.saturating_sub(1)]);
    v.retain(|&o| o < len);
    v.sort_unstable();
    v.dedup();
    v
}

fn harms(len: usize, last_record: Option<usize>) -> Vec<Harm> {
    let mut v = Vec::new();
    for o in offsets(len, last_record) {
        v.extend([Harm::FlipBit(o), Harm::Xor8(o), Harm::TruncateAt(o)]);
    }
    v
}

/// Which batches each file holds, to bound what its damage may cost.
struct Golden {
    dir: tempfile::TempDir,
    older_segment: PathBuf,
    newest_segment: PathBuf,
}

fn golden() -> Golden {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let segs: Vec<PathBuf> = files_in(&dir.path().join("wal"), ".log")
        .into_iter()
        .filter(|p| fs::metadata(p).unwrap().len() > 8)
        .collect();
    assert_eq!(segs.len(), 2, "{segs:?}");
    let g = Golden {
        older_segment: segs[0].clone(),
        newest_segment: segs[1].clone(),
        dir,
    };
    // Check the data set on a copy: an open closes the newest segment with
    // its end marker, and the cases want it as a kill -9 left it.
    let check_copy = tempfile::tempdir().unwrap();
    copy_dir(g.dir.path(), check_copy.path());
    let db = Db::open(check_copy.path(), opts()).unwrap();
    assert_eq!(observe(&db).unwrap(), (0..BATCHES).collect());
    let newest = fs::read(&g.newest_segment).unwrap();
    assert_ne!(&newest[newest.len() - 12..newest.len() - 8], b"SEND");
    g
}

/// The batches of the records `[a, b)` touches in a segment whose first
/// record is batch `first_batch`.
fn batches_touched(data: &[u8], first_batch: i64, (a, b): (usize, usize)) -> BTreeSet<i64> {
    wal_records(data)
        .iter()
        .enumerate()
        .filter(|(_, r)| r.0 < b && r.1 > a)
        .map(|(i, _)| first_batch + i as i64)
        .collect()
}

fn rel(path: &Path, root: &Path) -> PathBuf {
    path.strip_prefix(root).unwrap().to_owned()
}

/// One damaged copy: harm `file`, open plainly, then with recovery.
/// `may_lose(range)` is what physical damage of that byte range may cost.
/// `clean_cut`: the harm cuts the file at a record boundary of a file
/// nothing follows (the newest segment, `batch-ids`): indistinguishable
/// from a crash before those records were written, so no check can see it.
fn run_case(
    g: &Golden,
    file: &Path,
    harm: Harm,
    newest_wal: bool,
    clean_cut: bool,
    may_lose: &dyn Fn((usize, usize)) -> BTreeSet<i64>,
) {
    let all: BTreeSet<i64> = (0..BATCHES).collect();
    let case = tempfile::tempdir().unwrap();
    copy_dir(g.dir.path(), case.path());
    let target = case.path().join(rel(file, g.dir.path()));
    let mut data = fs::read(&target).unwrap();
    let original_len = data.len();
    harm.apply(&mut data);
    fs::write(&target, &data).unwrap();
    let damage = harm.range(original_len);
    let name = target.file_name().unwrap().to_str().unwrap().to_owned();
    let what = format!("{name} {harm:?}");

    // fsck sees it.
    let report = check::check(case.path()).unwrap();
    let finding = report
        .files
        .iter()
        .find(|f| f.path == target)
        .unwrap_or_else(|| panic!("{what}: fsck did not list the file"));
    assert!(
        finding.state != FileState::Ok || report.damage_found() || clean_cut,
        "{what}: fsck found nothing"
    );
    if let FileState::TornTail { .. } = finding.state {
        assert!(
            newest_wal || name == "catalog.log",
            "{what}: only appended files have torn tails"
        );
    }

    // A plain open: everything back, or refused naming the file.
    match Db::open(case.path(), opts()) {
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.contains(&name),
                "{what}: error does not name the file: {msg}"
            );
            assert!(
                report.damage_found() || finding.state != FileState::Ok,
                "{what}"
            );
        }
        Ok(db) => match observe(&db) {
            Err(msg) => assert!(msg.contains(&name), "{what}: query error {msg}"),
            Ok(got) if got == all => {}
            Ok(got) => {
                let lost: BTreeSet<i64> = all.difference(&got).copied().collect();
                assert!(newest_wal, "{what}: silently lost {lost:?}");
                // A torn tail: cut, reported, costing only what it reaches.
                let tail = may_lose((damage.0, original_len));
                assert!(
                    lost.is_subset(&tail),
                    "{what}: lost {lost:?} beyond {tail:?}"
                );
                let t = &db.recovery_report().truncations;
                assert!(
                    clean_cut || t.iter().any(|t| t.path == target),
                    "{what}: lost {lost:?} without a report"
                );
            }
        },
    }

    // Recovery: every record not physically damaged comes back.
    let case2 = tempfile::tempdir().unwrap();
    copy_dir(g.dir.path(), case2.path());
    let target2 = case2.path().join(rel(file, g.dir.path()));
    fs::write(&target2, &data).unwrap();
    let db = Db::open(case2.path(), recovering())
        .unwrap_or_else(|e| panic!("{what}: recovery failed: {e}"));
    let report = db.recovery_report().clone();
    // A salvaged block loses only its damaged sections: series may differ.
    let each = observe_each(&db).unwrap_or_else(|e| panic!("{what}: after recovery: {e}"));
    let allowed = may_lose(damage);
    let mut lost = BTreeSet::new();
    for got in &each {
        let series_lost: BTreeSet<i64> = all.difference(got).copied().collect();
        assert!(
            series_lost.is_subset(&allowed),
            "{what}: recovery lost {series_lost:?}, only {allowed:?} were damaged"
        );
        lost.extend(series_lost);
    }
    if name.ends_with(".blk") && report.blocks_set_aside.is_empty() {
        // A salvaged block costs only the series whose section was damaged.
        let hit = each.iter().filter(|got| got.len() < all.len()).count();
        let skipped = report
            .truncations
            .iter()
            .filter(|t| t.path == target2)
            .count();
        assert!(
            hit <= skipped,
            "{what}: {hit} series lost data, {skipped} ranges skipped"
        );
    }
    if (!lost.is_empty() && !clean_cut) || report.truncations.iter().any(|t| t.kept_aside.is_some())
    {
        assert!(report.repaired(), "{what}: recovery did not report");
    }
    for t in &report.truncations {
        if let Some(aside) = &t.kept_aside {
            assert_eq!(fs::read(aside).unwrap(), data, "{what}: copy aside differs");
        }
    }
    drop(db);
    // The repaired directory opens plainly and fsck finds no damage left.
    let again = Db::open(case2.path(), opts())
        .unwrap_or_else(|e| panic!("{what}: plain open after recovery: {e}"));
    assert_eq!(
        observe_each(&again).unwrap(),
        each,
        "{what}: second open differs"
    );
    drop(again);
    let after = check::check(case2.path()).unwrap();
    assert!(!after.damage_found(), "{what}: {:?}", after.files);
}

#[test]
fn damaged_wal_segments_are_refused_or_recovered_never_silently_lost() {
    let g = golden();
    for (seg, first_batch, newest) in [
        (g.older_segment.clone(), 20, false),
        (g.newest_segment.clone(), 30, true),
    ] {
        let data = fs::read(&seg).unwrap();
        let records = wal_records(&data);
        let last = records.last().unwrap().0;
        for harm in harms(data.len(), Some(last)) {
            let lose = |r| batches_touched(&data, first_batch, r);
            let boundary = |o: usize| o == 8 || records.iter().any(|r| r.0 == o);
            let clean_cut = newest && matches!(harm, Harm::TruncateAt(o) if boundary(o));
            run_case(&g, &seg, harm, newest, clean_cut, &lose);
        }
    }
}

#[test]
fn damaged_catalog_is_refused_or_rebuilt_from_blocks_losing_nothing() {
    let g = golden();
    let catalog = g.dir.path().join("catalog.log");
    let len = fs::metadata(&catalog).unwrap().len() as usize;
    for harm in harms(len, None) {
        run_case(&g, &catalog, harm, false, false, &|_| BTreeSet::new());
    }
}

#[test]
fn damaged_blocks_are_refused_or_salvaged_never_read_wrong() {
    let g = golden();
    let blocks = files_in(&g.dir.path().join("blocks"), ".blk");
    assert!(!blocks.is_empty());
    for blk in &blocks {
        let len = fs::metadata(blk).unwrap().len() as usize;
        // A block set aside costs the batches it held (sealed: 0..20).
        let sealed = |_| (0..20).collect::<BTreeSet<i64>>();
        for harm in harms(len, None) {
            run_case(&g, blk, harm, false, false, &sealed);
        }
    }
}

#[test]
fn damaged_batch_ids_lose_no_data() {
    let g = golden();
    let ids = g.dir.path().join("batch-ids");
    let len = fs::metadata(&ids).unwrap().len() as usize;
    for harm in harms(len, None) {
        // One frame: cut after the header it is an intact, empty file.
        let clean_cut = matches!(harm, Harm::TruncateAt(8));
        run_case(&g, &ids, harm, false, clean_cut, &|_| BTreeSet::new());
    }
}

#[test]
fn mid_segment_damage_names_file_and_offset_and_recovery_keeps_the_rest() {
    let g = golden();
    let case = tempfile::tempdir().unwrap();
    copy_dir(g.dir.path(), case.path());
    let seg = case.path().join(rel(&g.newest_segment, g.dir.path()));
    let mut data = fs::read(&seg).unwrap();
    let records = wal_records(&data);
    let (start, _) = records[3];
    for b in &mut data[start + 20..start + 28] {
        *b ^= 0xFF;
    }
    fs::write(&seg, &data).unwrap();
    match Db::open(case.path(), opts()) {
        Err(stratus_tsdb::Error::CorruptWalSegment { path, offset, .. }) => {
            assert_eq!((path, offset), (seg.clone(), start as u64));
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("opened over mid-segment damage"),
    }
    assert_eq!(
        fs::read(&seg).unwrap(),
        data,
        "a refused open changed the file"
    );
    let db = Db::open(case.path(), recovering()).unwrap();
    let expected: BTreeSet<i64> = (0..BATCHES).filter(|&b| b != 33).collect();
    assert_eq!(observe(&db).unwrap(), expected);
    let t = &db.recovery_report().truncations;
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].offset, t[0].path.clone()),
        (start as u64, seg.clone())
    );
    let aside = t[0].kept_aside.clone().unwrap();
    assert!(
        aside
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with(&format!(
                "{}.damaged-",
                seg.file_name().unwrap().to_str().unwrap()
            ))
    );
    assert_eq!(fs::read(aside).unwrap(), data);
}

#[test]
fn old_catalog_damage_names_the_file_and_blocks_rebuild_it() {
    let g = golden();
    let case = tempfile::tempdir().unwrap();
    copy_dir(g.dir.path(), case.path());
    let catalog = case.path().join("catalog.log");
    let mut data = fs::read(&catalog).unwrap();
    let mid = data.len() / 2;
    for b in &mut data[mid..mid + 8] {
        *b ^= 0xFF;
    }
    fs::write(&catalog, &data).unwrap();
    match Db::open(case.path(), opts()) {
        Err(stratus_tsdb::Error::CorruptCatalog { path, .. }) => assert_eq!(path, catalog),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("opened over a damaged catalog"),
    }
    assert_eq!(fs::read(&catalog).unwrap(), data, "refused open rewrote it");
    let db = Db::open(case.path(), recovering()).unwrap();
    assert_eq!(observe(&db).unwrap(), (0..BATCHES).collect());
    assert!(db.recovery_report().series_rebuilt_from_blocks > 0);
    assert!(db.recovery_report().orphaned_series.is_empty());
    let listed = db.list_series(&Default::default(), None, 100);
    assert_eq!(listed.len(), all_series().len());
}

#[test]
fn segments_written_before_end_markers_still_open() {
    let g = golden();
    let case = tempfile::tempdir().unwrap();
    copy_dir(g.dir.path(), case.path());
    // As a v1 writer left it: v1 header, no end marker.
    let seg = case.path().join(rel(&g.older_segment, g.dir.path()));
    let mut data = fs::read(&seg).unwrap();
    assert_eq!(&data[..5], b"SWAL\x02");
    data[4] = 1;
    assert_eq!(&data[data.len() - 12..data.len() - 8], b"SEND");
    data.truncate(data.len() - 24);
    fs::write(&seg, &data).unwrap();
    let db = Db::open(case.path(), opts()).unwrap();
    assert_eq!(observe(&db).unwrap(), (0..BATCHES).collect());
    assert!(!db.recovery_report().repaired());
    drop(db);
    assert!(!check::check(case.path()).unwrap().damage_found());
    // The same file as v2 lacks its end marker: refused, named.
    data[4] = 2;
    fs::write(&seg, &data).unwrap();
    let err = Db::open(case.path(), opts()).err().unwrap().to_string();
    assert!(
        err.contains("00000003.log") && err.contains("end marker"),
        "{err}"
    );
}

#[test]
fn series_whose_key_is_lost_everywhere_keep_their_data_under_placeholders() {
    let g = golden();
    let case = tempfile::tempdir().unwrap();
    copy_dir(g.dir.path(), case.path());
    // Damage the keys chunk of every block (it ends 4 bytes before the index)...
    for blk in files_in(&case.path().join("blocks"), ".blk") {
        let mut data = fs::read(&blk).unwrap();
        let n = data.len();
        let index_at = u64::from_le_bytes(data[n - 20..n - 12].try_into().unwrap()) as usize;
        data[index_at - 6] ^= 0x01;
        fs::write(&blk, &data).unwrap();
    }
    // ...and the catalog: the damaged definitions are known nowhere now.
    let catalog = case.path().join("catalog.log");
    let mut data = fs::read(&catalog).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0x01;
    fs::write(&catalog, &data).unwrap();
    assert!(Db::open(case.path(), opts()).is_err());

    let db = Db::open(case.path(), recovering()).unwrap();
    let r = db.recovery_report();
    assert!(!r.orphaned_series.is_empty());
    assert_eq!(
        r.unreadable_block_keys.len(),
        files_in(&case.path().join("blocks"), ".blk").len()
    );
    let placeholders = db.list_series(
        &stratus_tsdb::SeriesFilter {
            namespace: Some(stratus_tsdb::ORPHANED_NAMESPACE.into()),
            ..Default::default()
        },
        None,
        100,
    );
    assert_eq!(placeholders.len(), r.orphaned_series.len());
    // Every series, named or placeholder, still has every batch.
    let all_listed = db.list_series(&Default::default(), None, 100);
    assert_eq!(all_listed.len(), all_series().len());
    for k in &all_listed {
        let aggs = db
            .query(&RangeQuery {
                series: k,
                start_ms: 0,
                end_ms: BATCHES * 10,
                period_ms: 10,
                unit: None,
            })
            .unwrap();
        assert_eq!(aggs.len() as i64, BATCHES, "{k:?}");
    }
    drop(db);
    // The rebuilt catalog keeps the placeholders: a plain open works.
    let db = Db::open(case.path(), opts()).unwrap();
    assert_eq!(
        db.list_series(&Default::default(), None, 100).len(),
        all_series().len()
    );
}

#[test]
fn catalog_cut_at_a_record_boundary_is_refused_and_the_refused_open_changes_nothing() {
    let g = golden();
    let case = tempfile::tempdir().unwrap();
    copy_dir(g.dir.path(), case.path());
    let catalog = case.path().join("catalog.log");
    let data = fs::read(&catalog).unwrap();
    fs::write(&catalog, &data[..8]).unwrap(); // a valid, empty catalog
    let snapshot = |dir: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        let mut all = files_in(&dir.join("wal"), "");
        all.push(catalog.clone());
        all.into_iter()
            .map(|p| (p.clone(), fs::read(&p).unwrap()))
            .collect()
    };
    let before = snapshot(case.path());
    match Db::open(case.path(), opts()) {
        Err(stratus_tsdb::Error::CatalogMissingSeries { path, missing, .. }) => {
            assert_eq!((path, missing), (catalog.clone(), all_series().len()));
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("opened with every definition missing"),
    }
    // Compared whole; on failure only the message (the bytes are long).
    assert!(
        snapshot(case.path()) == before,
        "a refused open changed files"
    );
    let db = Db::open(case.path(), recovering()).unwrap();
    assert_eq!(observe(&db).unwrap(), (0..BATCHES).collect());
    assert_eq!(
        db.recovery_report().series_rebuilt_from_blocks,
        all_series().len()
    );
}
