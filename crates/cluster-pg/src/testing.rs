//! A throwaway PostgreSQL server for tests (feature `testing`): `initdb`
//! into a temporary directory, `pg_ctl start` on a free 127.0.0.1 port,
//! role and database `stratus`. PostgreSQL refuses to run as root, so as
//! root every server command runs as the `postgres` user (`runuser`).
//! Binaries: `$STRATUS_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin`.
//! Usable from async tests too (it blocks, but never on a runtime).
//! [`TempPostgres::start_with`] turns TLS on, with a CA and a server
//! certificate made for the server by the `openssl` command.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A running test server; stopped (`-m immediate`) and removed on drop.
#[derive(Debug)]
pub struct TempPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    tls: ServerTls,
}

/// Whether a [`TempPostgres`] offers TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServerTls {
    /// `ssl = off`.
    #[default]
    Off,
    /// `ssl = on`, with a certificate for `localhost` and `127.0.0.1` signed
    /// by a CA made for this server ([`TempPostgres::ca_pem`]); plain
    /// connections are accepted too.
    On,
    /// As `On`, and `pg_hba.conf` accepts TCP connections over TLS only
    /// (`hostssl`; the Unix socket stays open).
    Required,
}

/// Runs `openssl ARGS` (split on whitespace) in `dir`; panics with its
/// output when it fails.
fn openssl(dir: &Path, args: &str) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args.split_whitespace())
        .output()
        .unwrap_or_else(|e| panic!("running openssl (is it installed?): {e}"));
    assert!(
        out.status.success(),
        "openssl {args} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The extensions of the test certificates, for `openssl -config`.
const OPENSSL_CNF: &str = "\
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
";

/// P-256 keys, quick to make.
const NEW_KEY: &str = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

/// A new self-signed test CA valid for two days, in `dir`: `NAME.pem`
/// (returned) and its key `NAME.key`. `name` has no whitespace.
pub fn make_test_ca(dir: &Path, name: &str) -> PathBuf {
    std::fs::write(dir.join("openssl.cnf"), OPENSSL_CNF).expect("writing openssl.cnf");
    openssl(
        dir,
        &format!(
            "req -x509 -new -config openssl.cnf -extensions ca {NEW_KEY} -keyout {name}.key \
             -out {name}.pem -days 2 -subj /CN=stratus-test-CA-{name}"
        ),
    );
    dir.join(format!("{name}.pem"))
}

/// A CA (`ca.pem`) and a certificate it signed for `localhost` and
/// `127.0.0.1` (`server.pem`, key `server.key`, mode 0600 as PostgreSQL
/// wants it) in `dir`.
fn make_server_certificate(dir: &Path) {
    make_test_ca(dir, "ca");
    openssl(
        dir,
        &format!(
            "req -new -config openssl.cnf {NEW_KEY} -keyout server.key -out server.csr \
             -subj /CN=localhost"
        ),
    );
    openssl(
        dir,
        "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 2 \
         -extfile openssl.cnf -extensions server -out server.pem",
    );
    std::fs::set_permissions(
        dir.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .expect("chmod server.key");
}

fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("STRATUS_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("no /usr/lib/postgresql: install PostgreSQL or set STRATUS_PG_BIN")
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("pg_ctl").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .expect("no /usr/lib/postgresql/*/bin/pg_ctl: install PostgreSQL or set STRATUS_PG_BIN")
        .1
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding a free port")
        .port()
}

impl TempPostgres {
    /// Creates and starts a fresh server without TLS. Panics (it is for
    /// tests) when it cannot.
    pub fn start() -> TempPostgres {
        TempPostgres::start_with(ServerTls::Off)
    }

    /// Creates and starts a fresh server, with TLS as asked.
    pub fn start_with(tls: ServerTls) -> TempPostgres {
        let dir = tempfile::Builder::new()
            .prefix("stratus-pg-")
            .tempdir()
            .expect("creating a temporary directory");
        if tls != ServerTls::Off {
            let certs = dir.path().join("tls");
            std::fs::create_dir(&certs).expect("creating the tls directory");
            make_server_certificate(&certs);
        }
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("running chown")
                .success();
            assert!(ok, "chown postgres {}", dir.path().display());
        }
        let mut pg = TempPostgres {
            dir,
            bin: bin_dir(),
            port: 0,
            tls,
        };
        pg.run(
            "initdb",
            &[
                "-D".as_ref(),
                pg.data().as_os_str(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-U".as_ref(),
                "stratus".as_ref(),
                "--no-sync".as_ref(),
            ],
        );
        if tls == ServerTls::Required {
            std::fs::write(
                pg.data().join("pg_hba.conf"),
                "local all all trust\n\
                 hostssl all all 127.0.0.1/32 trust\n\
                 hostssl all all ::1/128 trust\n",
            )
            .expect("writing pg_hba.conf");
        }
        // A port taken between probing and binding fails the start: try another.
        for attempt in 0..5 {
            pg.port = free_port();
            if pg.pg_ctl_start() {
                break;
            }
            assert!(attempt < 4, "PostgreSQL did not start: {}", pg.log());
        }
        // On a thread of its own: the blocking client cannot run on a
        // thread that drives a tokio runtime (an async test). Over the Unix
        // socket, which every `ServerTls` leaves open without TLS.
        let params = format!(
            "host={} port={} user=stratus dbname=postgres",
            pg.dir.path().display(),
            pg.port
        );
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&params, postgres::NoTls)
                .expect("connecting to the test server");
            c.batch_execute("CREATE DATABASE stratus")
                .expect("creating database stratus");
        })
        .join()
        .expect("creating database stratus");
        pg
    }

    /// The connection URL (role and database `stratus`, no password).
    pub fn url(&self) -> String {
        format!("postgres://stratus@127.0.0.1:{}/stratus", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CA that signed the server's certificate (PEM), when TLS is on.
    pub fn ca_pem(&self) -> Option<PathBuf> {
        (self.tls != ServerTls::Off).then(|| self.dir.path().join("tls").join("ca.pem"))
    }

    /// Kills the server without a clean shutdown and starts it again on
    /// the same port (every open connection breaks).
    pub fn restart_immediate(&self) {
        self.stop();
        assert!(
            self.pg_ctl_start(),
            "PostgreSQL did not restart: {}",
            self.log()
        );
    }

    /// Stops the server (`-m immediate`); [`Self::resume`] starts it again.
    pub fn stop(&self) {
        let data = self.data();
        self.run("pg_ctl", &stop_immediate_args(&data));
    }

    /// Starts a stopped server again on the same port.
    pub fn resume(&self) {
        assert!(
            self.pg_ctl_start(),
            "PostgreSQL did not start: {}",
            self.log()
        );
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    fn pg_ctl_start(&self) -> bool {
        let mut opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=on -c max_connections=60 \
             -c shared_buffers=16MB",
            self.port,
            self.dir.path().display()
        );
        if self.tls != ServerTls::Off {
            let certs = self.dir.path().join("tls");
            opts.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                certs.join("server.pem").display(),
                certs.join("server.key").display()
            ));
        }
        let data = self.data();
        let log = self.dir.path().join("log");
        self.command(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "-o".as_ref(),
                opts.as_ref(),
                "start".as_ref(),
            ],
        )
        .status()
        .is_ok_and(|s| s.success())
    }

    fn command(&self, tool: &str, args: &[&std::ffi::OsStr]) -> Command {
        let exe = self.bin.join(tool);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        cmd.args(args).stdout(std::process::Stdio::null());
        cmd
    }

    fn run(&self, tool: &str, args: &[&std::ffi::OsStr]) {
        let out = self
            .command(tool, args)
            .output()
            .unwrap_or_else(|e| panic!("running {tool}: {e}"));
        assert!(
            out.status.success(),
            "{tool} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
    }

    /// The server's directory (data, socket, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// `pg_ctl` arguments stopping the server in `data` at once (no checkpoint).
fn stop_immediate_args(data: &Path) -> [&std::ffi::OsStr; 6] {
    [
        "-D".as_ref(),
        data.as_os_str(),
        "-m".as_ref(),
        "immediate".as_ref(),
        "-w".as_ref(),
        "stop".as_ref(),
    ]
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self
            .command("pg_ctl", &stop_immediate_args(&data))
            .stderr(std::process::Stdio::null())
            .status();
    }
}
