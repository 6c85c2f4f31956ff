//! A deflate encoder (RFC 1951) made for exposition text: on a
//! 100,000-client exposition it takes less than half the time of
//! `miniz_oxide` at its fastest level, for a 9% smaller output
//! (`BENCHMARKS.md`).
//!
//! An exposition is lines that repeat the line before them except for a
//! few label values and the sample value: the same metric name, the same
//! label names, often the same source, and names and addresses that share a
//! prefix with the previous client's. A general encoder looks up a hash
//! table at every byte to find such repeats anywhere in the last 32 KiB.
//! This one compares each line with the previous line only, field by field
//! (a field ends at `"`): where the two agree byte for byte it writes a
//! match, elsewhere literals. A field that differs is skipped to its end in
//! both lines, keeping an equal tail, so the label names after a value of
//! another length still match. The `/sessions` JSON is read the same way
//! with `}` as the line end: each object repeats the keys of the one
//! before it. Any text is encoded correctly; text shaped otherwise only
//! compresses less. Each piece becomes one or more blocks,
//! and ends on a byte boundary (a sync flush), so that pieces can be
//! joined. A block's Huffman codes are made from the counted tokens of its
//! first lines; the lines after those, seven times as much text, are coded
//! as they are matched, in the same pass, with no tokens kept. Lines that
//! those codes make larger than stored end the block before them, and a
//! block that came out larger than its text is written again stored.

// Every narrowing cast here is of a value deflate itself bounds (match
// lengths up to 258, distances up to 32,768, code lengths up to 15, bit
// buffers cut to 32 bits), or is checked where the value is made.
#![allow(clippy::cast_possible_truncation)]

use memchr::memchr;

use super::text::byte_hits;

/// Longest match distance deflate allows.
const MAX_DIST: usize = 32_768;
/// Shortest and longest match.
const MIN_MATCH: usize = 3;
const MAX_MATCH: usize = 258;
/// End of block.
const EOB: usize = 256;
/// Literal/length and distance symbols in use.
const LIT_SYMS: usize = 286;
const DIST_SYMS: usize = 30;
/// Code-length symbols, and the order their lengths are sent in.
const CL_SYMS: usize = 19;
const CL_ORDER: [usize; CL_SYMS] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];
/// Tokens of a block's first lines, counted to make the block's codes (a
/// block whose text ends sooner is all counted, and its codes are exact).
const SAMPLE_TOKENS: usize = 1 << 11;
/// A block's text, as a multiple of its counted lines' text: the lines
/// after those are coded as they are matched, with the sample's codes.
const BLOCK_SAMPLES: usize = 8;
/// Most tokens one line can add: matches are at least 3 bytes and only
/// reach into the first 32 KiB of a line, a literal run comes between two
/// matches, and one more run ends the line.
const LINE_TOKENS: usize = 2 * MAX_DIST / MIN_MATCH + 2;
/// A run of literals (`dist` 0) or a match.
#[derive(Clone, Copy, Debug)]
struct Token {
    len: u32,
    dist: u16,
}

/// Encodes pieces of text; its buffers are reused from piece to piece.
#[derive(Debug)]
pub struct Encoder {
    /// The tokens of the lines counted for the waiting block.
    tokens: Vec<Token>,
    lit: [u32; LIT_SYMS],
    dist: [u32; DIST_SYMS],
    /// The byte that ends a line.
    line_end: u8,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder::with_line_end(b'\n')
    }
}

impl Encoder {
    /// An encoder whose lines end with `byte` (and whose fields with `"`,
    /// as always): `b'\n'` for an exposition, the default; `b'}'` for a
    /// JSON array of flat objects, each of which is then a line compared
    /// with the one before it.
    pub fn with_line_end(byte: u8) -> Self {
        Encoder {
            // Room for a sample and one more line from the start (190
            // KiB), never grown.
            tokens: Vec::with_capacity(SAMPLE_TOKENS + LINE_TOKENS),
            lit: [0; LIT_SYMS],
            dist: [0; DIST_SYMS],
            line_end: byte,
        }
    }

    /// Appends `text`, deflated, to `out`: blocks none of which is final,
    /// ending on a byte boundary. Nothing for empty text.
    pub fn deflate(&mut self, text: &[u8], out: &mut Vec<u8>) {
        if text.is_empty() {
            return;
        }
        let mut w = Bits::new(out);
        // Token lengths are 32-bit: a piece is never that long, but any
        // text is encoded.
        if u32::try_from(text.len()).is_ok() {
            self.blocks(&mut w, text);
        } else {
            stored(&mut w, text);
        }
        // An empty stored block: the sync flush that aligns the end.
        w.put(0, 3);
        w.align();
        w.out.extend_from_slice(&[0, 0, 0xff, 0xff]);
    }

