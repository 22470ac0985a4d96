//! Stage 2, music generation: Riffusion (Stable Diffusion 1.5 fine-tuned on spectrogram images)
//! on candle-transformers' CLIP text encoder and our own UNet and VAE (on the fused CPU
//! kernels), with our own pipeline around them:
//! schedulers (DDIM, DPM-Solver++ 2M), classifier-free guidance, text-to-image and
//! image-to-image, prompt interpolation, seeded noise, all candidates in one batched UNet call,
//! and long music as seamless sequences of clips.

mod autoencoder;
mod batching;
mod config;
mod error;
mod generate;
#[cfg(test)]
mod half_attention_tests;
mod interpolate;
mod layers;
mod long;
mod model;
mod rng;
mod scheduler;
mod text_encoder;
mod tokenizer;
mod unet;
mod vae;

pub use config::{clip_config, ScheduleConfig, UNetSettings, VaeSettings};
pub use error::{Result, RiffusionError};
pub use generate::{
    candidate_embeddings, candidate_noise, denoise, generate, images_to_tensor, latent_size,
    tensor_to_images, CandidateRequest, DenoiseInputs, GenerateOptions, Generated, InitImages,
    Morph, DEFAULT_HEIGHT, DEFAULT_WIDTH,
};
pub use interpolate::{lerp, slerp};
pub use long::{
    clip_seed, generate_long, generate_long_each, plan_clips, stitch, total_columns, ClipPlan,
    ColumnStitcher, Columns, LongMusic, LongOptions, COLUMNS_PER_SECOND, DEFAULT_OVERLAP,
};
pub use model::{RiffusionModel, CPU_UNET_ROWS, MODEL_NAME};
pub use rng::{seeded_noise, NoiseRng};
pub use scheduler::{Scheduler, SchedulerKind};
pub use text_encoder::TextEncoder;
pub use tokenizer::ClipTokenizer;
pub use vae::Vae;
