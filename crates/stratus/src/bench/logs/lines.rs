//! Realistic log lines for the Logs benchmark: half nginx access lines in
//! the combined log format, half JSON application lines, 150–300 bytes
//! each, deterministic from a seed. Varied enough that compression and
//! scanning see something like production text, not one repeated line.
//!
//! The generator counts the lines a `{ $.latency_ms > 900 }` filter must
//! match, so the server's answer can be checked, not just timed.

use std::fmt::Write as _;

const METHODS: [&str; 5] = ["GET", "GET", "GET", "POST", "PUT"];
const PATHS: [&str; 10] = [
    "/api/v1/orders",
    "/api/v1/orders/{id}",
    "/api/v1/users/{id}/profile",
    "/api/v2/search?q=winter+boots&page={n}",
    "/static/js/app.{hex}.js",
    "/static/css/main.{hex}.css",
    "/checkout/cart",
    "/healthz",
    "/products/{id}/reviews?sort=recent",
    "/images/catalog/{id}/thumb-640x480.webp",
];
const STATUSES: [u16; 12] = [200, 200, 200, 200, 200, 200, 304, 301, 404, 401, 500, 502];
const REFERERS: [&str; 4] = [
    "-",
    "https://shop.example.com/",
    "https://www.google.com/",
    "https://shop.example.com/checkout/cart",
];
const AGENTS: [&str; 6] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
];
const SERVICES: [&str; 4] = ["checkout", "catalog", "accounts", "search"];
const MESSAGES: [&str; 8] = [
    "request completed",
    "cache miss, loading from database",
    "payment authorized",
    "retrying upstream call after timeout",
    "user session refreshed",
    "inventory reservation released",
    "slow query detected on orders table",
    "rate limit applied to client",
];

/// Which of the two shapes a line has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKind {
    Nginx,
    Json,
}

/// A deterministic stream of log lines.
pub struct LineGen {
    seed: u64,
    /// Lines so far whose JSON `latency_ms` is above 900.
    pub slow_json_lines: u64,
    /// The last second formatted, and its nginx and ISO renderings
    /// (formatting a date per line would dominate the generator's cost).
    cached_second: i64,
    nginx_time: String,
    iso_second: String,
}

impl LineGen {
    pub fn new(seed: u64) -> LineGen {
        LineGen {
            // xorshift must not start at zero.
            seed: seed | 1,
            slow_json_lines: 0,
            cached_second: i64::MIN,
            nginx_time: String::new(),
            iso_second: String::new(),
        }
    }

    fn next_u64(&mut self) -> u64 {
        // xorshift64*: cheap, deterministic, good enough for test data.
        self.seed ^= self.seed >> 12;
        self.seed ^= self.seed << 25;
        self.seed ^= self.seed >> 27;
        self.seed.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let i = self.below(items.len() as u64) as usize;
        // `below` is < len, so the index exists; the fallback is unreachable.
        items.get(i).unwrap_or(&items[0])
    }

    fn format_second(&mut self, timestamp_ms: i64) {
        let second = timestamp_ms.div_euclid(1000);
        if second == self.cached_second {
            return;
        }
        self.cached_second = second;
        let ts = jiff::Timestamp::from_second(second).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        // A Timestamp formats in UTC.
        self.nginx_time = ts.strftime("%d/%b/%Y:%H:%M:%S +0000").to_string();
        self.iso_second = ts.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    }

    /// Writes the next line (no newline) into `out`, replacing its contents.
    pub fn line(&mut self, timestamp_ms: i64, out: &mut String) -> LineKind {
        out.clear();
        self.format_second(timestamp_ms);
        if self.below(2) == 0 {
            self.nginx(out);
            LineKind::Nginx
        } else {
            self.json(timestamp_ms, out);
            LineKind::Json
        }
    }

