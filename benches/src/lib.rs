//! Benchmarks for the workspace (see `benches/`).
