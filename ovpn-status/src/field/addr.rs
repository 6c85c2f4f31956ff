//! The Real Address column (parsing policy rule 8).
//!
//! ```text
//! real-address = [ proto ":" ] ( ipv4 ":" port | "[" ipv6 "]" ":" port | ipv6 [ ":" port ] )
//! proto        = ( "udp" | "tcp" ) [ "4" | "6" ] [ "-server" | "-client" ]   ; role only after tcp
//! ```
//!
//! OpenVPN 2.3–2.6 print `IPv4:port` or a bare IPv6 address without a port;
//! 2.7 adds the protocol prefix and brackets IPv6.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use nom::branch::alt;
use nom::bytes::complete::{tag, take_until};
use nom::character::complete::{digit1, one_of};
use nom::combinator::{all_consuming, consumed, map_opt, opt, value};
use nom::sequence::{delimited, preceded, terminated};
use nom::{IResult, Parser as _};

use crate::Text;

/// The longest address text worth trying to parse: `tcp6-server:` plus a
/// bracketed IPv6 address with an embedded IPv4 part plus `:65535` is 61
/// bytes. Longer fields are rejected without running the IP grammars.
const MAX_ADDRESS_LEN: usize = 72;

/// The transport protocol named by a 2.7 Real Address prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// `udp`, `udp4`, `udp6`.
    Udp,
    /// `tcp`, `tcp4`, `tcp6`, with or without `-server` / `-client`.
    Tcp,
}

impl Protocol {
    /// `"udp"` or `"tcp"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Protocol::Udp => "udp",
            Protocol::Tcp => "tcp",
        }
    }
}

/// A client's Real Address: the raw text, plus its typed parts.
///
/// The port is given only where it is certain: OpenVPN before 2.7 prints an
/// IPv6 peer without a port, and `2001:db8::2:1194` is a valid IPv6 address,
/// so a bare IPv6 text has a port only when the text before its last `:` is
/// an IPv6 address and the whole text is not.
///
/// ```
/// use core::net::IpAddr;
/// use ovpn_status::{Protocol, RealAddress};
/// let a = RealAddress::parse(b"tcp6-server:[2001:db8::7]:443").unwrap();
/// assert_eq!(a.protocol(), Some(Protocol::Tcp));
/// assert_eq!(a.ip(), "2001:db8::7".parse::<IpAddr>().unwrap());
/// assert_eq!(a.port(), Some(443));
/// let a = RealAddress::parse(b"2001:db8::2:1194").unwrap();
/// assert_eq!(a.port(), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RealAddress<'a> {
    raw: Text<'a>,
    prefix: Option<Text<'a>>,
    protocol: Option<Protocol>,
    ip: IpAddr,
    port: Option<u16>,
}

impl<'a> RealAddress<'a> {
    /// Parses a Real Address field; `None` when it has none of the forms of
    /// parsing policy rule 8.
    pub fn parse(raw: &'a [u8]) -> Option<Self> {
        if raw.len() > MAX_ADDRESS_LEN {
            return None;
        }
        // Most servers print `a.b.c.d:port`; read it without the grammar.
        if let Some((ip, port)) = dotted_quad_port(raw) {
            return Some(RealAddress {
                raw: Text::new(raw),
                prefix: None,
                protocol: None,
                ip: IpAddr::V4(ip),
                port: Some(port),
            });
        }
        let (body, prefix) = match transport(raw) {
            Ok((body, (prefix, protocol))) => (body, Some((prefix, protocol))),
            Err(_) => (raw, None),
        };
        let (ip, port) = host_port(body)?;
        Some(RealAddress {
            raw: Text::new(raw),
            prefix: prefix.map(|(p, _)| Text::new(p)),
            protocol: prefix.map(|(_, p)| p),
            ip,
            port,
        })
    }

    /// The field exactly as OpenVPN wrote it.
    pub const fn raw(&self) -> Text<'a> {
        self.raw
    }

    /// The protocol prefix without its `:` (`tcp6-server`), OpenVPN 2.7+.
    pub const fn prefix(&self) -> Option<Text<'a>> {
        self.prefix
    }

    /// The protocol named by the prefix, OpenVPN 2.7+.
    pub const fn protocol(&self) -> Option<Protocol> {
        self.protocol
    }

    /// The peer's IP address.
    pub const fn ip(&self) -> IpAddr {
        self.ip
    }

    /// The peer's port, where the text gives it with certainty.
    pub const fn port(&self) -> Option<u16> {
        self.port
    }

    /// The address text without the protocol prefix (`[2001:db8::7]:443`).
    pub fn without_prefix(&self) -> Text<'a> {
        match self.prefix {
            // The prefix is followed by one `:`.
            Some(p) => Text::new(self.raw.as_bytes().get(p.len() + 1..).unwrap_or_default()),
            None => self.raw,
        }
    }

    /// The host part as text, without prefix, brackets or port
    /// (`2001:db8::7`, `203.0.113.7`).
    pub fn host(&self) -> Text<'a> {
        let body = self.without_prefix().as_bytes();
        let host = match self.port {
            None => body,
            Some(_) => memchr::memrchr(b':', body)
                .and_then(|i| body.get(..i))
                .unwrap_or(body),
        };
        let host = host
            .strip_prefix(b"[")
            .and_then(|h| h.strip_suffix(b"]"))
            .unwrap_or(host);
        Text::new(host)
    }
}

