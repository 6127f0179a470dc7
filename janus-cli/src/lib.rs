//! The library part of `janus-cli`: what the command-line tool shares with the benchmark
//! (`bench/`), so that `janus-cli load` and `scripts/bench` measure the same thing.
//!
//! - [`lifecycle`]: one session lifecycle through janus-client (create → attach → a plugin
//!   request → detach → destroy), with the step and the library's error when it fails.
//!
//! The binary itself (feature `cli`, on by default) is described by `janus-cli --help`.
#![warn(missing_docs)]

pub mod lifecycle;
