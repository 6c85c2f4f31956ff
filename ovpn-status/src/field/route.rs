//! The routing table's Virtual Address column, typed on demand.
//!
//! ```text
//! target = ip [ "C" ]            ; a host; "C": learned (cached) route
//!        | ip "/" prefix-len     ; an iroute subnet
//!        | mac [ "@" vlan ]      ; tap mode: "@vlan" since 2.5
//! ```

use core::net::IpAddr;

use nom::bytes::complete::{tag, take_while_m_n};
use nom::character::complete::digit1;
use nom::combinator::{all_consuming, map_opt, opt};
use nom::sequence::preceded;
use nom::{IResult, Parser as _};

/// What a routing-table row routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RouteTarget {
    /// One address. `cached` is the `C` suffix OpenVPN prints for a route
    /// it learned from traffic (`192.168.103.7C`).
    Host {
        /// The address.
        ip: IpAddr,
        /// True for a learned (cached) route.
        cached: bool,
    },
    /// An iroute subnet (`192.168.103.0/24`, `2001:db8:1::/64`).
    Subnet {
        /// The network address as written.
        ip: IpAddr,
        /// The prefix length.
        prefix_len: u8,
    },
    /// A MAC address (tap mode): `52:54:00:12:34:56@0` since 2.5, without
    /// the `@vlan` in 2.4.
    Mac {
        /// The six octets.
        addr: [u8; 6],
        /// The VLAN id after `@`.
        vlan: Option<u16>,
    },
}

impl RouteTarget {
    /// Classifies a routing-table Virtual Address; `None` for any other text.
    pub fn parse(s: &[u8]) -> Option<Self> {
        if let Some((addr, len)) = split_last(s, b'/') {
            let ip = ip(addr)?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let (_, prefix_len) = all_consuming(small_number(3)).parse_complete(len).ok()?;
            let prefix_len = u8::try_from(prefix_len).ok().filter(|&l| l <= max)?;
            return Some(RouteTarget::Subnet { ip, prefix_len });
        }
        if let Ok((_, (addr, vlan))) = all_consuming(mac).parse_complete(s) {
            return Some(RouteTarget::Mac { addr, vlan });
        }
        match s.strip_suffix(b"C") {
            Some(host) => ip(host).map(|ip| RouteTarget::Host { ip, cached: true }),
            None => ip(s).map(|ip| RouteTarget::Host { ip, cached: false }),
        }
    }
}

fn split_last(s: &[u8], c: u8) -> Option<(&[u8], &[u8])> {
    let i = memchr::memrchr(c, s)?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

fn ip(s: &[u8]) -> Option<IpAddr> {
    if s.len() > 45 {
        return None;
    }
    core::str::from_utf8(s).ok()?.parse().ok()
}

/// Up to `max_digits` decimal digits.
fn small_number(max_digits: usize) -> impl FnMut(&[u8]) -> IResult<&[u8], u16> {
    move |i| {
        map_opt(digit1, |d: &[u8]| {
            if d.len() > max_digits {
                return None;
            }
            u16::try_from(crate::field::num::parse_u64(d)?).ok()
        })
        .parse_complete(i)
    }
}

fn hex_octet(i: &[u8]) -> IResult<&[u8], u8> {
    map_opt(
        take_while_m_n(2, 2, |b: u8| b.is_ascii_hexdigit()),
        |h: &[u8]| {
            let s = core::str::from_utf8(h).ok()?;
            u8::from_str_radix(s, 16).ok()
        },
    )
    .parse_complete(i)
}

/// `xx:xx:xx:xx:xx:xx[@vlan]` without allocating (nom's `count` would).
fn mac(i: &[u8]) -> IResult<&[u8], ([u8; 6], Option<u16>)> {
    let mut addr = [0u8; 6];
    let (mut rest, first) = hex_octet(i)?;
    addr[0] = first;
    for octet in addr.iter_mut().skip(1) {
        let (r, o) = preceded(tag(":"), hex_octet).parse_complete(rest)?;
        *octet = o;
        rest = r;
    }
    let (rest, vlan) = opt(preceded(tag("@"), small_number(5))).parse_complete(rest)?;
    Ok((rest, (addr, vlan)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(s: &str, cached: bool) -> Option<RouteTarget> {
        s.parse().ok().map(|ip| RouteTarget::Host { ip, cached })
    }
    fn subnet(s: &str, prefix_len: u8) -> Option<RouteTarget> {
        s.parse()
            .ok()
            .map(|ip| RouteTarget::Subnet { ip, prefix_len })
    }

    macro_rules! case {
        ($name:ident, $input:expr, $expected:expr) => {
            #[test]
            fn $name() {
                assert_eq!(RouteTarget::parse($input), $expected);
            }
        };
    }

    case!(ipv4_host, b"10.8.0.6", host("10.8.0.6", false));
    case!(ipv4_cached, b"192.168.101.7C", host("192.168.101.7", true));
    case!(
        ipv6_host,
        b"2001:db8:0:3::1000",
        host("2001:db8:0:3::1000", false)
    );
    case!(
        ipv4_subnet,
        b"192.168.101.0/24",
        subnet("192.168.101.0", 24)
    );
    case!(
        ipv6_subnet,
        b"2001:db8::1000/124",
        subnet("2001:db8::1000", 124)
    );
    case!(ipv4_subnet_too_long, b"10.0.0.0/33", None);
    case!(ipv6_subnet_max, b"::/128", subnet("::", 128));
    case!(
        mac_vlan,
        b"52:54:00:12:34:56@0",
        Some(RouteTarget::Mac {
            addr: [0x52, 0x54, 0, 0x12, 0x34, 0x56],
            vlan: Some(0)
        })
    );
    case!(
        mac_bare,
        b"22:1d:63:bf:62:38",
        Some(RouteTarget::Mac {
            addr: [0x22, 0x1d, 0x63, 0xbf, 0x62, 0x38],
            vlan: None
        })
    );
    case!(mac_short, b"22:1d:63:bf:62", None);
    case!(mac_long, b"22:1d:63:bf:62:38:00", None);
    case!(empty, b"", None);
    case!(garbage, b"hello", None);
    case!(c_alone, b"C", None);
}
