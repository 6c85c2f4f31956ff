//! HTTP basic authentication against the web config's `basic_auth_users`
//! (user name to bcrypt hash).
//!
//! bcrypt is slow on purpose (tens of milliseconds at the usual cost 10),
//! and Prometheus sends the same credentials with every scrape. So a
//! successful check is remembered: per user, an HMAC of the password under
//! a key drawn at random when the web config is loaded. A later request
//! with the same password is checked against that HMAC in constant time
//! and skips bcrypt. The cache holds at most one entry per configured user
//! and only ever after a successful bcrypt check, so requests with unknown
//! users or wrong passwords cannot grow it. The HMAC key never leaves the
//! process, so the cache cannot be attacked offline faster than bcrypt.
//!
//! A wrong password or unknown user always costs one bcrypt check (an
//! unknown user is checked against another user's hash, so timing does not
//! tell which user names exist, as long as every user's hash has the same
//! bcrypt cost). The server runs those checks on a small
//! fixed number of blocking threads, so a flood of bad passwords delays
//! logins but cannot take every CPU.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use base64::Engine as _;
use hyper::header::HeaderValue;
use ring::hmac;

/// The configured users and the cache of verified passwords.
pub struct BasicAuth {
    users: HashMap<String, String>,
    /// Checked when the user does not exist, so that a request for an
    /// unknown user costs the same as one with a wrong password.
    decoy: String,
    key: hmac::Key,
    verified: Mutex<HashMap<String, hmac::Tag>>,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the hashes.
        let mut names: Vec<&str> = self.users.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("BasicAuth")
            .field("users", &names)
            .finish_non_exhaustive()
    }
}

/// Credentials from an `Authorization: Basic` header.
#[derive(Clone)]
pub struct Credentials {
    /// User name.
    pub user: String,
    password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Decodes `Basic base64(user:password)`; `None` for anything else.
    pub fn from_header(value: Option<&HeaderValue>) -> Option<Credentials> {
        let value = value?.to_str().ok()?.trim();
        let (scheme, token) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(token.trim())
            .ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (user, password) = text.split_once(':')?;
        Some(Credentials {
            user: user.to_owned(),
            password: password.to_owned(),
        })
    }
}

impl BasicAuth {
    /// Checks every hash and draws a fresh cache key.
    ///
    /// # Errors
    /// A message naming the user whose hash is not a bcrypt hash, or a
    /// failure of the system's random number generator.
    pub fn new(users: HashMap<String, String>) -> Result<BasicAuth, String> {
        let mut names: Vec<&String> = users.keys().collect();
        names.sort_unstable();
        for name in &names {
            let hash = &users[*name];
            let parts: bcrypt::HashParts = hash
                .parse()
                .map_err(|e| format!("basic_auth_users: user {name:?}: not a bcrypt hash: {e}"))?;
            if !(4..=31).contains(&parts.get_cost()) {
                return Err(format!(
                    "basic_auth_users: user {name:?}: bcrypt cost {} is not between 4 and 31",
                    parts.get_cost()
                ));
            }
            if name.contains(':') {
                return Err(format!(
                    "basic_auth_users: user {name:?}: a user name cannot contain ':'"
                ));
            }
        }
        let decoy = names.first().map(|n| users[*n].clone()).unwrap_or_default();
        let rng = ring::rand::SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng)
            .map_err(|_| "basic_auth_users: no system randomness for the cache key".to_owned())?;
        Ok(BasicAuth {
            users,
            decoy,
            key,
            verified: Mutex::new(HashMap::new()),
        })
    }

    /// Number of configured users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// True when no user is configured.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    fn mac_input(c: &Credentials) -> Vec<u8> {
        let mut msg = Vec::with_capacity(8 + c.user.len() + c.password.len());
        msg.extend_from_slice(&(c.user.len() as u64).to_be_bytes());
        msg.extend_from_slice(c.user.as_bytes());
        msg.extend_from_slice(c.password.as_bytes());
        msg
    }

    /// True if these are the credentials that last passed
    /// [`BasicAuth::verify`] for this user. Cheap: one HMAC.
    pub fn cached(&self, c: &Credentials) -> bool {
        let verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        verified
            .get(&c.user)
            .is_some_and(|tag| hmac::verify(&self.key, &Self::mac_input(c), tag.as_ref()).is_ok())
    }

    /// Checks the credentials with bcrypt and remembers a success. Slow
    /// and blocking: run it off the async threads.
    pub fn verify(&self, c: &Credentials) -> bool {
        let (hash, known) = match self.users.get(&c.user) {
            Some(h) => (h.as_str(), true),
            None => (self.decoy.as_str(), false),
        };
        let ok = bcrypt::verify(&c.password, hash).unwrap_or(false) && known;
        if ok {
            let tag = hmac::sign(&self.key, &Self::mac_input(c));
            self.verified
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(c.user.clone(), tag);
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user: &str, pass: &str) -> HeaderValue {
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}").as_bytes());
        HeaderValue::from_str(&format!("Basic {token}")).unwrap()
    }

    #[test]
    fn verifies_caches_and_refuses() {
        let users = HashMap::from([
            ("alice".to_owned(), bcrypt::hash("s3cret:x", 4).unwrap()),
            ("bob".to_owned(), bcrypt::hash("other", 4).unwrap()),
        ]);
        let auth = BasicAuth::new(users).unwrap();
        assert_eq!(auth.len(), 2);
        let good = Credentials::from_header(Some(&header("alice", "s3cret:x"))).unwrap();
        assert_eq!(good.user, "alice");
        assert!(!auth.cached(&good));
        assert!(auth.verify(&good));
        assert!(auth.cached(&good));
        let wrong = Credentials::from_header(Some(&header("alice", "s3cret"))).unwrap();
        assert!(!auth.cached(&wrong));
        assert!(!auth.verify(&wrong));
        // A wrong password does not evict the good one.
        assert!(auth.cached(&good));
        // Bob's password is not Alice's, cached or not.
        let cross = Credentials::from_header(Some(&header("alice", "other"))).unwrap();
        assert!(!auth.verify(&cross));
        let nobody = Credentials::from_header(Some(&header("carol", "s3cret:x"))).unwrap();
        assert!(!auth.verify(&nobody) && !auth.cached(&nobody));
        // Only verified users are cached.
        assert_eq!(auth.verified.lock().unwrap().len(), 1);
        // The debug form names users, never hashes.
        let dbg = format!("{auth:?} {good:?}");
        assert!(dbg.contains("alice") && !dbg.contains("$2") && !dbg.contains("s3cret"));
    }

    #[test]
    fn header_forms() {
        let h = |s: &str| Credentials::from_header(Some(&HeaderValue::from_str(s).unwrap()));
        assert!(h("Bearer abc").is_none());
        assert!(h("Basic !!!").is_none());
        assert!(h("Basic bm9jb2xvbg==").is_none()); // "nocolon"
        assert_eq!(h("basic YTpi").unwrap().user, "a"); // "a:b"
        assert!(Credentials::from_header(None).is_none());
    }

    #[test]
    fn bad_hashes_are_named() {
        let e = BasicAuth::new(HashMap::from([("u".to_owned(), "plain".to_owned())])).unwrap_err();
        assert!(e.contains("\"u\"") && e.contains("bcrypt"), "{e}");
        let weak = bcrypt::hash("pw", 4).unwrap().replace("$04$", "$03$");
        let e = BasicAuth::new(HashMap::from([("u".to_owned(), weak)])).unwrap_err();
        assert!(e.contains("cost"), "{e}");
    }
}
