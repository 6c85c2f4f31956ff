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

use crate::Text;

/// The longest address text worth trying to parse: `tcp6-server:` plus a
/// bracketed IPv6 address with an embedded IPv4 part plus `:65535` is 65
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
            Some((len, protocol)) => (
                raw.get(len + 1..).unwrap_or_default(),
                Some((raw.get(..len).unwrap_or_default(), protocol)),
            ),
            None => (raw, None),
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

/// The common `a.b.c.d:port` form, read in one pass; `None` for anything
/// else, which [`host_port`] then reads.
fn dotted_quad_port(text: &[u8]) -> Option<(Ipv4Addr, u16)> {
    let (o1, rest) = octet(text)?;
    let (o2, rest) = octet(rest.strip_prefix(b".")?)?;
    let (o3, rest) = octet(rest.strip_prefix(b".")?)?;
    let (o4, rest) = octet(rest.strip_prefix(b".")?)?;
    let port = port(rest.strip_prefix(b":")?)?;
    Some((Ipv4Addr::new(o1, o2, o3, o4), port))
}

/// A decimal octet of one to three digits, without leading zeros (as
/// `Ipv4Addr`'s parser requires), at the start of `s`; a digit after three
/// is left for the caller to reject.
#[inline]
fn octet(s: &[u8]) -> Option<(u8, &[u8])> {
    let digit = |b: u8| u32::from(b - b'0');
    let (value, rest) = match *s {
        [a @ b'1'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9', ref rest @ ..] => {
            (digit(a) * 100 + digit(b) * 10 + digit(c), rest)
        }
        [a @ b'1'..=b'9', b @ b'0'..=b'9', ref rest @ ..] => (digit(a) * 10 + digit(b), rest),
        [a @ b'0'..=b'9', ref rest @ ..] => (digit(a), rest),
        _ => return None,
    };
    Some((u8::try_from(value).ok()?, rest))
}

/// A whole field that is a decimal port, 0–65535: one to five digits,
/// leading zeros allowed.
#[inline]
fn port(s: &[u8]) -> Option<u16> {
    if s.is_empty() || s.len() > 5 {
        return None;
    }
    let mut value = 0u32;
    for &b in s {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        value = value * 10 + u32::from(d);
    }
    u16::try_from(value).ok()
}

/// `proto ":"`: the prefix's length (without `:`) and the protocol.
fn transport(s: &[u8]) -> Option<(usize, Protocol)> {
    let protocol = match s.get(..3)? {
        b"udp" => Protocol::Udp,
        b"tcp" => Protocol::Tcp,
        _ => return None,
    };
    let mut len = 3;
    if matches!(s.get(len), Some(b'4' | b'6')) {
        len += 1;
    }
    if protocol == Protocol::Tcp && matches!(s.get(len..len + 7), Some(b"-server" | b"-client")) {
        len += 7;
    }
    (s.get(len) == Some(&b':')).then_some((len, protocol))
}

/// The address after any prefix: `"[" ipv6 "]" ":" port`, `ipv4 ":" port`,
/// or `ipv6 [ ":" port ]` (see [`RealAddress`] for when a port is read).
fn host_port(body: &[u8]) -> Option<(IpAddr, Option<u16>)> {
    if let Some(inner) = body.strip_prefix(b"[") {
        let close = memchr::memchr(b']', inner)?;
        let ip = ipv6(inner.get(..close)?)?;
        let port = port(inner.get(close + 1..)?.strip_prefix(b":")?)?;
        return Some((IpAddr::V6(ip), Some(port)));
    }
    let last_colon = memchr::memrchr(b':', body);
    let split = last_colon.and_then(|i| Some((body.get(..i)?, body.get(i + 1..)?)));
    if let Some((host, p)) = split {
        if let (Some(ip), Some(port)) = (ipv4(host), port(p)) {
            return Some((IpAddr::V4(ip), Some(port)));
        }
    }
    if let Some(ip) = ipv6(body) {
        return Some((IpAddr::V6(ip), None));
    }
    let (host, p) = split?;
    Some((IpAddr::V6(ipv6(host)?), Some(port(p)?)))
}

