//! Test-only crate: drives a real `stratus server` with the official aws-sdk-rust
//! CloudWatch client, which speaks Smithy RPC v2 CBOR. All of its code lives in
//! `tests/`; this library is empty on purpose. It must not know the server's
//! internals: it sees only the binary, the port and the credentials file, as a user does.
