//! Speech / background separation with Demucs v4 (HTDemucs, Meta, MIT licence): a port of its
//! inference to candle, with the reference's spectrogram front end, layers and chunked
//! overlap-add, checked against the `demucs` package by the parity fixtures in
//! `models/tests/fixtures/separation/`.

pub mod apply;
pub mod checkpoint;
pub mod config;
pub mod error;
mod layers;
pub mod model;
pub mod spec;
mod transformer;

pub use apply::{separate, separate_stream, MixStatistics, SegmentPlan};
pub use config::HtDemucsConfig;
pub use error::{Result, SeparationError};
pub use model::HtDemucs;