/// A whole field that is an IPv4 address, as `Ipv4Addr::from_str` reads it.
fn ipv4(s: &[u8]) -> Option<Ipv4Addr> {
    match read_ipv4(s)? {
        (ip, []) => Some(ip),
        _ => None,
    }
}

/// An IPv4 address at the start of `s`, and the bytes after it. As in the
/// standard library's reader, an octet is all the digits there are (four
/// digits fail).
fn read_ipv4(s: &[u8]) -> Option<(Ipv4Addr, &[u8])> {
    let mut octets = [0u8; 4];
    let mut rest = s;
    for (i, o) in octets.iter_mut().enumerate() {
        if i > 0 {
            rest = rest.strip_prefix(b".")?;
        }
        let (value, after) = octet(rest)?;
        if after.first().is_some_and(u8::is_ascii_digit) {
            return None;
        }
        *o = value;
        rest = after;
    }
    Some((Ipv4Addr::from(octets), rest))
}

/// A whole field that is an IPv6 address, as `Ipv6Addr::from_str` reads it:
/// groups of one to four hex digits, at most one `::` standing for at least
/// one zero group, and an embedded IPv4 address only as the last two groups.
fn ipv6(s: &[u8]) -> Option<Ipv6Addr> {
    let mut head = [0u16; 8];
    let (head_size, head_ipv4, rest) = read_groups(s, &mut head);
    if head_size == 8 {
        return rest.is_empty().then(|| Ipv6Addr::from(head));
    }
    // An IPv4 part may not come before `::`.
    if head_ipv4 {
        return None;
    }
    let rest = rest.strip_prefix(b"::")?;
    let mut tail = [0u16; 7];
    let limit = 7 - head_size;
    let (tail_size, _, rest) = read_groups(rest, tail.get_mut(..limit)?);
    if !rest.is_empty() {
        return None;
    }
    let at = 8 - tail_size;
    head.get_mut(at..)?.copy_from_slice(tail.get(..tail_size)?);
    Some(Ipv6Addr::from(head))
}

/// Colon-separated groups at the start of `s`, at most `groups.len()`, the
/// last two of which may be an embedded IPv4 address: how many were read,
/// whether an IPv4 part ended them, and the bytes after them.
fn read_groups<'a>(s: &'a [u8], groups: &mut [u16]) -> (usize, bool, &'a [u8]) {
    let limit = groups.len();
    let mut rest = s;
    for i in 0..limit {
        let after_sep = if i == 0 {
            Some(rest)
        } else {
            rest.strip_prefix(b":")
        };
        let Some(after_sep) = after_sep else {
            return (i, false, rest);
        };
        let group = hex_group(after_sep);
        // An embedded IPv4 address starts with up to three digits and a
        // `.`, which the hex reader stops at: only then is it tried (and
        // then first, as the standard library does).
        let dot_next = match group {
            Some((_, after)) => after.first() == Some(&b'.'),
            None => false,
        };
        if dot_next && i + 1 < limit {
            if let Some((v4, after)) = read_ipv4(after_sep) {
                let [o1, o2, o3, o4] = v4.octets();
                if let Some([high, low]) = groups.get_mut(i..i + 2) {
                    *high = u16::from_be_bytes([o1, o2]);
                    *low = u16::from_be_bytes([o3, o4]);
                }
                return (i + 2, true, after);
            }
        }
        let Some((group, after)) = group else {
            return (i, false, rest);
        };
        if let Some(g) = groups.get_mut(i) {
            *g = group;
        }
        rest = after;
    }
    (limit, false, rest)
}

