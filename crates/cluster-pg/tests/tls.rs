//! TLS to a real PostgreSQL server on 127.0.0.1: libpq's `sslmode` values
//! and `sslrootcert`, against servers with TLS on, off and required.

use std::path::Path;
use std::time::{Duration, Instant};
use stratus_cluster_pg::testing::{ServerTls, TempPostgres, make_test_ca};
use stratus_cluster_pg::{Pg, PgError};

/// The server's URL with `host` as the name connected to (and checked
/// against the certificate) while the TCP connection goes to 127.0.0.1.
fn url(server: &TempPostgres, host: &str, params: &str) -> String {
    format!(
        "postgres://stratus@{host}:{}/stratus?hostaddr=127.0.0.1&{params}",
        server.port()
    )
}

fn ca(server: &TempPostgres) -> String {
    server.ca_pem().unwrap().display().to_string()
}

/// Connects without waiting: every failure here is immediate.
fn connect(url: &str) -> Result<Pg, PgError> {
    Pg::connect(url, Duration::ZERO)
}

fn encrypted(url: &str) -> bool {
    connect(url)
        .unwrap_or_else(|e| panic!("{url}: {e}"))
        .tls_in_use()
        .unwrap()
}

#[test]
fn verify_full_with_the_servers_ca_connects_encrypted() {
    let server = TempPostgres::start_with(ServerTls::On);
    let params = format!("sslmode=verify-full&sslrootcert={}", ca(&server));
    // The certificate names both 127.0.0.1 and localhost.
    let by_ip = format!(
        "postgres://stratus@127.0.0.1:{}/stratus?{params}",
        server.port()
    );
    let pg = connect(&by_ip).unwrap();
    assert!(pg.tls_in_use().unwrap());
    // The pool's sessions all use it: the schema went through it, and so do calls.
    pg.transact(|tx| {
        tx.put("t", "k", b"v")?;
        Ok::<_, PgError>(())
    })
    .unwrap();
    assert_eq!(pg.kv_get("t", "k").unwrap().as_deref(), Some(&b"v"[..]));
    assert!(encrypted(&url(&server, "localhost", &params)));
    // The same path percent-encoded works too.
    let encoded = ca(&server).replace('/', "%2F");
    assert!(encrypted(&url(
        &server,
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={encoded}")
    )));
}

#[test]
fn verify_modes_refuse_a_certificate_from_another_ca() {
    let server = TempPostgres::start_with(ServerTls::On);
    let other = tempfile::tempdir().unwrap();
    let other_ca = make_test_ca(other.path(), "other");
    for mode in ["verify-full", "verify-ca", "require"] {
        let started = Instant::now();
        // Waiting would not help: a refused certificate is not retried.
        let r = Pg::connect(
            &url(
                &server,
                "localhost",
                &format!("sslmode={mode}&sslrootcert={}", other_ca.display()),
            ),
            Duration::from_secs(30),
        );
        let Err(PgError::Tls(why)) = &r else {
            panic!("{mode}: {r:?}")
        };
        assert!(why.contains("not signed by a trusted CA"), "{why}");
        assert!(why.contains("UnknownIssuer"), "{why}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{mode} retried"
        );
    }
    // Without sslrootcert only the bundled public roots are trusted.
    let r = connect(&url(&server, "localhost", "sslmode=verify-full"));
    assert!(
        matches!(&r, Err(PgError::Tls(why)) if why.contains("not signed by a trusted CA")),
        "{r:?}"
    );
}

#[test]
fn verify_full_checks_the_host_name_and_verify_ca_does_not() {
    let server = TempPostgres::start_with(ServerTls::On);
    let ca = ca(&server);
    let r = connect(&url(
        &server,
        "pg.invalid",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ));
    let Err(PgError::Tls(why)) = &r else {
        panic!("{r:?}")
    };
    assert!(
        why.contains("not issued for the host name") && why.contains("pg.invalid"),
        "{why}"
    );
    assert!(encrypted(&url(
        &server,
        "pg.invalid",
        &format!("sslmode=verify-ca&sslrootcert={ca}")
    )));
    // require with a CA file checks the chain as verify-ca does (libpq's rule).
    assert!(encrypted(&url(
        &server,
        "pg.invalid",
        &format!("sslmode=require&sslrootcert={ca}")
    )));
}

#[test]
fn require_needs_tls_but_no_ca() {
    let tls = TempPostgres::start_with(ServerTls::On);
    assert!(encrypted(&url(&tls, "pg.invalid", "sslmode=require")));
    let plain = TempPostgres::start();
    let r = connect(&url(&plain, "localhost", "sslmode=require"));
    let Err(PgError::Tls(why)) = &r else {
        panic!("{r:?}")
    };
    assert!(why.contains("does not offer TLS"), "{why}");
    let r = connect(&url(
        &plain,
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", ca(&tls)),
    ));
    assert!(matches!(&r, Err(PgError::Tls(_))), "{r:?}");
}

#[test]
fn prefer_takes_tls_when_offered_and_disable_never() {
    let tls = TempPostgres::start_with(ServerTls::On);
    let plain = TempPostgres::start();
    assert!(encrypted(&url(&tls, "pg.invalid", "sslmode=prefer")));
    assert!(!encrypted(&url(&plain, "localhost", "sslmode=prefer")));
    // No sslmode is prefer.
    assert!(encrypted(&tls.url()));
    assert!(!encrypted(&plain.url()));
    assert!(!encrypted(&url(&tls, "localhost", "sslmode=disable")));
}

#[test]
fn a_hostssl_only_server_refuses_disable() {
    let server = TempPostgres::start_with(ServerTls::Required);
    let r = connect(&url(&server, "localhost", "sslmode=disable"));
    let Err(PgError::Db(why)) = &r else {
        panic!("{r:?}")
    };
    assert!(
        why.contains("no pg_hba.conf entry") && why.contains("no encryption"),
        "{why}"
    );
    assert!(encrypted(&url(
        &server,
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", ca(&server))
    )));
}

#[test]
fn bad_tls_settings_fail_before_connecting() {
    // Nothing listens on port 1: these fail on the settings alone.
    let r = connect("postgres://stratus@127.0.0.1:1/stratus?sslmode=allow");
    let Err(PgError::BadUrl(why)) = &r else {
        panic!("{r:?}")
    };
    assert!(
        why.contains("\"allow\"")
            && why.contains("disable, prefer, require, verify-ca, verify-full"),
        "{why}"
    );
    let missing = Path::new("/nonexistent/stratus-ca.pem");
    let r = connect(&format!(
        "postgres://stratus@127.0.0.1:1/stratus?sslmode=verify-ca&sslrootcert={}",
        missing.display()
    ));
    assert!(
        matches!(&r, Err(PgError::BadUrl(why)) if why.contains("stratus-ca.pem")),
        "{r:?}"
    );
    // The driver's own parameters still reach it (and are still checked by it).
    let r = connect("postgres://stratus@127.0.0.1:1/stratus?sslmode=require&bogus=1");
    assert!(
        matches!(&r, Err(PgError::BadUrl(why)) if why.contains("bogus")),
        "{r:?}"
    );
}
