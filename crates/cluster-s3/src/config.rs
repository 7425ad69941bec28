//! Connection settings of the S3 bucket.

/// Where blocks live: an S3 (or S3-compatible) bucket and a key prefix inside it.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    /// `None` for AWS S3 itself; otherwise the endpoint URL (e.g. `http://127.0.0.1:3900`
    /// for Garage). An `http://` endpoint is allowed (plain HTTP is refused otherwise).
    pub endpoint: Option<String>,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Every key is stored under `prefix/` (empty: the bucket root). Leading and trailing
    /// slashes are ignored.
    pub prefix: String,
}

// Hand-written so the secret never reaches a log line through `{:?}`.
impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("prefix", &self.prefix)
            .finish()
    }
}
