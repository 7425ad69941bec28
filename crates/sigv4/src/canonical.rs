//! The canonical request: the one byte string both the signer and the verifier hash.
//!
//! Everything here is shared by [`crate::sign`] and [`crate::verify`], so a request we sign is
//! canonicalized exactly like a request we verify. The rules follow the non-S3 flavour of SigV4
//! as implemented by botocore and `aws-sigv4`: the path is normalized and URI-encoded a second
//! time, the query is decoded and re-encoded, header values are trimmed.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, percent_encode};

use crate::Request;

/// RFC 3986 unreserved characters stay literal; everything else is `%XX` (upper-case hex).
pub(crate) const QUERY_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Like the query set, but `/` separates path segments and must stay literal.
const PATH_ENCODE_SET: &AsciiSet = &QUERY_ENCODE_SET.remove(b'/');

/// The query parameter that carries a presigned request's signature; it cannot sign itself.
pub const PRESIGNED_SIGNATURE_PARAM: &str = "X-Amz-Signature";

/// How a literal `+` in the raw query string is read.
///
/// AWS SDKs never send a bare `+` (they encode it as `%2B`), but the two reference
/// implementations disagree on one: botocore signs it as a literal `+` (re-encoded `%2B`),
/// `aws-sigv4` reads it as a form-encoded space (`%20`). We sign with [`Literal`](Self::Literal)
/// and the verifier also accepts [`Space`](Self::Space).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlusInQuery {
    /// `+` is a plus sign.
    Literal,
    /// `+` is a space (`application/x-www-form-urlencoded` reading).
    Space,
}

/// Which parts of the query belong to the signature: all of it (header auth), or all but
/// `X-Amz-Signature` (presigned auth).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthLocation {
    /// Signature in the `Authorization` header.
    Header,
    /// Signature in the `X-Amz-Signature` query parameter.
    Query,
}

/// Canonical URI of a non-S3 service: remove dot segments and empty segments, then URI-encode
/// the (already once-encoded) path again, so `%3D` becomes `%253D`. An empty path is `/`.
pub fn canonical_uri(raw_path: &str) -> String {
    let normalized = normalize_path(raw_path);
    percent_encode(normalized.as_bytes(), PATH_ENCODE_SET).to_string()
}

/// RFC 3986 §5.2.4 dot-segment removal plus collapsing of `//`, as `aws-sigv4` does it
/// (which matches the official test suite's `*-normalized` cases).
fn normalize_path(raw_path: &str) -> String {
    if raw_path.is_empty() {
        return "/".to_owned();
    }
    let absolute = if raw_path.starts_with('/') {
        raw_path.to_owned()
    } else {
        format!("/{raw_path}")
    };
    if !absolute.contains('.') && !absolute.contains("//") {
        return absolute;
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in absolute.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut normalized = String::with_capacity(absolute.len());
    for segment in &segments {
        normalized.push('/');
        normalized.push_str(segment);
    }
    // "/a/b/", "/a/b/." and "/a/b/.." all name a directory: keep the trailing slash.
    let names_directory = ["/", "/.", "/..", "/./", "/../"]
        .iter()
        .any(|suffix| absolute.ends_with(suffix));
    if normalized.is_empty() || (names_directory && !normalized.ends_with('/')) {
        normalized.push('/');
    }
    normalized
}

/// Canonical query string: every `name=value` pair decoded, re-encoded with the unreserved set,
/// sorted by encoded name then encoded value, joined with `&`. A pair without `=` gets an empty
/// value; empty pairs (`a=1&&b=2`) are dropped. For presigned requests `X-Amz-Signature` is left
/// out.
pub fn canonical_query(raw_query: &str, location: AuthLocation, plus: PlusInQuery) -> String {
    let mut pairs: Vec<(String, String)> = query_pairs(raw_query, plus)
        .filter(|(name, _)| {
            !(location == AuthLocation::Query
                && name.as_slice() == PRESIGNED_SIGNATURE_PARAM.as_bytes())
        })
        .map(|(name, value)| {
            (
                percent_encode(&name, QUERY_ENCODE_SET).to_string(),
                percent_encode(&value, QUERY_ENCODE_SET).to_string(),
            )
        })
        .collect();
    // Sort the pairs, not the joined strings: "Param" must come before "Param-3" although
    // '-' < '='.
    pairs.sort_unstable();
    let mut out = String::with_capacity(raw_query.len() + 16);
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// Decoded `(name, value)` byte pairs of a raw query string. Malformed escapes (`%zz`) stay
/// literal, as in every URL decoder the clients use.
pub(crate) fn query_pairs(
    raw_query: &str,
    plus: PlusInQuery,
) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + '_ {
    raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(move |pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_component(name, plus), decode_component(value, plus))
        })
}

fn decode_component(component: &str, plus: PlusInQuery) -> Vec<u8> {
    match plus {
        PlusInQuery::Literal => percent_decode_str(component).collect(),
        PlusInQuery::Space => percent_decode_str(&component.replace('+', " ")).collect(),
    }
}

