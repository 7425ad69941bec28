//! Test-only crate: drives a real stratus server with the official aws-sdk-rust CloudWatch client (CBOR).
