//! The accept loop: every connection runs through hyper's HTTP/1 server with
//! a header-read timeout, an idle (keep-alive) timeout and caps on open
//! connections overall and per client address. `axum::serve` has none of
//! these, so idle or slowloris sockets were held forever and, once the
//! process ran out of file descriptors, `accept` failed and even `/health`
//! went unanswered.
//!
//! A connection is in one of three phases: waiting for (or reading) a
//! request head — bounded by `header_read_timeout`; between requests —
//! bounded by `idle_timeout`; or serving a request — unbounded here (the
//! handler bounds what it reads). When a cap is reached, the connection that
//! has waited longest without a request in progress (same address first for
//! the per-address cap) is closed to make room; only when every connection
//! is busy is the new one closed at once. So a flood of idle sockets never
//! locks out a real client, it only churns other idle sockets.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};

/// Connection limits, from the `[server]` config table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest wait for a complete request head, from a connection's first
    /// byte (or its opening) to the end of the head.
    pub header_read_timeout: Duration,
    /// Longest a kept-alive connection may sit between requests. Longer than
    /// the agent's 90 s pooled idle age, so agents reuse their connection.
    pub idle_timeout: Duration,
    /// Longest a request's body may take to arrive, from its head's end. A
    /// connection serving a request is never idle, so without this a client
    /// trickling a body would hold it (unevictable) for ever.
    pub body_read_timeout: Duration,
    /// Open connections overall; `None`: derived from the open-file limit.
    pub max_connections: Option<usize>,
    /// Open connections from one client address.
    pub max_connections_per_ip: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            body_read_timeout: Duration::from_secs(60),
            max_connections: None,
            max_connections_per_ip: 4096,
        }
    }
}

/// Pending connections the kernel may queue before `accept` (it caps this
/// at `net.core.somaxconn`, 4,096 on current kernels). tokio's default, 1,024,
/// overflowed when 2,000 sockets connected at once on a loaded machine: the
/// dropped SYNs were retried after 1 s.
const LISTEN_BACKLOG: u32 = 4096;

/// Binds the server's listening socket (SO_REUSEADDR, as std's bind sets it).
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Upper bound of the derived overall cap.
const MAX_CONNECTIONS_CEILING: usize = 65_536;

/// The overall cap when none is configured: the open-file limit less a
/// reserve for the data files, WAL, metadata store and outgoing deliveries
/// (a quarter of the limit, at most 256), so `accept` never fails for want
/// of a descriptor.
pub fn derived_max_connections() -> usize {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .map_or(MAX_CONNECTIONS_CEILING as u64, |n| n);
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let reserve = (limit / 4).min(256);
    limit
        .saturating_sub(reserve)
        .clamp(16, MAX_CONNECTIONS_CEILING)
}

const PHASE_HEAD: u8 = 0;
const PHASE_IDLE: u8 = 1;
const PHASE_BUSY: u8 = 2;

/// What a connection is doing, shared by its I/O wrapper, its service
/// wrapper, its task and the registry (for picking whom to evict).
struct Activity {
    phase: AtomicU8,
    /// Milliseconds since the registry's epoch when the phase began.
    since_ms: AtomicU64,
    evicted: Notify,
    epoch: Instant,
}

impl Activity {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
    fn set(&self, phase: u8) {
        self.since_ms.store(self.now_ms(), Ordering::Relaxed);
        self.phase.store(phase, Ordering::Release);
    }
    /// When the current phase runs out; a busy connection is looked at again
    /// after `idle_timeout` (its phase will have moved on by then, or not).
    fn deadline(&self, limits: &Limits) -> Instant {
        let since = Duration::from_millis(self.since_ms.load(Ordering::Relaxed));
        match self.phase.load(Ordering::Acquire) {
            PHASE_HEAD => self.epoch + since + limits.header_read_timeout,
            PHASE_IDLE => self.epoch + since + limits.idle_timeout,
            _ => Instant::now() + limits.idle_timeout,
        }
    }
}

