//! `stratus bench alarms`: a server child with N alarms (period 60 s), each on
//! its own series, all created through PutMetricAlarm. Measures the creation
//! rate, then two whole evaluation rounds — one where every alarm transitions
//! (INSUFFICIENT_DATA → OK, so every alarm's change is written) and one where
//! none does (the steady state) — as the server's CPU time (from
//! /proc/<pid>/stat) and the round's wall time (from the scheduler's debug
//! log line). Then, on the same loaded server, the latency from an alarm's
//! transition (and from the PutMetricData that caused it) to a local SMTP
//! sink accepting the notification email of a confirmed subscription.

use super::smtp_sink::SmtpSink;
use super::{AlarmsArgs, Client, ServerProc, Wire, encode, proc_sample, s, st, tempdir};
use anyhow::{Context as _, bail};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime};
use stratus_model::Timestamp;
use stratus_proto::Document;

const NAMESPACE: &str = "StratusBench";
const ADDRESS: &str = "ops@example.com";
const LATENCY_ALARM: &str = "bench-latency";
/// Linux USER_HZ: /proc/<pid>/stat counts CPU time in these.
const TICKS_PER_S: f64 = 100.0;
/// The target for one round of 100,000 alarms on the 2-core machine.
const ROUND_TARGET_CPU_S: f64 = 2.0;
const LATENCY_TARGET_S: f64 = 1.0;

pub fn run(args: &AlarmsArgs) -> anyhow::Result<()> {
    let n = args.alarms;
    println!(
        "\n== alarms: {n} alarms (period 60 s, 1 evaluation period) on {n} series, created through PutMetricAlarm over {} connections; server fsync on",
        args.connections
    );
    let sink = SmtpSink::start()?;
    let tmp = tempdir()?;
    let (tx, log) = std::sync::mpsc::channel();
    let smtp = format!("smtp://127.0.0.1:{}", sink.port);
    let server = ServerProc::start_with(
        &tmp,
        true,
        &[
            ("STRATUS_SMTP_URL", smtp.as_str()),
            (
                "STRATUS_LOG",
                "warn,stratus_server::alarms::scheduler=debug",
            ),
        ],
        Some(tx),
    )?;
    let client = Client::new(&server.endpoint);

    // One series per alarm, an hour old: the alarms find no data in their
    // range until the rounds below put some.
    let t0 = Instant::now();
    put_series(
        args,
        &server.endpoint,
        Timestamp::now().millis() - 3_600_000,
        10.0,
    )?;
    println!(
        "  series:   {n} datapoints put in {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    let before = proc_sample(server.pid());
    let t0 = Instant::now();
    create_alarms(args, &server.endpoint)?;
    let took = t0.elapsed().as_secs_f64();
    let after = proc_sample(server.pid());
    println!(
        "  create:   {n} PutMetricAlarm in {took:.1} s = {:.0} alarms/s; server CPU {:.1} s ({:.0} µs/alarm, includes evaluating each new alarm once); RSS {:.0} MiB",
        n as f64 / took,
        cpu_s(before.cpu_ticks, after.cpu_ticks),
        cpu_s(before.cpu_ticks, after.cpu_ticks) * 1e6 / n as f64,
        after.rss_kib as f64 / 1024.0
    );

    for (label, value) in [
        ("round with every alarm INSUFFICIENT_DATA → OK", 10.0),
        ("steady round, no alarm changes", 12.0),
    ] {
        let r = measure_round(args, &server, &log, value)?;
        println!(
            "  {label:<46} evaluated {} changed {}: wall {:.2} s, server CPU {:.2} s ({:.2}× the {ROUND_TARGET_CPU_S} s target{})",
            r.evaluated,
            r.changed,
            r.wall_s,
            r.cpu_s,
            r.cpu_s / ROUND_TARGET_CPU_S,
            if n == 100_000 {
                ""
            } else {
                ", which is for 100,000 alarms"
            }
        );
    }
    let rss = proc_sample(server.pid()).rss_kib as f64 / 1024.0;
    println!("  server RSS with {n} alarms: {rss:.0} MiB");

    latency(&client, &sink)?;
    server.stop()?;
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}

fn cpu_s(before: u64, after: u64) -> f64 {
    after.saturating_sub(before) as f64 / TICKS_PER_S
}

fn dimensions(i: usize) -> Document {
    Document::List(vec![st(vec![
        ("Name", s("Host")),
        ("Value", s(&format!("host-{i:06}"))),
    ])])
}

/// Runs `work(i)` for i in 0..n over `connections` threads, each with its own client.
fn parallel(
    endpoint: &str,
    connections: usize,
    n: usize,
    work: impl Fn(&Client, std::ops::Range<usize>) -> anyhow::Result<()> + Sync,
) -> anyhow::Result<()> {
    let per = n.div_ceil(connections.max(1)).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .step_by(per)
            .map(|lo| {
                let work = &work;
                scope.spawn(move || work(&Client::new(endpoint), lo..(lo + per).min(n)))
            })
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .map_err(|_| anyhow::anyhow!("client thread panicked"))?
        })
    })
}

