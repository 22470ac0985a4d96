//! The job runner's building blocks. So far: mixing each candidate's music with the video's
//! own audio, and loudness matching.

pub mod loudness;
pub mod mix;
