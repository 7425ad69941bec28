//! Test support: real nats-server processes as one JetStream cluster on 127.0.0.1.
//!
//! The binary comes from env `STRATUS_NATS_SERVER`, else `<workspace>/.venv/current/bin/nats-server`,
//! else `nats-server` on PATH. Each server gets `jetstream { store_dir, sync_interval: always }`
//! so a PubAck means fsync'd on a quorum, as in production.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

const READY_TIMEOUT: Duration = Duration::from_secs(60);

struct Node {
    name: String,
    client_port: u16,
    http_port: u16,
    conf: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

/// n nats-servers forming one JetStream cluster (a standalone server when n = 1).
/// Drop kills every server and removes the directory.
pub struct NatsCluster {
    dir: PathBuf,
    nodes: Vec<Node>,
    binary: PathBuf,
}

impl NatsCluster {
    /// Starts `n` servers on free loopback ports and waits until JetStream is ready on all.
    pub async fn start(n: usize) -> io::Result<NatsCluster> {
        assert!(n >= 1, "a cluster needs at least one server");
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "stratus-nats-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        let ports = free_ports(3 * n)?;
        let routes: Vec<String> = (0..n)
            .map(|i| format!("nats://127.0.0.1:{}", ports[3 * i + 1]))
            .collect();
        let mut nodes = Vec::with_capacity(n);
        for i in 0..n {
            let name = format!("n{i}");
            let (client_port, cluster_port, http_port) =
                (ports[3 * i], ports[3 * i + 1], ports[3 * i + 2]);
            let store = dir.join(format!("{name}-js"));
            let mut conf = format!(
                "server_name: {name}\nlisten: 127.0.0.1:{client_port}\nhttp: 127.0.0.1:{http_port}\n\
                 jetstream {{ store_dir: \"{}\", sync_interval: always }}\n",
                store.display()
            );
            if n > 1 {
                let _ = writeln!(
                    conf,
                    "cluster {{ name: stratus, listen: 127.0.0.1:{cluster_port}, routes: [{}] }}",
                    routes.join(", ")
                );
            }
            let conf_path = dir.join(format!("{name}.conf"));
            std::fs::write(&conf_path, conf)?;
            nodes.push(Node {
                log: dir.join(format!("{name}.log")),
                name,
                client_port,
                http_port,
                conf: conf_path,
                child: None,
            });
        }
        let mut cluster = NatsCluster {
            dir,
            nodes,
            binary: binary(),
        };
        for i in 0..n {
            cluster.spawn(i)?;
        }
        for i in 0..n {
            cluster.wait_ready(i).await?;
        }
        Ok(cluster)
    }

    /// Client URLs of all servers, `nats://127.0.0.1:<port>`.
    pub fn urls(&self) -> Vec<String> {
        (0..self.nodes.len()).map(|i| self.url(i)).collect()
    }

    pub fn url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.nodes[i].client_port)
    }

    /// Server name of node `i` (`n{i}`), as stream info reports leaders.
    pub fn name(&self, i: usize) -> &str {
        &self.nodes[i].name
    }

    /// Index of the server with this name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// SIGKILLs server `i` (no lame-duck, no flush: a crash).
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts server `i` again with its old ports and store, and waits until it is healthy
    /// (JetStream current with the cluster).
    pub async fn restart(&mut self, i: usize) -> io::Result<()> {
        self.kill(i);
        self.spawn(i)?;
        self.wait_ready(i).await
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(&self.nodes[i].log).unwrap_or_default()
    }

    fn spawn(&mut self, i: usize) -> io::Result<()> {
        let node = &mut self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)?;
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(&node.conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| {
                io::Error::new(e.kind(), format!("starting {}: {e}", self.binary.display()))
            })?;
        node.child = Some(child);
        Ok(())
    }

    /// Polls `/healthz` (JetStream enabled, meta leader known, streams current) until 200.
    async fn wait_ready(&mut self, i: usize) -> io::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let exited = match self.nodes[i].child.as_mut() {
                Some(child) => child.try_wait()?,
                None => None,
            };
            if let Some(status) = exited {
                return Err(io::Error::other(format!(
                    "nats-server {} exited ({status}):\n{}",
                    self.nodes[i].name,
                    self.log(i)
                )));
            }
            if healthz(self.nodes[i].http_port).await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(io::Error::other(format!(
                    "nats-server {} not healthy after {READY_TIMEOUT:?}:\n{}",
                    self.nodes[i].name,
                    self.log(i)
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// True when `GET /healthz` answers 200.
async fn healthz(port: u16) -> bool {
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        s.write_all(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .await?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await?;
        io::Result::Ok(buf)
    };
    match tokio::time::timeout(Duration::from_secs(2), attempt).await {
        Ok(Ok(buf)) => buf.starts_with(b"HTTP/1.0 200") || buf.starts_with(b"HTTP/1.1 200"),
        _ => false,
    }
}

fn free_ports(n: usize) -> io::Result<Vec<u16>> {
    // Hold every listener until all are bound so the ports are distinct.
    let listeners = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<io::Result<Vec<_>>>()?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect()
}

fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("STRATUS_NATS_SERVER") {
        return PathBuf::from(p);
    }
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/current/bin/nats-server");
    if ws.exists() {
        return ws;
    }
    PathBuf::from("nats-server")
}
