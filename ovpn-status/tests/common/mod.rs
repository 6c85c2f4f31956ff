//! Drivers for both doors, shared by the integration tests.

#![allow(dead_code)]

use ovpn_status::{parse, Error, Parser, Record, Step};

/// Everything the whole-buffer door yields: records, then the error if any.
pub fn whole(input: &[u8]) -> (Vec<Record<'_>>, Option<Error>) {
    let mut records = Vec::new();
    for r in parse(input) {
        match r {
            Ok(r) => records.push(r),
            Err(e) => return (records, Some(e)),
        }
    }
    (records, None)
}

/// The streaming door, with the input arriving in pieces that end at
/// `boundaries` (ascending; the input's length is added as the last). The
/// unconsumed bytes stay in place and the next piece follows them, as in a
/// caller's buffer, so records borrow from `input` and compare directly.
pub fn streamed<'a>(input: &'a [u8], boundaries: &[usize]) -> (Vec<Record<'a>>, Option<Error>) {
    let mut parser = Parser::new();
    let mut records = Vec::new();
    let mut start = 0;
    let ends = boundaries
        .iter()
        .copied()
        .filter(|&b| b < input.len())
        .chain([input.len()]);
    for end in ends {
        let last = end == input.len();
        loop {
            match parser.feed(&input[start..end.max(start)], last) {
                Ok(Step::Record(r, used)) => {
                    records.push(r);
                    start += used;
                }
                Ok(Step::NeedMore(used)) => {
                    start += used;
                    assert!(!last, "NeedMore at end of input");
                    break;
                }
                Ok(Step::Done) => return (records, None),
                Err(e) => return (records, Some(e)),
            }
        }
    }
    panic!("the last piece neither finished nor failed");
}

/// Fixed-size chunks of `n` bytes.
pub fn chunked(input: &[u8], n: usize) -> (Vec<Record<'_>>, Option<Error>) {
    let boundaries: Vec<usize> = (n..input.len()).step_by(n).collect();
    streamed(input, &boundaries)
}
