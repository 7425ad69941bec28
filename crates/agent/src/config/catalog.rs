//! What the config may name for each plugin: the collectors' field lists and
//! default units (owned by `collect`), and the published metric name.

/// Plugins this agent collects itself; `statsd` is configured separately.
pub use crate::collect::PLUGINS as HOST_PLUGINS;

/// Fields the collector for `plugin` can report (without the plugin prefix).
pub fn known_fields(plugin: &str) -> &'static [&'static str] {
    crate::collect::known_fields(plugin).unwrap_or(&[])
}

/// The CloudWatch unit the stock agent publishes for `plugin`'s `field`.
pub fn default_unit(plugin: &str, field: &str) -> &'static str {
    crate::collect::default_unit(plugin, field).unwrap_or("None")
}

/// The metric name the stock agent publishes for a field (`<plugin>_<field>`,
/// `procstat_lookup_pid_count`).
pub fn metric_name(plugin: &str, field: &str) -> String {
    crate::collect::metric_name(plugin, field)
}

/// Maps a configured measurement name (with or without the `<plugin>_`
/// prefix, or a full published name) to the collector's static field name.
pub fn resolve_field(plugin: &str, name: &str) -> Option<&'static str> {
    let fields = known_fields(plugin);
    let find = |n: &str| fields.iter().copied().find(|f| *f == n);
    if let Some(f) = find(name) {
        return Some(f);
    }
    if plugin == "procstat" && name == "procstat_lookup_pid_count" {
        return find("pid_count");
    }
    name.strip_prefix(plugin)
        .and_then(|rest| rest.strip_prefix('_'))
        .and_then(find)
}
