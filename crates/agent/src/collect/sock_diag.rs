//! TCP socket counts by state over netlink `sock_diag` (what `ss -s` uses).
//!
//! Why not `/proc/net/tcp`: generating that file walks the kernel's whole
//! established-connections hash table, which is sized by RAM, so it costs
//! ~4.6 ms of kernel time per read on a 24 GiB host even with three sockets
//! (measured; tcp + tcp6 every 10 s was two thirds of the agent's CPU). An
//! `inet_diag` dump skips empty buckets and sends only the fixed 72-byte
//! header per socket, of which we read one byte (the state).
//!
//! Both families come from one dump when the kernel takes the old
//! `TCPDIAG_GETSOCK` request, whose dump asks for `AF_UNSPEC`: IPv4 and IPv6
//! sockets share one hash table, and the walk over its (RAM-sized) bucket
//! array is what the dump costs, so one request walks it once instead of
//! twice. Kernels without that request get the two `SOCK_DIAG_BY_FAMILY`
//! dumps.
//!
//! Counting matches `/proc/net/tcp`: request sockets (`TCP_NEW_SYN_RECV`) are
//! reported by the kernel as `SYN_RECV`, time-wait sockets by their state.

use std::io;
use std::time::Duration;

use rustix::net::{
    AddressFamily, RecvFlags, SendFlags, SocketType, netlink, recv, send, socket, sockopt,
};

const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// The pre-`sock_diag` inet_diag request (and its answers' type).
const TCPDIAG_GETSOCK: u16 = 18;
const IPPROTO_TCP: u8 = 6;
/// nlmsghdr + inet_diag_req_v2.
const REQUEST_LEN: usize = NLMSG_HDRLEN + 56;
/// nlmsghdr + inet_diag_req (family, src_len, dst_len, ext, sockid, states, dbs).
const COMPAT_REQUEST_LEN: usize = NLMSG_HDRLEN + 60;
/// Every state bit (the kernel ignores bits it does not know).
const ALL_STATES: u32 = u32::MAX;
/// `TCP_TIME_WAIT`: its count is at index `TIME_WAIT - 1` of the result.
pub const TIME_WAIT: usize = 6;
/// A dump that stalls this long is abandoned (the collector also has its own timeout).
const RECV_TIMEOUT: Duration = Duration::from_secs(2);

fn request(family: AddressFamily, seq: u32, states: u32) -> [u8; REQUEST_LEN] {
    let mut m = [0u8; REQUEST_LEN];
    m[0..4].copy_from_slice(&(REQUEST_LEN as u32).to_ne_bytes());
    m[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    m[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    m[8..12].copy_from_slice(&seq.to_ne_bytes());
    // pid 0: the kernel fills it in.
    // inet_diag_req_v2: family, protocol, ext, pad, states, then a zero sockid.
    m[16] = family.as_raw() as u8;
    m[17] = IPPROTO_TCP;
    m[20..24].copy_from_slice(&states.to_ne_bytes());
    m
}

/// One dump of every TCP socket, IPv4 and IPv6 (see the module doc).
fn compat_request(seq: u32, states: u32) -> [u8; COMPAT_REQUEST_LEN] {
    let mut m = [0u8; COMPAT_REQUEST_LEN];
    m[0..4].copy_from_slice(&(COMPAT_REQUEST_LEN as u32).to_ne_bytes());
    m[4..6].copy_from_slice(&TCPDIAG_GETSOCK.to_ne_bytes());
    m[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    m[8..12].copy_from_slice(&seq.to_ne_bytes());
    // inet_diag_req: the family byte is ignored by the dump; sockid zero;
    // states at offset 4 + 48.
    m[16] = AddressFamily::INET.as_raw() as u8;
    m[16 + 52..16 + 56].copy_from_slice(&states.to_ne_bytes());
    m
}

/// What one received datagram said.
#[derive(Debug, PartialEq, Eq)]
enum Chunk {
    More,
    Done,
}

/// Counts the `inet_diag_msg`s in `buf` into `states` (index = state - 1).
fn parse_chunk(buf: &[u8], seq: u32, states: &mut [u64; 11]) -> io::Result<Chunk> {
    let mut off = 0;
    while off + NLMSG_HDRLEN <= buf.len() {
        let h = &buf[off..];
        let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let kind = u16::from_ne_bytes([h[4], h[5]]);
        let msg_seq = u32::from_ne_bytes([h[8], h[9], h[10], h[11]]);
        if len < NLMSG_HDRLEN || off + len > buf.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "sock_diag: truncated netlink message",
            ));
        }
        if msg_seq == seq {
            match kind {
                NLMSG_DONE => return Ok(Chunk::Done),
                NLMSG_ERROR => {
                    let errno = h
                        .get(16..20)
                        .map(|e| i32::from_ne_bytes([e[0], e[1], e[2], e[3]]))
                        .unwrap_or(0);
                    return Err(io::Error::from_raw_os_error(-errno));
                }
                SOCK_DIAG_BY_FAMILY | TCPDIAG_GETSOCK => {
                    // inet_diag_msg: idiag_family u8, idiag_state u8, ...
                    if let Some(&state) = h.get(NLMSG_HDRLEN + 1)
                        && let Some(slot) = usize::from(state)
                            .checked_sub(1)
                            .and_then(|i| states.get_mut(i))
                    {
                        *slot += 1;
                    }
                }
                _ => {}
            }
        }
        // Messages are 4-byte aligned.
        off += (len + 3) & !3;
    }
    Ok(Chunk::More)
}

