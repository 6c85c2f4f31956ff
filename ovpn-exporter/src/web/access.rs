//! The network allow-list (`--web.allow`) and the proxies whose
//! `X-Forwarded-For` is believed (`--web.trusted-proxy`).

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use hyper::HeaderMap;

/// An address range: `10.0.0.0/8`, `2001:db8::/32`, or a bare address
/// (`/32` or `/128`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// True if `ip` is in the range. IPv4 ranges also match IPv4-mapped
    /// IPv6 addresses (`::ffff:10.1.2.3`), which a dual-stack listener
    /// reports for IPv4 peers.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let err = || format!("{s:?} is not an IP address or CIDR range (e.g. 10.0.0.0/8, ::1)");
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr = addr.trim_start_matches('[').trim_end_matches(']');
        let addr = IpAddr::from_str(addr).map_err(|_| err())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(p) if p <= max => p,
                _ => return Err(format!("{s:?}: prefix length must be 0 to {max}")),
            },
        };
        // An IPv4-mapped range is the IPv4 range, as peers are compared.
        Ok(match (canonical(addr), addr) {
            (IpAddr::V4(v4), IpAddr::V6(_)) if prefix >= 96 => Cidr {
                addr: IpAddr::V4(v4),
                prefix: prefix - 96,
            },
            _ => Cidr { addr, prefix },
        })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// IPv4-mapped IPv6 addresses as IPv4, so one rule covers both listeners.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// Who may talk to the server.
#[derive(Clone, Debug, Default)]
pub struct Access {
    /// Allowed client ranges; empty allows everyone.
    pub allow: Vec<Cidr>,
    /// Peers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<Cidr>,
}

impl Access {
    /// True when neither flag was given: nothing to check.
    pub fn is_open(&self) -> bool {
        self.allow.is_empty()
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|c| c.contains(ip))
    }

    /// The client a request comes from: the peer itself, unless the peer is
    /// a trusted proxy, in which case the right-most address in
    /// `X-Forwarded-For` that is not itself a trusted proxy. `None` when
    /// that header holds something that is not an address where the client
    /// would be: the client is then unknown.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = canonical(peer);
        if !self.trusted(peer) {
            return Some(peer);
        }
        // Proxies append; several headers are one list, in order.
        let mut hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .map(|v| v.to_str().ok())
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        if hops.is_empty() {
            return Some(peer);
        }
        let mut client = peer;
        while let Some(hop) = hops.pop() {
            if hop.is_empty() {
                continue;
            }
            client = parse_hop(hop)?;
            if !self.trusted(client) {
                break;
            }
        }
        Some(client)
    }

    /// True if the request may proceed.
    pub fn allows(&self, peer: IpAddr, headers: &HeaderMap) -> bool {
        if self.is_open() {
            return true;
        }
        self.client(peer, headers)
            .is_some_and(|ip| self.allow.iter().any(|c| c.contains(ip)))
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port
/// (`192.0.2.1:5678`, `[2001:db8::1]:80`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(sa) = hop.parse::<std::net::SocketAddr>() {
        return Some(canonical(sa.ip()));
    }
    hop.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .and_then(|h| h.parse::<Ipv6Addr>().ok())
        .map(|ip| canonical(IpAddr::V6(ip)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn c(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parse_and_contain() {
        assert_eq!(c("10.0.0.0/8").to_string(), "10.0.0.0/8");
        assert_eq!(c("127.0.0.1").to_string(), "127.0.0.1/32");
        assert_eq!(c("::1").to_string(), "::1/128");
        assert_eq!(c("[::1]").to_string(), "::1/128");
        assert_eq!(c("::ffff:10.0.0.1").to_string(), "10.0.0.1/32");
        assert_eq!(c("::ffff:10.0.0.0/104").to_string(), "10.0.0.0/8");
        assert!(c("10.0.0.0/8").contains(ip("10.255.1.2")));
        assert!(!c("10.0.0.0/8").contains(ip("11.0.0.0")));
        assert!(c("10.0.0.0/8").contains(ip("::ffff:10.1.2.3")));
        assert!(c("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert!(!c("0.0.0.0/0").contains(ip("2001:db8::1")));
        assert!(c("::/0").contains(ip("2001:db8::1")));
        assert!(c("2001:db8::/32").contains(ip("2001:db8:ffff::1")));
        assert!(!c("2001:db8::/32").contains(ip("2001:db9::1")));
        assert!(c("127.0.0.1").contains(ip("127.0.0.1")));
        assert!(!c("127.0.0.1").contains(ip("127.0.0.2")));
        assert!(!c("::1").contains(ip("127.0.0.1")));
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "x",
            "10.0.0.0/-1",
            "1.2.3.4/",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad:?}");
        }
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let a = Access {
            allow: vec![c("10.0.0.0/8")],
            trusted_proxies: vec![c("127.0.0.1"), c("192.168.0.0/16")],
        };
        let proxy = ip("127.0.0.1");
        let stranger = ip("203.0.113.5");
        // A stranger's header is ignored: the stranger is the client.
        let h = xff(&["10.1.1.1"]);
        assert_eq!(a.client(stranger, &h), Some(stranger));
        assert!(!a.allows(stranger, &h));
        // A trusted proxy's header names the client.
        assert_eq!(a.client(proxy, &h), Some(ip("10.1.1.1")));
        assert!(a.allows(proxy, &h));
        // Right-most untrusted wins: a client cannot prepend a fake hop.
        let h = xff(&["10.9.9.9, 203.0.113.7, 192.168.1.1"]);
        assert_eq!(a.client(proxy, &h), Some(ip("203.0.113.7")));
        assert!(!a.allows(proxy, &h));
        // Several headers are one list.
        let h = xff(&["203.0.113.7", "10.2.3.4:5678"]);
        assert_eq!(a.client(proxy, &h), Some(ip("10.2.3.4")));
        let h = xff(&["[2001:db8::1]:80"]);
        assert_eq!(a.client(proxy, &h), Some(ip("2001:db8::1")));
        // Only trusted hops: the left-most is the client.
        let h = xff(&["192.168.3.3, 192.168.1.1"]);
        assert_eq!(a.client(proxy, &h), Some(ip("192.168.3.3")));
        // No header: the proxy itself.
        assert_eq!(a.client(proxy, &HeaderMap::new()), Some(proxy));
        // Garbage where the client should be: unknown, denied.
        let h = xff(&["10.1.1.1, unknown"]);
        assert_eq!(a.client(proxy, &h), None);
        assert!(!a.allows(proxy, &h));
        // A mapped IPv4 peer is the IPv4 proxy.
        let h = xff(&["10.1.1.1"]);
        assert_eq!(a.client(ip("::ffff:127.0.0.1"), &h), Some(ip("10.1.1.1")));
    }

    #[test]
    fn empty_allow_list_allows_everyone() {
        let a = Access::default();
        assert!(a.allows(ip("203.0.113.5"), &HeaderMap::new()));
        assert!(a.allows(ip("0.0.0.0"), &xff(&["garbage"])));
    }
}
