//! TLS to PostgreSQL with libpq's `sslmode` and `sslrootcert`, on rustls
//! with the ring provider (no process-wide provider needed).
//!
//! The `postgres` driver only knows `sslmode` disable/prefer/require and no
//! `sslrootcert`, so both are taken out of the connection string here: the
//! driver is told whether to insist on TLS, and how much of the server's
//! certificate is checked lives in the rustls verifier:
//!
//! | sslmode | TLS | certificate |
//! | --- | --- | --- |
//! | `disable` | never | — |
//! | `prefer` (the default) | when the server offers it, else plain | not checked |
//! | `require` | always | not checked (checked as `verify-ca` when `sslrootcert` is given, as libpq does) |
//! | `verify-ca` | always | chain to a trusted CA, any host name |
//! | `verify-full` | always | chain to a trusted CA and the host name |
//!
//! Unchecked still means encrypted, with the handshake signed by the key of
//! the certificate the server sent; it does not tell who holds that key.
//! Trusted CAs: the PEM file `sslrootcert` names, else the Mozilla roots
//! bundled with `webpki-roots`.

use crate::PgError;
use percent_encoding::percent_decode_str;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_cert_signed_by_trust_anchor};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;
use tokio_postgres_rustls::MakeRustlsConnect;

/// The `sslmode` values understood, for error messages.
pub(crate) const SSLMODES: &str = "disable, prefer, require, verify-ca, verify-full";

/// libpq's `sslmode` (without `allow`, which the driver cannot do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Result<SslMode, PgError> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(PgError::BadUrl(format!(
                    "unknown sslmode {other:?} (accepted: {SSLMODES})"
                )));
            }
        })
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// What the driver negotiates: whether TLS is tried and whether it is required.
    pub(crate) fn driver(self) -> postgres::config::SslMode {
        match self {
            SslMode::Disable => postgres::config::SslMode::Disable,
            SslMode::Prefer => postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                postgres::config::SslMode::Require
            }
        }
    }
}

/// A connection string's TLS settings, taken out of it.
#[derive(Debug)]
pub(crate) struct TlsSettings {
    /// The connection string without `sslmode` and `sslrootcert`.
    pub(crate) rest: String,
    pub(crate) mode: SslMode,
    /// `sslrootcert` when the mode checks certificates (`require` with a
    /// root certificate file is `verify-ca`, as in libpq).
    pub(crate) root_cert: Option<PathBuf>,
}

impl TlsSettings {
    /// Takes `sslmode` and `sslrootcert` out of a `postgres://` URL or a
    /// `key=value` string; without `sslmode` the mode is `prefer`.
    pub(crate) fn parse(conn: &str) -> Result<TlsSettings, PgError> {
        let (rest, params) = if let Some(tail) = ["postgres://", "postgresql://"]
            .iter()
            .find_map(|p| conn.strip_prefix(p))
        {
            split_url(conn, conn.len() - tail.len())?
        } else {
            split_keyword_value(conn)
        };
        let mut mode = SslMode::Prefer;
        let mut root_cert = None;
        for (key, value) in params {
            match key {
                Param::SslMode => mode = SslMode::parse(&value)?,
                Param::SslRootCert => root_cert = Some(PathBuf::from(value)),
            }
        }
        if mode == SslMode::Require && root_cert.is_some() {
            mode = SslMode::VerifyCa;
        }
        if !matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull) {
            root_cert = None;
        }
        Ok(TlsSettings {
            rest,
            mode,
            root_cert,
        })
    }

    /// The rustls connector for these settings (the driver uses it only
    /// when it negotiates TLS).
    pub(crate) fn connector(&self) -> Result<MakeRustlsConnect, PgError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let algs = provider.signature_verification_algorithms;
        let verifier: Arc<dyn ServerCertVerifier> = match self.mode {
            SslMode::Disable | SslMode::Prefer | SslMode::Require => {
                Arc::new(NoHostName { roots: None, algs })
            }
            SslMode::VerifyCa => Arc::new(NoHostName {
                roots: Some(self.roots()?),
                algs,
            }),
            SslMode::VerifyFull => {
                WebPkiServerVerifier::builder_with_provider(self.roots()?, provider.clone())
                    .build()
                    .map_err(|e| PgError::BadUrl(format!("sslrootcert: {e}")))?
            }
        };
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| PgError::BadUrl(format!("TLS: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        // As libpq 17 sends: required by servers taking direct TLS, ignored by older ones.
        config.alpn_protocols = vec![b"postgresql".to_vec()];
        Ok(MakeRustlsConnect::new(config))
    }

    /// The trusted CAs: the `sslrootcert` file, else the bundled Mozilla roots.
    fn roots(&self) -> Result<Arc<RootCertStore>, PgError> {
        let Some(path) = &self.root_cert else {
            return Ok(Arc::new(RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            }));
        };
        let bad = |why: String| PgError::BadUrl(format!("sslrootcert {}: {why}", path.display()));
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| bad(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(e.to_string()))?;
        let mut roots = RootCertStore::empty();
        let (added, _unusable) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(bad("no usable PEM certificate in it".into()));
        }
        Ok(Arc::new(roots))
    }
}

