//! Parsing allocates nothing: a counting global allocator sees zero
//! allocations while 100,000-client documents are parsed through each door.
//! The counter is process-wide, so this file holds one test.

#![allow(unsafe_code)] // a GlobalAlloc impl is unsafe by definition

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use ovpn_status::{parse, Parser, Record, Step};
use ovpn_testgen::{generate, render, Options, Release, Version};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to `System` unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: the caller upholds `alloc`'s contract; passed through.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    f();
    ALLOCATIONS.load(Ordering::SeqCst) - before
}

/// Parses through the whole-buffer door, touching every field.
fn consume_whole(input: &[u8]) -> u64 {
    let mut sum = 0u64;
    for r in parse(black_box(input)) {
        sum = sum.wrapping_add(touch(&r.expect("valid document")));
    }
    sum
}

/// Parses through the streaming door in `chunk`-byte pieces.
fn consume_streamed(input: &[u8], chunk: usize) -> u64 {
    let mut parser = Parser::new();
    let mut sum = 0u64;
    let (mut start, mut end) = (0, 0);
    loop {
        end = (end + chunk).min(input.len());
        let last = end == input.len();
        loop {
            match parser
                .feed(black_box(&input[start..end]), last)
                .expect("valid document")
            {
                Step::Record(r, used) => {
                    sum = sum.wrapping_add(touch(&r));
                    start += used;
                }
                Step::NeedMore(used) => {
                    start += used;
                    break;
                }
                Step::Done => return sum,
            }
        }
    }
}

fn touch(r: &Record<'_>) -> u64 {
    match r {
        Record::Client(c) => {
            c.bytes_received
                ^ c.common_name.len() as u64
                ^ u64::from(c.real_address.port().unwrap_or(0))
        }
        Record::Route(r) => r.virtual_address.len() as u64 ^ u64::from(r.target().is_some()),
        Record::Global(s) | Record::Stat(s) => s.value,
        _ => 1,
    }
}

#[test]
fn parsing_never_allocates() {
    // The control: the counter sees an allocation.
    assert!(allocations_during(|| drop(black_box(vec![1u8; 64]))) >= 1);

    let mut inputs = Vec::new();
    for version in Version::ALL {
        let o = Options {
            version,
            release: Release::V2_7,
            clients: 100_000,
            ipv6: true,
            hostile: true,
            seed: 3,
            ..Options::default()
        };
        inputs.push(render(&generate(&o), &o));
    }
    let o = Options {
        version: Version::V3,
        clients: 100_000,
        management: true,
        ..Options::default()
    };
    inputs.push(render(&generate(&o), &o));
    for input in &inputs {
        let mut sums = [0u64; 3];
        let n = allocations_during(|| {
            sums[0] = consume_whole(input);
            sums[1] = consume_streamed(input, 4096);
            sums[2] = consume_streamed(input, 65_536);
        });
        assert_eq!(
            n,
            0,
            "allocations while parsing a {}-byte document",
            input.len()
        );
        assert_eq!(sums[0], sums[1]);
        assert_eq!(sums[0], sums[2]);
        assert_ne!(sums[0], 0);
    }
}