    /// Writes `text` line by line as blocks. A block's first lines are
    /// tokenized and counted, its Huffman codes made from those counts, and
    /// the lines after them coded as soon as they are matched, up to
    /// [`BLOCK_SAMPLES`] times the counted text: one pass over most of the
    /// text, with no tokens kept. Lines of one exposition piece are alike,
    /// so codes made from a part of them fit the rest closely. Every
    /// symbol gets a code, so any text is encoded; where the lines after
    /// the counted ones come out larger than stored, the block ends with
    /// the counted lines, and the next one counts anew.
    fn blocks(&mut self, w: &mut Bits<'_>, text: &[u8]) {
        // The line before the next one, and where the waiting block starts.
        let mut prev: Option<(usize, usize)> = None;
        let mut start = 0;
        while start < text.len() {
            self.clear();
            let mut end = start;
            while self.tokens.len() < SAMPLE_TOKENS
                && let Some(e) = line_end(text, end, self.line_end)
            {
                tokenize(self, text, prev, (end, e));
                prev = Some((end, e));
                end = e;
            }
            let (counted, counted_prev) = (end, prev);
            let rest = end < text.len();
            let mark = w.mark();
            self.lit[EOB] += 1;
            if rest {
                // A code for every symbol, for the lines not counted: one
                // not seen weighs an eighth of one seen once (weighing it
                // as much made 100,000 clients' output 0.7% larger).
                for f in self.lit.iter_mut().chain(self.dist.iter_mut()) {
                    *f = f.saturating_mul(8).saturating_add(1);
                }
            }
            let block = Block::new(&mut self.lit, &mut self.dist);
            block.header(w);
            block.tokens(w, &text[start..counted], &self.tokens);
            if rest {
                let tail = w.mark();
                let mut coder = block.coder(w);
                let until = start.saturating_add((counted - start).saturating_mul(BLOCK_SAMPLES));
                while end < until
                    && let Some(e) = line_end(text, end, self.line_end)
                {
                    // The most one line's codes take: 16 bits a byte (a
                    // 3-byte match's codes and extra bits).
                    coder.w.out.reserve(2 * (e - end) + 8);
                    tokenize(&mut coder, text, prev, (end, e));
                    prev = Some((end, e));
                    end = e;
                    if coder.w.bits_since(&tail) > stored_bits(end - counted) {
                        // Text unlike the counted lines: not with their codes.
                        coder.w.reset(tail);
                        (end, prev) = (counted, counted_prev);
                        break;
                    }
                }
            }
            block.lit.put(w, EOB);
            if w.bits_since(&mark) >= stored_bits(end - start) {
                w.reset(mark);
                stored(w, &text[start..end]);
            }
            start = end;
        }
    }

    fn clear(&mut self) {
        self.tokens.clear();
        self.lit = [0; LIT_SYMS];
        self.dist = [0; DIST_SYMS];
    }
}

/// The end of the line of `text` that starts at `from` (after its `end`
/// byte, or the end of `text`); `None` at the end of `text`.
fn line_end(text: &[u8], from: usize, end: u8) -> Option<usize> {
    let rest = text.get(from..).filter(|r| !r.is_empty())?;
    Some(from + memchr(end, rest).map_or(rest.len(), |i| i + 1))
}

/// Where a line's tokens go: counted and kept, or coded at once.
trait Sink {
    /// A run of literals.
    fn literals(&mut self, bytes: &[u8]);
    /// A match of 3 to 258 bytes at distance `dist` (1..=32,768).
    fn copy(&mut self, len: usize, dist: usize);
}

impl Sink for Encoder {
    fn literals(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        for &b in bytes {
            self.lit[usize::from(b)] += 1;
        }
        // Within a piece: `deflate` stores pieces of 4 GiB or more.
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        match self.tokens.last_mut() {
            Some(t) if t.dist == 0 => t.len += len,
            _ => self.tokens.push(Token { len, dist: 0 }),
        }
    }

    fn copy(&mut self, len: usize, dist: usize) {
        self.lit[length_code(len).0] += 1;
        self.dist[dist_code(dist).0] += 1;
        // `len` is at most 258 and `dist` at most 32,768.
        self.tokens.push(Token {
            len: len as u32,
            dist: dist as u16,
        });
    }
}

/// Tokens for the line `c` of `text`, given the line `p` before it.
fn tokenize(sink: &mut impl Sink, text: &[u8], p: Option<(usize, usize)>, c: (usize, usize)) {
    match p {
        Some(p) => line(sink, text, p, c),
        None => sink.literals(&text[c.0..c.1]),
    }
}

/// Tokens for the line `c` of `text` matched against the line `p`.
#[allow(clippy::many_single_char_names)]
fn line(sink: &mut impl Sink, text: &[u8], p: (usize, usize), c: (usize, usize)) {
    let (mut i, mut j) = (c.0, p.0);
    // Where the literals not yet written start.
    let mut from = i;
    while i < c.1 {
        // The run equal in both lines from here.
        let n = common_prefix(&text[i..c.1], &text[j..p.1]);
        if n >= MIN_MATCH && i - j <= MAX_DIST {
            sink.literals(&text[from..i]);
            matched(sink, n, i - j);
            from = i + n;
        }
        i += n;
        j += n;
        if i >= c.1 || j >= p.1 {
            break;
        }
        // They differ at i: go to the end of this field in both lines,
        // less the tail they share, and compare again from there.
        let ci = i + find_quote(&text[i..c.1]);
        let pj = j + find_quote(&text[j..p.1]);
        let s = common_suffix(&text[i..ci], &text[j..pj]);
        // At least one of them moves: text[i] != text[j], so the two
        // fields are not equal, and they are not both empty. Were it
        // otherwise, the rest of the line as literals is still right.
        debug_assert!(ci - s > i || pj - s > j, "no progress at {i}, {j}");
        if ci - s == i && pj - s == j {
            break;
        }
        i = ci - s;
        j = pj - s;
    }
    sink.literals(&text[from..c.1]);
}

