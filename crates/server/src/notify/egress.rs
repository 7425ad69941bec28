//! Where webhook deliveries may connect: a policy over IP addresses, so a
//! subscriber cannot make the server POST to itself, to the host's loopback
//! services or to the cloud metadata service, nor use delivery errors to scan
//! ports behind it.
//!
//! Checked twice: at Subscribe (and SendTestNotification) on the endpoint's
//! host — an IP literal as the URL parser reads it (`2130706433`,
//! `0x7f000001`, `0177.0.0.1`, `127.1` are all 127.0.0.1), a name by
//! resolving it — and at delivery, where [`VettedResolver`] hands ureq only
//! the resolved addresses the policy allows, so the connection goes to an
//! address that was vetted (a DNS answer changed after Subscribe, rebinding,
//! cannot slip through). Redirects are not followed at all.
//!
//! Classes: public and private (RFC 1918, fc00::/7) addresses are allowed
//! (private ones unless `deny_private`); loopback and link-local ones only
//! through an allow-list entry; unspecified, multicast, broadcast, reserved,
//! the metadata addresses and the server's own listen address never. IPv6
//! forms that carry an IPv4 address (mapped `::ffff:a.b.c.d`, compatible
//! `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`) are judged as that IPv4 address.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// How long a name lookup may take (at Subscribe and at delivery).
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// What an address is, for the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    Public,
    /// 10/8, 172.16/12, 192.168/16, fc00::/7.
    Private,
    /// 127/8, ::1.
    Loopback,
    /// 169.254/16, fe80::/10 (the metadata addresses excepted).
    LinkLocal,
    /// The EC2 instance metadata service (169.254.169.254, fd00:ec2::254) and
    /// the ECS task metadata endpoint (169.254.170.2): credentials live there.
    Metadata,
    /// 0.0.0.0/8, :: (a connect to 0.0.0.0 reaches the local host).
    Unspecified,
    /// 224/4, ff00::/8.
    Multicast,
    /// 255.255.255.255.
    Broadcast,
    /// 240/4 (reserved for future use).
    Reserved,
}

impl AddressClass {
    /// How an error message names it ("a loopback address").
    pub fn described(self) -> &'static str {
        match self {
            AddressClass::Public => "a public address",
            AddressClass::Private => "a private address",
            AddressClass::Loopback => "a loopback address",
            AddressClass::LinkLocal => "a link-local address",
            AddressClass::Metadata => "the cloud instance metadata address",
            AddressClass::Unspecified => "an unspecified address",
            AddressClass::Multicast => "a multicast address",
            AddressClass::Broadcast => "the broadcast address",
            AddressClass::Reserved => "a reserved address",
        }
    }

    /// Classes no allow-list entry can open.
    fn never_allowed(self) -> bool {
        matches!(
            self,
            AddressClass::Metadata
                | AddressClass::Unspecified
                | AddressClass::Multicast
                | AddressClass::Broadcast
                | AddressClass::Reserved
        )
    }
}

/// The IPv4 address an IPv6 address carries (mapped, compatible, NAT64), or
/// the address itself.
pub fn canonical(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else { return ip };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return IpAddr::V4(v4);
    }
    let s = v6.segments();
    let embedded = || Ipv4Addr::from(u128::from(v6) as u32);
    // ::a.b.c.d (deprecated "compatible"), but not :: and ::1 themselves.
    if s[..6] == [0; 6] && v6 != Ipv6Addr::UNSPECIFIED && v6 != Ipv6Addr::LOCALHOST {
        return IpAddr::V4(embedded());
    }
    // NAT64's well-known prefix 64:ff9b::/96 (RFC 6052).
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return IpAddr::V4(embedded());
    }
    ip
}

/// The class of `ip` (after [`canonical`]).
pub fn classify(ip: IpAddr) -> AddressClass {
    match canonical(ip) {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let o = ip.octets();
    match o {
        [169, 254, 169, 254] | [169, 254, 170, 2] => AddressClass::Metadata,
        [0, ..] => AddressClass::Unspecified,
        [127, ..] => AddressClass::Loopback,
        [169, 254, ..] => AddressClass::LinkLocal,
        [10, ..] | [192, 168, ..] => AddressClass::Private,
        [172, b, ..] if (16..32).contains(&b) => AddressClass::Private,
        [255, 255, 255, 255] => AddressClass::Broadcast,
        [a, ..] if (224..240).contains(&a) => AddressClass::Multicast,
        [a, ..] if a >= 240 => AddressClass::Reserved,
        _ => AddressClass::Public,
    }
}

/// fd00:ec2::254, the EC2 metadata service on IPv6 (Nitro instances).
const EC2_METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    let first = ip.segments()[0];
    if ip == EC2_METADATA_V6 {
        AddressClass::Metadata
    } else if ip.is_unspecified() {
        AddressClass::Unspecified
    } else if ip.is_loopback() {
        AddressClass::Loopback
    } else if first & 0xffc0 == 0xfe80 {
        AddressClass::LinkLocal
    } else if first & 0xfe00 == 0xfc00 {
        AddressClass::Private
    } else if first & 0xff00 == 0xff00 {
        AddressClass::Multicast
    } else {
        AddressClass::Public
    }
}