/// One to four hex digits at the start of `s` (five fail).
fn hex_group(s: &[u8]) -> Option<(u16, &[u8])> {
    let mut value = 0u16;
    let mut len = 0;
    for &b in s.iter().take(5) {
        let d = HEX.get(usize::from(b)).copied().unwrap_or(NOT_HEX);
        if d == NOT_HEX {
            break;
        }
        value = value << 4 | u16::from(d);
        len += 1;
    }
    if len == 0 || len > 4 {
        return None;
    }
    Some((value, s.get(len..)?))
}

const NOT_HEX: u8 = 0xff;

/// The value of each hex digit byte; `NOT_HEX` for other bytes.
// A `u8` index into 256 entries, evaluated at compile time.
#[allow(clippy::indexing_slicing)]
static HEX: [u8; 256] = {
    let mut table = [NOT_HEX; 256];
    let mut b = 0u8;
    loop {
        table[b as usize] = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => NOT_HEX,
        };
        if b == u8::MAX {
            break table;
        }
        b += 1;
    }
};

/// The grammar as first written, with nom and the standard library's
/// address parsers: the reference the one-pass readers are tested against.
#[cfg(test)]
mod grammar {
    use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use nom::branch::alt;
    use nom::bytes::complete::{tag, take_until};
    use nom::character::complete::{digit1, one_of};
    use nom::combinator::{all_consuming, consumed, map_opt, opt, value};
    use nom::sequence::{delimited, preceded, terminated};
    use nom::{IResult, Parser as _};

    use super::Protocol;

