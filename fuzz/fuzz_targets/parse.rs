//! The whole-buffer door on arbitrary bytes: no panic, no hang, no
//! allocation, and the record stream has the policy's shape.
#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use libfuzzer_sys::fuzz_target;

struct Counting;
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to `System`, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fuzz_target!(|data: &[u8]| {
    let before = ALLOCATIONS.load(Relaxed);
    let n = ovpn_status::parse(data).count();
    assert_eq!(ALLOCATIONS.load(Relaxed), before, "the parser allocated");
    assert!(n <= data.iter().filter(|&&b| b == b'\n').count() + 2);
    ovpn_status_fuzz::check_shape(&ovpn_status_fuzz::whole(data));
});
