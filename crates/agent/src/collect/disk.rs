//! `disk`: every mount of `/proc/self/mounts` (under the proc root),
//! `statvfs`'d, mirroring telegraf `plugins/inputs/disk/disk.go` +
//! `plugins/inputs/system/ps.go` (`DiskUsage`) on gopsutil `disk.Usage`:
//! - `total = f_blocks * f_frsize` (includes root-reserved blocks);
//! - `free = f_bavail * f_frsize` (what non-root may still use);
//! - `used = (f_blocks - f_bfree) * f_frsize`;
//! - `used_percent = 100 * used / (used + free)` — exactly `df`'s Use%;
//! - `inodes_total = f_files`, `inodes_free = f_ffree`,
//!   `inodes_used = f_files - f_ffree`.
//!
//! Tags: `path` (mount point), `device` (source with `/dev/` removed, unless
//! `drop_device`), `fstype`. telegraf's `mode` tag is excluded by the stock
//! agent, so it is never produced. Selection: `resources` = mount points (`*`
//! or empty = all); `ignore_file_system_types` skips fstypes; filesystems
//! reporting 0 total blocks (proc, sysfs, cgroup…) are skipped like telegraf's
//! "Skip dummy filesystem" rule; tmpfs and other real-sized pseudo
//! filesystems are reported unless ignored, as the stock agent does.
//!
//! BLOCKING: `statvfs` on a hung network mount (dead NFS server) blocks in
//! the kernel. The runtime must run this collector on its own thread under
//! a timeout; the collector keeps no state that a stuck call could corrupt.

use std::io;
use std::path::PathBuf;

use super::{CollectError, Collector, FieldSet, PluginOptions, Reading, ResourceFilter, procfile};

/// One line of `/proc/self/mounts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub device: String,
    pub mount_point: String,
    pub fstype: String,
}

/// The `statvfs` numbers disk needs (block counts in `f_frsize` units).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FsStats {
    pub frsize: u64,
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
}

pub fn parse_mounts(text: &str) -> Vec<Mount> {
    let mut out: Vec<Mount> = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let (Some(device), Some(mount_point), Some(fstype)) =
            (words.next(), words.next(), words.next())
        else {
            continue;
        };
        let m = Mount {
            device: procfile::unescape_octal(device),
            mount_point: procfile::unescape_octal(mount_point),
            fstype: fstype.to_string(),
        };
        // The same filesystem mounted twice on one point (bind/rootfs
        // leftovers) would publish the same series twice.
        if !out.contains(&m) {
            out.push(m);
        }
    }
    out
}

/// The disk fields for one filesystem; `None` for a 0-sized (dummy) one.
pub fn usage_fields(s: &FsStats, fields: &FieldSet) -> Option<Vec<(&'static str, f64)>> {
    let total = s.blocks.saturating_mul(s.frsize);
    if total == 0 {
        return None;
    }
    let free = s.bavail.saturating_mul(s.frsize);
    let used = s.blocks.saturating_sub(s.bfree).saturating_mul(s.frsize);
    let used_percent = if used.saturating_add(free) > 0 {
        100.0 * used as f64 / (used as f64 + free as f64)
    } else {
        0.0
    };
    let mut out = Vec::new();
    fields.push(&mut out, "total", total as f64);
    fields.push(&mut out, "free", free as f64);
    fields.push(&mut out, "used", used as f64);
    fields.push(&mut out, "used_percent", used_percent);
    fields.push(&mut out, "inodes_total", s.files as f64);
    fields.push(&mut out, "inodes_free", s.ffree as f64);
    fields.push(
        &mut out,
        "inodes_used",
        s.files.saturating_sub(s.ffree) as f64,
    );
    Some(out)
}

/// `statvfs(2)` through rustix (no unsafe code in this crate).
pub fn statvfs(path: &str) -> io::Result<FsStats> {
    let s = rustix::fs::statvfs(path).map_err(io::Error::from)?;
    Ok(FsStats {
        frsize: s.f_frsize,
        blocks: s.f_blocks,
        bfree: s.f_bfree,
        bavail: s.f_bavail,
        files: s.f_files,
        ffree: s.f_ffree,
    })
}

/// Selection and tagging rules, separate from the syscalls so fixtures can
/// drive them.
#[derive(Debug, Clone)]
pub struct DiskSelection {
    pub mount_points: ResourceFilter,
    pub ignore_fstypes: Vec<String>,
    pub drop_device: bool,
    pub fields: FieldSet,
}

impl DiskSelection {
    pub fn from_options(opts: &PluginOptions) -> Self {
        DiskSelection {
            mount_points: ResourceFilter::new(&opts.resources),
            ignore_fstypes: opts.ignore_file_system_types.clone(),
            drop_device: opts.drop_device,
            fields: FieldSet::new(&opts.fields),
        }
    }

    /// Readings for `mounts`, asking `stat` for each selected mount point.
    /// Mounts whose stat fails (permission, vanished) are skipped, as
    /// telegraf does.
    pub fn readings(
        &self,
        mounts: &[Mount],
        mut stat: impl FnMut(&str) -> io::Result<FsStats>,
    ) -> Vec<Reading> {
        let mut out = Vec::new();
        for m in mounts {
            if !self.mount_points.matches(&m.mount_point) {
                continue;
            }
            if self.ignore_fstypes.contains(&m.fstype) {
                continue;
            }
            let Ok(stats) = stat(&m.mount_point) else {
                continue;
            };
            let Some(fields) = usage_fields(&stats, &self.fields) else {
                continue;
            };
            let mut tags = Vec::with_capacity(3);
            if !self.drop_device {
                tags.push(("device".to_string(), m.device.replace("/dev/", "")));
            }
            tags.push(("fstype".to_string(), m.fstype.clone()));
            tags.push(("path".to_string(), m.mount_point.clone()));
            out.push(Reading { tags, fields });
        }
        out
    }
}

pub struct DiskCollector {
    mounts_path: PathBuf,
    selection: DiskSelection,
}

impl DiskCollector {
    pub fn new(opts: &PluginOptions) -> Self {
        DiskCollector {
            mounts_path: opts.roots.proc.join("self/mounts"),
            selection: DiskSelection::from_options(opts),
        }
    }
}

impl Collector for DiskCollector {
    fn collect(&mut self) -> Result<Vec<Reading>, CollectError> {
        let mounts = parse_mounts(&procfile::read(&self.mounts_path)?);
        Ok(self.selection.readings(&mounts, statvfs))
    }
}