/// One datapoint at `ts_ms` on every alarm's series, 1000 per request.
fn put_series(args: &AlarmsArgs, endpoint: &str, ts_ms: i64, value: f64) -> anyhow::Result<()> {
    parallel(endpoint, args.connections, args.alarms, |client, range| {
        let ids: Vec<usize> = range.collect();
        for chunk in ids.chunks(1000) {
            let data = chunk
                .iter()
                .map(|&i| {
                    st(vec![
                        ("MetricName", s("load")),
                        ("Dimensions", dimensions(i)),
                        (
                            "Timestamp",
                            Document::Timestamp(Timestamp::from_millis(ts_ms)),
                        ),
                        ("Value", Document::Float(value)),
                        ("Unit", s("Percent")),
                    ])
                })
                .collect();
            let body = encode(
                Wire::Cbor,
                &st(vec![
                    ("Namespace", s(NAMESPACE)),
                    ("MetricData", Document::List(data)),
                ]),
            );
            client.call(Wire::Cbor, "PutMetricData", &body)?;
        }
        Ok(())
    })
}

fn create_alarms(args: &AlarmsArgs, endpoint: &str) -> anyhow::Result<()> {
    parallel(endpoint, args.connections, args.alarms, |client, range| {
        for i in range {
            let body = encode(
                Wire::Cbor,
                &st(vec![
                    ("AlarmName", s(&format!("bench-{i:06}"))),
                    ("Namespace", s(NAMESPACE)),
                    ("MetricName", s("load")),
                    ("Dimensions", dimensions(i)),
                    ("Statistic", s("Average")),
                    ("Period", Document::Int(60)),
                    ("EvaluationPeriods", Document::Int(1)),
                    ("Threshold", Document::Float(50.0)),
                    ("ComparisonOperator", s("GreaterThanOrEqualToThreshold")),
                ]),
            );
            client.call(Wire::Cbor, "PutMetricAlarm", &body)?;
        }
        Ok(())
    })
}

struct Round {
    evaluated: usize,
    changed: usize,
    wall_s: f64,
    cpu_s: f64,
}