impl core::fmt::Display for RealAddress<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(&self.raw, f)
    }
}

/// The common `a.b.c.d:port` form, read directly: four decimal octets of
/// one to three digits (no leading zeros, as `Ipv4Addr`'s parser requires),
/// and a port of one to five digits up to 65535. `None` for anything else,
/// which the full grammar then reads.
fn dotted_quad_port(s: &[u8]) -> Option<(Ipv4Addr, u16)> {
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (n, octet) in octets.iter_mut().enumerate() {
        let (value, len) = decimal(s.get(i..)?, 3);
        let leading_zero = len > 1 && s.get(i) == Some(&b'0');
        if len == 0 || len > 3 || leading_zero {
            return None;
        }
        *octet = u8::try_from(value).ok()?;
        i += len;
        let end = if n == 3 { b':' } else { b'.' };
        if s.get(i) != Some(&end) {
            return None;
        }
        i += 1;
    }
    let rest = s.get(i..)?;
    let (port, len) = decimal(rest, 5);
    if len == 0 || len > 5 || len != rest.len() {
        return None;
    }
    Some((Ipv4Addr::from(octets), u16::try_from(port).ok()?))
}

/// The value and length of the run of up to `max` decimal digits that
/// starts `s` (one more digit makes the length `max + 1`, rejected by the
/// callers' checks).
fn decimal(s: &[u8], max: usize) -> (u32, usize) {
    let mut value = 0u32;
    let mut len = 0;
    for &b in s.iter().take(max + 1) {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        value = value * 10 + u32::from(d);
        len += 1;
    }
    (value, len)
}

/// `proto ":"`, giving the prefix text (without `:`) and the protocol.
fn transport(i: &[u8]) -> IResult<&[u8], (&[u8], Protocol)> {
    let family = || opt(one_of("46"));
    let udp = value(Protocol::Udp, (tag("udp"), family()));
    let tcp = value(
        Protocol::Tcp,
        (
            tag("tcp"),
            family(),
            opt(alt((tag("-server"), tag("-client")))),
        ),
    );
    terminated(consumed(alt((udp, tcp))), tag(":")).parse_complete(i)
}

/// A decimal port, 0–65535.
fn port(i: &[u8]) -> IResult<&[u8], u16> {
    map_opt(digit1, |d: &[u8]| {
        if d.len() > 5 {
            return None;
        }
        let v = crate::field::num::parse_u64(d)?;
        u16::try_from(v).ok()
    })
    .parse_complete(i)
}

/// `"[" ipv6 "]" ":" port`.
fn bracketed(i: &[u8]) -> IResult<&[u8], (Ipv6Addr, u16)> {
    all_consuming((
        map_opt(delimited(tag("["), take_until("]"), tag("]")), ipv6),
        preceded(tag(":"), port),
    ))
    .parse_complete(i)
}

fn host_port(body: &[u8]) -> Option<(IpAddr, Option<u16>)> {
    if body.first() == Some(&b'[') {
        let (_, (ip, port)) = bracketed(body).ok()?;
        return Some((IpAddr::V6(ip), Some(port)));
    }
    let last_colon = memchr::memrchr(b':', body);
    let split = last_colon.and_then(|i| Some((body.get(..i)?, body.get(i + 1..)?)));
    if let Some((host, p)) = split {
        if let (Some(ip), Ok((_, port))) = (ipv4(host), all_consuming(port).parse_complete(p)) {
            return Some((IpAddr::V4(ip), Some(port)));
        }
    }
    if let Some(ip) = ipv6(body) {
        return Some((IpAddr::V6(ip), None));
    }
    let (host, p) = split?;
    let ip = ipv6(host)?;
    let (_, port) = all_consuming(port).parse_complete(p).ok()?;
    Some((IpAddr::V6(ip), Some(port)))
}

fn ipv4(s: &[u8]) -> Option<Ipv4Addr> {
    core::str::from_utf8(s).ok()?.parse().ok()
}

