//! Contributor Insights: rules that find the top contributors (by key
//! values) among the events of log groups. [`rule`] parses and validates a
//! rule definition, [`eval`] applies it to one event, [`report`] aggregates
//! what matched into periods and ranked contributors. Pure: the server
//! scans the store and feeds events in.

pub mod eval;
pub mod report;
pub mod rule;

#[cfg(test)]
mod tests;

pub use eval::Observation;
pub use report::{Accumulator, OrderBy, Report};
pub use rule::{Rule, RuleError};

/// Fuzz harness: parse arbitrary bytes as a definition and, if it parses,
/// apply it to a few events and the input itself. Must never panic.
pub fn fuzz_rule(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(rule) = Rule::parse(text) else {
        return;
    };
    const MESSAGES: &[&str] = &[
        "",
        r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534"#,
        r#"{"ip":"10.0.0.1","status":200,"bytes":"12","a":{"b":[1,{"c":"x"}]},"f":true,"n":null}"#,
        "\"unterminated [bracket",
    ];
    let mut acc = Accumulator::new(0, 10_000, 1000);
    for (i, message) in MESSAGES.iter().copied().chain([text]).enumerate() {
        let _ = rule.reads_group(message);
        if let Some(obs) = rule.observe(message) {
            assert_eq!(obs.keys.len(), rule.keys.len());
            acc.add(i as i64 * 1000, obs);
        }
    }
    let report = acc.finish(10, OrderBy::Maximum);
    assert_eq!(report.periods.len(), 10);
}