/// TCP sockets of this network namespace (IPv4 and IPv6) by state:
/// index `i` holds state `i + 1` (1 ESTABLISHED … 11 CLOSING).
///
/// With `skip_time_wait` the kernel is asked not to send time-wait sockets
/// (their count stays 0): a host that opens many short connections holds
/// thousands, and `/proc/net/sockstat` already counts them.
pub fn tcp_states(skip_time_wait: bool) -> io::Result<[u64; 11]> {
    let wanted = if skip_time_wait {
        ALL_STATES & !(1 << TIME_WAIT)
    } else {
        ALL_STATES
    };
    let fd = socket(
        AddressFamily::NETLINK,
        SocketType::DGRAM,
        Some(netlink::SOCK_DIAG),
    )?;
    sockopt::set_socket_timeout(&fd, sockopt::Timeout::Recv, Some(RECV_TIMEOUT))?;
    // One page-sized-or-larger buffer; the kernel fills each datagram up to it.
    let mut buf = vec![0u8; 32 << 10];
    let mut states = [0u64; 11];
    if dump(&fd, &compat_request(1, wanted), 1, &mut buf, &mut states).is_ok() {
        return Ok(states);
    }
    let mut states = [0u64; 11];
    for (seq, family) in [(2, AddressFamily::INET), (3, AddressFamily::INET6)] {
        dump(
            &fd,
            &request(family, seq, wanted),
            seq,
            &mut buf,
            &mut states,
        )?;
    }
    Ok(states)
}