    /// What `RealAddress::parse` gives: prefix, protocol, ip and port.
    pub(super) type Parts<'a> = (Option<&'a [u8]>, Option<Protocol>, IpAddr, Option<u16>);

    pub(super) fn parse(raw: &[u8]) -> Option<Parts<'_>> {
        if raw.len() > super::MAX_ADDRESS_LEN {
            return None;
        }
        let (body, prefix) = match transport(raw) {
            Ok((body, (prefix, protocol))) => (body, Some((prefix, protocol))),
            Err(_) => (raw, None),
        };
        let (ip, port) = host_port(body)?;
        Some((prefix.map(|(p, _)| p), prefix.map(|(_, p)| p), ip, port))
    }

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

    fn bracketed(i: &[u8]) -> IResult<&[u8], (Ipv6Addr, u16)> {
        all_consuming((
            map_opt(delimited(tag("["), take_until("]"), tag("]")), ipv6),
            preceded(tag(":"), port),
        ))
        .parse_complete(i)
    }

    pub(super) fn host_port(body: &[u8]) -> Option<(IpAddr, Option<u16>)> {
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

    pub(super) fn ipv4(s: &[u8]) -> Option<Ipv4Addr> {
        core::str::from_utf8(s).ok()?.parse().ok()
    }

    pub(super) fn ipv6(s: &[u8]) -> Option<Ipv6Addr> {
        core::str::from_utf8(s).ok()?.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

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

    /// Address-like text: the bytes of every form, and some others.
    fn address_like() -> impl proptest::strategy::Strategy<Value = std::vec::Vec<u8>> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            4 => proptest::sample::select(&[
                "0", "1", "9", "00", "01", "10", "25", "255", "256", "999", "1234", "65535", "65536",
                "000001", "f", "ff", "fFfF", "abcd", "12345", "db8", "2001", "ffff", "g",
            ][..]),
            4 => proptest::sample::select(&[":", "::", ".", ":::", "[", "]", "]:", "%", " "][..]),
            1 => proptest::sample::select(&[
                "udp:", "udp4:", "udp6:", "tcp:", "tcp4:", "tcp6-server:", "tcp-client:",
                "udp-server:", "tcp-serve:", "tcp46:", "\u{e9}", "\u{ff}",
            ][..]),
        ];
        proptest::collection::vec(piece, 0..16).prop_map(|p| p.concat().into_bytes())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        /// The one-pass readers agree with the grammar as first written.
        #[test]
        fn readers_agree_with_grammar(s in address_like()) {
            let ours = RealAddress::parse(&s)
                .map(|a| (a.prefix().map(|p| p.as_bytes()), a.protocol(), a.ip(), a.port()));
            proptest::prop_assert_eq!(ours, grammar::parse(&s));
            proptest::prop_assert_eq!(ipv4(&s), grammar::ipv4(&s));
            proptest::prop_assert_eq!(ipv6(&s), grammar::ipv6(&s));
        }

        /// Arbitrary bytes, too.
        #[test]
        fn readers_agree_on_any_bytes(s in proptest::collection::vec(proptest::num::u8::ANY, 0..48)) {
            let ours = RealAddress::parse(&s)
                .map(|a| (a.prefix().map(|p| p.as_bytes()), a.protocol(), a.ip(), a.port()));
            proptest::prop_assert_eq!(ours, grammar::parse(&s));
        }

        /// The fast `a.b.c.d:port` path agrees with the general grammar.
        #[test]
        fn fast_path_agrees_with_grammar(s in "[0-9]{0,4}\\.[0-9]{0,4}\\.[0-9]{0,4}\\.[0-9]{0,4}:[0-9]{0,6}") {
            let fast = dotted_quad_port(s.as_bytes()).map(|(ip, port)| (IpAddr::V4(ip), Some(port)));
            let general = grammar::host_port(s.as_bytes());
            proptest::prop_assert_eq!(fast, general);
        }

        /// Printed IPv6 addresses, in every shape the standard library
        /// writes, read back.
        #[test]
        fn printed_ipv6_reads_back(groups in proptest::array::uniform8(proptest::prop_oneof![
            proptest::strategy::Just(0u16), proptest::num::u16::ANY
        ])) {
            let ip = Ipv6Addr::from(groups);
            let text = std::format!("{ip}");
            proptest::prop_assert_eq!(ipv6(text.as_bytes()), Some(ip));
        }
    }

    #[test]
    fn edge_forms_agree_with_grammar() {
        let cases: &[&[u8]] = &[
            b"::",
            b":::",
            b"::1",
            b"1::",
            b"1:2:3:4:5:6:7::",
            b"::2:3:4:5:6:7:8",
            b"1:2:3:4:5:6:7:8",
            b"1:2:3:4:5:6:7:8:9",
            b"1::2::3",
            b"::1.2.3.4",
            b"1:2:3:4:5:6:1.2.3.4",
            b"1:2:3:4:5:6:7:1.2.3.4",
            b"1.2.3.4::",
            b"::ffff:1.1.1.1:443",
            b"::ffff:01.1.1.1",
            b"::1234.1.1.1",
            b"12345::",
            b"[::1]:5",
            b"[::1]:",
            b"[::1]5",
            b"[::1",
            b"[]:1",
            b"[1.2.3.4]:5",
            b"tcp6-server:[::]:0",
            b"udp:::1",
            b"udp6:::1:53",
            b"tcp-client:::",
            b"1.2.3.4:5",
            b"1.2.3.4:05",
            b"1.2.3.4:65535",
            b"1.2.3.4:",
            b"1.2.3.4",
            b"1.2.3.4.5:6",
            b"::1:65535",
            b"::1:65536",
            b"a:b:c:d:e:f:1.2.3.4:7",
            b"2001:db8::2:1194",
            b"2001:db8:1:2:3:4:5:6:1194",
            b"fe80::1%1",
        ];
        for &c in cases {
            let ours = RealAddress::parse(c).map(|a| {
                (
                    a.prefix().map(|p| p.as_bytes()),
                    a.protocol(),
                    a.ip(),
                    a.port(),
                )
            });
            assert_eq!(ours, grammar::parse(c), "{}", Text::new(c));
            assert_eq!(ipv6(c), grammar::ipv6(c), "{}", Text::new(c));
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
