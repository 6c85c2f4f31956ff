//! Placeholder until the exporter lands.
#![forbid(unsafe_code)]

fn main() {}