/// Sends one dump request and counts its answers into `states`.
fn dump(
    fd: &rustix::fd::OwnedFd,
    request: &[u8],
    seq: u32,
    buf: &mut [u8],
    states: &mut [u64; 11],
) -> io::Result<()> {
    send(fd, request, SendFlags::empty())?;
    loop {
        let (got, _) = recv(fd, &mut buf[..], RecvFlags::empty())?;
        if got == 0 || parse_chunk(&buf[..got], seq, states)? == Chunk::Done {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(kind: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let len = NLMSG_HDRLEN + payload.len();
        let mut m = Vec::new();
        m.extend((len as u32).to_ne_bytes());
        m.extend(kind.to_ne_bytes());
        m.extend(0u16.to_ne_bytes());
        m.extend(seq.to_ne_bytes());
        m.extend(0u32.to_ne_bytes());
        m.extend(payload);
        while m.len() % 4 != 0 {
            m.push(0);
        }
        m
    }

    #[test]
    fn counts_states_and_stops_at_done() {
        let mut buf = Vec::new();
        for state in [1u8, 1, 10, 6, 12, 0] {
            let mut p = vec![0u8; 72];
            p[0] = 2;
            p[1] = state;
            buf.extend(msg(SOCK_DIAG_BY_FAMILY, 7, &p));
        }
        // Another request's message is not counted.
        buf.extend(msg(SOCK_DIAG_BY_FAMILY, 8, &[2, 1]));
        let mut s = [0u64; 11];
        assert_eq!(parse_chunk(&buf, 7, &mut s).unwrap(), Chunk::More);
        assert_eq!(s[0], 2, "established");
        assert_eq!(s[9], 1, "listen");
        assert_eq!(s[5], 1, "time_wait");
        assert_eq!(s.iter().sum::<u64>(), 4, "unknown states 0 and 12 ignored");
        let done = msg(NLMSG_DONE, 7, &[0, 0, 0, 0]);
        assert_eq!(parse_chunk(&done, 7, &mut s).unwrap(), Chunk::Done);
    }

    #[test]
    fn errors_and_truncation_are_errors_not_panics() {
        let mut s = [0u64; 11];
        let err = msg(NLMSG_ERROR, 1, &(-13i32).to_ne_bytes());
        let e = parse_chunk(&err, 1, &mut s).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(13));
        let mut bad = msg(SOCK_DIAG_BY_FAMILY, 1, &[2, 1]);
        bad[0] = 200;
        assert!(parse_chunk(&bad, 1, &mut s).is_err());
        // Short garbage is ignored, never read past.
        assert_eq!(parse_chunk(&[1, 2, 3], 1, &mut s).unwrap(), Chunk::More);
    }

    #[test]
    fn the_single_dump_sees_both_families() {
        let _v4 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let v6 = std::net::TcpListener::bind("[::1]:0");
        let fd = socket(
            AddressFamily::NETLINK,
            SocketType::DGRAM,
            Some(netlink::SOCK_DIAG),
        )
        .unwrap();
        let mut buf = vec![0u8; 32 << 10];
        let mut per_family = |seq: u32| {
            let mut s = [0u64; 11];
            let mut v4 = [0u64; 11];
            dump(
                &fd,
                &request(AddressFamily::INET, seq, ALL_STATES),
                seq,
                &mut buf,
                &mut v4,
            )
            .unwrap();
            s.iter_mut().zip(v4).for_each(|(a, b)| *a += b);
            dump(
                &fd,
                &request(AddressFamily::INET6, seq + 1, ALL_STATES),
                seq + 1,
                &mut buf,
                &mut s,
            )
            .unwrap();
            (s, v4)
        };
        // Listeners of other tests come and go: compare when the two
        // per-family views around the single dump agree.
        let mut last = None;
        for round in 0..20u32 {
            let (before, v4) = per_family(10 + 4 * round);
            let mut single = [0u64; 11];
            let fd2 = socket(
                AddressFamily::NETLINK,
                SocketType::DGRAM,
                Some(netlink::SOCK_DIAG),
            )
            .unwrap();
            let mut b2 = vec![0u8; 32 << 10];
            dump(
                &fd2,
                &compat_request(1, ALL_STATES),
                1,
                &mut b2,
                &mut single,
            )
            .expect("TCPDIAG_GETSOCK");
            let (after, _) = per_family(12 + 4 * round);
            if before[9] == after[9] {
                assert_eq!(single[9], before[9], "LISTEN: one dump vs two");
                if v6.is_ok() {
                    assert!(single[9] > v4[9], "the IPv6 listener is in the single dump");
                }
                return;
            }
            last = Some((before, single, after));
        }
        panic!("listeners never stable: {last:?}");
    }

    fn proc_listen() -> u64 {
        let mut c = super::super::netstat::SocketCounts::default();
        c.add_tcp(&std::fs::read_to_string("/proc/net/tcp").unwrap());
        if let Ok(t) = std::fs::read_to_string("/proc/net/tcp6") {
            c.add_tcp(&t);
        }
        c.tcp[9]
    }

    #[test]
    fn live_counts_agree_with_proc_net_tcp() {
        // A listener of our own, so both views have at least one socket.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        // Other tests in this process open and close listeners, so compare
        // LISTEN counts only when /proc says nothing changed around the dump.
        let mut last = None;
        for _ in 0..20 {
            let before = proc_listen();
            let via_netlink = tcp_states(false).expect("sock_diag works on Linux");
            let after = proc_listen();
            assert!(via_netlink[9] >= 1, "our listener: {via_netlink:?}");
            // Equal counts before and after do not prove nothing changed in
            // between (nextest runs other tests, which bind listeners, in
            // parallel processes): a mismatch is retried, and only a
            // difference that persists over every try fails.
            if before == after && via_netlink[9] == before {
                drop(l);
                return;
            }
            last = Some((before, via_netlink[9], after));
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!(
            "LISTEN via netlink never matched /proc/net/tcp{{,6}} (before, netlink, after): {last:?}"
        );
    }
}
