//! Typed records, borrowing from the caller's buffer.

use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};

use crate::field::addr::RealAddress;
use crate::field::route::RouteTarget;
use crate::Text;

/// The kind of document, decided by its first line (parsing policy rule 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// `status-version 1` (the default): `OpenVPN CLIENT LIST` sections.
    ServerV1,
    /// `status-version 2`: tagged comma-separated rows.
    ServerV2,
    /// `status-version 3`: tagged TAB-separated rows.
    ServerV3,
    /// A client's own statistics: `OpenVPN STATISTICS`.
    Client,
}

impl Format {
    /// `"server-v1"`, `"server-v2"`, `"server-v3"` or `"client"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Format::ServerV1 => "server-v1",
            Format::ServerV2 => "server-v2",
            Format::ServerV3 => "server-v3",
            Format::Client => "client",
        }
    }

    /// True for the three server formats.
    pub const fn is_server(self) -> bool {
        !matches!(self, Format::Client)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One record of a status document, in input order.
///
/// The first record is always [`Record::Format`]; a complete document ends
/// with [`Record::End`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Record<'a> {
    /// The detected format.
    Format(Format),
    /// The `TITLE` row of status-version 2 and 3.
    Title(Title<'a>),
    /// The `TIME` row (v2/v3) or the `Updated,` line (v1 and client mode).
    Time(Time<'a>),
    /// A row of the client list.
    Client(Client<'a>),
    /// A row of the routing table.
    Route(Route<'a>),
    /// A server's global statistic (`GLOBAL STATS` / `GLOBAL_STATS`).
    Global(Stat<'a>),
    /// A statistic of client mode (`TUN/TAP read bytes,...`).
    Stat(Stat<'a>),
    /// The `END` line: the document is complete.
    End,
}

/// The `TITLE` row: `OpenVPN <version> <triplet> [...]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Title<'a> {
    /// The text after the tag.
    pub text: Text<'a>,
}

impl<'a> Title<'a> {
    /// The version word after `OpenVPN ` (`2.6.14`), if the title has that
    /// shape.
    ///
    /// ```
    /// # use ovpn_status::{parse, Record};
    /// let doc = b"TITLE,OpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL (OpenSSL)]\nEND\n";
    /// let Some(Ok(Record::Title(t))) = parse(doc).nth(1) else { panic!() };
    /// assert_eq!(t.version().unwrap(), "2.6.14");
    /// ```
    pub fn version(&self) -> Option<Text<'a>> {
        let rest = self.text.as_bytes().strip_prefix(b"OpenVPN ")?;
        let word = rest.split(|&b| b == b' ').next()?;
        (!word.is_empty()).then_some(Text::new(word))
    }
}

/// When the document was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Time<'a> {
    /// The date as OpenVPN wrote it, in the server's local time with no zone:
    /// `2026-11-22 15:16:56` (2.5+) or `Sun Nov 22 14:00:00 2026` (2.4).
    pub text: Text<'a>,
    /// Unix seconds from the `TIME` row's `time_t` field (v2/v3 only).
    pub unix: Option<u64>,
}

/// A connected client.
///
/// Columns the document does not have are `None`; an empty optional numeric
/// field (OpenVPN without the management interface writes an empty Client
/// ID) is `None` too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Client<'a> {
    /// Common Name from the client certificate: any bytes.
    pub common_name: Text<'a>,
    /// Real Address: where the client connects from.
    pub real_address: RealAddress<'a>,
    /// Virtual Address (v2/v3): IPv4, or empty before one is assigned.
    pub virtual_address: Option<Text<'a>>,
    /// Virtual IPv6 Address (v2/v3, 2.4+): IPv6 or empty.
    pub virtual_ipv6_address: Option<Text<'a>>,
    /// Bytes Received from the client (link level).
    pub bytes_received: u64,
    /// Bytes Sent to the client (link level).
    pub bytes_sent: u64,
    /// Connected Since, as written (local time, no zone).
    pub connected_since: Text<'a>,
    /// `Connected Since (time_t)`, unix seconds (v2/v3).
    pub connected_since_unix: Option<u64>,
    /// Username; `UNDEF` when the client sent none (see
    /// [`Client::username_if_defined`]).
    pub username: Option<Text<'a>>,
    /// Client ID (2.4+), the management interface's client id.
    pub client_id: Option<u64>,
    /// Peer ID (2.4+).
    pub peer_id: Option<u64>,
    /// Data Channel Cipher (2.5+).
    pub data_channel_cipher: Option<Text<'a>>,
}

impl<'a> Client<'a> {
    /// The Virtual Address as IPv4, when it is one.
    pub fn virtual_ipv4(&self) -> Option<Ipv4Addr> {
        self.virtual_address?.to_str().ok()?.parse().ok()
    }

    /// The Virtual IPv6 Address as IPv6, when it is one.
    pub fn virtual_ipv6(&self) -> Option<Ipv6Addr> {
        self.virtual_ipv6_address?.to_str().ok()?.parse().ok()
    }

    /// The username, unless OpenVPN wrote `UNDEF` (it does so both when the
    /// client sent none and when it sent the literal `UNDEF`).
    pub fn username_if_defined(&self) -> Option<Text<'a>> {
        self.username.filter(|u| u.as_bytes() != b"UNDEF")
    }
}

/// A row of the routing table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Route<'a> {
    /// Virtual Address: a host, `C`-suffixed cached host, subnet or MAC
    /// (see [`Route::target`]).
    pub virtual_address: Text<'a>,
    /// Common Name of the client the route leads to.
    pub common_name: Text<'a>,
    /// Real Address of that client.
    pub real_address: RealAddress<'a>,
    /// Last Ref, as written.
    pub last_ref: Text<'a>,
    /// `Last Ref (time_t)`, unix seconds (v2/v3).
    pub last_ref_unix: Option<u64>,
}

impl Route<'_> {
    /// The Virtual Address, typed; `None` if it is none of the known forms.
    pub fn target(&self) -> Option<RouteTarget> {
        RouteTarget::parse(self.virtual_address.as_bytes())
    }
}

/// A named counter: a global statistic or a client-mode statistic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stat<'a> {
    /// The name (`Max bcast/mcast queue length`, `TUN/TAP read bytes`).
    pub name: Text<'a>,
    /// The value.
    pub value: u64,
}
