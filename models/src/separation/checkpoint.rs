//! Demucs checkpoints as Meta publishes them: `torch.save` of a package dict with the model's
//! class, its constructor `args` / `kwargs`, and the state dict (float16) under `"state"`.
//! The kwargs become an [`HtDemucsConfig`]; the state dict becomes tensors.

use std::collections::HashMap;
use std::io::BufReader;
use std::path::Path;

use candle_core::pickle::{Object, Stack};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use super::config::HtDemucsConfig;
use super::error::{Result, SeparationError};
use super::model::HtDemucs;

/// The key of the state dict inside the package.
pub const STATE_KEY: &str = "state";

/// The configuration stored in a checkpoint's `kwargs`, checked against what this port runs.
pub fn read_config(path: &Path) -> Result<HtDemucsConfig> {
    let package = read_package(path)?;
    let (class_module, class_name) = lookup(&package, "klass")
        .and_then(|k| k.clone().class().ok())
        .ok_or_else(|| invalid(path, "no model class (\"klass\") in the package"))?;
    if class_name != "HTDemucs" {
        return Err(invalid(
            path,
            &format!(
                "the model is {class_module}.{class_name}; only HTDemucs (Demucs v4) is supported"
            ),
        ));
    }
    let kwargs = lookup(&package, "kwargs").ok_or_else(|| invalid(path, "no \"kwargs\""))?;
    let json = to_json(kwargs).map_err(|m| invalid(path, &m))?;
    let config: HtDemucsConfig = serde_json::from_value(json)
        .map_err(|e| invalid(path, &format!("unexpected kwargs: {e}")))?;
    config.check_supported()?;
    Ok(config)
}

/// Every tensor of the state dict, in the dtype it was saved in.
pub fn read_state(path: &Path) -> Result<HashMap<String, Tensor>> {
    let tensors = candle_core::pickle::read_all_with_key(path, Some(STATE_KEY))
        .map_err(|e| invalid(path, &e.to_string()))?;
    if tensors.is_empty() {
        return Err(invalid(path, "the state dict holds no tensors"));
    }
    Ok(tensors.into_iter().collect())
}

/// The model of a `.th` checkpoint on `device`, in f32 (the published weights are float16).
pub fn load(path: &Path, device: &Device) -> Result<HtDemucs> {
    let config = read_config(path)?;
    let state = read_state(path)?;
    let vb = VarBuilder::from_tensors(state, DType::F32, device);
    HtDemucs::load(&config, vb).map_err(|source| SeparationError::Weights { source })
}

/// The unpickled top-level object of the archive's `data.pkl`.
fn read_package(path: &Path) -> Result<Object> {
    let file = std::fs::File::open(path).map_err(|e| invalid(path, &e.to_string()))?;
    let mut zip = zip_archive(file).map_err(|m| invalid(path, &m))?;
    let name = (0..zip.len())
        .filter_map(|i| {
            zip.name_for_index(i)
                .and_then(|n| n.ok())
                .map(|n| n.into_owned())
        })
        .find(|n| n.ends_with("data.pkl"))
        .ok_or_else(|| invalid(path, "no data.pkl inside; not a PyTorch zip checkpoint"))?;
    let entry = zip
        .by_name(&name)
        .map_err(|e| invalid(path, &e.to_string()))?;
    let mut stack = Stack::empty();
    stack
        .read_loop(&mut BufReader::new(entry))
        .map_err(|e| invalid(path, &e.to_string()))?;
    stack.finalize().map_err(|e| invalid(path, &e.to_string()))
}

fn zip_archive(file: std::fs::File) -> std::result::Result<zip::ZipArchive<std::fs::File>, String> {
    zip::ZipArchive::new(file).map_err(|e| e.to_string())
}

fn lookup<'a>(object: &'a Object, key: &str) -> Option<&'a Object> {
    match object {
        Object::Dict(entries) => entries
            .iter()
            .find(|(k, _)| matches!(k, Object::Unicode(s) if s == key))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// The kwargs' plain values as JSON. `segment` may be a `fractions.Fraction` ("39/5").
fn to_json(object: &Object) -> std::result::Result<serde_json::Value, String> {
    use serde_json::Value;
    Ok(match object {
        Object::Int(i) => Value::from(*i),
        Object::Long(i) => Value::from(*i),
        Object::Float(f) => Value::from(*f),
        Object::Bool(b) => Value::from(*b),
        Object::Unicode(s) => Value::from(s.as_str()),
        Object::None => Value::Null,
        Object::List(items) | Object::Tuple(items) => Value::Array(
            items
                .iter()
                .map(to_json)
                .collect::<std::result::Result<_, _>>()?,
        ),
        Object::Dict(entries) => {
            let mut map = serde_json::Map::new();
            for (key, value) in entries {
                let Object::Unicode(key) = key else {
                    return Err(format!("a kwargs key that is not a string: {key:?}"));
                };
                map.insert(key.clone(), to_json(value)?);
            }
            Value::Object(map)
        }
        Object::Reduce { callable, args } => match (&**callable, &**args) {
            (
                Object::Class {
                    module_name,
                    class_name,
                },
                Object::Tuple(a),
            ) if module_name == "fractions" && class_name == "Fraction" => match a.as_slice() {
                [Object::Unicode(text)] => Value::from(parse_fraction(text)?),
                _ => return Err(format!("an unexpected Fraction: {a:?}")),
            },
            _ => return Err(format!("an unexpected object in kwargs: {callable:?}")),
        },
        other => return Err(format!("an unexpected value in kwargs: {other:?}")),
    })
}

fn parse_fraction(text: &str) -> std::result::Result<f64, String> {
    let parse = |s: &str| {
        s.trim()
            .parse::<f64>()
            .map_err(|e| format!("fraction {text:?}: {e}"))
    };
    match text.split_once('/') {
        Some((n, d)) => Ok(parse(n)? / parse(d)?),
        None => parse(text),
    }
}

fn invalid(path: &Path, message: &str) -> SeparationError {
    SeparationError::Checkpoint {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_parse_as_the_reference_computes_them() {
        assert_eq!(parse_fraction("39/5").unwrap(), 7.8);
        assert_eq!(parse_fraction("10").unwrap(), 10.0);
        assert!(parse_fraction("x/5").is_err());
    }
}
