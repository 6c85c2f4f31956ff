//! Hostile inputs: each gives a clear error or the documented result, and
//! never a panic. (The fuzz targets in `fuzz/` explore further.)

mod common;

use common::{chunked, whole};
use ovpn_status::{parse, ErrorKind, Record};

const SMALL: &[u8] = b"TITLE,OpenVPN 2.6.14 x86_64-pc-linux-gnu\n\
TIME,2026-11-22 15:16:56,1795360616\n\
HEADER,CLIENT_LIST,Common Name,Real Address,Virtual Address,Bytes Received,Bytes Sent,Connected Since,Username\n\
CLIENT_LIST,Doe, John,203.0.113.9:59355,10.8.0.6,1,2,2026-11-22 15:16:45,jdoe\n\
GLOBAL_STATS,Max bcast/mcast queue length,0\n\
END\n";

fn error_of(input: &[u8]) -> Option<(ErrorKind, u64)> {
    whole(input).1.map(|e| (e.kind(), e.line()))
}

#[test]
fn empty_input_is_incomplete_at_line_1() {
    assert_eq!(error_of(b""), Some((ErrorKind::Incomplete, 1)));
}

#[test]
fn truncated_at_every_byte() {
    let (all, _) = whole(SMALL);
    for len in 0..SMALL.len() {
        let (records, err) = whole(&SMALL[..len]);
        assert!(all.starts_with(&records), "cut at {len}");
        if len == SMALL.len() - 1 {
            // Only the final newline after END is missing: still complete.
            assert_eq!((records, err), (all.clone(), None));
            continue;
        }
        let err = err.unwrap_or_else(|| panic!("cut at {len} parsed as complete"));
        assert_eq!(err.kind(), ErrorKind::Incomplete, "cut at {len}");
        let complete_lines = memchr::memchr_iter(b'\n', &SMALL[..len]).count() as u64;
        assert_eq!(err.line(), complete_lines + 1, "cut at {len}");
        let line_start = memchr::memrchr(b'\n', &SMALL[..len]).map_or(0, |i| i + 1);
        assert_eq!(err.offset(), line_start as u64, "cut at {len}");
    }
}