/// A match of `len` bytes (at least 3) at distance `dist`, split into
/// matches deflate can code.
fn matched(sink: &mut impl Sink, mut len: usize, dist: usize) {
    debug_assert!((1..=MAX_DIST).contains(&dist));
    while len > 0 {
        // The rest after a 258-byte match must still be a match.
        let m = match len {
            ..=MAX_MATCH => len,
            _ if len - MAX_MATCH < MIN_MATCH => len - MIN_MATCH,
            _ => MAX_MATCH,
        };
        sink.copy(m, dist);
        len -= m;
    }
}

/// How many leading bytes `a` and `b` share, eight at a time.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let max = a.len().min(b.len());
    let mut n = 0;
    while n + 8 <= max {
        let x = word(&a[n..]) ^ word(&b[n..]);
        if x != 0 {
            return n + (x.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    while n < max && a[n] == b[n] {
        n += 1;
    }
    n
}

/// Where the first `"` of `b` is, or its length; eight bytes at a time.
fn find_quote(b: &[u8]) -> usize {
    let mut i = 0;
    while i + 8 <= b.len() {
        let hit = byte_hits(word(&b[i..]), b'"');
        if hit != 0 {
            return i + (hit.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i + b[i..]
        .iter()
        .position(|&c| c == b'"')
        .unwrap_or(b.len() - i)
}

fn word(b: &[u8]) -> u64 {
    let mut w = [0; 8];
    w.copy_from_slice(&b[..8]);
    u64::from_le_bytes(w)
}

/// How many trailing bytes `a` and `b` share.
fn common_suffix(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count()
}

/// Length symbol, extra bits and their value for a match of `m` (3..=258).
fn length_code(m: usize) -> (usize, u32, u32) {
    if m == MAX_MATCH {
        return (285, 0, 0);
    }
    let v = (m - MIN_MATCH) as u32;
    if v < 8 {
        return (257 + v as usize, 0, 0);
    }
    let l = v.ilog2();
    let extra = l - 2;
    let sym = 257 + 4 * (l as usize - 1) + ((v >> extra) & 3) as usize;
    (sym, extra, v & ((1 << extra) - 1))
}

/// Distance symbol, extra bits and their value for `d` (1..=32768).
fn dist_code(d: usize) -> (usize, u32, u32) {
    let v = (d - 1) as u32;
    if v < 4 {
        return (v as usize, 0, 0);
    }
    let l = v.ilog2();
    let extra = l - 1;
    let sym = 2 * l as usize + ((v >> extra) & 1) as usize;
    (sym, extra, v & ((1 << extra) - 1))
}

/// Bits of `n` bytes as stored blocks from a byte boundary (from elsewhere,
/// the first header and its padding take up to 2 bits more): the size a
/// Huffman block is weighed against.
fn stored_bits(n: usize) -> usize {
    (n + n.div_ceil(65_535) * 5) * 8
}

/// `text` as stored (uncompressed) blocks, none final.
fn stored(w: &mut Bits<'_>, text: &[u8]) {
    w.out.reserve(stored_bits(text.len()) / 8 + 1);
    for part in text.chunks(65_535) {
        let len = u16::try_from(part.len()).unwrap_or(u16::MAX);
        w.put(0, 3);
        w.align();
        w.out.extend_from_slice(&len.to_le_bytes());
        w.out.extend_from_slice(&(!len).to_le_bytes());
        w.out.extend_from_slice(part);
    }
}

/// The codes of one dynamic-Huffman block.
struct Block {
    lit: Code<LIT_SYMS>,
    dist: Code<DIST_SYMS>,
    cl: Code<CL_SYMS>,
    /// The code lengths of both codes, run-length coded: (symbol, extra).
    runs: Vec<(u8, u8)>,
    hlit: usize,
    hdist: usize,
    hclen: usize,
    /// For each match length, its symbol's code and extra bits as one
    /// value, their bit count above bit 24.
    lengths: [u32; MAX_MATCH + 1],
}

impl Block {
    /// Codes for these frequencies, each code given at least two symbols
    /// (some decoders reject a code of one).
    fn new(lit: &mut [u32; LIT_SYMS], dist: &mut [u32; DIST_SYMS]) -> Self {
        at_least_two(lit);
        at_least_two(dist);
        let lit_code = Code::new(lit, 15);
        let dist_code = Code::new(dist, 15);
        let hlit = used(&lit_code.lens, 257);
        let hdist = used(&dist_code.lens, 1);
        let mut runs = Vec::new();
        run_lengths(&lit_code.lens[..hlit], &mut runs);
        run_lengths(&dist_code.lens[..hdist], &mut runs);
        let mut cl_freq = [0; CL_SYMS];
        for &(s, _) in &runs {
            cl_freq[usize::from(s)] += 1;
        }
        at_least_two(&mut cl_freq);
        let cl = Code::new(&cl_freq, 7);
        let hclen = CL_ORDER
            .iter()
            .rposition(|&s| cl.lens[s] != 0)
            .map_or(4, |p| (p + 1).max(4));
        let mut lengths = [0; MAX_MATCH + 1];
        for (m, l) in lengths.iter_mut().enumerate().skip(MIN_MATCH) {
            let (sym, bits, value) = length_code(m);
            let n = u32::from(lit_code.lens[sym]);
            // At most 15 + 5 bits.
            *l = (u32::from(lit_code.codes[sym]) | value << n) | (n + bits) << 24;
        }
        Block {
            lit: lit_code,
            dist: dist_code,
            cl,
            runs,
            hlit,
            hdist,
            hclen,
            lengths,
        }
    }

    /// Writes the block's header and its codes.
    fn header(&self, w: &mut Bits<'_>) {
        // Not final, dynamic Huffman (BTYPE 2).
        w.put(0b100, 3);
        w.put((self.hlit - 257) as u64, 5);
        w.put((self.hdist - 1) as u64, 5);
        w.put((self.hclen - 4) as u64, 4);
        for &s in &CL_ORDER[..self.hclen] {
            w.put(u64::from(self.cl.lens[s]), 3);
        }
        for &(s, extra) in &self.runs {
            self.cl.put(w, usize::from(s));
            w.put(u64::from(extra), cl_extra(s));
        }
    }

    /// Literal codes with their lengths (code in the low 16 bits, length
    /// above): one load each.
    fn literal_table(&self) -> [u32; 256] {
        let mut literal = [0u32; 256];
        for (b, l) in literal.iter_mut().enumerate() {
            *l = u32::from(self.lit.codes[b]) | u32::from(self.lit.lens[b]) << 16;
        }
        literal
    }

    /// Writes `tokens`, those of `text`.
    fn tokens(&self, w: &mut Bits<'_>, text: &[u8], tokens: &[Token]) {
        let literal = self.literal_table();
        let mut at = 0;
        for t in tokens {
            let len = t.len as usize;
            if t.dist == 0 {
                w.literals(&text[at..at + len], &literal);
            } else {
                self.copy(w, len, usize::from(t.dist));
            }
            at += len;
        }
    }

    /// A match's length and distance codes, each with its extra bits.
    #[inline]
    fn copy(&self, w: &mut Bits<'_>, len: usize, dist: usize) {
        let l = self.lengths[len];
        w.put(u64::from(l & 0xff_ffff), l >> 24);
        let (sym, bits, value) = dist_code(dist);
        let n = u32::from(self.dist.lens[sym]);
        w.put(
            u64::from(self.dist.codes[sym]) | u64::from(value) << n,
            n + bits,
        );
    }

    /// A sink that writes tokens with this block's codes as they come.
    fn coder<'b, 'w, 'o>(&'b self, w: &'w mut Bits<'o>) -> Coder<'b, 'w, 'o> {
        Coder {
            block: self,
            literal: self.literal_table(),
            w,
        }
    }
}

/// Writes tokens with a block's codes as they come.
struct Coder<'b, 'w, 'o> {
    block: &'b Block,
    literal: [u32; 256],
    w: &'w mut Bits<'o>,
}

impl Sink for Coder<'_, '_, '_> {
    fn literals(&mut self, bytes: &[u8]) {
        self.w.literals(bytes, &self.literal);
    }

    fn copy(&mut self, len: usize, dist: usize) {
        self.block.copy(self.w, len, dist);
    }
}

/// Extra bits after a code-length symbol.
fn cl_extra(s: u8) -> u32 {
    match s {
        16 => 2,
        17 => 3,
        18 => 7,
        _ => 0,
    }
}

/// Gives a count of 1 to the first unused symbols until two are used.
fn at_least_two(freq: &mut [u32]) {
    let mut used = freq.iter().filter(|&&f| f > 0).count();
    for f in freq.iter_mut() {
        if used >= 2 {
            break;
        }
        if *f == 0 {
            *f = 1;
            used += 1;
        }
    }
}

/// How many lengths are sent: up to the last used one, at least `min`.
fn used(lens: &[u8], min: usize) -> usize {
    lens.iter()
        .rposition(|&l| l != 0)
        .map_or(min, |p| (p + 1).max(min))
}

/// Appends code lengths run-length coded with symbols 16 (repeat the
/// previous length 3–6 times), 17 (3–10 zeros) and 18 (11–138 zeros).
fn run_lengths(lens: &[u8], out: &mut Vec<(u8, u8)>) {
    let mut i = 0;
    while i < lens.len() {
        let l = lens[i];
        let mut run = lens[i..].iter().take_while(|&&x| x == l).count();
        i += run;
        if l == 0 {
            while run >= 11 {
                let n = run.min(138);
                out.push((18, (n - 11) as u8));
                run -= n;
            }
            if run >= 3 {
                out.push((17, (run - 3) as u8));
                run = 0;
            }
        } else {
            out.push((l, 0));
            run -= 1;
            while run >= 3 {
                let n = run.min(6);
                out.push((16, (n - 3) as u8));
                run -= n;
            }
        }
        out.extend(std::iter::repeat_n((l, 0), run));
    }
}

/// A canonical Huffman code: lengths, and codes bit-reversed for the
/// least-significant-bit-first order deflate writes in.
struct Code<const N: usize> {
    lens: [u8; N],
    codes: [u16; N],
}

impl<const N: usize> Code<N> {
    /// The code for these frequencies, no code longer than `max` bits.
    fn new(freq: &[u32; N], max: u8) -> Self {
        let lens = huffman_lengths(freq, max);
        let mut count = [0u16; 16];
        for &l in &lens {
            count[usize::from(l)] += 1;
        }
        count[0] = 0;
        let mut next = [0u16; 16];
        let mut code = 0u16;
        for bits in 1..16 {
            code = (code + count[bits - 1]) << 1;
            next[bits] = code;
        }
        let mut codes = [0; N];
        for (s, &l) in lens.iter().enumerate() {
            if l > 0 {
                let c = &mut next[usize::from(l)];
                codes[s] = c.reverse_bits() >> (16 - l);
                *c += 1;
            }
        }
        Code { lens, codes }
    }

    fn put(&self, w: &mut Bits<'_>, s: usize) {
        w.put(u64::from(self.codes[s]), u32::from(self.lens[s]));
    }
}

/// Huffman code lengths for `freq`, limited to `max` bits; 0 for unused
/// symbols. With two or more used symbols the code is complete (the
/// lengths' Kraft sum is exactly 1), as strict decoders require.
fn huffman_lengths<const N: usize>(freq: &[u32; N], max: u8) -> [u8; N] {
    let mut lens = [0u8; N];
    // Used symbols, least frequent first.
    let mut syms: Vec<(u32, usize)> = freq
        .iter()
        .enumerate()
        .filter(|(_, f)| **f > 0)
        .map(|(s, &f)| (f, s))
        .collect();
    syms.sort_unstable();
    let n = syms.len();
    if n < 2 {
        if let Some(&(_, s)) = syms.first() {
            lens[s] = 1;
        }
        return lens;
    }
    // Huffman's tree with two queues: leaves 0..n in order of weight, then
    // the inner nodes n.., made in order of weight too.
    let mut weight: Vec<u64> = syms.iter().map(|&(f, _)| u64::from(f)).collect();
    weight.resize(2 * n - 1, 0);
    let mut parent = vec![0usize; 2 * n - 1];
    let (mut leaf, mut inner) = (0, n);
    for k in n..2 * n - 1 {
        let mut lightest = || {
            if leaf < n && (inner >= k || weight[leaf] <= weight[inner]) {
                leaf += 1;
                leaf - 1
            } else {
                inner += 1;
                inner - 1
            }
        };
        let (a, b) = (lightest(), lightest());
        weight[k] = weight[a] + weight[b];
        parent[a] = k;
        parent[b] = k;
    }
    // Depths from the root (the last node) down; leaves per depth, the
    // deepest clamped to `max`.
    let max = usize::from(max);
    let mut depth = vec![0usize; 2 * n - 1];
    let mut count = vec![0u32; max + 1];
    for k in (0..2 * n - 2).rev() {
        depth[k] = depth[parent[k]] + 1;
        if k < n {
            count[depth[k].min(max)] += 1;
        }
    }
    // Clamping made the code over-full: each step takes a leaf off the
    // deepest level and splits a shallower leaf into two one level down,
    // which lowers the Kraft sum (in units of 2^-max) by exactly one.
    let kraft: u64 = (1..=max).map(|l| u64::from(count[l]) << (max - l)).sum();
    for _ in (1u64 << max)..kraft {
        count[max] -= 1;
        if let Some(l) = (1..max).rev().find(|&l| count[l] > 0) {
            count[l] -= 1;
            count[l + 1] += 2;
        }
    }
    // The shortest lengths to the most frequent symbols.
    let mut next = syms.iter().rev();
    for (l, &c) in count.iter().enumerate().skip(1) {
        for (_, s) in next.by_ref().take(c as usize) {
            lens[*s] = l as u8;
        }
    }
    lens
}

/// A position of [`Bits`].
#[derive(Clone, Copy)]
struct Mark {
    len: usize,
    acc: u64,
    n: u32,
}

/// Writes bits least significant first, as deflate packs them.
struct Bits<'a> {
    out: &'a mut Vec<u8>,
    acc: u64,
    n: u32,
}

