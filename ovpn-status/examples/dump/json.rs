//! The dump's JSON Lines writer, shared with the golden-file tests
//! (`tests/corpus.rs` and `tests/dump.rs` include this file).

use std::io::{self, Write};

use ovpn_status::{Error, Parser, Record, Step, Text};

/// Writes the dump of `input` (fed `chunk` bytes at a time, or whole) to
/// `out` and returns the exit status: 0 for a complete document, 2 for a
/// malformed one, also when `out` is a pipe whose reader went away
/// (`dump FILE | head`), as if every record had been written; 1 when
/// writing failed otherwise.
pub fn run(input: &[u8], chunk: Option<usize>, out: &mut impl Write) -> u8 {
    let result = match chunk {
        None => whole(input, out),
        Some(n) => chunked(input, n, out),
    };
    let written = match result {
        Ok(Ok(())) => out.flush().map(|()| 0),
        Ok(Err(e)) => write_error(out, &e).and_then(|()| out.flush()).map(|()| 2),
        Err(e) => Err(e),
    };
    match written {
        Ok(status) => status,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            if ovpn_status::parse(input).any(|r| r.is_err()) {
                2
            } else {
                0
            }
        }
        Err(e) => {
            eprintln!("dump: write failed: {e}");
            1
        }
    }
}

/// The whole-buffer door.
fn whole(input: &[u8], out: &mut impl Write) -> io::Result<Result<(), Error>> {
    for record in ovpn_status::parse(input) {
        match record {
            Ok(r) => write_record(out, &r)?,
            Err(e) => return Ok(Err(e)),
        }
    }
    Ok(Ok(()))
}

/// The streaming door, fed `n` bytes at a time through a buffer that keeps
/// only the unconsumed tail, as a network reader would.
fn chunked(input: &[u8], n: usize, out: &mut impl Write) -> io::Result<Result<(), Error>> {
    let mut parser = Parser::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut chunks = input.chunks(n);
    let mut eof = false;
    loop {
        let mut start = 0;
        loop {
            match parser.feed(&buf[start..], eof) {
                Ok(Step::Record(r, used)) => {
                    write_record(out, &r)?;
                    start += used;
                }
                Ok(Step::NeedMore(used)) => {
                    start += used;
                    break;
                }
                Ok(Step::Done) => return Ok(Ok(())),
                Err(e) => return Ok(Err(e)),
            }
        }
        buf.drain(..start);
        match chunks.next() {
            Some(c) => buf.extend_from_slice(c),
            None => eof = true,
        }
    }
}

fn write_record(out: &mut impl Write, record: &Record<'_>) -> io::Result<()> {
    match record {
        Record::Format(f) => write!(out, r#"{{"record":"format","format":"{f}"}}"#)?,
        Record::Title(t) => {
            out.write_all(br#"{"record":"title","text":"#)?;
            string(out, t.text)?;
            out.write_all(b"}")?;
        }
        Record::Time(t) => {
            out.write_all(br#"{"record":"time","text":"#)?;
            string(out, t.text)?;
            out.write_all(br#","unix":"#)?;
            number(out, t.unix)?;
            out.write_all(b"}")?;
        }
        Record::Client(c) => {
            out.write_all(br#"{"record":"client","common_name":"#)?;
            string(out, c.common_name)?;
            out.write_all(br#","real_address":"#)?;
            string(out, c.real_address.raw())?;
            out.write_all(br#","virtual_address":"#)?;
            optional_string(out, c.virtual_address)?;
            out.write_all(br#","virtual_ipv6_address":"#)?;
            optional_string(out, c.virtual_ipv6_address)?;
            write!(
                out,
                r#","bytes_received":{},"bytes_sent":{}"#,
                c.bytes_received, c.bytes_sent
            )?;
            out.write_all(br#","connected_since":"#)?;
            string(out, c.connected_since)?;
            out.write_all(br#","connected_since_unix":"#)?;
            number(out, c.connected_since_unix)?;
            out.write_all(br#","username":"#)?;
            optional_string(out, c.username)?;
            out.write_all(br#","client_id":"#)?;
            number(out, c.client_id)?;
            out.write_all(br#","peer_id":"#)?;
            number(out, c.peer_id)?;
            out.write_all(br#","data_channel_cipher":"#)?;
            optional_string(out, c.data_channel_cipher)?;
            out.write_all(b"}")?;
        }
        Record::Route(r) => {
            out.write_all(br#"{"record":"route","virtual_address":"#)?;
            string(out, r.virtual_address)?;
            out.write_all(br#","common_name":"#)?;
            string(out, r.common_name)?;
            out.write_all(br#","real_address":"#)?;
            string(out, r.real_address.raw())?;
            out.write_all(br#","last_ref":"#)?;
            string(out, r.last_ref)?;
            out.write_all(br#","last_ref_unix":"#)?;
            number(out, r.last_ref_unix)?;
            out.write_all(b"}")?;
        }
        Record::Global(s) | Record::Stat(s) => {
            let kind = if matches!(record, Record::Global(_)) {
                "global"
            } else {
                "stat"
            };
            write!(out, r#"{{"record":"{kind}","name":"#)?;
            string(out, s.name)?;
            write!(out, r#","value":{}}}"#, s.value)?;
        }
        Record::End => out.write_all(br#"{"record":"end"}"#)?,
        // Records added in later versions are not part of the dump contract.
        _ => return Ok(()),
    }
    out.write_all(b"\n")
}

fn write_error(out: &mut impl Write, e: &Error) -> io::Result<()> {
    write!(out, r#"{{"record":"error","line":{},"message":"#, e.line())?;
    string(out, Text::new(e.to_string().as_bytes()))?;
    out.write_all(b"}\n")
}

fn number(out: &mut impl Write, n: Option<u64>) -> io::Result<()> {
    match n {
        Some(n) => write!(out, "{n}"),
        None => out.write_all(b"null"),
    }
}

fn optional_string(out: &mut impl Write, s: Option<Text<'_>>) -> io::Result<()> {
    match s {
        Some(s) => string(out, s),
        None => out.write_all(b"null"),
    }
}

/// A JSON string: invalid UTF-8 becomes U+FFFD; `"`, `\` and control
/// characters are escaped.
fn string(out: &mut impl Write, s: Text<'_>) -> io::Result<()> {
    out.write_all(b"\"")?;
    for chunk in s.as_bytes().utf8_chunks() {
        let valid = chunk.valid();
        let mut plain = 0;
        for (i, b) in valid.bytes().enumerate() {
            let escape: Option<&[u8]> = match b {
                b'"' => Some(b"\\\""),
                b'\\' => Some(b"\\\\"),
                b'\n' => Some(b"\\n"),
                b'\r' => Some(b"\\r"),
                b'\t' => Some(b"\\t"),
                0..=0x1f | 0x7f => None,
                _ => continue,
            };
            out.write_all(&valid.as_bytes()[plain..i])?;
            match escape {
                Some(e) => out.write_all(e)?,
                None => write!(out, "\\u{b:04x}")?,
            }
            plain = i + 1;
        }
        out.write_all(&valid.as_bytes()[plain..])?;
        if !chunk.invalid().is_empty() {
            out.write_all("\u{fffd}".as_bytes())?;
        }
    }
    out.write_all(b"\"")
}
