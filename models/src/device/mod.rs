//! Picks the compute device: CUDA, then Metal, then CPU, unless the user asked for one, and
//! says why when it falls back.

#[cfg(feature = "cuda")]
mod cuda;
pub mod cuda_checks;
mod memory;

pub use memory::{allocator_peak, reset_allocator_peak, rows_that_fit, GpuMemory};

use std::fmt;
use std::str::FromStr;

use candle_core::{DType, Device};
use serde::{Deserialize, Serialize};

/// What the user asked for (`--device`, the `BGM_DEVICE` variable, or the settings).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum DevicePreference {
    /// The fastest device this build and machine support.
    #[default]
    Auto,
    Cpu,
    Cuda,
    Metal,
}

/// The device actually chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    Cpu,
    Cuda,
    Metal,
}

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("unknown device \"{0}\": use auto, cpu, cuda or metal")]
    Unknown(String),
    #[error(
        "this build of BGM Studio has no {0} support; rebuild with `--features {feature}` or choose --device cpu",
        feature = .0.feature_name()
    )]
    NotCompiled(DeviceKind),
    /// The build supports the device but this machine cannot run it (no driver, a library
    /// missing); `reason` says which.
    #[error(
        "{kind} is not usable on this machine: {reason}; choose the CPU (--device cpu) or auto"
    )]
    Unavailable { kind: DeviceKind, reason: String },
    #[error("could not open the {kind} device: {source}")]
    Open {
        kind: DeviceKind,
        #[source]
        source: candle_core::Error,
    },
}

impl DeviceKind {
    fn feature_name(self) -> &'static str {
        match self {
            DeviceKind::Cpu => "cpu",
            DeviceKind::Cuda => "cuda",
            DeviceKind::Metal => "metal",
        }
    }

    /// Whether this build was compiled with support for the device.
    pub fn is_compiled(self) -> bool {
        match self {
            DeviceKind::Cpu => true,
            DeviceKind::Cuda => candle_core::utils::cuda_is_available(),
            DeviceKind::Metal => candle_core::utils::metal_is_available(),
        }
    }
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceKind::Cpu => "CPU",
            DeviceKind::Cuda => "CUDA",
            DeviceKind::Metal => "Metal",
        })
    }
}

impl FromStr for DevicePreference {
    type Err = DeviceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda),
            "metal" => Ok(Self::Metal),
            other => Err(DeviceError::Unknown(other.to_string())),
        }
    }
}

impl fmt::Display for DevicePreference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
            Self::Metal => "metal",
        })
    }
}

/// A device ready for the model stages, with the dtype they should compute in.
#[derive(Clone, Debug)]
pub struct ComputeDevice {
    pub kind: DeviceKind,
    pub device: Device,
    /// Half precision on GPUs (memory and speed), full precision on the CPU (f16 is emulated there).
    pub dtype: DType,
    /// Why the models run here rather than on a faster device ("CUDA build, no NVIDIA driver
    /// found: using the CPU"), for the device line of the CLI and the window; `None` when they
    /// run where the user asked (a GPU, or the CPU by choice).
    pub note: Option<String>,
}

impl ComputeDevice {
    pub fn cpu() -> Self {
        Self {
            kind: DeviceKind::Cpu,
            device: Device::Cpu,
            dtype: DType::F32,
            note: None,
        }
    }

    /// The CPU in half precision: the GPUs' arithmetic, for tests that check the f16 path
    /// without a GPU.
    pub fn cpu_f16() -> Self {
        Self {
            dtype: DType::F16,
            ..Self::cpu()
        }
    }

    /// The device's memory, where the backend can tell (CUDA: free and total; Metal: the
    /// recommended working set less what is allocated); `None` on the CPU.
    pub fn memory(&self) -> Option<GpuMemory> {
        gpu_memory(&self.device)
    }

    /// One line for people: "CUDA (F16)", with the note when there is one.
    pub fn describe(&self) -> String {
        let base = format!("{} ({:?})", self.kind, self.dtype);
        match &self.note {
            Some(note) => format!("{base} — {note}"),
            None => base,
        }
    }

