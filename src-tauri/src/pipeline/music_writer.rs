//! One candidate's music, written as its clips arrive, in bounded memory however long the
//! video: the clips are stitched into columns, the columns become audio by Griffin-Lim one long
//! stretch at a time (stretches overlap and are cross-faded in the middle of the overlap, far
//! from either stretch's edge), the raw audio goes to a file, and a second pass copies it to
//! its place, scaled down by one gain only if it would clip (its loudness is set in the mix).
//! Music up to one stretch long is one Griffin-Lim pass, the same audio as converting the whole
//! spectrogram at once.

use std::path::Path;

use bgm_models::riffusion::{ColumnStitcher, Columns};
use bgm_models::spectrogram::{
    gain_to_fit, peak, ImageToAudioOptions, PhaseInit, SpectrogramConverter,
};
use image::{DynamicImage, RgbImage};

use super::error::{PipelineError, Result};
use super::stages::{MIX_CHANNELS, MIX_RATE};
use crate::media::{FrameSource, PcmAudio, WavFrames, WavSink};

/// Columns per Griffin-Lim stretch: 30.72 s.
pub const STRETCH_COLUMNS: usize = 3072;
/// Columns of context either side of a stretch; the cross-fade spans the middle half of
/// the two margins (1.28 s).
pub const STRETCH_MARGIN: usize = 128;

/// Frames per block of the copying pass.
const COPY_BLOCK: usize = 1 << 17;

/// Writes one candidate's music to a WAV file (44.1 kHz stereo) from its spectrogram clips.
pub struct MusicWriter<'a> {
    converter: &'a SpectrogramConverter,
    seed: u64,
    stitcher: ColumnStitcher,
    /// Stitched columns from `columns_start` on, not yet turned into audio for good.
    columns: Columns,
    columns_start: usize,
    /// The next stretch to convert.
    stretch: usize,
    /// Columns per stretch and of context either side (`STRETCH_COLUMNS`, `STRETCH_MARGIN`).
    stretch_columns: usize,
    margin: usize,
    /// Griffin-Lim's raw audio, and its peak so far.
    raw: Option<WavSink>,
    raw_file: tempfile::TempPath,
    peak: f32,
    /// Audio of the last stretch not written yet, per channel, from sample `written` on.
    pending: Vec<Vec<f32>>,
    written: usize,
}

impl<'a> MusicWriter<'a> {
    /// `seed` draws Griffin-Lim's starting phases; the raw audio waits in a hidden file in
    /// `scratch_dir` (removed however the writer ends).
    pub fn new(
        converter: &'a SpectrogramConverter,
        seed: u64,
        height: u32,
        overlap: usize,
        scratch_dir: &Path,
    ) -> Result<Self> {
        let raw_file = tempfile::Builder::new()
            .prefix(".music-raw")
            .suffix(".wav")
            .tempfile_in(scratch_dir)
            .map_err(|e| PipelineError::file(scratch_dir, e))?
            .into_temp_path();
        Ok(Self {
            converter,
            seed,
            stitcher: ColumnStitcher::new(height, overlap),
            columns: Columns::new(height),
            columns_start: 0,
            stretch: 0,
            stretch_columns: STRETCH_COLUMNS,
            margin: STRETCH_MARGIN,
            raw: None,
            raw_file,
            peak: 0.0,
            pending: Vec::new(),
            written: 0,
        })
    }

    /// Shorter stretches, so tests cross several joins cheaply.
    #[cfg(test)]
    fn with_stretches(mut self, columns: usize, margin: usize) -> Self {
        (self.stretch_columns, self.margin) = (columns, margin);
        self
    }

    /// Adds the next clip (clips come in order), converting every stretch it completes.
    pub fn push_clip(&mut self, start_column: usize, image: &RgbImage) -> Result<()> {
        let ready = self.stitcher.push(start_column, image);
        self.columns.append(&ready);
        self.convert(None)
    }

    /// Adds columns that need no stitching (a whole spectrogram).
    pub fn push_columns(&mut self, columns: &Columns) -> Result<()> {
        self.columns.append(columns);
        self.convert(None)
    }

