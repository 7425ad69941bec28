//! `stratus fsck`: prints what `stratus_tsdb::check` finds in a data
//! directory's metric storage and what `stratus_logs::store::check` finds in
//! its log store, and with `--repair` runs the same recovery as `stratus
//! server --recover` on both. The checking itself is library code.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use stratus_tsdb::check::{self, CheckReport};

#[derive(clap::Args)]
pub struct FsckArgs {
    /// The server's data directory (its metric storage is DIR/tsdb).
    #[arg(long, env = "STRATUS_DATA_DIR")]
    data_dir: PathBuf,
    /// Repair what was found: skip damaged WAL records (keeping every intact one),
    /// rebuild a damaged catalog (metrics: from the blocks; logs: from
    /// catalog.snap.prev and the WAL), set damaged blocks and log segment files
    /// aside. Each damaged file is copied to <name>.damaged-<unix-time> first.
    /// Stop the server first.
    #[arg(long)]
    repair: bool,
}

/// Exit status: 0 nothing damaged (after `--repair`: repaired), 1 damage found.
pub fn run(args: FsckArgs) -> anyhow::Result<i32> {
    let tsdb = args.data_dir.join("tsdb");
    anyhow::ensure!(
        tsdb.is_dir(),
        "{} is not a Stratus data directory (no tsdb/ in it)",
        args.data_dir.display()
    );
    let report = check::check(&tsdb).context("checking metric storage")?;
    print_report(&tsdb, &report);
    let meta_damaged = check_metadata_store(&args.data_dir);
    let logs = args.data_dir.join("logs");
    let logs_report = if logs.is_dir() {
        println!();
        println!("log store ({}):", logs.display());
        let r = stratus_logs::store::check(&logs).context("checking the log store")?;
        print_logs_report(&logs, &r);
        Some(r)
    } else {
        None
    };
    let logs_damaged = logs_report.as_ref().is_some_and(|r| r.damage_found());
    if !args.repair {
        return Ok(i32::from(
            report.damage_found() || meta_damaged || logs_damaged,
        ));
    }
    let logs_after = if logs_damaged {
        let done = stratus_logs::store::repair(&logs).context("repairing the log store")?;
        println!();
        println!("log store repair:");
        for line in done.lines() {
            println!("  {line}");
        }
        let after =
            stratus_logs::store::check(&logs).context("checking the log store after repair")?;
        println!();
        println!("log store after repair:");
        print_logs_report(&logs, &after);
        after.damage_found()
    } else {
        false
    };
    let done = check::repair(&tsdb).context("repairing metric storage")?;
    println!();
    println!("repair:");
    for t in &done.truncations {
        println!("  {t}");
    }
    for p in &done.kept_aside {
        println!("  kept a copy of a damaged file as {}", p.display());
    }
    for (p, why) in &done.blocks_set_aside {
        println!("  set damaged block aside as {} ({why})", p.display());
    }
    if done.series_rebuilt_from_blocks > 0 {
        println!(
            "  rebuilt {} series definitions from block keys",
            done.series_rebuilt_from_blocks
        );
    }
    if !done.orphaned_series.is_empty() {
        println!(
            "  {} series without a known key listed under namespace {}",
            done.orphaned_series.len(),
            stratus_tsdb::ORPHANED_NAMESPACE
        );
    }
    let after = check::check(&tsdb).context("checking metric storage after repair")?;
    println!();
    println!("after repair:");
    print_report(&tsdb, &after);
    Ok(i32::from(
        after.damage_found() || meta_damaged || logs_after,
    ))
}

fn print_logs_report(root: &Path, report: &stratus_logs::store::CheckReport) {
    use stratus_logs::store::FileKind;
    for f in &report.files {
        let shown = f.path.strip_prefix(root).unwrap_or(&f.path);
        let note = if f.kind == FileKind::PreviousCatalog
            && matches!(f.state, stratus_logs::store::FileState::Damaged { .. })
        {
            " (not used unless catalog.snap is damaged; rewritten at the next snapshot)"
        } else {
            ""
        };
        println!("logs/{}: {}{note}", shown.display(), f.state);
    }
    let damaged = report.files.iter().filter(|f| f.is_damage()).count();
    println!(
        "{} log store files checked, {damaged} damaged",
        report
            .files
            .iter()
            .filter(|f| f.kind != FileKind::KeptAside)
            .count()
    );
}

/// Checks `meta.redb` (alarms, topics, keys) with the server's own
/// [`verify_meta`](stratus_server::meta::verify_meta); true when it found
/// damage. `--repair` leaves it alone: `stratus server --recover-meta` is
/// the way out, since redb's repair may drop acknowledged changes.
fn check_metadata_store(data_dir: &Path) -> bool {
    use stratus_server::meta::{MetaError, verify_meta};
    let path = data_dir.join("meta.redb");
    if !path.exists() {
        println!("meta.redb: absent");
        return false;
    }
    match verify_meta(&path) {
        Ok(report) => {
            let records: u64 = report.tables.iter().map(|(_, n)| n).sum();
            println!(
                "meta.redb: ok ({} tables, {records} records, commit {}{})",
                report.tables.len(),
                report.commit,
                if report.dropped_incomplete_commit {
                    "; an incomplete, never acknowledged last commit is dropped"
                } else {
                    ""
                }
            );
            false
        }
        Err(MetaError::Damaged { reason, .. }) => {
            println!(
                "meta.redb: damaged ({reason}); restore it from a backup or start the server once with --recover-meta"
            );
            true
        }
        Err(e) => {
            println!("meta.redb: could not be checked: {e}");
            true
        }
    }
}

fn print_report(root: &Path, report: &CheckReport) {
    for f in &report.files {
        let shown = f.path.strip_prefix(root).unwrap_or(&f.path);
        println!("{}: {}", shown.display(), f.state);
    }
    let damaged = report
        .files
        .iter()
        .filter(|f| {
            !matches!(
                f.state,
                check::FileState::Ok
                    | check::FileState::TornTail { .. }
                    | check::FileState::KeptAside
            )
        })
        .count();
    println!(
        "{} files checked, {damaged} damaged",
        report
            .files
            .iter()
            .filter(|f| f.kind != check::FileKind::KeptAside)
            .count()
    );
}
