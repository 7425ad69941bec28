//! The `logs` section: file collection (`logs_collected.files.collect_list`)
//! and the EMF listener (`metrics_collected.emf`), as the stock agent reads
//! them. Raw serde structs (unknown keys refused with their JSON path) and
//! their validation into [`LogsSection`].

use super::ConfigError;
use super::raw::RawRoleCredentials;
use crate::logs::timestamp::TimestampFormat;
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::time::Duration;

type Result<T, E = ConfigError> = std::result::Result<T, E>;

/// Default of `logs.force_flush_interval` (the stock agent's).
pub const DEFAULT_LOGS_FLUSH: Duration = Duration::from_secs(5);
/// Default of `log_stream_name` (stock: the instance id).
pub const DEFAULT_STREAM_TEMPLATE: &str = "{instance_id}";
/// Log group of EMF events without `_aws.LogGroupName` (stock agent's).
pub const DEFAULT_EMF_GROUP: &str = "emf/logs/default";
/// Default of `metrics_collected.emf.service_address`.
pub const DEFAULT_EMF_ADDRESS: &str = "127.0.0.1:25888";
/// CloudWatch Logs' retention values (PutRetentionPolicy).
pub const RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLogs {
    pub logs_collected: Option<RawLogsCollected>,
    pub metrics_collected: Option<RawLogsMetrics>,
    pub force_flush_interval: Option<u64>,
    pub log_stream_name: Option<String>,
    pub endpoint_override: Option<String>,
    pub credentials: Option<RawRoleCredentials>,
    pub concurrency: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLogsCollected {
    pub files: Option<RawFiles>,
    pub journald: Option<IgnoredAny>,
    pub windows_events: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFiles {
    pub collect_list: Vec<RawCollectEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCollectEntry {
    pub file_path: String,
    pub log_group_name: Option<String>,
    pub log_stream_name: Option<String>,
    pub timezone: Option<String>,
    pub timestamp_format: Option<String>,
    pub multi_line_start_pattern: Option<String>,
    pub encoding: Option<String>,
    pub filters: Option<Vec<RawFilter>>,
    pub retention_in_days: Option<i64>,
    pub auto_removal: Option<bool>,
    pub log_group_class: Option<String>,
    pub trim_timestamp: Option<bool>,
    pub publish_multi_logs: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFilter {
    #[serde(rename = "type")]
    pub kind: String,
    pub expression: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLogsMetrics {
    pub emf: Option<RawEmf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEmf {
    pub service_address: Option<String>,
}

/// The validated `logs` section.
#[derive(Debug, Clone)]
pub struct LogsSection {
    /// `force_flush_interval` (default 5 s): the longest an event waits in
    /// an open batch, and the quiet time after which a multi-line event is
    /// complete.
    pub force_flush_interval: Duration,
    pub endpoint_override: Option<String>,
    /// `log_stream_name` template for entries and EMF without their own.
    pub default_stream: String,
    pub files: Vec<FileCollect>,
    pub emf: Option<EmfConfig>,
}

/// One `collect_list` entry.
#[derive(Debug, Clone)]
pub struct FileCollect {
    /// `file_path`: a path or a glob (`*`, `?`, `[..]`, `**`).
    pub file_path: String,
    /// Template with placeholders; `None`: derived from each file's path.
    pub log_group_name: Option<String>,
    /// Template with placeholders.
    pub log_stream_name: String,
    pub timezone: LogTimezone,
    pub timestamp_format: Option<TimestampFormat>,
    pub multi_line_start: Option<MultiLineStart>,
    pub encoding: Encoding,
    /// Applied in order; an event must pass every one.
    pub filters: Vec<LogFilter>,
    pub retention_in_days: Option<u32>,
    pub auto_removal: bool,
    pub log_group_class: Option<String>,
    pub trim_timestamp: bool,
    /// Tail every file the glob matches, each in a stream named after it
    /// (`<stream>_<path>`); otherwise only the most recently modified one.
    pub publish_multi_logs: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTimezone {
    Local,
    Utc,
}

#[derive(Debug, Clone)]
pub enum MultiLineStart {
    Regex(regex_lite::Regex),
    /// `{timestamp_format}`: a line starts an event when it holds a time.
    TimestampFormat,
}

/// Source encodings; lines are converted to UTF-8, invalid bytes replaced
/// with U+FFFD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    /// ISO-8859-1: every byte is the code point of the same value.
    Latin1,
    /// Windows-1252: Latin-1 with printable characters in 0x80..0x9F.
    Windows1252,
    Ascii,
}

#[derive(Debug, Clone)]
pub struct LogFilter {
    pub include: bool,
    pub expression: regex_lite::Regex,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmfConfig {
    /// `host:port` for both TCP and UDP.
    pub service_address: String,
}

pub(crate) fn logs_section(
    raw: RawLogs,
    ignored: &mut Vec<(String, &'static str)>,
) -> Result<LogsSection> {
    if raw.credentials.is_some_and(|c| c.role_arn.is_some()) {
        return Err(super::validate::role_arn_refusal(
            "logs.credentials.role_arn",
        ));
    }
    if raw.concurrency.is_some() {
        ignored.push((
            "logs.concurrency".to_owned(),
            "one shipping thread sends batches in order",
        ));
    }
    let force_flush_interval = match raw.force_flush_interval {
        None => DEFAULT_LOGS_FLUSH,
        Some(s) if (1..=172_800).contains(&s) => Duration::from_secs(s),
        Some(s) => {
            return Err(ConfigError::invalid(
                "logs.force_flush_interval",
                format!("{s} is out of range: 1..=172800 seconds"),
            ));
        }
    };
    if let Some(url) = &raw.endpoint_override {
        super::validate::endpoint_url("logs.endpoint_override", url)?;
    }
    let default_stream = match raw.log_stream_name {
        Some(s) => {
            name_template("logs.log_stream_name", &s)?;
            s
        }
        None => DEFAULT_STREAM_TEMPLATE.to_owned(),
    };
    let mut files = Vec::new();
    if let Some(collected) = raw.logs_collected {
        for (present, name) in [
            (collected.journald.is_some(), "journald"),
            (collected.windows_events.is_some(), "windows_events"),
        ] {
            if present {
                return Err(ConfigError::invalid(
                    format!("logs.logs_collected.{name}"),
                    format!(
                        "the {name} collector is not supported by the Stratus agent (it tails \
                         files: use logs_collected.files)"
                    ),
                ));
            }
        }
        if let Some(f) = collected.files {
            for (i, entry) in f.collect_list.into_iter().enumerate() {
                let path = format!("logs.logs_collected.files.collect_list[{i}]");
                files.push(collect_entry(&path, entry, &default_stream, ignored)?);
            }
        }
    }
    let emf = match raw.metrics_collected.and_then(|m| m.emf) {
        Some(e) => {
            let service_address = e
                .service_address
                .unwrap_or_else(|| DEFAULT_EMF_ADDRESS.to_owned());
            let address = service_address
                .strip_prefix("tcp:")
                .or_else(|| service_address.strip_prefix("udp:"))
                .unwrap_or(&service_address)
                .trim_start_matches("//")
                .to_owned();
            if address.parse::<std::net::SocketAddr>().is_err() {
                return Err(ConfigError::invalid(
                    "logs.metrics_collected.emf.service_address",
                    format!("{service_address:?} is not ip:port (e.g. \"127.0.0.1:25888\")"),
                ));
            }
            Some(EmfConfig {
                service_address: address,
            })
        }
        None => None,
    };
    if files.is_empty() && emf.is_none() {
        return Err(ConfigError::invalid(
            "logs",
            "nothing to collect: add logs_collected.files.collect_list entries or \
             metrics_collected.emf",
        ));
    }
    Ok(LogsSection {
        force_flush_interval,
        endpoint_override: raw.endpoint_override,
        default_stream,
        files,
        emf,
    })
}

fn collect_entry(
    path: &str,
    raw: RawCollectEntry,
    default_stream: &str,
    ignored: &mut Vec<(String, &'static str)>,
) -> Result<FileCollect> {
    let at = |key: &str| format!("{path}.{key}");
    if raw.file_path.is_empty() || raw.file_path.len() > 4096 {
        return Err(ConfigError::invalid(
            at("file_path"),
            "must be 1..=4096 characters",
        ));
    }
    if !raw.file_path.starts_with('/') {
        return Err(ConfigError::invalid(
            at("file_path"),
            format!("{:?} must be an absolute path", raw.file_path),
        ));
    }
    if let Some(g) = &raw.log_group_name {
        name_template(&at("log_group_name"), g)?;
    }
    let log_stream_name = match raw.log_stream_name {
        Some(s) => {
            name_template(&at("log_stream_name"), &s)?;
            s
        }
        None => default_stream.to_owned(),
    };
    let timezone = match raw.timezone.as_deref() {
        None | Some("Local") | Some("LOCAL") | Some("local") => LogTimezone::Local,
        Some("UTC") | Some("utc") => LogTimezone::Utc,
        Some(other) => {
            return Err(ConfigError::invalid(
                at("timezone"),
                format!("{other:?}: expected \"Local\" or \"UTC\""),
            ));
        }
    };
    let timestamp_format = raw
        .timestamp_format
        .map(|f| {
            TimestampFormat::compile(&f)
                .map_err(|e| ConfigError::invalid(at("timestamp_format"), e))
        })
        .transpose()?;
    let multi_line_start = match raw.multi_line_start_pattern {
        None => None,
        Some(p) if p == "{timestamp_format}" => {
            if timestamp_format.is_none() {
                return Err(ConfigError::invalid(
                    at("multi_line_start_pattern"),
                    "{timestamp_format} needs a timestamp_format in the same entry",
                ));
            }
            Some(MultiLineStart::TimestampFormat)
        }
        Some(p) => Some(MultiLineStart::Regex(regex(
            &at("multi_line_start_pattern"),
            &p,
        )?)),
    };
    let encoding = match raw
        .encoding
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("utf-8" | "utf8") => Encoding::Utf8,
        Some("ascii" | "us-ascii") => Encoding::Ascii,
        Some("latin1" | "latin-1" | "iso-8859-1" | "iso8859-1" | "l1") => Encoding::Latin1,
        Some("windows-1252" | "cp1252") => Encoding::Windows1252,
        Some(other) => {
            return Err(ConfigError::invalid(
                at("encoding"),
                format!(
                    "{other:?} is not supported by the Stratus agent (supported: utf-8, ascii, \
                     iso-8859-1, windows-1252)"
                ),
            ));
        }
    };
    let mut filters = Vec::new();
    for (j, f) in raw.filters.unwrap_or_default().into_iter().enumerate() {
        let include = match f.kind.as_str() {
            "include" => true,
            "exclude" => false,
            other => {
                return Err(ConfigError::invalid(
                    format!("{path}.filters[{j}].type"),
                    format!("{other:?}: expected \"include\" or \"exclude\""),
                ));
            }
        };
        filters.push(LogFilter {
            include,
            expression: regex(&format!("{path}.filters[{j}].expression"), &f.expression)?,
        });
    }
    let retention_in_days = match raw.retention_in_days {
        // The stock agent's "never expire" values: no PutRetentionPolicy.
        None | Some(-1) | Some(0) => None,
        Some(d) => match u32::try_from(d).ok().filter(|d| RETENTION_DAYS.contains(d)) {
            Some(d) => Some(d),
            None => {
                return Err(ConfigError::invalid(
                    at("retention_in_days"),
                    format!(
                        "{d} is not a CloudWatch Logs retention (one of -1, {})",
                        RETENTION_DAYS
                            .iter()
                            .map(u32::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        },
    };
    let log_group_class = match raw.log_group_class.as_deref() {
        None | Some("") => None,
        Some(c) if c.eq_ignore_ascii_case("standard") => Some("STANDARD".to_owned()),
        Some(c) if c.eq_ignore_ascii_case("infrequent_access") => {
            Some("INFREQUENT_ACCESS".to_owned())
        }
        Some(other) => {
            return Err(ConfigError::invalid(
                at("log_group_class"),
                format!("{other:?}: expected \"STANDARD\" or \"INFREQUENT_ACCESS\""),
            ));
        }
    };
    let trim_timestamp = raw.trim_timestamp.unwrap_or(false);
    if trim_timestamp && timestamp_format.is_none() {
        ignored.push((at("trim_timestamp"), "no timestamp_format to trim"));
    }
    Ok(FileCollect {
        file_path: raw.file_path,
        log_group_name: raw.log_group_name,
        log_stream_name,
        timezone,
        timestamp_format,
        multi_line_start,
        encoding,
        filters,
        retention_in_days,
        auto_removal: raw.auto_removal.unwrap_or(false),
        log_group_class,
        trim_timestamp,
        publish_multi_logs: raw.publish_multi_logs.unwrap_or(false),
    })
}

fn regex(path: &str, pattern: &str) -> Result<regex_lite::Regex> {
    regex_lite::Regex::new(pattern)
        .map_err(|e| ConfigError::invalid(path, format!("{pattern:?} is not a valid regex: {e}")))
}

/// A group or stream name template: 1..=512 characters, no ':' or '*'
/// (CloudWatch Logs refuses both in stream names), placeholders known.
fn name_template(path: &str, value: &str) -> Result<()> {
    let n = value.chars().count();
    if n == 0 || n > 512 {
        return Err(ConfigError::invalid(
            path,
            format!("{value:?} must be 1..=512 characters long (is {n})"),
        ));
    }
    let mut rest = value;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        let name = &after[..close];
        if !crate::logs::placeholders::KNOWN.contains(&name) {
            return Err(ConfigError::invalid(
                path,
                format!(
                    "unknown placeholder {{{name}}} (known: {})",
                    crate::logs::placeholders::KNOWN
                        .iter()
                        .map(|k| format!("{{{k}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}
