//! HTDemucs against the `demucs` package (tools/parity/separation/make_fixtures.py): a tiny
//! random model of the real architecture, loaded from a checkpoint in Meta's `.th` layout, on
//! the spectrogram front end and its inverse, one segment, and a whole chunked separation; and
//! the full-size model's parameter layout, loaded through the same code.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bgm_models::device::ComputeDevice;
use bgm_models::separation::checkpoint;
use bgm_models::separation::spec::DemucsStft;
use bgm_models::separation::{load_default, separate, HtDemucs, HtDemucsConfig};
use bgm_models::weights::WeightsConfig;
use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::VarBuilder;
use serde::Deserialize;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/separation")
}

#[derive(Deserialize)]
struct Entry {
    file: String,
    shape: Vec<usize>,
}

/// An array of the manifest, with its shape.
fn array(name: &str) -> (Vec<f32>, Vec<usize>) {
    let manifest: HashMap<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("manifest.json")).unwrap())
            .unwrap();
    let entry: Entry = serde_json::from_value(manifest[name].clone()).unwrap();
    let bytes = std::fs::read(fixtures().join(&entry.file)).unwrap();
    let data: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(data.len(), entry.shape.iter().product::<usize>(), "{name}");
    (data, entry.shape)
}

/// Largest absolute difference, and the largest magnitude of the expected values.
fn compare(ours: &[f32], expected: &[f32]) -> (f32, f32) {
    assert_eq!(ours.len(), expected.len());
    let error = ours
        .iter()
        .zip(expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    let peak = expected.iter().map(|v| v.abs()).fold(0.0, f32::max);
    (error, peak)
}

fn tiny_model() -> HtDemucs {
    checkpoint::load(&fixtures().join("tiny/htdemucs.th"), &Device::Cpu)
        .expect("the tiny checkpoint loads")
}

#[test]
fn the_checkpoint_kwargs_become_the_config() {
    let config = checkpoint::read_config(&fixtures().join("tiny/htdemucs.th")).unwrap();
    assert_eq!(config.sources, ["drums", "bass", "other", "vocals"]);
    assert_eq!(
        (config.samplerate, config.segment_samples()),
        (44_100, 11_025)
    );
    assert_eq!(
        (
            config.channels,
            config.depth,
            config.nfft,
            config.bottom_channels
        ),
        (8, 2, 256, 16)
    );
    assert_eq!(
        (config.dconv_mode, config.t_layers, config.t_heads),
        (3, 3, 2)
    );
}

#[test]
fn the_front_end_matches_demucs() {
    let (input, shape) = array("spec_input");
    let (expected, expected_shape) = array("spec_output");
    let stft = DemucsStft::new(256);
    assert_eq!(stft.frames(shape[1]), expected_shape[2]);
    let ours = stft.analyse(&input, shape[0]);
    let (error, peak) = compare(&ours, &expected);
    println!("spectrogram: max error {error:.3e} (values up to {peak:.3})");
    // A 256-point FFT in f32 on both sides: rounding is of order 1e-7 of the values.
    assert!(error < 1e-6, "spectrogram differs by {error}");

    let (spec, spec_shape) = array("ispec_input");
    let (expected, _) = array("ispec_output");
    let signals = spec_shape[0] * spec_shape[1] / 2;
    let ours = stft.synthesise(&spec, signals, spec_shape[3], shape[1]);
    let (error, peak) = compare(&ours, &expected);
    println!("inverse: max error {error:.3e} (values up to {peak:.3})");
    // Values up to 5.4, overlap-added from four frames and divided by the window's envelope.
    assert!(error < 1e-5, "inverse spectrogram differs by {error}");
}

#[test]
fn one_segment_matches_demucs() {
    let model = tiny_model();
    for (input, output) in [
        ("forward_input", "forward_output"),
        ("forward_short_input", "forward_short_output"),
    ] {
        let (mix, _) = array(input);
        let (expected, _) = array(output);
        let ours = model.forward(&mix).unwrap();
        let (error, peak) = compare(&ours, &expected);
        println!("{input}: max error {error:.3e} (values up to {peak:.3})");
        // Observed 9e-8 on outputs up to 0.19; the bound leaves room for other summation orders
        // (matrix kernels, thread counts) while any wrong layer costs 1e-2 or more.
        assert!(error < 1e-6, "{input}: differs by {error}");
    }
}

#[test]
fn a_chunked_separation_matches_demucs() {
    let model = tiny_model();
    let (mix, _) = array("separate_input");
    let (expected, _) = array("separate_output");
    let ours = separate(&model, &mix).unwrap();
    let (error, peak) = compare(&ours, &expected);
    println!("separation: max error {error:.3e} (values up to {peak:.3})");
    // As one segment: the overlap-add itself adds only a weighted average.
    assert!(error < 1e-6, "separation differs by {error}");
}

#[test]
fn the_catalogue_loader_converts_the_checkpoint_and_computes_the_same() {
    // As a download leaves it: <models>/htdemucs/htdemucs.th, converted once to safetensors.
    let root = tempfile::tempdir().unwrap();
    let folder = root.path().join("models/htdemucs");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(
        fixtures().join("tiny/htdemucs.th"),
        folder.join("htdemucs.th"),
    )
    .unwrap();
    let weights = WeightsConfig {
        models_dir: Some(root.path().join("models")),
        ..WeightsConfig::offline_in(root.path())
    };
    let model = load_default(&weights, &ComputeDevice::cpu()).expect("loads through the catalogue");
    assert!(
        folder.join("htdemucs.th.safetensors").is_file(),
        "not converted beside the checkpoint"
    );
    let (mix, _) = array("forward_input");
    let (expected, _) = array("forward_output");
    let (error, _) = compare(&model.forward(&mix).unwrap(), &expected);
    assert!(error < 1e-6, "differs by {error}");
}

/// Zero tensors of the recorded shapes, remembering which names the loader asked for.
struct RecordingZeros {
    shapes: BTreeMap<String, Vec<usize>>,
    asked: Mutex<Vec<String>>,
}

impl SimpleBackend for RecordingZeros {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let Some(shape) = self.shapes.get(name) else {
            candle_core::bail!("the full-size htdemucs has no parameter {name}");
        };
        if shape.as_slice() != s.dims() {
            candle_core::bail!(
                "{name}: the loader wants {:?}, the checkpoint has {shape:?}",
                s.dims()
            );
        }
        self.asked.lock().unwrap().push(name.to_string());
        Tensor::zeros(s, dtype, dev)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        let shape = self.shapes.get(name).cloned().unwrap_or_default();
        self.get(
            Shape::from(shape),
            name,
            candle_nn::Init::Const(0.0),
            dtype,
            dev,
        )
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.shapes.contains_key(name)
    }
}