impl<'a> Bits<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        Bits { out, acc: 0, n: 0 }
    }

    /// The low `n` bits of `v` (at most 32; the rest of `v` is 0).
    #[inline]
    fn put(&mut self, v: u64, n: u32) {
        self.acc |= v << self.n;
        self.n += n;
        if self.n >= 32 {
            self.out.extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.n -= 32;
        }
    }

    /// Each byte of `bytes` as the code `table` gives (code in the low 16
    /// bits, length above), with the bit buffer kept in registers. Two
    /// bytes at a time: their codes take at most 30 bits, and the buffer
    /// holds fewer than 32 before them.
    #[inline]
    fn literals(&mut self, bytes: &[u8], table: &[u32; 256]) {
        let (mut acc, mut n) = (self.acc, self.n);
        let mut pairs = bytes.chunks_exact(2);
        for pair in &mut pairs {
            let (a, b) = (table[usize::from(pair[0])], table[usize::from(pair[1])]);
            let codes = u64::from(a & 0xffff) | u64::from(b & 0xffff) << (a >> 16);
            acc |= codes << n;
            n += (a >> 16) + (b >> 16);
            if n >= 32 {
                self.out.extend_from_slice(&(acc as u32).to_le_bytes());
                acc >>= 32;
                n -= 32;
            }
        }
        for &b in pairs.remainder() {
            let c = table[usize::from(b)];
            acc |= u64::from(c & 0xffff) << n;
            n += c >> 16;
            if n >= 32 {
                self.out.extend_from_slice(&(acc as u32).to_le_bytes());
                acc >>= 32;
                n -= 32;
            }
        }
        (self.acc, self.n) = (acc, n);
    }

    /// Where the writer is, to measure what follows or take it back.
    fn mark(&self) -> Mark {
        Mark {
            len: self.out.len(),
            acc: self.acc,
            n: self.n,
        }
    }

    /// Bits written since `mark`.
    fn bits_since(&self, mark: &Mark) -> usize {
        (self.out.len() - mark.len) * 8 + self.n as usize - mark.n as usize
    }

    /// Takes back everything written since `mark`.
    fn reset(&mut self, mark: Mark) {
        self.out.truncate(mark.len);
        self.acc = mark.acc;
        self.n = mark.n;
    }

    /// Pads with zero bits to a byte boundary and writes what is left.
    fn align(&mut self) {
        let bytes = self.n.div_ceil(8) as usize;
        self.out.extend_from_slice(&self.acc.to_le_bytes()[..bytes]);
        self.acc = 0;
        self.n = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    /// Extra bits of length symbols 257.. and of distance symbols.
    const LEN_EXTRA: [u8; 29] = [
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
    ];
    const DIST_EXTRA: [u8; DIST_SYMS] = [
        0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12,
        13, 13,
    ];

    /// Pieces deflated one after the other, closed by a final empty block,
    /// inflated by flate2.
    fn round_trip(pieces: &[&[u8]]) -> Vec<u8> {
        round_trip_with(Encoder::default(), pieces)
    }

    /// [`round_trip`] with the encoder `e`.
    fn round_trip_with(mut e: Encoder, pieces: &[&[u8]]) -> Vec<u8> {
        let mut raw = Vec::new();
        for p in pieces {
            e.deflate(p, &mut raw);
        }
        raw.extend_from_slice(&[0x03, 0x00]);
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    /// `n` bytes of a linear congruential generator's high bits.
    fn noise(seed: u32, n: usize) -> Vec<u8> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (x >> 24) as u8
            })
            .collect()
    }

    fn check(pieces: &[&[u8]]) {
        assert_eq!(round_trip(pieces), pieces.concat());
    }

    #[test]
    fn codes_match_the_tables_of_the_rfc() {
        // RFC 1951 3.2.5: first value of each length and distance symbol.
        let len_base = [
            3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99,
            115, 131, 163, 195, 227, 258,
        ];
        for m in MIN_MATCH..=MAX_MATCH {
            let (sym, bits, value) = length_code(m);
            let i = len_base.iter().rposition(|&b| b <= m).unwrap();
            assert_eq!(sym, 257 + i, "length {m}");
            assert_eq!(bits, u32::from(LEN_EXTRA[i]));
            assert_eq!(len_base[i] + value as usize, m);
        }
        let dist_base = [
            1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025,
            1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
        ];
        for d in 1..=MAX_DIST {
            let (sym, bits, value) = dist_code(d);
            let i = dist_base.iter().rposition(|&b| b <= d).unwrap();
            assert_eq!(sym, i, "distance {d}");
            assert_eq!(bits, u32::from(DIST_EXTRA[i]));
            assert_eq!(dist_base[i] + value as usize, d);
        }
    }

    #[test]
    fn huffman_codes_are_complete_and_limited() {
        // Fibonacci weights make the deepest tree there is.
        let mut fib = [0u32; LIT_SYMS];
        let (mut a, mut b) = (1u32, 1u32);
        for f in fib.iter_mut().take(40) {
            *f = a;
            (a, b) = (b, a.saturating_add(b));
        }
        let mut skewed = [0u32; CL_SYMS];
        for (i, f) in skewed.iter_mut().enumerate() {
            *f = 1 << i.min(25);
        }
        let mut uniform = [7u32; LIT_SYMS];
        uniform[3] = 0;
        for (lens, max) in [
            (huffman_lengths(&fib, 15).to_vec(), 15),
            (huffman_lengths(&skewed, 7).to_vec(), 7),
            (huffman_lengths(&uniform, 15).to_vec(), 15),
            (huffman_lengths(&[5u32, 9], 7).to_vec(), 7),
        ] {
            assert!(lens.iter().all(|&l| l <= max));
            let kraft: u64 = lens
                .iter()
                .filter(|&&l| l > 0)
                .map(|&l| 1u64 << (15 - l))
                .sum();
            assert_eq!(kraft, 1 << 15, "{lens:?}");
        }
        // More frequent symbols never get longer codes.
        let lens = huffman_lengths(&fib, 15);
        assert!(lens[..40].windows(2).all(|w| w[0] >= w[1]), "{lens:?}");
    }

    /// Client `i`'s address (two last octets), port and a byte counter.
    fn client(i: u64) -> (u64, u64, u64, u64) {
        (
            i / 256,
            i % 256,
            1024 + i * 7 % 60_000,
            i.wrapping_mul(2_654_435_761) % 100_000_000_000,
        )
    }

    #[test]
    fn exposition_lines_round_trip_and_compress() {
        let text: Vec<u8> = (0..5_000u64)
            .flat_map(|i| {
                let (a, b, port, bytes) = client(i);
                format!(
                    "ovpn_client_received_bytes_total{{source=\"udp\",common_name=\"client{i:06}\",real_address=\"198.51.{a}.{b}:{port}\"}} {bytes}\n"
                )
                .into_bytes()
            })
            .collect();
        check(&[&text]);
        let mut e = Encoder::default();
        let mut ours = Vec::new();
        e.deflate(&text, &mut ours);
        let mut general =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut general, &text).unwrap();
        let general = general.finish().unwrap();
        assert!(
            ours.len() < general.len(),
            "{} bytes against {} at level 1",
            ours.len(),
            general.len()
        );
    }

    /// Lines ended by `}`: a JSON array of flat objects compresses as
    /// exposition lines do, and any text still comes back.
    #[test]
    fn objects_as_lines_round_trip_and_compress() {
        let objects: Vec<String> = (0..3_000u64)
            .map(|i| {
                let (a, b, port, bytes) = client(i);
                format!(
                    "{{\"server\":\"vpn\",\"remotehost\":\"198.51.{a}.{b}\",\"remoteport\":\"{port}\",\"remoteid\":\"client{i:06}\",\"bytesin\":\"{bytes}\"}}"
                )
            })
            .collect();
        let json = format!("[{}]\n", objects.join(",")).into_bytes();
        let (half, rest) = json.split_at(json.len() / 2);
        assert_eq!(
            round_trip_with(Encoder::with_line_end(b'}'), &[half, rest]),
            json
        );
        let mut objects = Vec::new();
        Encoder::with_line_end(b'}').deflate(&json, &mut objects);
        let mut one_line = Vec::new();
        Encoder::default().deflate(&json, &mut one_line);
        assert!(
            objects.len() * 3 < one_line.len(),
            "{} bytes by object, {} as one line",
            objects.len(),
            one_line.len()
        );
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        for len in [1, 3, 100, 5_000, 70_000] {
            let text: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    b"a\"}{\n,"[x as usize % 6]
                })
                .collect();
            assert_eq!(
                round_trip_with(Encoder::with_line_end(b'}'), &[&text]),
                text
            );
        }
    }

    #[test]
    fn any_bytes_round_trip() {
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        // Few distinct bytes (long runs, quotes and newlines everywhere),
        // then all 256.
        for alphabet in [
            &b"\"\na"[..],
            b"ab\"\n\\ 0123",
            &(0..=255).collect::<Vec<u8>>(),
        ] {
            for len in [1, 2, 3, 7, 100, 5_000, 70_000] {
                let text: Vec<u8> = (0..len)
                    .map(|_| alphabet[rand() as usize % alphabet.len()])
                    .collect();
                check(&[&text]);
                check(&[&text[..len / 2], b"", &text[len / 2..]]);
                // No block is larger than stored: a block holds at least
                // a sample's tokens, one byte or more each.
                let mut out = Vec::new();
                Encoder::default().deflate(&text, &mut out);
                let blocks = len / SAMPLE_TOKENS + 1;
                assert!(out.len() <= stored_bits(len) / 8 + 6 * blocks + 5, "{len}");
            }
        }
    }

    #[test]
    fn long_lines_and_long_matches() {
        // Lines longer than the window, equal lines (matches longer than
        // 258, and 259 and 260 that leave less than a match), lines with
        // no newline at the end.
        let long = vec![b'x'; 40_000];
        let mut lines = Vec::new();
        for n in [40_000, 259, 260, 261, 516, 517, 3] {
            lines.extend_from_slice(&long[..n]);
            lines.push(b'\n');
            lines.extend_from_slice(&long[..n]);
            lines.push(b'\n');
        }
        check(&[&lines, &long, b"x", b"\"\"\"\n\"\"\"\n"]);
        // Lines of 2 to 40 KiB whose fields differ in value and length
        // from the previous line's: the field skip and the shared tails
        // run thousands of times, some distances near the window's end.
        let mut text = Vec::new();
        for line in 0..40usize {
            for field in 0..(200 + line * 97 % 2_000) {
                let v = (line * 31 + field * 7) % 23;
                text.extend(std::iter::repeat_n(b'a' + (v % 5) as u8, v));
                text.extend_from_slice(b"=\"");
                text.extend_from_slice(format!("{}", field * (1 + line % 3)).as_bytes());
                text.extend_from_slice(b"\",");
            }
            text.push(b'\n');
        }
        check(&[&text]);
        // Lines of a repeated field, each a prefix of the next.
        let grow: Vec<u8> = (1..60)
            .flat_map(|n| [b"a\"".repeat(n * 50), b"\n".to_vec()].concat())
            .collect();
        check(&[&grow]);
    }

    #[test]
    fn codes_longer_than_fifteen_bits_are_limited() {
        // One line, so all literals, byte k occurring fib(k) times: the
        // Huffman tree is 24 deep and must be cut to 15.
        let (mut a, mut b) = (1usize, 1usize);
        let mut text = Vec::new();
        for k in 0..25u8 {
            text.extend(std::iter::repeat_n(b'A' + k, a));
            (a, b) = (b, a + b);
        }
        // Interleaved, so that no stretch is a run.
        let n = text.len();
        let text: Vec<u8> = (0..n).map(|i| text[i * 7_919 % n]).collect();
        check(&[&text]);
    }

    #[test]
    fn noise_after_many_blocks_costs_about_its_stored_size() {
        // Exposition lines for many blocks, then noise: wherever the noise
        // starts in a block, it costs about what storing it would.
        let mut text: Vec<u8> = (0..20_000u64)
            .flat_map(|i| format!("m{{a=\"{}\",b=\"x{i}\"}} {}\n", i % 7, i * 7_919).into_bytes())
            .collect();
        let mut lines = Vec::new();
        Encoder::default().deflate(&text, &mut lines);
        text.extend(noise(7, 300_000));
        let mut out = Vec::new();
        Encoder::default().deflate(&text, &mut out);
        let stored = stored_bits(300_000) / 8;
        assert!(
            out.len() < lines.len() + stored + 300_000 / 100,
            "{} bytes: {} for the lines, {stored} stored",
            out.len(),
            lines.len()
        );
        check(&[&text]);
    }

    #[test]
    fn text_unlike_the_counted_lines_starts_a_block() {
        // Exposition lines just filling a block's count, then noise: coded
        // with the codes made for those lines, the noise would be larger
        // than stored. The block ends with the lines, Huffman coded, and
        // the noise is counted anew and stored.
        let mut e = Encoder::default();
        let mut text = Vec::new();
        let mut prev = None;
        for i in 0u64.. {
            let start = text.len();
            text.extend_from_slice(format!("m{{a=\"{}\"}} {}\n", i % 7, i * 7_919).as_bytes());
            tokenize(&mut e, &text, prev, (start, text.len()));
            prev = Some((start, text.len()));
            if e.tokens.len() >= SAMPLE_TOKENS {
                break;
            }
        }
        let lines = text.len();
        text.extend(noise(3, 200_000));
        let mut out = Vec::new();
        Encoder::default().deflate(&text, &mut out);
        // Huffman coded first (BTYPE 2), then a stored block of 65,535
        // bytes (LEN then NLEN), and smaller than stored in all.
        assert_eq!(out[0] & 0b111, 0b100);
        assert!(out.windows(4).any(|w| w == [0xff, 0xff, 0, 0]));
        assert!(out.len() < text.len() - lines / 2, "{} bytes", out.len());
        check(&[&text]);
    }

    #[test]
    fn finds_the_first_quote() {
        for len in 0..20 {
            for at in 0..=len {
                let mut v = vec![b'a'; len];
                if at < len {
                    v[at] = b'"';
                    // A later quote and bytes one off must not matter.
                    v.iter_mut().skip(at + 1).step_by(2).for_each(|b| *b = b'"');
                }
                v.iter_mut().take(at).step_by(3).for_each(|b| *b = b'#');
                assert_eq!(find_quote(&v), at, "{v:?}");
            }
        }
    }

    #[test]
    fn incompressible_text_is_stored() {
        let text = noise(1, 100_000);
        let mut out = Vec::new();
        Encoder::default().deflate(&text, &mut out);
        // Stored, plus the sync flush's five bytes.
        assert_eq!(out.len(), stored_bits(text.len()) / 8 + 5);
        check(&[&text]);
    }

    /// The bit writer against one bit at a time, codes of up to 15 bits,
    /// after bytes already in the buffer.
    #[test]
    fn bits_pack_like_one_bit_at_a_time() {
        let mut table = [0u32; 256];
        for (b, t) in table.iter_mut().enumerate() {
            // Mostly long codes, the longest deflate has.
            let len = 15 - (b as u32 * 7) % 15 / 4;
            *t = ((b as u32).wrapping_mul(2_654_435_761) >> 7 & ((1 << len) - 1)) | len << 16;
        }
        let bytes: Vec<u8> = (0..1000u32).map(|i| (i * 31 % 251) as u8).collect();
        let mut out = vec![0xaa, 0xbb];
        let mut expected = Vec::new();
        let mut bit = 0;
        let mut push = |v: u64, n: u32| {
            for k in 0..n {
                if bit % 8 == 0 {
                    expected.push(0u8);
                }
                *expected.last_mut().unwrap() |= (((v >> k) & 1) as u8) << (bit % 8);
                bit += 1;
            }
        };
        let mut w = Bits::new(&mut out);
        for (i, chunk) in bytes.chunks(7).enumerate() {
            w.put(i as u64 & 0x1f, 5);
            push(i as u64 & 0x1f, 5);
            w.literals(chunk, &table);
            for &b in chunk {
                push(
                    u64::from(table[usize::from(b)] & 0xffff),
                    table[usize::from(b)] >> 16,
                );
            }
        }
        w.align();
        assert_eq!(out[..2], [0xaa, 0xbb]);
        assert!(out[2..] == expected[..]);
    }
}
