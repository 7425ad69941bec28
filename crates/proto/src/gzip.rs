//! `Content-Encoding: gzip` request bodies, with a zip-bomb guard.

use flate2::read::MultiGzDecoder;
use std::io::Read;
use stratus_model::{ApiError, ErrorCode};

/// Inflates a gzip body, refusing to produce more than `max_inflated` bytes
/// (`RequestEntityTooLarge`); corrupt data is `MalformedInput`.
pub fn inflate_gzip(body: &[u8], max_inflated: usize) -> Result<Vec<u8>, ApiError> {
    // A typical metric payload compresses ~10x; start there, within the cap.
    let mut out = Vec::with_capacity(body.len().saturating_mul(10).min(max_inflated));
    let limit = u64::try_from(max_inflated)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    MultiGzDecoder::new(body)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| {
            ApiError::new(
                ErrorCode::MalformedInput,
                format!("Request body is not valid gzip: {e}"),
            )
        })?;
    if out.len() > max_inflated {
        return Err(ApiError::new(
            ErrorCode::RequestEntityTooLarge,
            format!("Request body inflates to more than {max_inflated} bytes."),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        let _ = enc.write_all(data);
        enc.finish().unwrap_or_default()
    }

    #[test]
    fn inflates_within_the_cap() {
        let body = gzip(b"Action=PutMetricData");
        assert_eq!(
            inflate_gzip(&body, 100).ok().as_deref(),
            Some(&b"Action=PutMetricData"[..])
        );
        assert_eq!(inflate_gzip(&body, 20).map(|v| v.len()).ok(), Some(20));
    }

    #[test]
    fn refuses_bombs_and_garbage() {
        let bomb = gzip(&vec![0u8; 10_000_000]);
        assert!(bomb.len() < 20_000);
        let err = inflate_gzip(&bomb, 1_000_000).expect_err("bomb");
        assert_eq!(err.code, ErrorCode::RequestEntityTooLarge);
        let err = inflate_gzip(b"not gzip", 1_000).expect_err("garbage");
        assert_eq!(err.code, ErrorCode::MalformedInput);
        let body = gzip(b"hello");
        assert!(inflate_gzip(&body[..body.len() - 4], 1_000).is_err());
    }
}