#[derive(Deserialize)]
struct FullSize {
    kwargs: serde_json::Value,
    parameters: BTreeMap<String, Vec<usize>>,
}

#[test]
fn the_full_size_layout_loads_every_parameter() {
    let full: FullSize = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("full_size_shapes.json")).unwrap(),
    )
    .unwrap();
    let config: HtDemucsConfig = serde_json::from_value(full.kwargs).unwrap();
    config.check_supported().unwrap();
    assert_eq!(config.segment_samples(), 343_980);
    let backend = std::sync::Arc::new(RecordingZeros {
        shapes: full.parameters.clone(),
        asked: Mutex::new(Vec::new()),
    });
    let shared = SharedBackend(backend.clone());
    let vb = VarBuilder::from_backend(Box::new(shared), DType::F32, Device::Cpu);
    HtDemucs::load(&config, vb).expect("the full-size layout loads");
    let asked: std::collections::BTreeSet<String> =
        backend.asked.lock().unwrap().iter().cloned().collect();
    let unused: Vec<&String> = full
        .parameters
        .keys()
        .filter(|k| !asked.contains(*k))
        .collect();
    assert!(
        unused.is_empty(),
        "parameters the port never reads: {unused:?}"
    );
    assert_eq!(asked.len(), full.parameters.len());
}

struct SharedBackend(std::sync::Arc<RecordingZeros>);

impl SimpleBackend for SharedBackend {
    fn get(
        &self,
        s: Shape,
        name: &str,
        h: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        self.0.get(s, name, h, dtype, dev)
    }
    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        self.0.get_unchecked(name, dtype, dev)
    }
    fn contains_tensor(&self, name: &str) -> bool {
        self.0.contains_tensor(name)
    }
}