    fn path(&mut self, out: &mut String) {
        let template = *self.pick(&PATHS);
        let id = 1000 + self.below(900_000);
        let hex = self.next_u64() & 0xffff_ffff;
        let n = 1 + self.below(40);
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            let _ = match &rest[open + 1..open + close] {
                "id" => write!(out, "{id}"),
                "hex" => write!(out, "{hex:08x}"),
                _ => write!(out, "{n}"),
            };
            rest = &rest[open + close + 1..];
        }
        out.push_str(rest);
    }

    fn nginx(&mut self, out: &mut String) {
        let ip = self.next_u64();
        let method = *self.pick(&METHODS);
        let _ = write!(
            out,
            "{}.{}.{}.{} - - [{}] \"{} ",
            10 + ip % 200,
            (ip >> 8) % 256,
            (ip >> 16) % 256,
            1 + (ip >> 24) % 254,
            self.nginx_time,
            method,
        );
        self.path(out);
        let status = *self.pick(&STATUSES);
        let bytes = if status == 304 {
            0
        } else {
            120 + self.below(48_000)
        };
        let referer = *self.pick(&REFERERS);
        let agent = *self.pick(&AGENTS);
        let _ = write!(
            out,
            " HTTP/1.1\" {status} {bytes} \"{referer}\" \"{agent}\""
        );
    }

    fn json(&mut self, timestamp_ms: i64, out: &mut String) {
        let roll = self.below(1000);
        let level = match roll {
            0..=49 => "error",
            50..=149 => "warn",
            _ => "info",
        };
        // 2 % of lines are slow (901–3000 ms); 0.5 % sit exactly on 900,
        // which `> 900` must not match; the rest are 1–899 ms.
        let latency = match self.below(1000) {
            0..=19 => 901 + self.below(2100),
            20..=24 => 900,
            _ => 1 + self.below(899),
        };
        if latency > 900 {
            self.slow_json_lines += 1;
        }
        let service = *self.pick(&SERVICES);
        let msg = *self.pick(&MESSAGES);
        let request_id = self.next_u64();
        let user = self.below(5_000_000);
        let _ = write!(
            out,
            "{{\"ts\":\"{}.{:03}Z\",\"level\":\"{level}\",\"service\":\"{service}\",\"msg\":\"{msg}\",\"latency_ms\":{latency},\"request_id\":\"{request_id:016x}\",\"user_id\":{user},\"path\":\"",
            self.iso_second,
            timestamp_ms.rem_euclid(1000),
        );
        self.path(out);
        out.push_str("\"}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stratus_logs::pattern::FilterPattern;

    fn sample(n: usize) -> (Vec<(LineKind, String)>, u64) {
        let mut g = LineGen::new(7);
        let mut buf = String::new();
        let t0 = 1_717_243_200_000; // 2024-06-01T12:00:00Z
        let lines = (0..n)
            .map(|i| {
                let kind = g.line(t0 + i as i64 * 37, &mut buf);
                (kind, buf.clone())
            })
            .collect();
        (lines, g.slow_json_lines)
    }

    #[test]
    fn lines_are_150_to_300_bytes_and_half_each_kind() {
        let (lines, _) = sample(20_000);
        for (_, l) in &lines {
            assert!((150..=300).contains(&l.len()), "{} bytes: {l}", l.len());
        }
        let json = lines.iter().filter(|(k, _)| *k == LineKind::Json).count();
        assert!(
            (9_000..11_000).contains(&json),
            "{json} JSON lines of 20000"
        );
    }

    #[test]
    fn nginx_lines_have_the_combined_format_fields() {
        let (lines, _) = sample(2_000);
        let (_, l) = lines
            .iter()
            .find(|(k, _)| *k == LineKind::Nginx)
            .expect("some nginx line");
        // host ident authuser [date] "request" status bytes "referer" "agent"
        let mut parts = l.splitn(4, ' ');
        let ip = parts.next().unwrap_or_default();
        assert_eq!(ip.split('.').filter(|o| o.parse::<u8>().is_ok()).count(), 4);
        assert_eq!(parts.next(), Some("-"));
        assert_eq!(parts.next(), Some("-"));
        let rest = parts.next().unwrap_or_default();
        assert!(rest.starts_with("[01/Jun/2024:12:00:"), "{rest}");
        let quoted: Vec<&str> = rest.split('"').collect();
        // [date] "request" status bytes "referer" "agent" → 7 pieces.
        assert_eq!(quoted.len(), 7, "{l}");
        assert!(quoted[1].ends_with(" HTTP/1.1"), "{l}");
        let status_bytes: Vec<&str> = quoted[2].split_whitespace().collect();
        assert_eq!(status_bytes.len(), 2, "{l}");
        assert!(status_bytes.iter().all(|v| v.parse::<u32>().is_ok()), "{l}");
    }

    #[test]
    fn json_lines_parse_with_the_documented_fields() {
        let (lines, _) = sample(2_000);
        for (_, l) in lines.iter().filter(|(k, _)| *k == LineKind::Json) {
            let v: serde_json::Value = serde_json::from_str(l).expect("valid JSON");
            assert!(
                v["ts"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("2024-06-01T12:0"))
            );
            assert!(matches!(
                v["level"].as_str(),
                Some("info" | "warn" | "error")
            ));
            assert!(v["msg"].is_string() && v["request_id"].is_string());
            assert!(
                v["latency_ms"]
                    .as_u64()
                    .is_some_and(|ms| (1..=3000).contains(&ms))
            );
        }
    }

    #[test]
    fn the_filter_patterns_of_the_scan_figure_match_what_the_generator_counted() {
        let (lines, slow) = sample(50_000);
        let needle = FilterPattern::parse("\"needle-that-never-appears\"").expect("pattern");
        assert_eq!(lines.iter().filter(|(_, l)| needle.matches(l)).count(), 0);
        let json = FilterPattern::parse("{ $.latency_ms > 900 }").expect("pattern");
        let matched = lines.iter().filter(|(_, l)| json.matches(l)).count() as u64;
        assert_eq!(matched, slow);
        // ~2 % of the ~25,000 JSON lines.
        assert!((300..700).contains(&slow), "{slow} slow lines");
    }

    #[test]
    fn the_same_seed_gives_the_same_lines() {
        let mut a = LineGen::new(3);
        let mut b = LineGen::new(3);
        let (mut x, mut y) = (String::new(), String::new());
        for i in 0..100 {
            a.line(i, &mut x);
            b.line(i, &mut y);
            assert_eq!(x, y);
        }
    }
}
