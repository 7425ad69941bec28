//! `{instance_id}`, `{hostname}`, `{local_hostname}` and `{ip_address}` in
//! log group and stream names, resolved once at start.

/// The placeholder names a name template may use.
pub const KNOWN: &[&str] = &["instance_id", "hostname", "local_hostname", "ip_address"];

/// The values placeholders resolve to on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostNames {
    pub instance_id: String,
    pub hostname: String,
    /// IMDS's `local-hostname` on EC2; the hostname elsewhere.
    pub local_hostname: String,
    pub ip_address: String,
}

impl HostNames {
    /// Replaces every known placeholder in `template`; anything else is
    /// kept as written (config validation refused unknown ones).
    pub fn resolve(&self, template: &str) -> String {
        template
            .replace("{instance_id}", &self.instance_id)
            .replace("{local_hostname}", &self.local_hostname)
            .replace("{hostname}", &self.hostname)
            .replace("{ip_address}", &self.ip_address)
    }
}

/// The address this host would use to reach the outside: a UDP socket
/// "connected" to a non-routed TEST-NET address picks the route without
/// sending a packet. Falls back to 127.0.0.1 without any route.
pub fn primary_ip() -> String {
    let probe = || -> std::io::Result<std::net::IpAddr> {
        let s = std::net::UdpSocket::bind("0.0.0.0:0")?;
        s.connect("192.0.2.1:9")?;
        Ok(s.local_addr()?.ip())
    };
    probe()
        .ok()
        .filter(|ip| !ip.is_unspecified())
        .map_or_else(|| "127.0.0.1".to_owned(), |ip| ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_replaced_and_text_kept() {
        let h = HostNames {
            instance_id: "i-0abc".into(),
            hostname: "web1".into(),
            local_hostname: "ip-10-0-0-5.ec2.internal".into(),
            ip_address: "10.0.0.5".into(),
        };
        assert_eq!(
            h.resolve("{hostname}/{instance_id}-{ip_address}:{local_hostname}"),
            "web1/i-0abc-10.0.0.5:ip-10-0-0-5.ec2.internal"
        );
        assert_eq!(h.resolve("plain"), "plain");
    }
}