struct Entry {
    ip: IpAddr,
    activity: Arc<Activity>,
}

#[derive(Default)]
struct Table {
    conns: HashMap<u64, Entry>,
    /// Each address's connections, so the per-address cap looks only at
    /// that address's (at most `max_per_ip`) when it must pick one to close.
    per_ip: HashMap<IpAddr, HashSet<u64>>,
    next_id: u64,
}

impl Table {
    fn remove(&mut self, id: u64) -> Option<Entry> {
        let entry = self.conns.remove(&id)?;
        if let Some(ids) = self.per_ip.get_mut(&entry.ip) {
            ids.remove(&id);
            if ids.is_empty() {
                self.per_ip.remove(&entry.ip);
            }
        }
        Some(entry)
    }

    /// The connection without a request in progress that has waited longest
    /// (among those from `ip` when given).
    fn oldest_waiting(&self, ip: Option<IpAddr>) -> Option<u64> {
        let waiting = |e: &Entry| e.activity.phase.load(Ordering::Acquire) != PHASE_BUSY;
        let since = |e: &Entry| e.activity.since_ms.load(Ordering::Relaxed);
        match ip {
            Some(ip) => self
                .per_ip
                .get(&ip)?
                .iter()
                .filter_map(|id| Some((*id, self.conns.get(id)?)))
                .filter(|(_, e)| waiting(e))
                .min_by_key(|(_, e)| since(e))
                .map(|(id, _)| id),
            None => self
                .conns
                .iter()
                .filter(|(_, e)| waiting(e))
                .min_by_key(|(_, e)| since(e))
                .map(|(id, _)| *id),
        }
    }
}

/// The open connections, for the caps.
struct Registry {
    table: Mutex<Table>,
    max_total: usize,
    max_per_ip: usize,
    epoch: Instant,
    log: RateLimitedLog,
}

enum Admission {
    Admitted(u64, Arc<Activity>),
    Refused,
}

impl Registry {
    fn admit(&self, ip: IpAddr) -> Admission {
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let from_ip = t.per_ip.get(&ip).map_or(0, HashSet::len);
        let full = if from_ip >= self.max_per_ip {
            Some(Some(ip))
        } else if t.conns.len() >= self.max_total {
            Some(None)
        } else {
            None
        };
        if let Some(scope) = full {
            let victim = t.oldest_waiting(scope);
            match victim.and_then(|id| t.remove(id)) {
                Some(evicted) => {
                    evicted.activity.evicted.notify_one();
                    self.log.note(Event::Evicted, ip);
                }
                None => {
                    self.log.note(Event::Refused, ip);
                    return Admission::Refused;
                }
            }
        }
        let activity = Arc::new(Activity {
            phase: AtomicU8::new(PHASE_HEAD),
            since_ms: AtomicU64::new(0),
            evicted: Notify::new(),
            epoch: self.epoch,
        });
        activity.set(PHASE_HEAD);
        let id = t.next_id;
        t.next_id += 1;
        t.conns.insert(
            id,
            Entry {
                ip,
                activity: activity.clone(),
            },
        );
        t.per_ip.entry(ip).or_default().insert(id);
        Admission::Admitted(id, activity)
    }

    fn release(&self, id: u64) {
        self.table
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }
}

#[derive(Clone, Copy)]
enum Event {
    Evicted,
    Refused,
}

/// At most one line per 10 s about evicted or refused connections, with
/// the counts since the last line: a flood must not flood the log too.
#[derive(Default)]
struct RateLimitedLog {
    evicted: AtomicU64,
    refused: AtomicU64,
    last_ms: Mutex<Option<Instant>>,
}