    /// Converts what is left of a spectrogram `total_columns` wide and writes the music to
    /// `dest`. Returns its length in seconds.
    pub fn finish(mut self, total_columns: usize, dest: &Path) -> Result<f64> {
        let stitcher = std::mem::replace(&mut self.stitcher, ColumnStitcher::new(0, 0));
        self.columns.append(&stitcher.finish());
        self.columns
            .truncate(total_columns.saturating_sub(self.columns_start));
        self.convert(Some(total_columns))?;
        let rest = std::mem::take(&mut self.pending);
        self.write_raw(&rest)?;
        let raw = self
            .raw
            .take()
            .ok_or_else(|| PipelineError::MusicFormat("the spectrogram is empty".into()))?;
        raw.finish()?;
        self.copy_into(dest)
    }

    /// Converts each stretch whose columns (with its right margin) are all here, or, once
    /// `total` is known, everything left.
    fn convert(&mut self, total: Option<usize>) -> Result<()> {
        loop {
            let k = self.stretch;
            let core_start = k * self.stretch_columns;
            let available = self.columns_start + self.columns.len();
            let end = match total {
                Some(total) if core_start < total => total,
                Some(_) => return Ok(()),
                None if available >= core_start + self.stretch_columns + self.margin => {
                    core_start + self.stretch_columns + self.margin
                }
                None => return Ok(()),
            };
            let start = core_start.saturating_sub(self.margin);
            let strip = self
                .columns
                .slice(start - self.columns_start..end - self.columns_start);
            let audio = self.griffin_lim(strip.to_image(), start)?;
            self.place(audio, start, core_start)?;
            self.stretch += 1;
            // The next stretch starts a margin before its core.
            let keep_from = (core_start + self.stretch_columns).saturating_sub(self.margin);
            let dropped = self
                .columns
                .take_front(keep_from.saturating_sub(self.columns_start));
            self.columns_start += dropped.len();
            if total.is_some() {
                return Ok(());
            }
        }
    }

    /// Raw Griffin-Lim audio of the stretch that starts at column `first`, per channel. Its
    /// starting phases are the whole spectrogram's, column for column, so overlapping
    /// stretches start alike and converge to nearly the same sound where they cross-fade.
    fn griffin_lim(&self, strip: RgbImage, first: usize) -> Result<Vec<Vec<f32>>> {
        let audio = self.converter.image_to_audio(
            &DynamicImage::ImageRgb8(strip),
            &ImageToAudioOptions {
                phase_init: PhaseInit::RandomFrom {
                    seed: self.seed,
                    first_frame: first,
                },
            },
        )?;
        if audio.sample_rate != MIX_RATE {
            return Err(PipelineError::MusicFormat(format!(
                "the spectrogram's audio is {} Hz, the mix needs {MIX_RATE} Hz",
                audio.sample_rate
            )));
        }
        if audio.channels.is_empty() || audio.channels.len() > 2 {
            return Err(PipelineError::MusicFormat(format!(
                "it has {} channels",
                audio.channels.len()
            )));
        }
        Ok(audio.channels)
    }

    /// Lays a stretch's audio (starting at column `start`) after what came before: the
    /// previous stretch's audio is written up to the middle of the overlap, cross-faded into
    /// this one over half the margin either side of `core_start`, and this one waits. The fade
    /// is linear: both stretches started from the same phases there and agree closely, so an
    /// equal-power fade would swell by up to 3 dB.
    fn place(&mut self, audio: Vec<Vec<f32>>, start: usize, core_start: usize) -> Result<()> {
        let hop = self.converter.params().hop_length;
        let audio_start = start * hop;
        if self.pending.is_empty() {
            self.pending = audio;
            self.written = audio_start;
            return Ok(());
        }
        let half = self.margin / 2 * hop;
        let pending_end = self.written + self.pending[0].len();
        let fade_start = core_start * hop - half;
        let fade_end = (core_start * hop + half)
            .min(pending_end)
            .min(audio_start + audio[0].len());
        let before: Vec<Vec<f32>> = self
            .pending
            .iter()
            .map(|c| c[..fade_start - self.written].to_vec())
            .collect();
        self.write_raw(&before)?;
        let span = (fade_end - fade_start).max(1) as f32;
        let faded: Vec<Vec<f32>> = self
            .pending
            .iter()
            .zip(&audio)
            .map(|(old, new)| {
                (fade_start..fade_end)
                    .map(|n| {
                        let t = ((n - fade_start) as f32 + 0.5) / span;
                        let (out, into) = (1.0 - t, t);
                        old[n - self.written] * out + new[n - audio_start] * into
                    })
                    .collect()
            })
            .collect();
        self.written = fade_start;
        self.write_raw(&faded)?;
        self.pending = audio
            .into_iter()
            .map(|c| c[fade_end - audio_start..].to_vec())
            .collect();
        self.written = fade_end;
        Ok(())
    }