/// The parameters taken out of a connection string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Param {
    SslMode,
    SslRootCert,
}

impl Param {
    fn of(key: &str) -> Option<Param> {
        match key {
            "sslmode" => Some(Param::SslMode),
            "sslrootcert" => Some(Param::SslRootCert),
            _ => None,
        }
    }
}

fn decode(s: &str) -> Result<Cow<'_, str>, PgError> {
    percent_decode_str(s)
        .decode_utf8()
        .map_err(|e| PgError::BadUrl(format!("{s:?}: {e}")))
}

/// `postgres://user:pw@host/db?a=1&sslmode=require`: the query's TLS
/// parameters out, every other parameter kept verbatim. Like the driver's
/// parser, the user info ends at the first `@` and the query starts at the
/// first `?` after it.
fn split_url(url: &str, prefix_len: usize) -> Result<(String, Vec<(Param, String)>), PgError> {
    let tail = &url[prefix_len..];
    let host_at = tail.find('@').map_or(0, |i| i + 1);
    let Some(q) = tail[host_at..].find('?') else {
        return Ok((url.to_string(), Vec::new()));
    };
    let q = prefix_len + host_at + q;
    let mut params = Vec::new();
    let mut kept = Vec::new();
    for pair in url[q + 1..].split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some((k, v)) => match Param::of(&decode(k)?) {
                Some(param) => params.push((param, decode(v)?.into_owned())),
                None => kept.push(pair),
            },
            None => kept.push(pair),
        }
    }
    let mut rest = url[..q].to_string();
    if !kept.is_empty() {
        rest.push('?');
        rest.push_str(&kept.join("&"));
    }
    Ok((rest, params))
}