/// Puts a datapoint in the current minute on every series, then measures
/// the round 10 s after the minute ends, which evaluates that minute.
fn measure_round(
    args: &AlarmsArgs,
    server: &ServerProc,
    log: &Receiver<String>,
    value: f64,
) -> anyhow::Result<Round> {
    let mut now = Timestamp::now().millis();
    if 60_000 - now.rem_euclid(60_000) < 20_000 {
        // Too little of this minute left to put everything in it.
        sleep_until(now - now.rem_euclid(60_000) + 61_000);
        now = Timestamp::now().millis();
    }
    let minute_end = now - now.rem_euclid(60_000) + 60_000;
    put_series(args, &server.endpoint, now, value)?;
    if Timestamp::now().millis() >= minute_end {
        bail!("putting the datapoints took past the end of the minute; use fewer --alarms");
    }
    let due = minute_end + 10_000;
    sleep_until(due - 500);
    while log.try_recv().is_ok() {} // earlier passes
    let before = proc_sample(server.pid());
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let line = match log.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(l) => l,
            Err(RecvTimeoutError::Timeout) => bail!("no alarm round within 300 s"),
            Err(RecvTimeoutError::Disconnected) => bail!("the server exited"),
        };
        let line = strip_ansi(&line);
        if !line.contains("alarm scheduler pass") {
            continue;
        }
        let field = |name: &str| -> Option<f64> {
            let rest = line.split(&format!("{name}=")).nth(1)?;
            rest.split_whitespace().next()?.parse().ok()
        };
        let evaluated = field("evaluated").unwrap_or(0.0) as usize;
        if evaluated < args.alarms {
            continue; // not the round (e.g. a late alarm of the previous step)
        }
        let after = proc_sample(server.pid());
        return Ok(Round {
            evaluated,
            changed: field("changed").unwrap_or(0.0) as usize,
            wall_s: field("elapsed_ms").unwrap_or(0.0) / 1000.0,
            cpu_s: cpu_s(before.cpu_ticks, after.cpu_ticks),
        });
    }
}

fn sleep_until(ms: i64) {
    let left = ms - Timestamp::now().millis();
    if left > 0 {
        std::thread::sleep(Duration::from_millis(left as u64));
    }
}

/// Log lines may carry ANSI colour codes around field names.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------- latency

fn form_encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An SNS Query-protocol call; returns the XML answer.
fn sns(client: &Client, action: &str, params: &[(&str, &str)]) -> anyhow::Result<String> {
    let mut form = format!("Action={action}&Version=2010-03-31");
    for (k, v) in params {
        form.push_str(&format!("&{k}={}", form_encode(v)));
    }
    let headers = [
        (
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        ),
        ("host", client.host.as_str()),
    ];
    let req = crate::client::signed_post(
        &client.agent,
        &client.endpoint,
        "/",
        &headers,
        form.as_bytes(),
        &client.creds,
        "us-east-1",
        "sns",
    );
    let mut resp = req.send(form.as_bytes())?;
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string()?;
    if status != 200 {
        bail!("SNS {action} answered {status}: {text}");
    }
    Ok(text)
}

fn xml_field<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let len = xml[start..].find(&format!("</{tag}>"))?;
    Some(&xml[start..start + len])
}

/// The alarm's StateUpdatedTimestamp (JSON protocol: epoch seconds).
fn state_updated(client: &Client, name: &str) -> anyhow::Result<SystemTime> {
    let body = encode(
        Wire::Json,
        &st(vec![("AlarmNames", Document::List(vec![s(name)]))]),
    );
    let out: serde_json::Value =
        serde_json::from_slice(&client.call(Wire::Json, "DescribeAlarms", &body)?)?;
    let secs = out["MetricAlarms"][0]["StateUpdatedTimestamp"]
        .as_f64()
        .context("DescribeAlarms without StateUpdatedTimestamp")?;
    Ok(SystemTime::UNIX_EPOCH + Duration::from_secs_f64(secs))
}