    /// Appends per-channel samples to the raw file.
    fn write_raw(&mut self, channels: &[Vec<f32>]) -> Result<()> {
        if channels.is_empty() {
            return Ok(());
        }
        if self.raw.is_none() {
            self.raw = Some(WavSink::create(
                &self.raw_file,
                MIX_RATE,
                channels.len() as u16,
            )?);
        }
        let pcm = PcmAudio::from_channels(channels, MIX_RATE);
        self.peak = self.peak.max(peak(&pcm.samples));
        self.raw
            .as_mut()
            .expect("created above")
            .write(&pcm.samples)?;
        Ok(())
    }

    /// The copying pass into 44.1 kHz stereo at `dest`, with the one gain that keeps the
    /// music from clipping (1 for nearly all music).
    fn copy_into(&self, dest: &Path) -> Result<f64> {
        let gain = gain_to_fit(self.peak);
        let mut raw = WavFrames::open(&self.raw_file)?;
        let channels = usize::from(raw.channels());
        let mut sink = WavSink::create(dest, MIX_RATE, MIX_CHANNELS)?;
        let frames = raw.frames();
        let mut start = 0;
        while start < frames {
            let len = COPY_BLOCK.min(frames - start);
            let block = raw.read(start as i64, len)?;
            let stereo: Vec<f32> = block
                .chunks_exact(channels)
                .flat_map(|frame| match frame {
                    [mono] => [mono * gain, mono * gain],
                    [left, right, ..] => [left * gain, right * gain],
                    [] => unreachable!("chunks_exact never yields an empty frame"),
                })
                .collect();
            sink.write(&stereo)?;
            start += len;
        }
        sink.finish()?;
        Ok(frames as f64 / f64::from(MIX_RATE))
    }
}