/// `host=db sslmode=require`: the TLS parameters out, the rest kept. Values
/// are bare or single-quoted, with backslash escapes (the driver's rules);
/// a string that does not parse is left alone for the driver to reject.
fn split_keyword_value(s: &str) -> (String, Vec<(Param, String)>) {
    let mut params = Vec::new();
    let mut rest = String::new();
    let mut kept_from = 0;
    let mut it = s.char_indices().peekable();
    loop {
        while it.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = it.peek() else { break };
        let mut key = String::new();
        while let Some((_, c)) = it.next_if(|(_, c)| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        while it.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if it.next_if(|(_, c)| *c == '=').is_none() {
            return (s.to_string(), Vec::new());
        }
        while it.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let quoted = it.next_if(|(_, c)| *c == '\'').is_some();
        let mut value = String::new();
        let mut closed = !quoted;
        while let Some(&(_, c)) = it.peek() {
            if (quoted && c == '\'') || (!quoted && c.is_whitespace()) {
                break;
            }
            it.next();
            if c == '\\' {
                if let Some((_, escaped)) = it.next() {
                    value.push(escaped);
                }
            } else {
                value.push(c);
            }
        }
        if quoted {
            closed = it.next_if(|(_, c)| *c == '\'').is_some();
        }
        if !closed || (!quoted && value.is_empty()) {
            return (s.to_string(), Vec::new());
        }
        let end = it.peek().map_or(s.len(), |&(i, _)| i);
        if let Some(param) = Param::of(&key) {
            params.push((param, value));
            rest.push_str(&s[kept_from..start]);
            kept_from = end;
        }
    }
    rest.push_str(&s[kept_from..]);
    (rest, params)
}

/// A verifier that never looks at host names: `prefer` and `require` (no
/// roots: any certificate) and `verify-ca` (the certificate must chain to a
/// trusted CA and be valid now). Either way the handshake must be signed by
/// the key of the certificate presented.
#[derive(Debug)]
struct NoHostName {
    roots: Option<Arc<RootCertStore>>,
    algs: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for NoHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let cert = ParsedCertificate::try_from(end_entity)?;
            verify_server_cert_signed_by_trust_anchor(
                &cert,
                roots,
                intermediates,
                now,
                self.algs.all,
            )?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// Why a handshake the client refused failed, in words for the operator.
pub(crate) fn explain(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    let hint = match e {
        rustls::Error::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => {
            "the server's certificate is not signed by a trusted CA (sslrootcert names the CA \
             file; without it only the bundled Mozilla roots are trusted)"
        }
        rustls::Error::InvalidCertificate(
            C::NotValidForName | C::NotValidForNameContext { .. },
        ) => {
            "the server's certificate is not issued for the host name connected to \
             (sslmode=verify-full checks it, verify-ca does not)"
        }
        rustls::Error::InvalidCertificate(
            C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. },
        ) => "the server's certificate is expired or not yet valid",
        rustls::Error::InvalidCertificate(_) => "the server's certificate was refused",
        _ => "the TLS handshake failed",
    };
    format!("{hint}: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> TlsSettings {
        TlsSettings::parse(s).unwrap()
    }

    #[test]
    fn url_parameters_come_out_and_the_rest_stays() {
        let t = parse(
            "postgres://u:p%3Fw@db:5432/x?application_name=a&sslmode=verify-full&sslrootcert=%2Fetc%2Fca%20b.pem&connect_timeout=3",
        );
        assert_eq!(
            t.rest,
            "postgres://u:p%3Fw@db:5432/x?application_name=a&connect_timeout=3"
        );
        assert_eq!(t.mode, SslMode::VerifyFull);
        assert_eq!(t.root_cert, Some(PathBuf::from("/etc/ca b.pem")));

        let t = parse("postgresql://db/x?sslmode=disable");
        assert_eq!(
            (t.rest.as_str(), t.mode),
            ("postgresql://db/x", SslMode::Disable)
        );
        // A '?' in the password is not the query.
        let t = parse("postgres://u:a?b@db/x");
        assert_eq!(
            (t.rest.as_str(), t.mode),
            ("postgres://u:a?b@db/x", SslMode::Prefer)
        );
    }

    #[test]
    fn the_default_is_prefer_and_require_with_a_ca_checks_the_chain() {
        assert_eq!(parse("postgres://db/x").mode, SslMode::Prefer);
        let t = parse("postgres://db/x?sslmode=require&sslrootcert=/ca.pem");
        assert_eq!(t.mode, SslMode::VerifyCa);
        assert_eq!(t.root_cert, Some(PathBuf::from("/ca.pem")));
        // Modes that check nothing ignore a root certificate.
        let t = parse("postgres://db/x?sslmode=prefer&sslrootcert=/ca.pem");
        assert_eq!((t.mode, t.root_cert), (SslMode::Prefer, None));
        // The last one wins, as in libpq.
        assert_eq!(
            parse("postgres://db/x?sslmode=disable&sslmode=verify-ca").mode,
            SslMode::VerifyCa
        );
    }

    #[test]
    fn keyword_value_strings_too() {
        let t = parse("host=db  sslmode = 'verify-ca' user=u sslrootcert='/a b\\'c.pem' dbname=x");
        assert_eq!(t.rest, "host=db   user=u  dbname=x");
        assert_eq!(t.mode, SslMode::VerifyCa);
        assert_eq!(t.root_cert, Some(PathBuf::from("/a b'c.pem")));
        // Unparseable: left for the driver to reject.
        let t = parse("host=db sslmode");
        assert_eq!(
            (t.rest.as_str(), t.mode),
            ("host=db sslmode", SslMode::Prefer)
        );
    }

    #[test]
    fn unknown_modes_name_the_accepted_ones() {
        for bad in ["allow", "verify_full", "REQUIRE", ""] {
            let e = TlsSettings::parse(&format!("postgres://db/x?sslmode={bad}")).unwrap_err();
            let msg = e.to_string();
            assert!(matches!(e, PgError::BadUrl(_)), "{e:?}");
            assert!(msg.contains(&format!("{bad:?}")), "{msg}");
            assert!(msg.contains(SSLMODES), "{msg}");
        }
    }

    #[test]
    fn a_missing_or_empty_root_certificate_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let e = parse(&format!(
            "postgres://db/x?sslmode=verify-full&sslrootcert={}",
            missing.display()
        ))
        .connector()
        .err()
        .expect("a missing file fails");
        assert!(e.to_string().contains("nope.pem"), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = parse(&format!(
            "postgres://db/x?sslmode=verify-ca&sslrootcert={}",
            empty.display()
        ))
        .connector()
        .err()
        .expect("a file without certificates fails");
        assert!(e.to_string().contains("no usable PEM certificate"), "{e}");
        // Without sslrootcert the bundled roots serve.
        assert!(
            parse("postgres://db/x?sslmode=verify-full")
                .connector()
                .is_ok()
        );
    }
}