    /// Opens the preferred device. `Auto` falls back quietly; an explicit choice that cannot be
    /// honoured is an error, so the user is never silently on a slower device than asked for.
    pub fn open(preference: DevicePreference) -> Result<Self, DeviceError> {
        match preference {
            DevicePreference::Cpu => Ok(Self::cpu()),
            DevicePreference::Cuda => Self::open_gpu(DeviceKind::Cuda),
            DevicePreference::Metal => Self::open_gpu(DeviceKind::Metal),
            DevicePreference::Auto => {
                let mut reasons = Vec::new();
                for kind in [DeviceKind::Cuda, DeviceKind::Metal] {
                    if !kind.is_compiled() {
                        continue;
                    }
                    match Self::open_gpu(kind) {
                        Ok(device) => return Ok(device),
                        Err(err) => {
                            // Not a warning: the device line (the note below) says it once.
                            tracing::info!("{kind} passed over: {err}");
                            reasons.push(fallback_reason(kind, &err));
                        }
                    }
                }
                let note = if reasons.is_empty() {
                    "this build has no GPU support (build with --features cuda or metal)"
                        .to_string()
                } else {
                    format!("{}: using the CPU", reasons.join("; "))
                };
                Ok(Self {
                    note: Some(note),
                    ..Self::cpu()
                })
            }
        }
    }

    fn open_gpu(kind: DeviceKind) -> Result<Self, DeviceError> {
        if !kind.is_compiled() {
            return Err(DeviceError::NotCompiled(kind));
        }
        let device = match kind {
            DeviceKind::Cuda => open_cuda()?,
            DeviceKind::Metal => {
                Device::new_metal(0).map_err(|source| DeviceError::Open { kind, source })?
            }
            DeviceKind::Cpu => Device::Cpu,
        };
        Ok(Self {
            kind,
            device,
            dtype: DType::F16,
            note: None,
        })
    }
}

/// The memory of the GPU behind `device`; `None` on the CPU.
pub fn gpu_memory(device: &Device) -> Option<GpuMemory> {
    memory::query(device)
}

/// Why `kind` was passed over, as the device line words it: "CUDA build, no NVIDIA driver
/// found".
fn fallback_reason(kind: DeviceKind, err: &DeviceError) -> String {
    match err {
        DeviceError::Unavailable { reason, .. } => format!("{kind} build, {reason}"),
        other => format!("{kind} build, {other}"),
    }
}

#[cfg(feature = "cuda")]
fn open_cuda() -> Result<Device, DeviceError> {
    cuda::open(0)
}

#[cfg(not(feature = "cuda"))]
fn open_cuda() -> Result<Device, DeviceError> {
    Err(DeviceError::NotCompiled(DeviceKind::Cuda))
}

/// The preference from the `BGM_DEVICE` environment variable, if set.
pub fn preference_from_env() -> Result<Option<DevicePreference>, DeviceError> {
    match std::env::var("BGM_DEVICE") {
        Ok(value) => value.parse().map(Some),
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_preferences() {
        assert_eq!(
            "CUDA".parse::<DevicePreference>().unwrap(),
            DevicePreference::Cuda
        );
        assert_eq!(
            " auto ".parse::<DevicePreference>().unwrap(),
            DevicePreference::Auto
        );
        let err = "tpu".parse::<DevicePreference>().unwrap_err();
        assert!(err.to_string().contains("tpu"), "{err}");
    }

    #[test]
    fn cpu_is_always_available_in_f32() {
        let device = ComputeDevice::open(DevicePreference::Cpu).unwrap();
        assert_eq!(device.kind, DeviceKind::Cpu);
        assert_eq!(device.dtype, DType::F32);
    }

    #[test]
    fn auto_opens_something_usable() {
        let device = ComputeDevice::open(DevicePreference::Auto).unwrap();
        let ones = candle_core::Tensor::ones((2, 2), device.dtype, &device.device).unwrap();
        let sum: f32 = ones
            .to_dtype(DType::F32)
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar()
            .unwrap();
        assert_eq!(sum, 4.0);
    }

    #[test]
    fn a_gpu_missing_from_the_build_is_an_actionable_error() {
        for kind in [DeviceKind::Cuda, DeviceKind::Metal] {
            if kind.is_compiled() {
                continue;
            }
            let pref = if kind == DeviceKind::Cuda {
                DevicePreference::Cuda
            } else {
                DevicePreference::Metal
            };
            let err = ComputeDevice::open(pref).unwrap_err().to_string();
            assert!(err.contains("--features"), "{err}");
        }
    }
}
