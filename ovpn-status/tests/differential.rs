//! Differential tests: the parser against the generator's model (an
//! independent statement of what each document says), and the streaming
//! door against the whole-buffer door.

mod common;

use common::{chunked, streamed, whole};
use ovpn_status::{Error, ErrorKind, Format, Parser, Record, Step};
use ovpn_testgen::{advance, generate, render, Doc, Options, Release, Version};
use proptest::prelude::*;

fn options() -> impl Strategy<Value = Options> {
    (
        prop::sample::select(Version::ALL.to_vec()),
        prop::sample::select(Release::ALL.to_vec()),
        0usize..40,
        any::<(bool, bool, bool, bool)>(),
        any::<u64>(),
    )
        .prop_map(
            |(version, release, clients, (ipv6, hostile, crlf, management), seed)| Options {
                version,
                release,
                clients,
                ipv6,
                hostile,
                crlf,
                management,
                seed,
            },
        )
}

/// Checks every record against the model, field by field.
fn assert_matches_model(bytes: &[u8], doc: &Doc, o: &Options) {
    let (records, err) = whole(bytes);
    assert_eq!(err, None, "{o:?}");
    let format = match o.version {
        Version::V1 => Format::ServerV1,
        Version::V2 => Format::ServerV2,
        Version::V3 => Format::ServerV3,
        Version::Client => Format::Client,
    };
    let tagged = matches!(o.version, Version::V2 | Version::V3);
    let (mut clients, mut routes, mut globals, mut stats) = (0, 0, 0, 0);
    assert_eq!(records.first(), Some(&Record::Format(format)));
    assert_eq!(records.last(), Some(&Record::End));
    for r in &records {
        match r {
            Record::Title(t) => {
                assert!(tagged);
                assert_eq!(t.text, doc.title.as_str());
            }
            Record::Time(t) => {
                assert_eq!(t.text, doc.time_text.as_str());
                assert_eq!(t.unix, tagged.then_some(doc.time_unix));
            }
            Record::Client(c) => {
                let m = &doc.clients[clients];
                clients += 1;
                assert_eq!(c.common_name.as_bytes(), &m.common_name[..]);
                assert_eq!(c.real_address.raw(), m.real_address.as_str());
                assert_eq!(c.bytes_received, m.bytes_received);
                assert_eq!(c.bytes_sent, m.bytes_sent);
                assert_eq!(c.connected_since, m.connected_since.as_str());
                if tagged {
                    assert_eq!(c.virtual_address.unwrap(), m.virtual_address.as_str());
                    assert_eq!(c.connected_since_unix, Some(m.connected_since_unix));
                    assert_eq!(c.username.unwrap().as_bytes(), &m.username[..]);
                    let v24 = o.release >= Release::V2_4;
                    assert_eq!(
                        c.virtual_ipv6_address.map(|t| t.to_string()),
                        v24.then(|| m.virtual_ipv6_address.clone())
                    );
                    assert_eq!(c.client_id, v24.then_some(m.client_id));
                    assert_eq!(c.peer_id, v24.then_some(m.peer_id));
                    let v25 = o.release >= Release::V2_5;
                    assert_eq!(
                        c.data_channel_cipher.map(|t| t.to_string()),
                        v25.then(|| m.cipher.clone())
                    );
                } else {
                    assert_eq!(c.virtual_address, None);
                    assert_eq!(c.username, None);
                    assert_eq!(c.connected_since_unix, None);
                }
            }
            Record::Route(r) => {
                let m = &doc.routes[routes];
                routes += 1;
                assert_eq!(r.virtual_address, m.virtual_address.as_str());
                assert_eq!(r.common_name.as_bytes(), &m.common_name[..]);
                assert_eq!(r.real_address.raw(), m.real_address.as_str());
                assert_eq!(r.last_ref, m.last_ref.as_str());
                assert_eq!(r.last_ref_unix, tagged.then_some(m.last_ref_unix));
                assert!(r.target().is_some(), "{:?}", r.virtual_address);
            }
            Record::Global(s) => {
                assert_eq!((s.name.to_string(), s.value), doc.globals[globals]);
                globals += 1;
            }
            Record::Stat(s) => {
                assert_eq!((s.name.to_string(), s.value), doc.stats[stats]);
                stats += 1;
            }
            _ => {}
        }
    }
    assert_eq!(
        (clients, routes, globals, stats),
        (
            doc.clients.len(),
            doc.routes.len(),
            doc.globals.len(),
            doc.stats.len()
        )
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn parser_agrees_with_the_model(o in options()) {
        let doc = generate(&o);
        assert_matches_model(&render(&doc, &o), &doc, &o);
    }

    #[test]
    fn parser_agrees_with_the_model_of_later_writes(
        o in options(),
        steps in 1u64..4,
        churn in 0usize..10,
    ) {
        let mut doc = generate(&o);
        for step in 1..=steps {
            advance(&mut doc, &o, step, 10, churn);
        }
        assert_matches_model(&render(&doc, &o), &doc, &o);
    }

    #[test]
    fn streaming_equals_whole_at_random_boundaries(
        o in options(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..40),
        cut_at_end in any::<bool>(),
    ) {
        let mut bytes = render(&generate(&o), &o);
        if cut_at_end {
            // Truncated documents must fail identically too.
            let len = bytes.len() * 2 / 3;
            bytes.truncate(len);
        }
        let mut boundaries: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len().max(1))).collect();
        boundaries.sort_unstable();
        prop_assert_eq!(streamed(&bytes, &boundaries), whole(&bytes));
    }

    #[test]
    fn arbitrary_bytes_stream_like_whole(bytes in prop::collection::vec(any::<u8>(), 0..600), n in 1usize..9) {
        prop_assert_eq!(chunked(&bytes, n), whole(&bytes));
    }
}