fn ipv6(s: &[u8]) -> Option<Ipv6Addr> {
    core::str::from_utf8(s).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> IpAddr {
        IpAddr::V4(s.parse().unwrap())
    }
    fn v6(s: &str) -> IpAddr {
        IpAddr::V6(s.parse().unwrap())
    }

    macro_rules! case {
        ($name:ident, $input:expr, None) => {
            #[test]
            fn $name() {
                assert_eq!(RealAddress::parse($input), None);
            }
        };
        ($name:ident, $input:expr, $proto:expr, $ip:expr, $port:expr, $host:expr) => {
            #[test]
            fn $name() {
                let a = RealAddress::parse($input).expect("parses");
                assert_eq!(a.protocol(), $proto);
                assert_eq!(a.ip(), $ip);
                assert_eq!(a.port(), $port);
                assert_eq!(a.host(), $host);
                assert_eq!(a.raw().as_bytes(), &$input[..]);
            }
        };
    }

    case!(
        ipv4_port,
        b"203.0.113.7:51993",
        None,
        v4("203.0.113.7"),
        Some(51993),
        "203.0.113.7"
    );
    case!(
        ipv4_port_zero,
        b"0.0.0.0:0",
        None,
        v4("0.0.0.0"),
        Some(0),
        "0.0.0.0"
    );
    case!(
        ipv4_port_max,
        b"1.2.3.4:65535",
        None,
        v4("1.2.3.4"),
        Some(65535),
        "1.2.3.4"
    );
    case!(ipv4_port_too_big, b"1.2.3.4:65536", None);
    case!(ipv4_no_port, b"1.2.3.4", None);
    case!(ipv4_empty_port, b"1.2.3.4:", None);
    case!(ipv4_bad, b"1.2.3:5", None);
    case!(
        bare_ipv6,
        b"2001:db8::7",
        None,
        v6("2001:db8::7"),
        None,
        "2001:db8::7"
    );
    case!(
        bare_ipv6_ambiguous,
        b"2001:db8::2:1194",
        None,
        v6("2001:db8::2:1194"),
        None,
        "2001:db8::2:1194"
    );
    case!(
        bare_ipv6_port,
        b"2001:db8:1:2:3:4:5:6:1194",
        None,
        v6("2001:db8:1:2:3:4:5:6"),
        Some(1194),
        "2001:db8:1:2:3:4:5:6"
    );
    case!(
        mapped,
        b"::ffff:1.1.1.1",
        None,
        v6("::ffff:1.1.1.1"),
        None,
        "::ffff:1.1.1.1"
    );
    case!(
        mapped_port,
        b"::ffff:1.1.1.1:443",
        None,
        v6("::ffff:1.1.1.1"),
        Some(443),
        "::ffff:1.1.1.1"
    );
    case!(
        udp4,
        b"udp4:203.0.113.7:1194",
        Some(Protocol::Udp),
        v4("203.0.113.7"),
        Some(1194),
        "203.0.113.7"
    );
    case!(
        udp,
        b"udp:203.0.113.7:1194",
        Some(Protocol::Udp),
        v4("203.0.113.7"),
        Some(1194),
        "203.0.113.7"
    );
    case!(
        udp6_v4,
        b"udp6:203.0.113.7:1194",
        Some(Protocol::Udp),
        v4("203.0.113.7"),
        Some(1194),
        "203.0.113.7"
    );
    case!(
        udp6_bracket,
        b"udp6:[2001:db8::7]:1194",
        Some(Protocol::Udp),
        v6("2001:db8::7"),
        Some(1194),
        "2001:db8::7"
    );
    case!(
        tcp4_server,
        b"tcp4-server:203.0.113.7:40112",
        Some(Protocol::Tcp),
        v4("203.0.113.7"),
        Some(40112),
        "203.0.113.7"
    );
    case!(
        tcp6_server,
        b"tcp6-server:[2001:db8::7]:443",
        Some(Protocol::Tcp),
        v6("2001:db8::7"),
        Some(443),
        "2001:db8::7"
    );
    case!(
        tcp_client,
        b"tcp-client:1.2.3.4:1",
        Some(Protocol::Tcp),
        v4("1.2.3.4"),
        Some(1),
        "1.2.3.4"
    );
    case!(udp_server_is_not_a_prefix, b"udp-server:1.2.3.4:1", None);
    case!(bracket_no_port, b"[2001:db8::7]", None);
    case!(bracket_bad, b"[1.2.3.4]:5", None);
    case!(bracket_trailing, b"[::1]:5x", None);
    case!(empty, b"", None);
    case!(hostname, b"vpn.example.com:1194", None);
    case!(unknown, b"UNKNOWN", None);
    case!(too_long, &[b'1'; 200], None);
    case!(invalid_utf8, b"1.2.3.\xff:5", None);

    case!(leading_zero_octet, b"01.2.3.4:5", None);
    case!(octet_too_big, b"256.2.3.4:5", None);
    case!(six_digit_port, b"1.2.3.4:000001", None);

    proptest::proptest! {
        /// The fast `a.b.c.d:port` path agrees with the general grammar.
        #[test]
        fn fast_path_agrees_with_grammar(s in "[0-9]{0,4}\\.[0-9]{0,4}\\.[0-9]{0,4}\\.[0-9]{0,4}:[0-9]{0,6}") {
            let fast = dotted_quad_port(s.as_bytes()).map(|(ip, port)| (IpAddr::V4(ip), Some(port)));
            let general = host_port(s.as_bytes());
            proptest::prop_assert_eq!(fast, general);
        }
    }

    #[test]
    fn prefix_is_kept() {
        let a = RealAddress::parse(b"tcp6-server:[2001:db8::7]:443").unwrap();
        assert_eq!(a.prefix(), Some(Text::new(b"tcp6-server")));
        assert_eq!(a.without_prefix(), "[2001:db8::7]:443");
        assert_eq!(a.raw(), "tcp6-server:[2001:db8::7]:443");
    }
}
