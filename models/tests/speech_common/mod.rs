//! Spoken test audio: espeak-ng speech as 44.1 kHz mono f32 (tools/install-deps.sh installs
//! espeak-ng and sox). Shared by the spectrogram tests and benchmark.

use std::process::Command;

/// `text` spoken by espeak-ng, resampled by sox; an error says which tool failed.
pub fn espeak_speech(text: &str) -> Result<Vec<f32>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (wav, raw) = (dir.path().join("speech.wav"), dir.path().join("speech.f32"));
    let run = |command: &mut Command, tool: &str| match command.status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("{tool} failed ({status})")),
        Err(e) => Err(format!(
            "cannot run {tool} ({e}); tools/install-deps.sh installs espeak-ng and sox"
        )),
    };
    run(
        Command::new("espeak-ng").arg("-w").arg(&wav).arg(text),
        "espeak-ng",
    )?;
    run(
        Command::new("sox")
            .arg(&wav)
            .args([
                "-r",
                "44100",
                "-c",
                "1",
                "-e",
                "floating-point",
                "-b",
                "32",
                "-t",
                "raw",
            ])
            .arg(&raw),
        "sox",
    )?;
    let bytes = std::fs::read(&raw).map_err(|e| e.to_string())?;
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}
