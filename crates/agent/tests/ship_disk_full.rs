//! A full spool disk — a real 1 MiB tmpfs, filled up — neither stops the
//! shipper nor loses what it could send: it starts, ships from a bounded
//! in-memory queue (holding batches through an outage), and once space
//! returns moves them to the spool and is durable again.
//!
//! Mounting needs root (CAP_SYS_ADMIN); elsewhere the test says so and
//! passes without running.

mod ship_support;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ship_support::*;
use stratus_agent::ship::Shipper;

/// A tmpfs mounted on a temporary directory, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Writes a file until the file system is full; returns it.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0x5au8; 4096];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
    path
}

fn segments(spool: &Path) -> usize {
    std::fs::read_dir(spool)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".spool"))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn a_full_spool_disk_at_start_ships_from_memory_then_goes_back_to_disk() {
    let Some(fs) = Tmpfs::mount("1m") else { return };
    let spool = fs.path().join("spool");
    // The spool directory exists (a previous run), the journal's does not.
    std::fs::create_dir(&spool).unwrap();
    let filler = fill(fs.path());

    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let ep = FakeEndpoint::start(&format!("127.0.0.1:{port}"), |_, _| ok());
    let mut cfg = config(&url, &spool);
    cfg.max_datums_per_batch = 10;
    cfg.spool_retry = Duration::from_millis(200);
    let shipper = Shipper::start(cfg).expect("starts on a full disk");

    shipper.submit((0..10).map(datum).collect());
    wait_until("shipping from memory", Duration::from_secs(10), || {
        shipper.stats().datums_sent == 10
    });

    // An outage while the disk is full: batches wait in memory.
    let before = ep.seen();
    ep.stop();
    shipper.submit((10..40).map(datum).collect());
    wait_until("batches held in memory", Duration::from_secs(10), || {
        let s = shipper.stats();
        s.datums_spooled == 30 && s.datums_in_memory == 30
    });
    assert_eq!(segments(&spool), 0, "nothing could be written");
    assert_eq!(shipper.stats().datums_dropped, 0);

    // Space returns: the spool takes them over.
    std::fs::remove_file(&filler).unwrap();
    wait_until("durable again", Duration::from_secs(10), || {
        shipper.stats().datums_in_memory == 0
    });
    assert_eq!(shipper.stats().datums_spooled, 30);
    assert!(segments(&spool) > 0, "the batches are on disk now");

    let ep = FakeEndpoint::start(&format!("127.0.0.1:{port}"), |_, _| ok());
    wait_until("the drain", Duration::from_secs(10), || {
        shipper.stats().datums_sent == 40
    });
    let got: Vec<u64> = before
        .iter()
        .chain(ep.seen().iter())
        .flat_map(|r| r.decode())
        .map(|d| index_of(&d))
        .collect();
    assert_eq!(got, (0..40).collect::<Vec<u64>>(), "once each, in order");
    let report = shipper.shutdown(Duration::from_secs(5));
    assert_eq!(report.stats.datums_dropped, 0);
}

#[test]
fn a_full_spool_disk_mid_run_keeps_batches_in_memory_bounded() {
    let Some(fs) = Tmpfs::mount("1m") else { return };
    let spool = fs.path().join("spool");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut cfg = config(&url, &spool);
    cfg.max_datums_per_batch = 10;
    cfg.spool_retry = Duration::from_millis(200);
    // Nothing listens: everything goes to the spool, which fills the disk.
    let shipper = Shipper::start(cfg).unwrap();
    let filler = fill(fs.path());
    shipper.submit((0..50).map(datum).collect());
    wait_until("batches held in memory", Duration::from_secs(10), || {
        let s = shipper.stats();
        s.datums_spooled == 50 && s.datums_in_memory > 0
    });
    assert_eq!(shipper.stats().datums_dropped, 0);
    std::fs::remove_file(&filler).unwrap();
    let ep = FakeEndpoint::start(&format!("127.0.0.1:{port}"), |_, _| ok());
    wait_until("the drain", Duration::from_secs(10), || {
        shipper.stats().datums_sent == 50
    });
    let got: Vec<u64> = ep
        .seen()
        .iter()
        .flat_map(|r| r.decode())
        .map(|d| index_of(&d))
        .collect();
    assert_eq!(got, (0..50).collect::<Vec<u64>>(), "once each, in order");
}

#[test]
fn exiting_while_the_disk_is_full_counts_what_only_memory_held_as_lost() {
    let Some(fs) = Tmpfs::mount("1m") else { return };
    let spool = fs.path().join("spool");
    std::fs::create_dir(&spool).unwrap();
    fill(fs.path());
    // Nothing listens: the batches can go nowhere.
    let mut cfg = config(&format!("http://127.0.0.1:{}", free_port()), &spool);
    cfg.max_datums_per_batch = 10;
    let shipper = Shipper::start(cfg).unwrap();
    shipper.submit((0..20).map(datum).collect());
    wait_until("batches held in memory", Duration::from_secs(10), || {
        shipper.stats().datums_in_memory == 20
    });
    let report = shipper.shutdown(Duration::from_millis(200));
    assert_eq!(
        (report.datums_spooled, report.stats.datums_dropped),
        (0, 20),
        "not reported as spooled: {report:?}"
    );
}