#[test]
fn nul_bytes_and_invalid_utf8_in_names_are_kept() {
    let doc = b"OpenVPN CLIENT LIST\nUpdated,x\nCommon Name,Real Address,Bytes Received,Bytes Sent,Connected Since\na\0b\xff\xfe,1.2.3.4:5,1,2,now\nEND\n";
    let (records, err) = whole(doc);
    assert_eq!(err, None);
    let Some(Record::Client(c)) = records.get(2) else {
        panic!("{records:?}")
    };
    assert_eq!(c.common_name.as_bytes(), b"a\0b\xff\xfe");
    assert_eq!(c.common_name.to_string(), "a\0b\u{fffd}\u{fffd}");
    assert_eq!(format!("{:?}", c.common_name), r#""a\0b\xff\xfe""#);
}

#[test]
fn nul_bytes_where_structure_is_expected() {
    assert_eq!(error_of(b"\0\n"), Some((ErrorKind::UnknownFormat, 1)));
    assert_eq!(
        error_of(b"TITLE,x\n\0END\n"),
        Some((ErrorKind::UnexpectedLine, 2))
    );
    assert_eq!(
        error_of(b"OpenVPN STATISTICS\nUpdated,x\nn,1\0\nEND\n"),
        Some((ErrorKind::InvalidNumber, 3))
    );
}

#[test]
fn a_one_megabyte_line() {
    let mut name = vec![b'n'; 1 << 20];
    let mut doc = b"HEADER\tCLIENT_LIST\tCommon Name\tReal Address\tBytes Received\tBytes Sent\tConnected Since\nCLIENT_LIST\t".to_vec();
    doc.append(&mut name);
    doc.extend_from_slice(b"\t1.2.3.4:5\t1\t2\tnow\nEND\n");
    let (records, err) = whole(&doc);
    assert_eq!(err, None);
    let Some(Record::Client(c)) = records.get(1) else {
        panic!()
    };
    assert_eq!(c.common_name.len(), 1 << 20);
    assert_eq!(chunked(&doc, 1000), (records, None));
    // One megabyte of commas: the policy's split search stays linear.
    let mut doc = b"HEADER,CLIENT_LIST,Common Name,Real Address,Bytes Received,Bytes Sent,Connected Since,Username\nCLIENT_LIST,".to_vec();
    doc.extend(std::iter::repeat(b',').take(1 << 20));
    doc.extend_from_slice(b",1.2.3.4:5,1,2,now,u\nEND\n");
    let (records, err) = whole(&doc);
    assert_eq!(err, None);
    let Some(Record::Client(c)) = records.get(1) else {
        panic!()
    };
    assert_eq!(
        c.common_name.len(),
        1 << 20,
        "the empty first field and the commas"
    );
    // A megabyte line of garbage is an error on that line.
    let mut doc = b"OpenVPN STATISTICS\nUpdated,x\n".to_vec();
    doc.extend(std::iter::repeat(b'x').take(1 << 20));
    doc.extend_from_slice(b"\nEND\n");
    assert_eq!(error_of(&doc), Some((ErrorKind::UnexpectedLine, 3)));
}

#[test]
fn ten_thousand_blank_lines() {
    let mut doc = vec![b'\n'; 10_000];
    assert_eq!(error_of(&doc), Some((ErrorKind::Incomplete, 10_001)));
    doc.extend_from_slice(b"OpenVPN STATISTICS\r\n\r\nUpdated,x\n");
    doc.extend(b"\r\n".repeat(10_000));
    doc.extend_from_slice(b"END\n");
    let (records, err) = whole(&doc);
    assert_eq!(err, None);
    assert_eq!(records.len(), 3);
    assert_eq!(chunked(&doc, 3), (records, None));
}

#[test]
fn numbers_at_and_beyond_u64() {
    let doc = |v: &str| {
        format!("OpenVPN STATISTICS\nUpdated,x\nTUN/TAP read bytes,{v}\nEND\n").into_bytes()
    };
    let value = |v: &str| match whole(&doc(v)).0.get(2) {
        Some(Record::Stat(s)) => Some(s.value),
        _ => None,
    };
    assert_eq!(value("18446744073709551615"), Some(u64::MAX));
    for bad in [
        "18446744073709551616",
        "99999999999999999999999",
        "-1",
        "+1",
        "1e3",
        "",
        " 1",
        "0x10",
    ] {
        assert_eq!(
            error_of(&doc(bad)),
            Some((ErrorKind::InvalidNumber, 3)),
            "{bad:?}"
        );
    }
}

/// Policy rule 3 has one blind spot, found by the `structured` fuzz target:
/// a status-version 1 client named `END`, cut right after its name, leaves a
/// last line that is exactly `END`, so the cut document reads as finished
/// (the clients before it, then `End`). Only the reader's size and mtime
/// check can tell; the exporter makes it.
#[test]
fn a_v1_client_named_end_cut_after_its_name_reads_as_finished() {
    let doc: &[u8] = b"OpenVPN CLIENT LIST\n\
Updated,2026-11-22 15:16:56\n\
Common Name,Real Address,Bytes Received,Bytes Sent,Connected Since\n\
alice,203.0.113.9:59355,1,2,2026-11-22 15:16:45\n\
END,203.0.113.10:1194,3,4,2026-11-22 15:16:46\n\
END\n";
    let cut = doc.windows(5).position(|w| w == b"\nEND,").unwrap() + 4;
    for input in [&doc[..cut], doc] {
        let (records, err) = whole(input);
        assert_eq!(err, None);
        assert_eq!(records.last(), Some(&Record::End));
        assert_eq!(chunked(input, 7), (records.clone(), None));
    }
    let clients = |input| {
        whole(input)
            .0
            .iter()
            .filter(|r| matches!(r, Record::Client(_)))
            .count()
    };
    assert_eq!((clients(&doc[..cut]), clients(doc)), (1, 2));
}

/// Rule 11 in every format: the value follows the last separator, so a
/// row with only one has an empty name; a row with none is an error.
#[test]
fn a_statistic_with_only_a_value_has_an_empty_name() {
    let value_of = |doc: &[u8]| {
        let (records, err) = whole(doc);
        assert_eq!(err, None, "{}", String::from_utf8_lossy(doc));
        assert_eq!(chunked(doc, 1), (records.clone(), None));
        records.iter().find_map(|r| match r {
            Record::Global(s) | Record::Stat(s) => Some((s.name.to_string(), s.value)),
            _ => None,
        })
    };
    let expected = Some((String::new(), 5));
    assert_eq!(value_of(b"TITLE,x\nGLOBAL_STATS,5\nEND\n"), expected);
    assert_eq!(value_of(b"TITLE\tx\nGLOBAL_STATS\t5\nEND\n"), expected);
    assert_eq!(
        value_of(b"OpenVPN CLIENT LIST\nUpdated,x\nCommon Name,Real Address,Bytes Received,Bytes Sent,Connected Since\nROUTING TABLE\nVirtual Address,Common Name,Real Address,Last Ref\nGLOBAL STATS\n,5\nEND\n"),
        expected
    );
    assert_eq!(
        value_of(b"OpenVPN STATISTICS\nUpdated,x\n,5\nEND\n"),
        expected
    );
    assert_eq!(
        error_of(b"TITLE,x\nGLOBAL_STATS\nEND\n"),
        Some((ErrorKind::FieldCount, 2))
    );
    assert_eq!(
        error_of(b"TITLE,x\nGLOBAL_STATS,\nEND\n"),
        Some((ErrorKind::InvalidNumber, 2))
    );
}

#[test]
fn bytes_after_end_are_not_read() {
    let mut doc = SMALL.to_vec();
    doc.extend_from_slice(b"\xff garbage left over from a longer file\nCLIENT_LIST,x");
    let mut records = parse(&doc);
    assert!(records.by_ref().all(|r| r.is_ok()));
    assert!(records.remainder().starts_with(b"\xff garbage"));
}

#[test]
fn after_an_error_the_remainder_starts_at_the_faulty_line() {
    let doc = b"OpenVPN STATISTICS\nUpdated,x\n\n\nbad\nEND\n";
    let mut records = parse(doc);
    let e = records.by_ref().find_map(Result::err).unwrap();
    assert_eq!((e.line(), e.offset()), (5, 31));
    assert_eq!(records.remainder(), b"bad\nEND\n");
    assert_eq!(records.parser().offset(), 31);
}

/// Real OpenVPN's notifications with a `-` in their name (`manage.c`)
/// are skipped like the others, between a reply's lines or before it.
#[test]
fn hyphenated_notifications_are_skipped() {
    let plain = b"OpenVPN STATISTICS\r\nUpdated,x\r\nTUN/TAP read bytes,1\r\nEND\r\n";
    let need = b">NEED-OK:Need 'PROTECTFD' confirmation MSG:protect_fd_nonlocal\r\n";
    let mut between = plain[..31].to_vec();
    between.extend_from_slice(need);
    between.extend_from_slice(&plain[31..]);
    let mut before = b">PKCS11ID-COUNT:1\r\n".to_vec();
    before.extend_from_slice(plain);
    let expected = whole(plain);
    assert!(expected.1.is_none(), "{:?}", expected.1);
    for input in [&between[..], &before[..]] {
        let got = whole(input);
        assert!(got.1.is_none(), "{:?}", got.1);
        assert_eq!(got.0, expected.0);
        assert_eq!(chunked(input, 1), expected);
    }
}

#[test]
fn errors_are_sticky_and_the_iterator_is_fused() {
    let mut it = parse(b"garbage\n");
    assert!(matches!(it.next(), Some(Err(_))));
    assert!(it.next().is_none());
    let mut p = ovpn_status::Parser::new();
    let e = p.feed(b"garbage\n", false).unwrap_err();
    assert_eq!(p.feed(b"OpenVPN STATISTICS\n", false), Err(e));
}

#[test]
fn error_display_names_line_byte_and_column() {
    let (_, err) = whole(b"OpenVPN STATISTICS\nUpdated,x\nAuth read bytes,-1\nEND\n");
    assert_eq!(
        err.unwrap().to_string(),
        "line 3 (byte 29): invalid number in column `value`"
    );
}
