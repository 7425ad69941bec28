//! The console's static files, embedded in the binary (no build step, no
//! CDN): HTML, CSS, the ES modules and the vendored uPlot with its licence.
//! Each is gzip-compressed once, on first use, and served compressed to
//! browsers that accept it.

use std::io::Write as _;
use std::sync::OnceLock;

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $ct:literal) => {
        Asset {
            name: $name,
            content_type: $ct,
            body: include_bytes!(concat!("../../console-assets/", $name)),
        }
    };
}

/// Every file under `/console/assets/`, plus the two HTML shells.
pub static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("login.html", "text/html; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("dom.js", "text/javascript; charset=utf-8"),
    asset!("chart.js", "text/javascript; charset=utf-8"),
    asset!("chart.css", "text/css; charset=utf-8"),
    asset!("units.js", "text/javascript; charset=utf-8"),
    asset!("time.js", "text/javascript; charset=utf-8"),
    asset!("charttable.js", "text/javascript; charset=utf-8"),
    asset!("pages.js", "text/javascript; charset=utf-8"),
    asset!("metrics.js", "text/javascript; charset=utf-8"),
    asset!("dashadd.js", "text/javascript; charset=utf-8"),
    asset!("metrics.css", "text/css; charset=utf-8"),
    asset!("alarms.js", "text/javascript; charset=utf-8"),
    asset!("admin.js", "text/javascript; charset=utf-8"),
    asset!("dashboards.js", "text/javascript; charset=utf-8"),
    asset!("markdown.js", "text/javascript; charset=utf-8"),
    asset!("dashgrid.js", "text/javascript; charset=utf-8"),
    asset!("dashboards.css", "text/css; charset=utf-8"),
    asset!("logs.js", "text/javascript; charset=utf-8"),
    asset!("streams.js", "text/javascript; charset=utf-8"),
    asset!("contributors.js", "text/javascript; charset=utf-8"),
    asset!("login.js", "text/javascript; charset=utf-8"),
    asset!("uPlot.iife.min.js", "text/javascript; charset=utf-8"),
    asset!("uPlot.min.css", "text/css; charset=utf-8"),
    asset!("LICENSE-uPlot.txt", "text/plain; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
];

pub fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// Per asset, computed once: the gzip'd body and the ETag.
static DERIVED: OnceLock<Vec<(Vec<u8>, String)>> = OnceLock::new();

fn derived() -> &'static [(Vec<u8>, String)] {
    DERIVED.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                // Writing to a Vec cannot fail.
                let _ = gz.write_all(a.body);
                let gzipped = gz.finish().unwrap_or_default();
                use sha2::Digest as _;
                let etag = format!("\"{}\"", hex::encode(&sha2::Sha256::digest(a.body)[..12]));
                (gzipped, etag)
            })
            .collect()
    })
}

impl Asset {
    fn derived(&self) -> &'static (Vec<u8>, String) {
        let i = ASSETS
            .iter()
            .position(|a| std::ptr::eq(a, self))
            .unwrap_or(0);
        &derived()[i]
    }

    /// The gzip-compressed body.
    pub fn gzipped(&self) -> &'static [u8] {
        &self.derived().0
    }

    /// A strong validator: the body's SHA-256 prefix, quoted.
    pub fn etag(&self) -> &'static str {
        &self.derived().1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_present_and_compresses() {
        for a in ASSETS {
            assert!(!a.body.is_empty(), "{} is empty", a.name);
            let gz = a.gzipped();
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut out).unwrap();
            assert_eq!(out, a.body, "{}", a.name);
        }
        assert!(find("app.js").is_some());
        assert!(find("../Cargo.toml").is_none());
    }
}
