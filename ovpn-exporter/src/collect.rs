//! `collect[]` URL parameters: which groups of families a scrape returns.

/// A set of collectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Collectors(u8);

impl Collectors {
    /// Source health, seed-compatible families, server and client-mode
    /// statistics.
    pub const SERVER: Collectors = Collectors(1);
    /// Per-client series (seed `ovpn_bytes_*_total` and `ovpn_client_*`).
    pub const CLIENTS: Collectors = Collectors(2);
    /// The exporter's own read errors and render duration.
    pub const EXPORTER: Collectors = Collectors(4);
    /// Everything: the default without `collect[]`.
    pub const ALL: Collectors = Collectors(7);
    /// No families: the snapshots alone, as `/sessions` asks for them (no
    /// `collect[]` query names it). Any rendering of the current
    /// snapshots serves, one being made included; without one, an empty
    /// rendering is made.
    pub const NONE: Collectors = Collectors(0);

    const NAMES: [(&'static str, Collectors); 3] = [
        ("server", Collectors::SERVER),
        ("clients", Collectors::CLIENTS),
        ("exporter", Collectors::EXPORTER),
    ];

    /// How many collector sets there are, [`Collectors::NONE`] included.
    pub const COUNT: usize = 8;

    /// A number below [`Collectors::COUNT`], one per set.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }

    /// True if a rendering made for `rendering` serves a request for
    /// `self`: the same set, or any for [`Collectors::NONE`] (every
    /// rendering holds the snapshots).
    pub fn served_by(self, rendering: Collectors) -> bool {
        self == rendering || self == Collectors::NONE
    }

    /// True if `self` includes all of `other`.
    pub fn has(self, other: Collectors) -> bool {
        self.0 & other.0 == other.0
    }

    /// Reads `collect[]=NAME` pairs from a query string, names and values
    /// percent-decoded (`collect%5B%5D=%73erver`); other parameters are
    /// ignored. No `collect[]` means all collectors.
    ///
    /// # Errors
    /// An unknown collector name, for a 400 answer.
    pub fn from_query(query: Option<&str>) -> Result<Collectors, String> {
        let mut set = 0u8;
        let mut any = false;
        for pair in query.unwrap_or("").split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if decode(key) != "collect[]" {
                continue;
            }
            let value = decode(value);
            any = true;
            let c = Self::NAMES
                .iter()
                .find(|(n, _)| *n == value.as_ref())
                .map(|(_, c)| *c)
                .ok_or_else(|| {
                    format!("unknown collector {value:?}: use server, clients or exporter")
                })?;
            set |= c.0;
        }
        Ok(if any {
            Collectors(set)
        } else {
            Collectors::ALL
        })
    }
}

/// A query string component with `%XX` escapes and `+` (a space) decoded;
/// a `%` not followed by two hex digits stays as it is.
fn decode(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains(['%', '+']) {
        return s.into();
    }
    let hex = |b: u8| char::from(b).to_digit(16);
    let (bytes, mut out) = (s.as_bytes(), Vec::with_capacity(s.len()));
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let escaped = (b == b'%')
            .then(|| Some(hex(*bytes.get(i + 1)?)? * 16 + hex(*bytes.get(i + 2)?)?))
            .flatten();
        match (b, escaped) {
            // Two hex digits make at most 255.
            (_, Some(v)) => {
                out.push(u8::try_from(v).unwrap_or(b'%'));
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (b, None) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A set is served by its own renderings; no collectors by any.
    #[test]
    fn served_by() {
        let server = Collectors::SERVER;
        assert!(server.served_by(server));
        assert!(!server.served_by(Collectors::ALL));
        assert!(!Collectors::ALL.served_by(Collectors::NONE));
        for c in [Collectors::NONE, server, Collectors::ALL] {
            assert!(Collectors::NONE.served_by(c));
        }
    }

    #[test]
    fn query() {
        assert_eq!(Collectors::from_query(None), Ok(Collectors::ALL));
        assert_eq!(Collectors::from_query(Some("x=1")), Ok(Collectors::ALL));
        let c = Collectors::from_query(Some("collect[]=server&collect%5b%5D=exporter")).unwrap();
        assert!(c.has(Collectors::SERVER) && c.has(Collectors::EXPORTER));
        assert!(!c.has(Collectors::CLIENTS));
        assert!(Collectors::from_query(Some("collect[]=bogus")).is_err());
        // Values are decoded like names.
        let c = Collectors::from_query(Some("collect%5B%5D=%73erver&collect[]=client%73")).unwrap();
        assert!(c.has(Collectors::SERVER) && c.has(Collectors::CLIENTS));
        assert!(!c.has(Collectors::EXPORTER));
        assert_eq!(
            Collectors::from_query(Some("collect[]=a+b%2")),
            Err("unknown collector \"a b%2\": use server, clients or exporter".into())
        );
        assert_eq!(decode("%e2%9c%93%zz%"), "\u{2713}%zz%");
        assert!(Collectors::from_query(Some("collect[]=")).is_err());
    }
}