impl RateLimitedLog {
    fn note(&self, event: Event, ip: IpAddr) {
        match event {
            Event::Evicted => self.evicted.fetch_add(1, Ordering::Relaxed),
            Event::Refused => self.refused.fetch_add(1, Ordering::Relaxed),
        };
        let mut last = self.last_ms.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|t| t.elapsed() < Duration::from_secs(10)) {
            return;
        }
        *last = Some(Instant::now());
        let evicted = self.evicted.swap(0, Ordering::Relaxed);
        let refused = self.refused.swap(0, Ordering::Relaxed);
        tracing::warn!(
            evicted,
            refused,
            latest_client = %ip,
            "connection limit reached: closed the longest-waiting idle connections to admit new ones \
             (evicted), or new connections because every open one was busy (refused)"
        );
    }
}

/// The I/O of one connection: a read that brings the first bytes of a new
/// request head starts that head's timeout.
struct TrackedIo<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for TrackedIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before && self.activity.phase.load(Ordering::Acquire) == PHASE_IDLE
        {
            self.activity.set(PHASE_HEAD);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TrackedIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Marks the connection busy while a request is being served, and idle
/// (its idle timeout running) once the response is handed to hyper.
#[derive(Clone)]
struct Tracked {
    router: Router,
    activity: Arc<Activity>,
    body_read_timeout: Duration,
    /// Offered to handlers as `ConnectInfo<SocketAddr>`, as
    /// `axum::serve` with `into_make_service_with_connect_info` does.
    peer: SocketAddr,
}

/// Why a request body was cut off.
#[derive(Debug, thiserror::Error)]
#[error("request body not received within {0:?}")]
struct BodyTimeout(Duration);

/// A request body that fails once its deadline passes.
struct DeadlineBody {
    inner: hyper::body::Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
    timeout: Duration,
}

impl hyper::body::Body for DeadlineBody {
    type Data = bytes::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|r| r.map_err(Into::into)));
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(BodyTimeout(self.timeout).into()))),
            Poll::Pending => Poll::Pending,
        }
    }
    fn is_end_stream(&self) -> bool {
        hyper::body::Body::is_end_stream(&self.inner)
    }
    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::Body::size_hint(&self.inner)
    }
}

/// Sets the phase back to idle when a request's future finishes or is
/// dropped (client gone), so a connection never stays "busy" for ever.
struct IdleOnDrop(Arc<Activity>);

impl Drop for IdleOnDrop {
    fn drop(&mut self) {
        self.0.set(PHASE_IDLE);
    }
}

impl tower::Service<http::Request<hyper::body::Incoming>> for Tracked {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<hyper::body::Incoming>) -> Self::Future {
        self.activity.set(PHASE_BUSY);
        let guard = IdleOnDrop(self.activity.clone());
        // A Router is always ready (its poll_ready never waits).
        let timeout = self.body_read_timeout;
        let mut req = req;
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(self.peer));
        let req = req.map(|inner| {
            axum::body::Body::new(DeadlineBody {
                inner,
                deadline: Box::pin(tokio::time::sleep(timeout)),
                timeout,
            })
        });
        let fut = tower::Service::call(&mut self.router, req);
        Box::pin(async move {
            let resp = fut.await;
            drop(guard);
            resp
        })
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets every
/// request in progress finish (idle connections close at once) and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    tls: Option<Arc<crate::tls::Reloadable>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let registry = Arc::new(Registry {
        table: Mutex::new(Table::default()),
        max_total: limits
            .max_connections
            .unwrap_or_else(derived_max_connections),
        max_per_ip: limits.max_connections_per_ip.max(1),
        epoch: Instant::now(),
        log: RateLimitedLog::default(),
    });
    tracing::info!(
        max_connections = registry.max_total,
        max_connections_per_ip = registry.max_per_ip,
        header_read_timeout_s = limits.header_read_timeout.as_secs_f64(),
        idle_timeout_s = limits.idle_timeout.as_secs_f64(),
        body_read_timeout_s = limits.body_read_timeout.as_secs_f64(),
        "accepting connections"
    );
    // Each connection task holds a receiver: it learns of shutdown from it,
    // and `closed()` on the sender tells when the last one has finished.
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors (another part of the process used the
                // reserve) or a connection reset before accept: wait briefly
                // rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (id, activity) = match registry.admit(peer.ip()) {
            Admission::Admitted(id, activity) => (id, activity),
            Admission::Refused => continue, // dropping the stream closes it
        };
        let _ = stream.set_nodelay(true);
        let conn = Connection {
            stream,
            peer,
            id,
            activity,
            registry: registry.clone(),
            router: router.clone(),
            limits,
            stop: stop_rx.clone(),
            tls: tls.as_ref().map(|t| t.acceptor()),
        };
        tokio::spawn(conn.run());
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(stop_rx);
    stop_tx.closed().await;
}

struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    id: u64,
    activity: Arc<Activity>,
    registry: Arc<Registry>,
    router: Router,
    limits: Limits,
    stop: watch::Receiver<bool>,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl Connection {
    async fn run(mut self) {
        let stream = self.stream;
        match self.tls.take() {
            None => {
                Self::serve(
                    stream,
                    self.peer,
                    &self.activity,
                    self.router,
                    self.limits,
                    self.stop,
                )
                .await;
            }
            Some(acceptor) => {
                // The handshake counts as reading the request head: same
                // timeout, and evictable meanwhile.
                let handshake = tokio::time::timeout(
                    self.limits.header_read_timeout,
                    Box::pin(acceptor.accept(stream)),
                );
                let accepted = tokio::select! {
                    accepted = handshake => accepted,
                    () = self.activity.evicted.notified() => Ok(Err(io::ErrorKind::ConnectionAborted.into())),
                };
                match accepted {
                    Ok(Ok(tls)) => {
                        // Boxed: a TLS session is kilobytes, and an unboxed
                        // future would make every plain connection's task
                        // that large too.
                        Box::pin(Self::serve(
                            tls,
                            self.peer,
                            &self.activity,
                            self.router,
                            self.limits,
                            self.stop,
                        ))
                        .await;
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(peer = %self.peer, error = %e, "TLS handshake failed");
                    }
                    Err(_) => tracing::debug!(peer = %self.peer, "TLS handshake timed out"),
                }
            }
        }
        self.registry.release(self.id);
    }

    async fn serve<S>(
        stream: S,
        peer: SocketAddr,
        activity: &Arc<Activity>,
        router: Router,
        limits: Limits,
        mut stop: watch::Receiver<bool>,
    ) where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let io = TokioIo::new(TrackedIo {
            inner: stream,
            activity: activity.clone(),
        });
        let service = TowerToHyperService::new(Tracked {
            router,
            activity: activity.clone(),
            body_read_timeout: limits.body_read_timeout,
            peer,
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        // The head timeout is ours (hyper's would also cut idle keep-alive
        // connections at the same, short, deadline).
        builder.header_read_timeout(None).keep_alive(true);
        let mut conn = pin!(builder.serve_connection(io, service));
        let sleep = tokio::time::sleep_until(activity.deadline(&limits).into());
        let mut sleep = pin!(sleep);
        let mut stopping = *stop.borrow();
        if stopping {
            return;
        }
        loop {
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
                    }
                    break;
                }
                () = &mut sleep => {
                    let deadline = activity.deadline(&limits);
                    if deadline <= Instant::now() {
                        // Head too slow, or idle too long: close (dropping
                        // the connection closes the socket).
                        break;
                    }
                    sleep.as_mut().reset(deadline.into());
                }
                () = activity.evicted.notified() => break,
                changed = stop.changed(), if !stopping => {
                    // Sender gone also means the server is stopping.
                    let _ = changed;
                    stopping = true;
                    // A half-received head is no request yet: close it now
                    // rather than wait out its timeout. A request being
                    // served finishes; an idle connection hyper closes.
                    if activity.phase.load(Ordering::Acquire) == PHASE_HEAD {
                        break;
                    }
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(max_total: usize, max_per_ip: usize) -> Registry {
        Registry {
            table: Mutex::new(Table::default()),
            max_total,
            max_per_ip,
            epoch: Instant::now(),
            log: RateLimitedLog::default(),
        }
    }

    fn admitted(r: &Registry, ip: IpAddr) -> (u64, Arc<Activity>) {
        match r.admit(ip) {
            Admission::Admitted(id, a) => (id, a),
            Admission::Refused => panic!("refused {ip}"),
        }
    }

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    #[test]
    fn a_full_address_evicts_its_own_longest_waiting_connection() {
        let r = registry(100, 2);
        let (first, a1) = admitted(&r, A);
        std::thread::sleep(Duration::from_millis(5));
        let (_, a2) = admitted(&r, A);
        let (_, b1) = admitted(&r, B);
        // A third from A: A's oldest waiting one goes, B's is untouched.
        let (third, _) = admitted(&r, A);
        assert!(third > first);
        let t = r.table.lock().unwrap();
        assert!(!t.conns.contains_key(&first));
        assert_eq!(
            (t.per_ip[&A].len(), t.per_ip[&B].len(), t.conns.len()),
            (2, 1, 3)
        );
        drop(t);
        // The evicted connection's task is told (the permit is stored).
        let fut = a1.evicted.notified();
        let mut fut = pin!(fut);
        assert!(
            fut.as_mut()
                .poll(&mut Context::from_waker(std::task::Waker::noop()))
                .is_ready()
        );
        let _ = (a2, b1);
    }

    #[test]
    fn busy_connections_are_never_evicted_and_a_new_one_is_refused() {
        let r = registry(2, 10);
        let (_, a1) = admitted(&r, A);
        let (_, b1) = admitted(&r, B);
        a1.set(PHASE_BUSY);
        b1.set(PHASE_BUSY);
        assert!(matches!(r.admit(A), Admission::Refused));
        // Once one is idle again, it makes room.
        b1.set(PHASE_IDLE);
        let (_, _c) = admitted(&r, A);
        let t = r.table.lock().unwrap();
        assert_eq!(
            (t.per_ip.get(&A).map(HashSet::len), t.per_ip.get(&B)),
            (Some(2), None)
        );
    }

    #[test]
    fn release_forgets_the_connection() {
        let r = registry(1, 1);
        let (id, _a) = admitted(&r, A);
        r.release(id);
        let t = r.table.lock().unwrap();
        assert!(t.conns.is_empty() && t.per_ip.is_empty());
    }

    #[tokio::test]
    async fn handlers_see_the_peer_address_and_shutdown_returns() {
        use axum::extract::ConnectInfo;
        use std::io::{Read as _, Write as _};
        let router = Router::new().route(
            "/peer",
            axum::routing::get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                peer.to_string()
            }),
        );
        let listener = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, router, Limits::default(), None, async {
            let _ = stop_rx.await;
        }));
        let (reply, local) = tokio::task::spawn_blocking(move || {
            let mut client = std::net::TcpStream::connect(addr).unwrap();
            let local = client.local_addr().unwrap();
            client
                .write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut reply = String::new();
            client.read_to_string(&mut reply).unwrap();
            (reply, local)
        })
        .await
        .unwrap();
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        assert!(reply.ends_with(&local.to_string()), "{reply} vs {local}");
        stop_tx.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .expect("serve returns after shutdown")
            .unwrap();
    }

    #[test]
    fn deadlines_follow_the_phase() {
        let limits = Limits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            ..Limits::default()
        };
        let r = registry(1, 1);
        let (_, a) = admitted(&r, A);
        let head = a.deadline(&limits);
        a.set(PHASE_IDLE);
        let idle = a.deadline(&limits);
        assert!(idle > head + Duration::from_secs(100), "{idle:?} {head:?}");
        assert!(derived_max_connections() >= 16);
    }
}
