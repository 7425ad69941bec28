//! The SNS message-signing key: a 2048-bit RSA key generated at first start
//! and kept in the data directory (`sns-signing-key.pem`, PKCS#8, 0600), its
//! self-signed X.509 certificate (`sns-signing-cert.pem`) served at
//! `SigningCertURL`, and signing per SignatureVersion (1 = SHA1withRSA,
//! 2 = SHA256withRSA), base64 like SNS.

use base64::Engine as _;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer as _};
use sha2::Digest as _;
use std::path::Path;
use std::str::FromStr;
use stratus_model::sns::document::SignatureVersion;
use x509_cert::builder::{Builder, CertificateBuilder, profile};
use x509_cert::der::{DecodePem, EncodePem};

const KEY_FILE: &str = "sns-signing-key.pem";
const CERT_FILE: &str = "sns-signing-cert.pem";
const KEY_BITS: usize = 2048;
/// The certificate is valid for ten years from its creation.
const CERT_VALIDITY: std::time::Duration = std::time::Duration::from_secs(10 * 365 * 24 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("SNS signing key {path}: {message}")]
    Io { path: String, message: String },
    #[error("SNS signing key: {0}")]
    Crypto(String),
}

fn crypto(e: impl std::fmt::Display) -> SigningError {
    SigningError::Crypto(e.to_string())
}

/// The loaded key and certificate.
pub struct Signer {
    key: rsa::PrivateKey,
    cert_pem: String,
    cert_id: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("cert_id", &self.cert_id)
            .finish()
    }
}

impl Signer {
    /// Loads the key and certificate from `data_dir`, creating both on first use.
    pub fn load_or_create(data_dir: &Path) -> Result<Signer, SigningError> {
        let key_path = data_dir.join(KEY_FILE);
        let cert_path = data_dir.join(CERT_FILE);
        let io = |path: &Path, e: std::io::Error| SigningError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let key = match std::fs::read_to_string(&key_path) {
            Ok(pem) => rsa::PrivateKey::from_pkcs8_pem(&pem).map_err(crypto)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = rsa::PrivateKey::new(&mut getrandom::SysRng, KEY_BITS).map_err(crypto)?;
                let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(crypto)?;
                crate::fsutil::write_private_file(&key_path, pem.as_bytes())
                    .map_err(|e| io(&key_path, e))?;
                // A new key invalidates any certificate left from an older one.
                let _ = std::fs::remove_file(&cert_path);
                key
            }
            Err(e) => return Err(io(&key_path, e)),
        };
        let cert_pem = match std::fs::read_to_string(&cert_path) {
            Ok(pem) if x509_cert::Certificate::from_pem(pem.as_bytes()).is_ok() => pem,
            _ => {
                let pem = self_signed_certificate(&key)?;
                crate::fsutil::write_private_file(&cert_path, pem.as_bytes())
                    .map_err(|e| io(&cert_path, e))?;
                pem
            }
        };
        let digest = sha2::Sha256::digest(cert_pem.as_bytes());
        let cert_id = hex::encode(&digest[..16]);
        Ok(Signer {
            key,
            cert_pem,
            cert_id,
        })
    }

    /// The certificate (PEM).
    pub fn certificate_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The file name the certificate is served under (without the leading `/`).
    pub fn certificate_file(&self) -> String {
        format!("SimpleNotificationService-{}.pem", self.cert_id)
    }

    /// Signs `string_to_sign`; returns base64.
    pub fn sign(&self, version: SignatureVersion, string_to_sign: &str) -> String {
        let bytes = match version {
            SignatureVersion::V1 => rsa::pkcs1v15::SigningKey::<sha1::Sha1>::new(self.key.clone())
                .sign(string_to_sign.as_bytes())
                .to_vec(),
            SignatureVersion::V2 => {
                rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(self.key.clone())
                    .sign(string_to_sign.as_bytes())
                    .to_vec()
            }
        };
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }
}

fn self_signed_certificate(key: &rsa::PrivateKey) -> Result<String, SigningError> {
    let subject =
        x509_cert::name::Name::from_str("CN=sns.stratus.local,O=Stratus,C=US").map_err(crypto)?;
    let profile = profile::cabf::Root::new(false, subject).map_err(crypto)?;
    let mut serial = [0u8; 16];
    getrandom::fill(&mut serial).map_err(crypto)?;
    serial[0] = (serial[0] & 0x7f) | 0x01;
    let serial = x509_cert::serial_number::SerialNumber::new(&serial).map_err(crypto)?;
    let validity = x509_cert::time::Validity::from_now(CERT_VALIDITY).map_err(crypto)?;
    let spki_der = key.to_public_key().to_public_key_der().map_err(crypto)?;
    let spki = x509_cert::spki::SubjectPublicKeyInfoOwned::try_from(spki_der.as_bytes())
        .map_err(crypto)?;
    let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key.clone());
    let builder = CertificateBuilder::new(profile, serial, validity, spki).map_err(crypto)?;
    let cert = builder
        .build::<_, rsa::pkcs1v15::Signature>(&signer)
        .map_err(crypto)?;
    cert.to_pem(LineEnding::LF).map_err(crypto)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::DecodePublicKey;
    use rsa::signature::Verifier as _;
    use x509_cert::der::Encode;

    #[test]
    fn key_and_certificate_persist_and_signatures_verify() {
        let dir = tempfile::tempdir().unwrap();
        let s = Signer::load_or_create(dir.path()).unwrap();
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        let again = Signer::load_or_create(dir.path()).unwrap();
        assert_eq!(s.certificate_pem(), again.certificate_pem());
        assert!(
            s.certificate_file()
                .starts_with("SimpleNotificationService-")
        );

        // The certificate carries the key that verifies our signatures.
        let cert = x509_cert::Certificate::from_pem(s.certificate_pem().as_bytes()).unwrap();
        let spki_der = cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .unwrap();
        let public = rsa::PublicKey::from_public_key_der(&spki_der).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD;
        for (version, text) in [
            (SignatureVersion::V1, "Message\nm\n"),
            (SignatureVersion::V2, "x"),
        ] {
            let sig = b64.decode(s.sign(version, text)).unwrap();
            let sig = rsa::pkcs1v15::Signature::try_from(sig.as_slice()).unwrap();
            match version {
                SignatureVersion::V1 => {
                    rsa::pkcs1v15::VerifyingKey::<sha1::Sha1>::new(public.clone())
                        .verify(text.as_bytes(), &sig)
                        .unwrap()
                }
                SignatureVersion::V2 => {
                    rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(public.clone())
                        .verify(text.as_bytes(), &sig)
                        .unwrap()
                }
            }
        }
        // A signature does not verify another text.
        let sig = b64.decode(s.sign(SignatureVersion::V2, "a")).unwrap();
        let sig = rsa::pkcs1v15::Signature::try_from(sig.as_slice()).unwrap();
        assert!(
            rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(public)
                .verify(b"b", &sig)
                .is_err()
        );
    }
}
