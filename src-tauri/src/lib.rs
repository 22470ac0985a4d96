//! BGM Studio, the application: media I/O, jobs, the command line, and the Tauri window.

pub mod app;
pub mod atomic_file;
pub mod cli;
pub mod commands;
pub mod hub_token;
pub mod jobs;
pub mod logging;
pub mod media;
pub mod paths;
pub mod pipeline;
pub mod player;
pub mod priority;
pub mod settings;
pub mod studio;
pub mod sync;
pub mod tasks;
pub mod units;
pub mod video_server;
