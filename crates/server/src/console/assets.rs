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
    asset!("pages.js", "text/javascript; charset=utf-8"),
    asset!("alarms.js", "text/javascript; charset=utf-8"),
    asset!("admin.js", "text/javascript; charset=utf-8"),
    asset!("dashboards.js", "text/javascript; charset=utf-8"),
    asset!("login.js", "text/javascript; charset=utf-8"),
    asset!("uPlot.iife.min.js", "text/javascript; charset=utf-8"),
    asset!("uPlot.min.css", "text/css; charset=utf-8"),
    asset!("LICENSE-uPlot.txt", "text/plain; charset=utf-8"),
];

pub fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

static GZIPPED: OnceLock<Vec<Vec<u8>>> = OnceLock::new();

impl Asset {
    /// The gzip-compressed body (computed once for all assets).
    pub fn gzipped(&self) -> &'static [u8] {
        let all = GZIPPED.get_or_init(|| {
            ASSETS
                .iter()
                .map(|a| {
                    let mut gz =
                        flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                    // Writing to a Vec cannot fail.
                    let _ = gz.write_all(a.body);
                    gz.finish().unwrap_or_default()
                })
                .collect()
        });
        let i = ASSETS
            .iter()
            .position(|a| std::ptr::eq(a, self))
            .unwrap_or(0);
        &all[i]
    }

    /// A strong validator: the body's SHA-256 prefix.
    pub fn etag(&self) -> String {
        use sha2::Digest as _;
        let d = sha2::Sha256::digest(self.body);
        format!("\"{}\"", hex::encode(&d[..12]))
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