/// First value of query parameter `name` (exact, case-sensitive match), decoded as UTF-8
/// (lossy). AWS's presigning parameters are case-sensitive.
pub(crate) fn query_param(raw_query: &str, name: &str) -> Option<String> {
    query_pairs(raw_query, PlusInQuery::Literal)
        .find(|(n, _)| n.as_slice() == name.as_bytes())
        .map(|(_, value)| String::from_utf8_lossy(&value).into_owned())
}

/// Trims leading and trailing spaces and collapses inner runs of spaces to one (SigV4
/// "Trimall"). Only ' ' counts, like `aws-sigv4`; HTTP servers already strip tabs at the ends.
fn trim_all(value: &str, out: &mut String) {
    let mut previous_space = false;
    for c in value.trim_matches(' ').chars() {
        if c == ' ' {
            if !previous_space {
                out.push(' ');
            }
            previous_space = true;
        } else {
            out.push(c);
            previous_space = false;
        }
    }
}

/// Canonical header block: one `name:value\n` line per signed header, in the order of
/// `signed_headers`. Values of repeated headers are joined with `,` in request order. A signed
/// header missing from the request yields `name:` (the verifier rejects that case earlier).
pub fn canonical_headers<S: AsRef<str>>(headers: &[(&str, &str)], signed_headers: &[S]) -> String {
    let mut out = String::new();
    for name in signed_headers {
        let name = name.as_ref();
        out.push_str(name);
        out.push(':');
        let mut first = true;
        for (_, value) in headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)) {
            if !first {
                out.push(',');
            }
            first = false;
            trim_all(value, &mut out);
        }
        out.push('\n');
    }
    out
}

/// The full canonical request:
/// `METHOD\nURI\nQUERY\nHEADERS\n\nSIGNED_HEADERS\nPAYLOAD_HASH`.
pub fn canonical_request<S: AsRef<str>>(
    req: &Request<'_>,
    signed_headers: &[S],
    payload_hash: &str,
    location: AuthLocation,
    plus: PlusInQuery,
) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(req.method);
    out.push('\n');
    out.push_str(&canonical_uri(req.path));
    out.push('\n');
    out.push_str(&canonical_query(req.query, location, plus));
    out.push('\n');
    out.push_str(&canonical_headers(req.headers, signed_headers));
    out.push('\n');
    for (i, name) in signed_headers.iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        out.push_str(name.as_ref());
    }
    out.push('\n');
    out.push_str(payload_hash);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_normalization_matches_rfc3986_and_aws_sigv4() {
        for (raw, expected) in [
            ("", "/"),
            ("/", "/"),
            ("//", "/"),
            ("/./", "/"),
            ("/example/..", "/"),
            ("/example1/example2/../..", "/"),
            ("/./example", "/example"),
            ("//example//", "/example/"),
            ("/a/b/.", "/a/b/"),
            ("/../a", "/a"),
            ("foo", "/foo"),
            ("/a.b/c", "/a.b/c"),
        ] {
            assert_eq!(normalize_path(raw), expected, "raw path {raw:?}");
        }
    }

    #[test]
    fn path_is_encoded_a_second_time() {
        assert_eq!(canonical_uri("/a%3Db/c d"), "/a%253Db/c%20d");
        assert_eq!(canonical_uri("/@x/~y"), "/%40x/~y");
        assert_eq!(canonical_uri("/ሴ"), "/%E1%88%B4");
    }

    #[test]
    fn query_is_decoded_reencoded_and_sorted_by_pair() {
        let q = canonical_query(
            "Param-3=Value3&Param=Value2&%E1%88%B4=Value1&flag&b=%7e&a=1&&a=0",
            AuthLocation::Header,
            PlusInQuery::Literal,
        );
        assert_eq!(
            q,
            "%E1%88%B4=Value1&Param=Value2&Param-3=Value3&a=0&a=1&b=~&flag="
        );
    }

    #[test]
    fn plus_reading_is_selectable() {
        assert_eq!(
            canonical_query("a=b+c", AuthLocation::Header, PlusInQuery::Literal),
            "a=b%2Bc"
        );
        assert_eq!(
            canonical_query("a=b+c", AuthLocation::Header, PlusInQuery::Space),
            "a=b%20c"
        );
    }

    #[test]
    fn presigned_signature_is_excluded_only_for_query_auth() {
        let raw = "X-Amz-Signature=abc&x=1";
        assert_eq!(
            canonical_query(raw, AuthLocation::Query, PlusInQuery::Literal),
            "x=1"
        );
        assert_eq!(
            canonical_query(raw, AuthLocation::Header, PlusInQuery::Literal),
            "X-Amz-Signature=abc&x=1"
        );
    }

    #[test]
    fn malformed_escapes_are_kept_literally() {
        assert_eq!(
            canonical_query("a=%zz&b=%", AuthLocation::Header, PlusInQuery::Literal),
            "a=%25zz&b=%25"
        );
    }

    #[test]
    fn header_values_are_trimmed_and_joined() {
        let headers = [
            ("My-Header1", "  a   b  c "),
            ("host", "h"),
            ("my-header1", "x"),
            ("Other", "ignored"),
        ];
        assert_eq!(
            canonical_headers(&headers, &["host", "my-header1"]),
            "host:h\nmy-header1:a b c,x\n"
        );
    }
}
