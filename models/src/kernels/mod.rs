//! CPU kernels that candle does as several full passes over memory, fused here as candle custom
//! ops. Each entry point falls back to candle's own operations on other devices and dtypes.

pub mod attention;
pub mod conv;
pub mod group_norm;
pub mod softmax;