fn small_documents() -> Vec<Vec<u8>> {
    let mut docs = Vec::new();
    for version in Version::ALL {
        let o = Options {
            version,
            release: Release::V2_7,
            clients: 3,
            hostile: true,
            ipv6: true,
            management: version == Version::V3,
            seed: 9,
            ..Options::default()
        };
        docs.push(render(&generate(&o), &o));
    }
    docs
}

#[test]
fn one_byte_chunks_equal_whole() {
    for doc in small_documents() {
        assert_eq!(chunked(&doc, 1), whole(&doc));
    }
}

#[test]
fn every_split_point_equals_whole() {
    for doc in small_documents() {
        let expected = whole(&doc);
        for at in 0..=doc.len() {
            assert_eq!(streamed(&doc, &[at]), expected, "split at {at}");
        }
    }
}

/// httparse's way: every prefix either yields a prefix of the whole
/// document's records and asks for more, or, told it is the end, fails as
/// incomplete after a prefix of the records.
#[test]
fn every_prefix_is_a_prefix_or_incomplete() {
    for doc in small_documents() {
        let (all, none) = whole(&doc);
        assert_eq!(none, None);
        for len in 0..doc.len() {
            let prefix = &doc[..len];
            let (records, err) = whole(prefix);
            assert!(all.starts_with(&records), "prefix {len}");
            match err {
                Some(e) => assert_eq!(e.kind(), ErrorKind::Incomplete, "prefix {len}: {e}"),
                // Only a prefix that cuts the final newline after END is whole.
                None => assert_eq!(records, all, "prefix {len}"),
            }
            let mut parser = ovpn_status::Parser::new();
            let mut start = 0;
            let mut seen = Vec::new();
            while let ovpn_status::Step::Record(r, used) = parser
                .feed(&prefix[start..], false)
                .expect("no error before the end")
            {
                seen.push(r);
                start += used;
            }
            assert!(all.starts_with(&seen), "prefix {len} without end of input");
        }
    }
}

/// How feeding a part ended.
enum Ended {
    /// At the end of the part, wanting more.
    Part,
    /// At `END` or at an error: the document's last word.
    Document(Option<Error>),
}

/// Feeds `input` to `parser` as all there is (`last`) or as a part of a
/// longer document.
fn feed_all<'a>(parser: &mut Parser, input: &'a [u8], last: bool) -> (Vec<Record<'a>>, Ended) {
    let (mut records, mut at) = (Vec::new(), 0);
    loop {
        match parser.feed(&input[at..], last) {
            Ok(Step::Record(r, used)) => {
                records.push(r);
                at += used;
            }
            Ok(Step::NeedMore(used)) => {
                assert_eq!(at + used, input.len(), "a part ends at a line end");
                return (records, Ended::Part);
            }
            Ok(Step::Done) => return (records, Ended::Document(None)),
            Err(e) => return (records, Ended::Document(Some(e))),
        }
    }
}

/// The document parsed in two parts, `..part` and `part..`, the second by
/// a copy of the parser made at `copy_at` (both line starts): what the
/// document yields, or `None` where the parser at `part` is not in the
/// copy's state.
fn in_parts(doc: &[u8], copy_at: usize, part: usize) -> Option<(Vec<Record<'_>>, Option<Error>)> {
    let mut first = Parser::new();
    let (mut records, end) = feed_all(&mut first, &doc[..copy_at], false);
    if let Ended::Document(err) = end {
        return Some((records, err));
    }
    let copy = first;
    let (more, end) = feed_all(&mut first, &doc[copy_at..part], false);
    records.extend(more);
    if let Ended::Document(err) = end {
        return Some((records, err));
    }
    if !first.same_state(&copy) {
        return None;
    }
    let mut second = copy;
    let (more, end) = feed_all(&mut second, &doc[part..], true);
    records.extend(more);
    match end {
        Ended::Document(err) => Some((records, err)),
        Ended::Part => panic!("the last part neither ended nor failed"),
    }
}

/// A document parsed in two parts on two parsers, the second a copy made
/// earlier, yields the whole document's records whenever
/// `Parser::same_state` says the second part can be trusted; and for
/// status-version 2 and 3 it says so unless a `HEADER` line lies between
/// the copy and the part.
#[test]
fn parts_parsed_by_a_copy_equal_whole() {
    for doc in small_documents() {
        let expected = whole(&doc);
        let starts: Vec<usize> = std::iter::once(0)
            .chain(memchr_positions(&doc).map(|i| i + 1))
            .collect();
        let tagged = doc.starts_with(b"TITLE");
        let mut trusted = 0;
        for (k, &copy_at) in starts.iter().enumerate() {
            for &part in &starts[k..] {
                if let Some(got) = in_parts(&doc, copy_at, part) {
                    assert_eq!(got, expected, "copy at {copy_at}, part at {part}");
                    trusted += 1;
                } else {
                    let between = &doc[copy_at..part];
                    let headers = between.starts_with(b"HEADER")
                        || between.windows(7).any(|w| w == b"\nHEADER");
                    // The first line decides the format: a copy made
                    // before it is in another state.
                    assert!(
                        !tagged || headers || copy_at == 0,
                        "copy at {copy_at}, part at {part} not trusted"
                    );
                }
            }
        }
        assert!(trusted > starts.len(), "{trusted}");
    }
}

fn memchr_positions(doc: &[u8]) -> impl Iterator<Item = usize> + '_ {
    doc.iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i)
}