/// A whole spectrogram image as music at `dest` (what `bgm-studio generate` writes): the same
/// stretches as the pipeline's. Returns its length in seconds.
pub fn write_music(
    converter: &SpectrogramConverter,
    spectrogram: &RgbImage,
    seed: u64,
    scratch_dir: &Path,
    dest: &Path,
) -> Result<f64> {
    let mut writer = MusicWriter::new(converter, seed, spectrogram.height(), 0, scratch_dir)?;
    let mut columns = Columns::new(spectrogram.height());
    columns.append_image(spectrogram);
    writer.push_columns(&columns)?;
    writer.finish(spectrogram.width() as usize, dest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bgm_models::spectrogram::{Audio, SpectrogramParams};

    /// A spectrogram of music-like sound `seconds` long: chords that change every second.
    fn spectrogram(converter: &SpectrogramConverter, seconds: f64) -> RgbImage {
        let frames = (seconds * f64::from(MIX_RATE)) as usize;
        let samples: Vec<f32> = (0..frames)
            .map(|i| {
                let t = i as f32 / MIX_RATE as f32;
                let root = 110.0 * (1.0 + (t as usize % 4) as f32 * 0.25);
                [1.0, 1.25, 1.5, 2.0]
                    .iter()
                    .map(|r| (std::f32::consts::TAU * root * r * t).sin() * 0.1)
                    .sum()
            })
            .collect();
        converter
            .audio_to_image(&[samples])
            .unwrap()
            .image
            .to_rgb8()
    }

    /// The whole image in one Griffin-Lim pass, fitted to full scale: what the converter
    /// alone makes.
    fn at_once(converter: &SpectrogramConverter, image: &RgbImage, seed: u64) -> Audio {
        let options = ImageToAudioOptions {
            phase_init: PhaseInit::Random { seed },
        };
        let mut audio = converter
            .image_to_audio(&DynamicImage::ImageRgb8(image.clone()), &options)
            .unwrap();
        audio.fit_full_scale();
        audio
    }

    fn read(path: &Path) -> PcmAudio {
        crate::media::read_wav(path).unwrap()
    }

    /// Mean absolute difference, in pixel levels, between an image and the one its audio makes.
    fn round_trip_error(
        converter: &SpectrogramConverter,
        image: &RgbImage,
        audio: &PcmAudio,
    ) -> f64 {
        let back = converter
            .audio_to_image(&[audio.channel(0)])
            .unwrap()
            .image
            .to_rgb8();
        let width = image.width().min(back.width());
        let mut sum = 0.0;
        for x in 0..width {
            for y in 0..image.height() {
                sum += f64::from(image.get_pixel(x, y)[0].abs_diff(back.get_pixel(x, y)[0]));
            }
        }
        sum / f64::from(width * image.height())
    }

    #[test]
    fn music_within_one_stretch_is_the_whole_image_converted_at_once() {
        let converter = SpectrogramConverter::new(SpectrogramParams::default()).unwrap();
        let image = spectrogram(&converter, 4.0);
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("music.wav");
        let seconds = write_music(&converter, &image, 11, dir.path(), &dest).unwrap();
        let whole = at_once(&converter, &image, 11);
        let music = read(&dest);
        assert_eq!((music.sample_rate, music.channels), (MIX_RATE, 2));
        assert_eq!(music.frames(), whole.channels[0].len());
        assert!((seconds - music.duration_seconds()).abs() < 1e-9);
        assert_eq!(music.channel(0), whole.channels[0]);
        assert_eq!(music.channel(1), whole.channels[0]);
        // Only the music is left in the folder: the raw file is gone.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// Stretches 2 s long with 0.64 s of context: 10 s of music crosses four joins. The music
    /// is as long as the image, has no gap or jump in level at the joins, and sounds like the
    /// image as closely as a single pass over the whole image does.
    #[test]
    fn stretches_join_without_gaps_and_keep_the_spectrogram() {
        let converter = SpectrogramConverter::new(SpectrogramParams::default()).unwrap();
        let image = spectrogram(&converter, 10.0);
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("music.wav");
        let mut writer = MusicWriter::new(&converter, 5, image.height(), 0, dir.path())
            .unwrap()
            .with_stretches(200, 64);
        let mut columns = Columns::new(image.height());
        columns.append_image(&image);
        // In uneven pieces, as clips arrive.
        let mut at = 0;
        for piece in [130, 500, 7, 290].iter().cycle() {
            if at >= columns.len() {
                break;
            }
            let end = (at + piece).min(columns.len());
            writer.push_columns(&columns.slice(at..end)).unwrap();
            at = end;
        }
        writer.finish(image.width() as usize, &dest).unwrap();
        let music = read(&dest);
        let hop = converter.params().hop_length;
        assert_eq!(music.frames(), hop * (image.width() as usize - 1));

        let left = music.channel(0);
        let rms = |from: usize| {
            let part = &left[from..from + 2205];
            (part.iter().map(|s| s * s).sum::<f32>() / part.len() as f32).sqrt()
        };
        for join in 1..5 {
            let at = join * 200 * hop;
            let (before, across, after) = (rms(at - 8820), rms(at - 1102), rms(at + 6615));
            let db = |a: f32, b: f32| 20.0 * (a / b).log10();
            assert!(
                db(across, before).abs() < 3.0 && db(after, before).abs() < 3.0,
                "join {join}: {before} {across} {after}"
            );
        }

        let whole = PcmAudio::from_channels(&at_once(&converter, &image, 5).channels, MIX_RATE);
        let (ours, reference) = (
            round_trip_error(&converter, &image, &music),
            round_trip_error(&converter, &image, &whole),
        );
        println!("round trip: stretches {ours:.2}, whole image {reference:.2} pixel levels");
        assert!(ours < reference * 1.1 + 0.1, "{ours} vs {reference}");
    }
}