/// An allow-list entry: an address or CIDR block, optionally with one port
/// (`127.0.0.1`, `10.1.0.0/16`, `127.0.0.1:9000`, `[::1]:9000`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllowRule {
    network: IpAddr,
    prefix: u8,
    port: Option<u16>,
}

impl AllowRule {
    /// Whether the entry covers `addr` (already [`canonical`]).
    fn covers(&self, ip: IpAddr, port: u16) -> bool {
        self.port.is_none_or(|p| p == port) && in_network(ip, self.network, self.prefix)
    }
}

fn in_network(ip: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Why an allow-list entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not an IP address, a CIDR block (\"10.1.0.0/16\") or an address and port \
     (\"127.0.0.1:9000\", \"[::1]:9000\"); host names are not accepted, since a name's \
     addresses can change"
)]
pub struct AllowRuleError(pub String);

impl FromStr for AllowRule {
    type Err = AllowRuleError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || AllowRuleError(text.to_string());
        if let Ok(addr) = text.parse::<SocketAddr>() {
            let ip = canonical(addr.ip());
            return Ok(AllowRule {
                network: ip,
                prefix: full_prefix(ip),
                port: Some(addr.port()),
            });
        }
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let ip: IpAddr = addr.parse().map_err(|_| bad())?;
        let prefix = match prefix {
            None => full_prefix(ip),
            Some(p) if p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty() => p
                .parse::<u8>()
                .ok()
                .filter(|&n| n <= full_prefix(ip))
                .ok_or_else(bad)?,
            Some(_) => return Err(bad()),
        };
        // A whole-address entry for a mapped IPv6 form means its IPv4 address.
        let (network, prefix) = match (ip, canonical(ip)) {
            (IpAddr::V6(_), IpAddr::V4(v4)) if prefix == 128 => (IpAddr::V4(v4), 32),
            _ => (ip, prefix),
        };
        Ok(AllowRule {
            network,
            prefix,
            port: None,
        })
    }
}

fn full_prefix(ip: IpAddr) -> u8 {
    if ip.is_ipv4() { 32 } else { 128 }
}

impl fmt::Display for AllowRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.port, self.network) {
            (Some(p), IpAddr::V6(v6)) => write!(f, "[{v6}]:{p}"),
            (Some(p), ip) => write!(f, "{ip}:{p}"),
            (None, ip) if self.prefix == full_prefix(ip) => write!(f, "{ip}"),
            (None, ip) => write!(f, "{ip}/{}", self.prefix),
        }
    }
}

/// The `[notify]` settings the policy is made of.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressConfig {
    /// Addresses opened deliberately (loopback and link-local ones included).
    pub webhook_allow: Vec<AllowRule>,
    /// Refuse private addresses too (unless allowed by `webhook_allow`).
    pub deny_private: bool,
}

/// Why a webhook address was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Class(AddressClass),
    /// The server's own listen address.
    OwnAddress,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Class(c) => f.write_str(c.described()),
            Refusal::OwnAddress => f.write_str("this server's own address"),
        }
    }
}

/// A refused delivery target: `host` as written in the URL, and the
/// addresses it stood for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Refused {
    pub host: String,
    pub addrs: Vec<(SocketAddr, Refusal)>,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some((first, why)) = self.addrs.first() else {
            return write!(f, "{} has no address", self.host);
        };
        let ip = first.ip().to_string();
        if self.host.trim_matches(['[', ']']) == ip {
            write!(f, "{ip} is {why}")?;
        } else {
            write!(f, "{} resolves to {ip}, {why}", self.host)?;
        }
        if self.addrs.len() > 1 {
            write!(f, " (and {} more refused addresses)", self.addrs.len() - 1)?;
        }
        f.write_str(", which webhook deliveries may not reach")
    }
}

/// The policy in force: the config plus the server's own listen address.
#[derive(Debug, Clone, Default)]
pub struct EgressPolicy {
    config: EgressConfig,
    own: Vec<SocketAddr>,
}

