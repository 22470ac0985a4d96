//! BGM Studio's model stages. This crate knows nothing of Tauri, ffmpeg or files other than
//! weights: its inputs are PCM samples, strings and tensors, its outputs plain Rust types.

pub mod device;
pub mod emotion;
pub mod heap;
pub mod kernels;
pub mod plan;
pub mod riffusion;
pub mod seed;
pub mod separation;
pub mod spectrogram;
pub mod stable_audio;
pub mod stt;
pub mod task;
pub mod weights;
