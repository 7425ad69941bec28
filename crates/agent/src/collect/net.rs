//! `net`: `/proc/net/dev` per interface, mirroring telegraf
//! `plugins/inputs/net/net.go` on gopsutil `net.IOCounters`, with the stock
//! agent's `cumulativetodelta` processor applied (all fields are deltas):
//! - `bytes_recv` (col 1), `packets_recv` (2), `err_in` (3), `drop_in` (4);
//! - `bytes_sent` (col 9), `packets_sent` (10), `err_out` (11), `drop_out` (12).
//!
//! Interface selection (telegraf): with no `resources` (or `*`), every
//! interface except loopbacks; interfaces that are down are skipped; a
//! loopback is reported only when `resources` names it. Flags come from
//! `/sys/class/net/<if>/flags` (IFF_UP 0x1, IFF_LOOPBACK 0x8); when that file
//! is missing the interface is taken as up, and `lo` as the loopback.

use std::path::PathBuf;

use super::counter::CounterHistory;
use super::{CollectError, Collector, FieldSet, PluginOptions, Reading, ResourceFilter, procfile};

const IFF_UP: u64 = 0x1;
const IFF_LOOPBACK: u64 = 0x8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetDev {
    pub interface: String,
    /// In `COUNTER_FIELDS` order.
    pub counters: [u64; 8],
}

const COUNTER_FIELDS: [&str; 8] = [
    "bytes_recv",
    "packets_recv",
    "err_in",
    "drop_in",
    "bytes_sent",
    "packets_sent",
    "err_out",
    "drop_out",
];

pub fn parse_net_dev(text: &str) -> Vec<NetDev> {
    text.lines()
        .filter_map(|line| {
            let (name, rest) = line.split_once(':')?;
            let w: Vec<u64> = rest
                .split_whitespace()
                .map(|x| x.parse().ok())
                .collect::<Option<Vec<u64>>>()?;
            if w.len() < 16 {
                return None;
            }
            Some(NetDev {
                interface: name.trim().to_string(),
                counters: [w[0], w[1], w[2], w[3], w[8], w[9], w[10], w[11]],
            })
        })
        .collect()
}

pub struct NetCollector {
    dev_path: PathBuf,
    sys_net: PathBuf,
    interfaces: ResourceFilter,
    fields: FieldSet,
    history: CounterHistory,
}

impl NetCollector {
    pub fn new(opts: &PluginOptions) -> Self {
        NetCollector {
            dev_path: opts.roots.proc.join("net/dev"),
            sys_net: opts.roots.sys.join("class/net"),
            interfaces: ResourceFilter::new(&opts.resources),
            fields: FieldSet::new(&opts.fields),
            history: CounterHistory::default(),
        }
    }

    /// `(up, loopback)` for an interface.
    fn flags(&self, interface: &str) -> (bool, bool) {
        let path = self.sys_net.join(interface).join("flags");
        let parsed = procfile::read_bytes(&path).ok().and_then(|raw| {
            let s = String::from_utf8_lossy(&raw);
            let s = s.trim();
            u64::from_str_radix(s.strip_prefix("0x").unwrap_or(s), 16).ok()
        });
        match parsed {
            Some(f) => (f & IFF_UP != 0, f & IFF_LOOPBACK != 0),
            None => (true, interface == "lo"),
        }
    }

    fn selected(&self, interface: &str) -> bool {
        let (up, loopback) = self.flags(interface);
        if !up {
            return false;
        }
        if self.interfaces.is_all() {
            !loopback
        } else {
            self.interfaces.is_listed(interface)
        }
    }

    /// One round from `/proc/net/dev` text.
    pub fn collect_from(&mut self, text: &str) -> Vec<Reading> {
        let mut out = Vec::new();
        for d in parse_net_dev(text) {
            if !self.selected(&d.interface) {
                continue;
            }
            let deltas = self.history.deltas(&d.interface, &d.counters);
            let mut fields = Vec::new();
            for (field, delta) in COUNTER_FIELDS.iter().zip(deltas) {
                if let Some(delta) = delta {
                    self.fields.push(&mut fields, field, delta as f64);
                }
            }
            if !fields.is_empty() {
                out.push(Reading {
                    tags: vec![("interface".to_string(), d.interface)],
                    fields,
                });
            }
        }
        self.history.finish_round();
        out
    }
}

impl Collector for NetCollector {
    fn may_block(&self) -> bool {
        false
    }

    fn collect(&mut self) -> Result<Vec<Reading>, CollectError> {
        let text = procfile::read(&self.dev_path)?;
        Ok(self.collect_from(&text))
    }
}