impl EgressPolicy {
    /// `own`: the addresses the server listens on (never a webhook target).
    pub fn new(config: EgressConfig, own: Vec<SocketAddr>) -> Self {
        EgressPolicy { config, own }
    }

    /// Whether a delivery may connect to `addr`.
    pub fn check(&self, addr: SocketAddr) -> Result<(), Refusal> {
        let ip = canonical(addr.ip());
        if self.own.iter().any(|o| is_own(*o, ip, addr.port())) {
            return Err(Refusal::OwnAddress);
        }
        let class = classify(ip);
        let open = match class {
            AddressClass::Public => true,
            AddressClass::Private if !self.config.deny_private => true,
            c if c.never_allowed() => false,
            _ => self
                .config
                .webhook_allow
                .iter()
                .any(|r| r.covers(ip, addr.port())),
        };
        if open {
            Ok(())
        } else {
            Err(Refusal::Class(class))
        }
    }

    /// The addresses of `candidates` a delivery may use; `Err` naming them
    /// all when none may be used.
    pub fn vet(&self, host: &str, candidates: &[SocketAddr]) -> Result<Vec<SocketAddr>, Refused> {
        let mut allowed = Vec::new();
        let mut refused = Vec::new();
        for &a in candidates {
            match self.check(a) {
                Ok(()) => allowed.push(a),
                Err(why) => refused.push((a, why)),
            }
        }
        if allowed.is_empty() && !refused.is_empty() {
            return Err(Refused {
                host: host.to_string(),
                addrs: refused,
            });
        }
        Ok(allowed)
    }

    /// Subscribe's check of an http(s) endpoint: an IP host as the URL
    /// parser reads it, a name through DNS. A name that does not resolve
    /// (now) passes: delivery checks again, and fails, as SNS's would.
    pub fn check_endpoint(&self, endpoint: &str) -> Result<(), Refused> {
        let Ok(url) = url::Url::parse(endpoint) else {
            return Ok(()); // the protocol validation refuses it
        };
        let Some(port) = url.port_or_known_default() else {
            return Ok(());
        };
        let (label, candidates) = match url.host() {
            Some(url::Host::Ipv4(ip)) => (ip.to_string(), vec![SocketAddr::new(ip.into(), port)]),
            Some(url::Host::Ipv6(ip)) => (ip.to_string(), vec![SocketAddr::new(ip.into(), port)]),
            Some(url::Host::Domain(name)) => {
                (name.to_string(), resolve(name, port).unwrap_or_default())
            }
            None => return Ok(()),
        };
        self.vet(&label, &candidates).map(|_| ())
    }
}

/// Whether `ip:port` reaches the server listening on `own`. A server on
/// 0.0.0.0 / :: is reached through every address of this host.
fn is_own(own: SocketAddr, ip: IpAddr, port: u16) -> bool {
    if own.port() != port {
        return false;
    }
    let own_ip = canonical(own.ip());
    own_ip == ip
        || (own_ip.is_unspecified()
            && (matches!(
                classify(ip),
                AddressClass::Loopback | AddressClass::Unspecified
            ) || is_local_address(ip)))
}

/// Whether `ip` is an address of this host: binding a socket to it works
/// only then (the kernel answers EADDRNOTAVAIL for anyone else's).
fn is_local_address(ip: IpAddr) -> bool {
    std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

/// Resolves `host` (a name or an IP literal as the system resolver reads
/// it) within [`RESOLVE_TIMEOUT`].
pub fn resolve(host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let target = (host.to_string(), port);
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    // getaddrinfo cannot be cancelled: a lookup that hangs is left behind.
    std::thread::Builder::new()
        .name("webhook-dns".into())
        .spawn(move || {
            let _ = tx.send(target.to_socket_addrs().map(Vec::from_iter));
        })?;
    rx.recv_timeout(RESOLVE_TIMEOUT).unwrap_or_else(|_| {
        Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("resolving {host} took longer than {RESOLVE_TIMEOUT:?}"),
        ))
    })
}

/// ureq's name resolution for webhook deliveries: resolves, then keeps only
/// the addresses the policy allows, so the connector never sees another.
#[derive(Debug, Clone)]
pub struct VettedResolver {
    pub policy: Arc<EgressPolicy>,
}

