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

    const NAMES: [(&'static str, Collectors); 3] = [
        ("server", Collectors::SERVER),
        ("clients", Collectors::CLIENTS),
        ("exporter", Collectors::EXPORTER),
    ];

    /// True if `self` includes all of `other`.
    pub fn has(self, other: Collectors) -> bool {
        self.0 & other.0 == other.0
    }

    /// Reads `collect[]=NAME` pairs (also percent-encoded as
    /// `collect%5B%5D`) from a query string; other parameters are ignored.
    /// No `collect[]` means all collectors.
    ///
    /// # Errors
    /// An unknown collector name, for a 400 answer.
    pub fn from_query(query: Option<&str>) -> Result<Collectors, String> {
        let mut set = 0u8;
        let mut any = false;
        for pair in query.unwrap_or("").split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !(key == "collect[]" || key.eq_ignore_ascii_case("collect%5B%5D")) {
                continue;
            }
            any = true;
            let c = Self::NAMES
                .iter()
                .find(|(n, _)| *n == value)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query() {
        assert_eq!(Collectors::from_query(None), Ok(Collectors::ALL));
        assert_eq!(Collectors::from_query(Some("x=1")), Ok(Collectors::ALL));
        let c = Collectors::from_query(Some("collect[]=server&collect%5b%5D=exporter")).unwrap();
        assert!(c.has(Collectors::SERVER) && c.has(Collectors::EXPORTER));
        assert!(!c.has(Collectors::CLIENTS));
        assert!(Collectors::from_query(Some("collect[]=bogus")).is_err());
        assert!(Collectors::from_query(Some("collect[]=")).is_err());
    }
}