fn secs_between(from: SystemTime, to: SystemTime) -> f64 {
    match to.duration_since(from) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

fn latency(client: &Client, sink: &SmtpSink) -> anyhow::Result<()> {
    println!(
        "  latency: alarm {LATENCY_ALARM} (period 10 s, evaluated 2 s after each 10 s boundary) → SNS topic → confirmed email subscription → local SMTP sink; on the loaded server"
    );
    let created = sns(client, "CreateTopic", &[("Name", "bench-alerts")])?;
    let topic = xml_field(&created, "TopicArn")
        .context("CreateTopic without TopicArn")?
        .to_string();
    let since = SystemTime::now();
    sns(
        client,
        "Subscribe",
        &[
            ("TopicArn", &topic),
            ("Protocol", "email"),
            ("Endpoint", ADDRESS),
        ],
    )?;
    let mail = sink
        .wait_for(
            ADDRESS,
            "AWS Notification - Subscription Confirmation",
            since,
            Duration::from_secs(60),
        )
        .context("no confirmation email within 60 s")?;
    let text = mail.text();
    let link = text
        .split_whitespace()
        .find(|w| w.starts_with("http") && w.contains("confirmation.html?"))
        .context("no confirmation link in the email")?;
    let mut resp = client.agent.get(link).call()?;
    let page = resp.body_mut().read_to_string()?;
    if !page.contains("Subscription confirmed!") {
        bail!("confirming the subscription failed: {page}");
    }
    let body = encode(
        Wire::Cbor,
        &st(vec![
            ("AlarmName", s(LATENCY_ALARM)),
            ("Namespace", s(NAMESPACE)),
            ("MetricName", s("latency")),
            ("Statistic", s("Maximum")),
            ("Period", Document::Int(10)),
            ("EvaluationPeriods", Document::Int(1)),
            ("Threshold", Document::Float(50.0)),
            ("ComparisonOperator", s("GreaterThanOrEqualToThreshold")),
            // Periods without data keep the state, so only our datapoints flip it.
            ("TreatMissingData", s("ignore")),
            ("AlarmActions", Document::List(vec![s(&topic)])),
            ("OKActions", Document::List(vec![s(&topic)])),
        ]),
    );
    client.call(Wire::Cbor, "PutMetricAlarm", &body)?;
    let mut from_eval = Vec::new();
    let mut from_put = Vec::new();
    for trial in 0..4 {
        let (value, state) = if trial % 2 == 0 {
            (75.0, "ALARM")
        } else {
            (25.0, "OK")
        };
        // Different offsets into the 10 s period: (b) depends on it.
        std::thread::sleep(Duration::from_millis(2_500 * trial));
        let put_at = SystemTime::now();
        let body = encode(
            Wire::Cbor,
            &st(vec![
                ("Namespace", s(NAMESPACE)),
                (
                    "MetricData",
                    Document::List(vec![st(vec![
                        ("MetricName", s("latency")),
                        ("Timestamp", Document::Timestamp(Timestamp::now())),
                        ("Value", Document::Float(value)),
                        ("StorageResolution", Document::Int(1)),
                    ])]),
                ),
            ]),
        );
        client.call(Wire::Cbor, "PutMetricData", &body)?;
        let subject = format!("{state}: \"{LATENCY_ALARM}\"");
        let mail = sink
            .wait_for(ADDRESS, &subject, put_at, Duration::from_secs(120))
            .with_context(|| format!("no {state} email within 120 s"))?;
        let flipped = state_updated(client, LATENCY_ALARM)?;
        let a = secs_between(flipped, mail.at);
        let b = secs_between(put_at, mail.at);
        println!(
            "    → {state:<5} (a) transition → SMTP accepted {:>7.1} ms   (b) PutMetricData → SMTP accepted {:>6.2} s",
            a * 1000.0,
            b
        );
        from_eval.push(a);
        from_put.push(b);
    }
    let worst = from_eval.iter().copied().fold(0.0, f64::max);
    println!(
        "  latency: (a) worst {:.1} ms ({:.3}× the {LATENCY_TARGET_S} s target); (b) {:.2}–{:.2} s, dominated by waiting for the 10 s period to close + 2 s for late data",
        worst * 1000.0,
        worst / LATENCY_TARGET_S,
        from_put.iter().copied().fold(f64::MAX, f64::min),
        from_put.iter().copied().fold(0.0, f64::max),
    );
    Ok(())
}