impl ureq::unversioned::resolver::Resolver for VettedResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        _config: &ureq::config::Config,
        _timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let host = uri
            .host()
            .ok_or_else(|| ureq::Error::BadUri(format!("{uri}: no host")))?;
        let port = match (uri.port_u16(), uri.scheme_str()) {
            (Some(p), _) => p,
            (None, Some("https")) => 443,
            (None, Some("http")) => 80,
            _ => return Err(ureq::Error::BadUri(format!("{uri}: no port"))),
        };
        let found = resolve(host, port)?;
        let vetted = self
            .policy
            .vet(host, &found)
            .map_err(|r| ureq::Error::Other(Box::new(r)))?;
        let mut out = self.empty();
        for a in vetted {
            if out.try_push(a).is_err() {
                break; // ureq keeps at most 16
            }
        }
        if out.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_are_classified() {
        use AddressClass::*;
        let table: &[(&str, AddressClass)] = &[
            ("127.0.0.1", Loopback),
            ("127.255.0.9", Loopback),
            ("::1", Loopback),
            ("169.254.169.254", Metadata),
            ("169.254.170.2", Metadata),
            ("fd00:ec2::254", Metadata),
            ("169.254.1.1", LinkLocal),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Unspecified),
            ("::", Unspecified),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("ff02::1", Multicast),
            ("255.255.255.255", Broadcast),
            ("240.0.0.1", Reserved),
            ("10.0.0.1", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.168.1.1", Private),
            ("fc00::1", Private),
            ("fd12:3456::1", Private),
            ("172.32.0.1", Public),
            ("172.15.0.1", Public),
            ("8.8.8.8", Public),
            ("2001:db8::1", Public),
            ("fec0::1", Public),
            // IPv4 inside IPv6: judged as the IPv4 address.
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:169.254.169.254", Metadata),
            ("::ffff:0.0.0.0", Unspecified),
            ("::127.0.0.1", Loopback),
            ("::169.254.169.254", Metadata),
            ("64:ff9b::127.0.0.1", Loopback),
            ("64:ff9b::10.0.0.1", Private),
            ("::ffff:8.8.8.8", Public),
        ];
        for (addr, class) in table {
            assert_eq!(classify(ip(addr)), *class, "{addr}");
        }
    }

    fn policy(allow: &[&str], deny_private: bool) -> EgressPolicy {
        EgressPolicy::new(
            EgressConfig {
                webhook_allow: allow.iter().map(|r| r.parse().unwrap()).collect(),
                deny_private,
            },
            vec!["127.0.0.1:4566".parse().unwrap()],
        )
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_default_policy_refuses_the_local_host_and_metadata() {
        let p = policy(&[], false);
        for refused in [
            "127.0.0.1:80",
            "127.0.0.2:9000",
            "[::1]:80",
            "[::ffff:127.0.0.1]:80",
            "0.0.0.0:80",
            "[::]:80",
            "169.254.169.254:80",
            "[fd00:ec2::254]:80",
            "169.254.0.5:80",
            "[fe80::1]:80",
            "224.0.0.1:80",
            "255.255.255.255:80",
        ] {
            assert!(p.check(sa(refused)).is_err(), "{refused}");
        }
        for open in [
            "8.8.8.8:443",
            "10.0.0.1:80",
            "192.168.0.1:8080",
            "[fd00::1]:80",
        ] {
            assert_eq!(p.check(sa(open)), Ok(()), "{open}");
        }
    }

    #[test]
    fn private_addresses_can_be_denied() {
        let p = policy(&[], true);
        for refused in [
            "10.0.0.1:80",
            "172.16.0.1:80",
            "192.168.0.1:80",
            "[fd00::1]:80",
        ] {
            assert_eq!(
                p.check(sa(refused)),
                Err(Refusal::Class(AddressClass::Private)),
                "{refused}"
            );
        }
        assert_eq!(p.check(sa("8.8.8.8:443")), Ok(()));
    }

    #[test]
    fn the_allow_list_opens_addresses_blocks_and_ports() {
        let p = policy(&["127.0.0.1:9000", "10.1.0.0/16", "::1"], true);
        assert_eq!(p.check(sa("127.0.0.1:9000")), Ok(()));
        assert!(p.check(sa("127.0.0.1:9001")).is_err(), "another port");
        assert_eq!(p.check(sa("[::ffff:127.0.0.1]:9000")), Ok(()));
        assert_eq!(p.check(sa("10.1.200.3:80")), Ok(()));
        assert!(p.check(sa("10.2.0.1:80")).is_err(), "outside the block");
        assert_eq!(p.check(sa("[::1]:1234")), Ok(()));
    }

    #[test]
    fn metadata_own_address_and_the_like_are_never_allowed() {
        let p = policy(
            &["0.0.0.0/0", "::/0", "169.254.169.254", "127.0.0.1:4566"],
            false,
        );
        assert_eq!(
            p.check(sa("169.254.169.254:80")),
            Err(Refusal::Class(AddressClass::Metadata))
        );
        assert_eq!(
            p.check(sa("[fd00:ec2::254]:80")),
            Err(Refusal::Class(AddressClass::Metadata))
        );
        assert_eq!(p.check(sa("127.0.0.1:4566")), Err(Refusal::OwnAddress));
        assert_eq!(
            p.check(sa("[::ffff:127.0.0.1]:4566")),
            Err(Refusal::OwnAddress)
        );
        assert!(p.check(sa("0.0.0.0:80")).is_err());
        assert!(p.check(sa("224.0.0.1:80")).is_err());
        assert_eq!(
            p.check(sa("127.0.0.1:4567")),
            Ok(()),
            "allowed by 0.0.0.0/0"
        );
    }

    #[test]
    fn a_server_on_every_interface_is_its_own_loopback_address() {
        let p = EgressPolicy::new(
            EgressConfig {
                webhook_allow: vec!["127.0.0.0/8".parse().unwrap()],
                deny_private: false,
            },
            vec!["0.0.0.0:4566".parse().unwrap()],
        );
        assert_eq!(p.check(sa("127.0.0.9:4566")), Err(Refusal::OwnAddress));
        assert_eq!(p.check(sa("127.0.0.9:4567")), Ok(()));
        // Another host's address on the same port is not this server.
        assert_eq!(p.check(sa("192.0.2.1:4566")), Ok(()));
        assert!(is_local_address(ip("127.0.0.1")));
        assert!(!is_local_address(ip("192.0.2.1")));
    }

    #[test]
    fn allow_rules_parse_and_print() {
        for (text, shown) in [
            ("127.0.0.1", "127.0.0.1"),
            ("127.0.0.1:9000", "127.0.0.1:9000"),
            ("10.1.0.0/16", "10.1.0.0/16"),
            ("[::1]:9000", "[::1]:9000"),
            ("fc00::/7", "fc00::/7"),
            ("::ffff:127.0.0.1", "127.0.0.1"),
        ] {
            assert_eq!(text.parse::<AllowRule>().unwrap().to_string(), shown);
        }
        for bad in [
            "",
            "localhost",
            "localhost:9000",
            "127.1",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/8:80",
            "http://127.0.0.1",
        ] {
            assert!(bad.parse::<AllowRule>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn odd_ipv4_spellings_are_read_as_the_address_they_mean() {
        let p = policy(&[], false);
        for url in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://127.0.0.1./",
            "http://[::ffff:7f00:1]/",
            "http://[::1]:8080/",
            "http://0/",
            "http://169.254.169.254/latest/meta-data/",
            "http://2852039166/",
            "https://[fd00:ec2::254]/",
        ] {
            let e = p.check_endpoint(url).unwrap_err();
            assert!(!e.addrs.is_empty(), "{url}");
        }
        let e = p.check_endpoint("http://2130706433/hook").unwrap_err();
        assert_eq!(
            e.to_string(),
            "127.0.0.1 is a loopback address, which webhook deliveries may not reach"
        );
        let e = p.check_endpoint("http://[::ffff:7f00:1]/hook").unwrap_err();
        assert_eq!(
            e.to_string(),
            "::ffff:127.0.0.1 is a loopback address, which webhook deliveries may not reach"
        );
        assert_eq!(p.check_endpoint("http://8.8.8.8/hook"), Ok(()));
    }

    #[test]
    fn names_are_judged_by_what_they_resolve_to() {
        let p = policy(&[], false);
        let e = p.check_endpoint("http://localhost:9000/hook").unwrap_err();
        assert!(
            e.to_string().starts_with("localhost resolves to ")
                && e.to_string().contains("a loopback address"),
            "{e}"
        );
        let open = policy(&["127.0.0.1", "::1"], false);
        assert_eq!(open.check_endpoint("http://localhost:9000/hook"), Ok(()));
    }

    #[test]
    fn vetting_keeps_only_allowed_addresses() {
        let p = policy(&[], false);
        let mixed = [sa("127.0.0.1:80"), sa("8.8.8.8:80")];
        assert_eq!(p.vet("rebind.test", &mixed), Ok(vec![sa("8.8.8.8:80")]));
        let e = p
            .vet("rebind.test", &[sa("127.0.0.1:80"), sa("[::1]:80")])
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "rebind.test resolves to 127.0.0.1, a loopback address \
             (and 1 more refused addresses), which webhook deliveries may not reach"
        );
    }
}
