//! Audition player for the candidate music mixes.
//!
//! The user compares a handful of generated mixes (WAV files) against the video. What matters
//! for that comparison is that switching candidates does not lose the place: [`CandidatePlayer::select`]
//! changes the mix at the very sample frame the previous one had reached, keeps playing (or
//! paused), and cross-fades over 10 ms so that the cut does not click.
//!
//! # Design
//!
//! * **Decoding.** Every mix is decoded up front with `hound` into interleaved stereo `f32`
//!   in memory (60 s of stereo is ~21 MB, four candidates ~85 MB). Seeking and switching are
//!   then array indexing: exact to the frame and instant, with no decoder to re-position.
//! * **Transport.** One `AtomicU64` holds the play flag and the next frame to hand out, so
//!   the audio callback never takes a lock. The callback advances the frame with a
//!   compare-and-swap; a command (seek, pause, end of track) that lands between the read and
//!   the swap makes the swap fail and the callback re-reads, so no command is ever lost.
//! * **Position** is that frame counter: the frames already handed to the output device,
//!   divided by the sample rate. It therefore runs ahead of what is audible by the device
//!   buffer (rodio asks for ~50 ms), it moves in steps of one device callback (~2048 frames,
//!   ~45 ms), and it stops exactly when the track ends.
//! * **Device thread.** A dedicated thread opens rodio's `MixerDeviceSink` (which owns the
//!   `cpal::Stream`), keeps it alive and drops it; the rest of the player only holds the
//!   sink's `Mixer` handle to add our source. With cpal 0.18 the sink happens to be `Send` on
//!   Linux and macOS, but cpal has not always promised that for every backend. The thread also
//!   lets `load`/`play` give up on a device that hangs while opening, and turns a panic in the
//!   audio library into an error. [`CandidatePlayer`] is `Send + Sync` and can be Tauri state.
//! * **Laziness and failure.** The device is opened on the first `load`/`play`, not in
//!   [`CandidatePlayer::new`], so a machine without audio still starts the app. A device that
//!   cannot be opened gives [`PlayerError::NoAudioDevice`]; one that dies while playing
//!   (unplugged headphones) is reported in [`PlayerState::error`] and reopened on the next
//!   `play`.
//!
//! We do not use rodio's `Player` (the old `Sink`): its `get_pos` is only refreshed every
//! 5 ms and switching to another buffer would take `clear` + `append` + `try_seek`, three
//! steps with a gap between them. A custom [`rodio::Source`] reading shared state does the
//! switch inside one sample frame.

use std::error::Error as StdError;
use std::f32::consts::PI;
use std::num::NonZero;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rodio::cpal::traits::{DeviceTrait, HostTrait};
use rodio::cpal::{Device, ErrorKind as CpalErrorKind};
use rodio::mixer::Mixer;
use rodio::{ChannelCount, CpalError, DeviceSinkBuilder, MixerDeviceSink, SampleRate, Source};
use serde::Serialize;

use crate::media::WavError;

/// The high bit of the transport word: set while playing. The other 63 bits are the frame.
const PLAYING: u64 = 1 << 63;
const FRAME_MASK: u64 = PLAYING - 1;

/// Cross-fade length as a fraction of a second (1/100 s = 10 ms): long enough that a jump
/// between two unrelated waveforms does not click, short enough not to blur the comparison.
const FADES_PER_SECOND: u32 = 100;

/// Candidates are always played as stereo; mono files are duplicated to both channels.
const STEREO: ChannelCount = match NonZero::new(2) {
    Some(two) => two,
    None => unreachable!(),
};

/// How long `load`/`play` wait for the device thread to open the output. A wedged sound
/// server must not freeze the command (and the UI) forever.
const OPEN_TIMEOUT: Duration = Duration::from_secs(5);

/// Every source we add to a mixer gets a fresh id; a session only feeds the source whose id it
/// holds, so a source left in an old or dying output can never consume frames twice.
static NEXT_DECK_ID: AtomicU64 = AtomicU64::new(1);

/// What the UI shows. Serialized in camelCase for the front end.
#[derive(Clone, Debug, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PlayerState {
    /// Whether a set of candidate mixes is loaded.
    pub loaded: bool,
    /// The candidate being heard (0-based), when loaded.
    pub index: Option<usize>,
    /// Whether audio is advancing. Becomes `false` by itself at the end of the track.
    pub playing: bool,
    /// Seconds from the start of the track that have been handed to the audio device.
    pub position: f64,
    /// Length of the selected candidate in seconds.
    pub duration: f64,
    /// The last audio-device problem, for the UI to show: a device that could not be opened,
    /// or one that failed while playing (which no command could have returned).
    pub error: Option<String>,
}

/// Errors of the player. Every file error names the file.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PlayerError {
    /// The output could not be opened; the string is the underlying reason.
    #[error("No audio output device could be opened: {0}; playback is unavailable, the rest of the app works")]
    NoAudioDevice(String),
    /// A transport command came before any `load`.
    #[error("no candidate mixes are loaded")]
    NotLoaded,
    /// `load` was given an empty list.
    #[error("no candidate mixes were given to load")]
    NoTracks,
    /// `select` was given an index past the loaded candidates.
    #[error("there is no candidate {index}: {count} are loaded")]
    IndexOutOfRange { index: usize, count: usize },
    /// `seek` was given NaN.
    #[error("cannot seek to {0}: not a number of seconds")]
    InvalidPosition(f64),
    /// The file does not exist.
    #[error("{path}: file not found")]
    FileNotFound { path: PathBuf },
    /// The file exists but could not be read (permissions, a directory, an I/O error).
    #[error("{path}: could not be read: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    /// The file is not a WAV file at all.
    #[error("{path}: not a WAV file ({reason})")]
    NotWav { path: PathBuf, reason: String },
    /// A WAV file in a format we do not play (e.g. 64-bit float, 6 channels).
    #[error("{path}: unsupported WAV format: {detail}")]
    UnsupportedFormat { path: PathBuf, detail: String },
    /// A candidate's sample rate differs from the first one's. Switching at "the same sample
    /// frame" only means the same time when all mixes share one rate.
    #[error("{path}: sample rate {rate} Hz differs from the first mix's {expected} Hz; all candidates must share one rate")]
    SampleRateMismatch {
        path: PathBuf,
        rate: u32,
        expected: u32,
    },
    /// The WAV header was fine but the audio data is not (truncated, empty).
    #[error("{path}: damaged audio data: {reason}")]
    Decode { path: PathBuf, reason: String },
}

/// Tauri needs command errors to be `Serialize`; the front end gets the message.
impl Serialize for PlayerError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

/// Plays one of several candidate mixes; see the module documentation.
///
/// All methods take `&self` and may be called from any thread.
pub struct CandidatePlayer {
    inner: Mutex<Inner>,
}

impl Default for CandidatePlayer {
    fn default() -> Self {
        Self::new()
    }
}

impl CandidatePlayer {
    /// Creates an idle player. Touches no audio device, so it cannot fail.
    pub fn new() -> Self {
        Self {
            inner: Mutex::new(Inner {
                output: None,
                session: None,
                error: None,
            }),
        }
    }

    /// Decodes the candidates' mixes (index = position in `tracks`) and selects candidate 0,
    /// paused at 0 s. Replaces whatever was loaded before.
    ///
    /// The audio device is opened first, so that a machine without one fails fast instead of
    /// after decoding. Decoding runs without holding the player's lock, so `state()` stays
    /// responsive meanwhile. On a decode error the previous set stays loaded.
    pub fn load(&self, tracks: Vec<PathBuf>) -> Result<PlayerState, PlayerError> {
        if tracks.is_empty() {
            return Err(PlayerError::NoTracks);
        }
        self.lock().ensure_output()?;
        let (decoded, rate) = decode_all(&tracks)?;
        let session = Arc::new(Session::new(decoded, rate));

        let mut inner = self.lock();
        // Another thread may have unloaded (and closed the device) while we decoded.
        inner.ensure_output()?;
        if let Some(old) = inner.session.take() {
            old.detach();
        }
        if let Some(output) = &inner.output {
            output.attach(&session);
        }
        inner.session = Some(session);
        Ok(inner.state())
    }

    /// Switches to candidate `index`, keeping the position and the play/pause state. The
    /// switch happens at the next sample frame, cross-faded over 10 ms. A position past the
    /// end of a shorter candidate becomes its end (paused there).
    pub fn select(&self, index: usize) -> Result<PlayerState, PlayerError> {
        let mut inner = self.lock();
        inner.check_output();
        let session = inner.session()?;
        let count = session.tracks.len();
        if index >= count {
            return Err(PlayerError::IndexOutOfRange { index, count });
        }
        session.select(index);
        Ok(inner.state())
    }

    /// Starts or resumes playback; at the end of the track, starts again from 0. Opens the
    /// audio device if it is not open (or reopens one that failed).
    pub fn play(&self) -> Result<PlayerState, PlayerError> {
        let mut inner = self.lock();
        inner.check_output();
        let session = inner.session()?;
        inner.ensure_output()?;
        session.play();
        Ok(inner.state())
    }

    /// Pauses; the position stays where it is. Harmless when nothing is loaded.
    pub fn pause(&self) -> Result<PlayerState, PlayerError> {
        let mut inner = self.lock();
        inner.check_output();
        if let Some(session) = &inner.session {
            session.pause();
        }
        Ok(inner.state())
    }

    /// Pauses if playing, plays otherwise (the space bar).
    pub fn toggle(&self) -> Result<PlayerState, PlayerError> {
        let mut inner = self.lock();
        inner.check_output();
        let session = inner.session()?;
        if session.snapshot().playing {
            session.pause();
        } else {
            inner.ensure_output()?;
            session.play();
        }
        Ok(inner.state())
    }

    /// Moves to `seconds` from the start, clamped to `[0, duration]`, to the nearest sample
    /// frame. Keeps playing or paused.
    pub fn seek(&self, seconds: f64) -> Result<PlayerState, PlayerError> {
        if seconds.is_nan() {
            return Err(PlayerError::InvalidPosition(seconds));
        }
        let mut inner = self.lock();
        inner.check_output();
        let session = inner.session()?;
        let frame = (seconds.max(0.0) * f64::from(session.rate)).round();
        // `as` saturates: +inf and huge values become u64::MAX, which `seek` clamps.
        session.seek(frame as u64);
        Ok(inner.state())
    }

    /// Pauses and rewinds to 0, keeping the candidates loaded.
    pub fn stop(&self) -> Result<PlayerState, PlayerError> {
        let mut inner = self.lock();
        inner.check_output();
        if let Some(session) = &inner.session {
            session.pause();
            session.seek(0);
        }
        Ok(inner.state())
    }

    /// Forgets the candidates (freeing their memory) and closes the audio device, so an idle
    /// app does not keep a stream of silence running. The next `load` reopens it.
    pub fn unload(&self) -> PlayerState {
        let mut inner = self.lock();
        if let Some(session) = inner.session.take() {
            session.detach();
        }
        inner.output = None;
        inner.error = None;
        inner.state()
    }

    /// The current state. Cheap: meant to be polled by the UI (e.g. every animation frame).
    pub fn state(&self) -> PlayerState {
        let mut inner = self.lock();
        inner.check_output();
        inner.state()
    }

    /// A panic in one command must not make every later command panic too: the state under
    /// the lock is a handful of handles that stay consistent, so a poisoned lock is used as is.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The player's state behind its lock. Only commands touch it; the audio callback sees the
/// `Session` through its atomics.
struct Inner {
    output: Option<Output>,
    session: Option<Arc<Session>>,
    error: Option<String>,
}

impl Inner {
    fn session(&self) -> Result<Arc<Session>, PlayerError> {
        self.session.clone().ok_or(PlayerError::NotLoaded)
    }

    /// Opens the output if there is none (or the one we had failed), and feeds it the loaded
    /// session.
    fn ensure_output(&mut self) -> Result<(), PlayerError> {
        self.check_output();
        if self.output.is_some() {
            return Ok(());
        }
        match Output::open() {
            Ok(output) => {
                if let Some(session) = &self.session {
                    output.attach(session);
                }
                self.output = Some(output);
                self.error = None;
                Ok(())
            }
            Err(reason) => {
                let err = PlayerError::NoAudioDevice(reason);
                self.error = Some(err.to_string());
                Err(err)
            }
        }
    }

    /// If the device failed while running, nothing consumes frames any more: show that as
    /// paused with the error, and drop the dead output so that the next `play` reopens one.
    fn check_output(&mut self) {
        let Some(fault) = self.output.as_ref().and_then(Output::fault) else {
            return;
        };
        if let Some(session) = &self.session {
            session.pause();
        }
        self.error = Some(fault);
        self.output = None;
    }

    fn state(&self) -> PlayerState {
        let Some(session) = &self.session else {
            return PlayerState {
                loaded: false,
                index: None,
                playing: false,
                position: 0.0,
                duration: 0.0,
                error: self.error.clone(),
            };
        };
        let now = session.snapshot();
        let frames = session.tracks[now.index].frames();
        let rate = f64::from(session.rate);
        PlayerState {
            loaded: true,
            index: Some(now.index),
            playing: now.playing,
            position: now.frame.min(frames) as f64 / rate,
            duration: frames as f64 / rate,
            error: self.error.clone(),
        }
    }
}

/// One mix, as interleaved stereo samples: in memory, or, for the 32-bit float stereo WAVs the
/// pipeline writes, read from the file a block at a time as it plays, so four hour-long
/// candidates do not take 5 GB of memory. Read, not mapped: a mix that another process cuts
/// short while it plays becomes silence where it ends, where a mapping would kill the app with
/// SIGBUS.
enum Track {
    Decoded { samples: Box<[f32]>, frames: u64 },
    Streamed(StreamedWav),
}

/// A float stereo WAV's samples, read on demand through one cached block.
struct StreamedWav {
    file: std::fs::File,
    /// Where the samples start in the file.
    data: u64,
    frames: u64,
    /// The last block read: its first frame and its interleaved samples.
    block: Mutex<(u64, Vec<f32>)>,
}

/// Frames per read: 0.37 s at 44.1 kHz, 128 KiB.
const STREAM_BLOCK_FRAMES: u64 = 16_384;

impl StreamedWav {
    fn frame(&self, frame: u64) -> [f32; 2] {
        let mut block = self.block.lock().unwrap_or_else(PoisonError::into_inner);
        let (start, samples) = &mut *block;
        let cached = frame >= *start && ((frame - *start) as usize) * 2 + 1 < samples.len();
        if !cached {
            *start = frame / STREAM_BLOCK_FRAMES * STREAM_BLOCK_FRAMES;
            *samples = self.read_block(*start);
        }
        let at = ((frame - *start) as usize) * 2;
        match samples.get(at..at + 2) {
            Some([left, right]) => [*left, *right],
            // The file ends before the header said (cut short since it was opened).
            _ => [0.0, 0.0],
        }
    }

    /// The samples of the block from `first`, as many as the file still holds.
    fn read_block(&self, first: u64) -> Vec<f32> {
        let frames = STREAM_BLOCK_FRAMES.min(self.frames.saturating_sub(first));
        let mut bytes = vec![0u8; frames as usize * 8];
        let mut read = 0;
        while read < bytes.len() {
            match read_at(
                &self.file,
                &mut bytes[read..],
                self.data + first * 8 + read as u64,
            ) {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
        bytes[..read / 8 * 8]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }
}

#[cfg(unix)]
fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

impl Track {
    fn from_interleaved(samples: Vec<f32>) -> Self {
        let frames = (samples.len() / 2) as u64;
        Self::Decoded {
            samples: samples.into_boxed_slice(),
            frames,
        }
    }

    /// Streams `path` if it is a whole 32-bit float stereo WAV (returns its rate), else `None`.
    fn stream(path: &Path) -> Option<(Self, u32)> {
        use std::io::Seek;
        let file = std::fs::File::open(path).ok()?;
        let reader = hound::WavReader::new(std::io::BufReader::new(&file)).ok()?;
        let spec = reader.spec();
        let float_stereo = spec.sample_format == hound::SampleFormat::Float
            && spec.bits_per_sample == 32
            && spec.channels == 2;
        let frames = u64::from(reader.duration());
        // hound stops reading at the start of the samples.
        let data = reader.into_inner().stream_position().ok()?;
        let fits = data.saturating_add(frames * 8) <= file.metadata().ok()?.len();
        (float_stereo && fits && frames > 0).then_some((
            Self::Streamed(StreamedWav {
                file,
                data,
                frames,
                block: Mutex::new((0, Vec::new())),
            }),
            spec.sample_rate,
        ))
    }

    fn frames(&self) -> u64 {
        match self {
            Self::Decoded { frames, .. } => *frames,
            Self::Streamed(wav) => wav.frames,
        }
    }

    /// The frame's two samples; silence past the end (a fading-out head may run past it).
    fn frame(&self, frame: u64) -> [f32; 2] {
        if frame >= self.frames() {
            return [0.0, 0.0];
        }
        match self {
            Self::Decoded { samples, .. } => {
                let at = frame as usize * 2;
                [samples[at], samples[at + 1]]
            }
            Self::Streamed(wav) => wav.frame(frame),
        }
    }
}

/// A loaded set of candidates and its transport, shared by the commands and the audio source.
struct Session {
    tracks: Vec<Track>,
    rate: u32,
    /// `PLAYING` bit | next frame to hand to the device.
    transport: AtomicU64,
    /// The selected candidate; always a valid index into `tracks`.
    index: AtomicUsize,
    /// Id of the `Deck` allowed to read this session; 0 when none is.
    deck: AtomicU64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Snapshot {
    playing: bool,
    frame: u64,
    index: usize,
}

impl Session {
    /// `tracks` must be non-empty (`load` guarantees it).
    fn new(tracks: Vec<Track>, rate: u32) -> Self {
        Self {
            tracks,
            rate,
            transport: AtomicU64::new(0),
            index: AtomicUsize::new(0),
            deck: AtomicU64::new(0),
        }
    }

    fn snapshot(&self) -> Snapshot {
        let index = self.index.load(Ordering::Acquire);
        let word = self.transport.load(Ordering::Acquire);
        Snapshot {
            playing: word & PLAYING != 0,
            frame: word & FRAME_MASK,
            index,
        }
    }

    fn frames(&self, index: usize) -> u64 {
        self.tracks[index].frames()
    }

    fn current_frames(&self) -> u64 {
        self.frames(self.index.load(Ordering::Acquire))
    }

    fn play(&self) {
        let end = self.current_frames();
        let _ = self
            .transport
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
                // Pressing play on a finished track plays it again, as media players do.
                let frame = if word & FRAME_MASK >= end {
                    0
                } else {
                    word & FRAME_MASK
                };
                Some(PLAYING | frame)
            });
    }

    fn pause(&self) {
        self.transport.fetch_and(FRAME_MASK, Ordering::AcqRel);
    }

    fn seek(&self, frame: u64) {
        let frame = frame.min(self.current_frames());
        let _ = self
            .transport
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
                Some((word & PLAYING) | frame)
            });
    }

    fn select(&self, index: usize) {
        self.index.store(index, Ordering::Release);
        // A shorter candidate: past its end means at its end, finished.
        let end = self.frames(index);
        let _ = self
            .transport
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
                (word & FRAME_MASK > end).then_some(end)
            });
    }

    /// Stops any `Deck` from reading this session; it ends and the mixer drops it.
    fn detach(&self) {
        self.deck.store(0, Ordering::Release);
    }

    /// Audio thread: hands out the next frame if playing. Returns the (candidate, frame) it
    /// consumed, or `None` when silent. Reaching the last frame pauses at the end, in the same
    /// atomic step, so `playing` turns false exactly when the track has been handed out.
    fn advance(&self) -> Option<(usize, u64)> {
        let mut word = self.transport.load(Ordering::Acquire);
        loop {
            if word & PLAYING == 0 {
                return None;
            }
            let index = self.index.load(Ordering::Acquire);
            let end = self.tracks.get(index)?.frames();
            let frame = word & FRAME_MASK;
            let (next, taken) = if frame >= end {
                (end, None)
            } else if frame + 1 >= end {
                (end, Some((index, frame)))
            } else {
                (PLAYING | (frame + 1), Some((index, frame)))
            };
            match self.transport.compare_exchange_weak(
                word,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return taken,
                Err(actual) => word = actual,
            }
        }
    }
}

/// A read head that is fading out after the playback jumped away from it or stopped.
struct Tail {
    index: usize,
    frame: u64,
    remaining: u32,
}

/// The `rodio::Source` that plays a `Session`: pulled sample by sample by rodio's mixer on
/// the audio thread. Lock-free; allocation-free.
struct Deck {
    session: Arc<Session>,
    id: u64,
    rate: SampleRate,
    /// The right sample of the frame whose left sample was just returned.
    right: Option<f32>,
    /// Where the playing head reads next if nothing changes; `None` while silent. A frame
    /// handed out anywhere else means a seek, a switch or a resume: time to cross-fade.
    expected: Option<(usize, u64)>,
    tail: Option<Tail>,
    fade_in: u32,
    fade_len: u32,
}

impl Deck {
    fn new(session: Arc<Session>, id: u64) -> Self {
        let rate = NonZero::new(session.rate).unwrap_or(NonZero::<u32>::MIN);
        let fade_len = (session.rate / FADES_PER_SECOND).max(1);
        Self {
            session,
            id,
            rate,
            right: None,
            expected: None,
            tail: None,
            fade_in: 0,
            fade_len,
        }
    }

    fn next_frame(&mut self) -> Option<[f32; 2]> {
        if self.session.deck.load(Ordering::Acquire) != self.id {
            return None;
        }
        let taken = self.session.advance();
        if taken != self.expected {
            // Jumped, switched, paused or resumed: fade out the old head (if it was
            // playing) while the new one (if any) fades in.
            if let Some((index, frame)) = self.expected {
                self.tail = Some(Tail {
                    index,
                    frame,
                    remaining: self.fade_len,
                });
            }
            if taken.is_some() {
                self.fade_in = self.fade_len;
            }
        }
        self.expected = taken.map(|(index, frame)| (index, frame + 1));

        let mut out = [0.0f32; 2];
        if let Some((index, frame)) = taken {
            let gain = 1.0 - fade_out_gain(self.fade_in, self.fade_len);
            self.fade_in = self.fade_in.saturating_sub(1);
            mix_into(&mut out, self.session.tracks[index].frame(frame), gain);
        }
        if let Some(tail) = &mut self.tail {
            let gain = fade_out_gain(tail.remaining, self.fade_len);
            mix_into(
                &mut out,
                self.session.tracks[tail.index].frame(tail.frame),
                gain,
            );
            tail.frame += 1;
            tail.remaining -= 1;
            if tail.remaining == 0 {
                self.tail = None;
            }
        }
        Some(out)
    }
}

/// Gain of a head fading out with `remaining` of `len` frames left: a raised cosine from 1
/// down to 0. The head fading in uses `1 - gain`, so the two always sum to 1.
fn fade_out_gain(remaining: u32, len: u32) -> f32 {
    let x = remaining as f32 / len as f32;
    0.5 - 0.5 * (PI * x).cos()
}

fn mix_into(out: &mut [f32; 2], frame: [f32; 2], gain: f32) {
    out[0] += frame[0] * gain;
    out[1] += frame[1] * gain;
}

impl Iterator for Deck {
    type Item = f32;

    fn next(&mut self) -> Option<f32> {
        if let Some(right) = self.right.take() {
            return Some(right);
        }
        let [left, right] = self.next_frame()?;
        self.right = Some(right);
        Some(left)
    }
}

impl Source for Deck {
    fn current_span_len(&self) -> Option<usize> {
        // Endless (silence while paused), and rate and channels never change.
        None
    }

    fn channels(&self) -> ChannelCount {
        STEREO
    }

    fn sample_rate(&self) -> SampleRate {
        self.rate
    }

    fn total_duration(&self) -> Option<Duration> {
        None
    }
}

/// An open audio output, kept alive by its own thread (see the module docs).
struct Output {
    mixer: Mixer,
    /// Dropping this ends the device thread, which drops the sink and so closes the device.
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    /// Set by the stream's error callback when the device failed for good.
    fault: Arc<Mutex<Option<String>>>,
}

impl Output {
    fn open() -> Result<Output, String> {
        let fault = Arc::new(Mutex::new(None));
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let on_error = {
            let fault = Arc::clone(&fault);
            move |err: CpalError| record_fault(&fault, &err)
        };
        let thread = std::thread::Builder::new()
            .name("candidate-audio".into())
            .spawn(move || match open_sink(on_error) {
                Ok(mut sink) => {
                    // rodio prints to stderr on drop unless told not to.
                    sink.log_on_drop(false);
                    if ready_tx.send(Ok(sink.mixer().clone())).is_ok() {
                        // Returns when the `Output` (the sender) is dropped.
                        let _ = stop_rx.recv();
                    }
                }
                Err(reason) => {
                    let _ = ready_tx.send(Err(reason));
                }
            })
            .map_err(|e| format!("could not start the audio thread: {e}"))?;

        match ready_rx.recv_timeout(OPEN_TIMEOUT) {
            Ok(Ok(mixer)) => Ok(Output {
                mixer,
                stop: Some(stop_tx),
                thread: Some(thread),
                fault,
            }),
            Ok(Err(reason)) => {
                let _ = thread.join();
                Err(reason)
            }
            // The thread is left to finish opening; it then sees `stop` gone and closes.
            Err(mpsc::RecvTimeoutError::Timeout) => Err(format!(
                "the audio device did not open within {} s",
                OPEN_TIMEOUT.as_secs()
            )),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let _ = thread.join();
                Err("the audio library failed (panicked) while opening the device".into())
            }
        }
    }

    /// Makes this output play `session`, replacing any other source of that session.
    fn attach(&self, session: &Arc<Session>) {
        let id = NEXT_DECK_ID.fetch_add(1, Ordering::Relaxed);
        session.deck.store(id, Ordering::Release);
        self.mixer.add(Deck::new(Arc::clone(session), id));
    }

    fn fault(&self) -> Option<String> {
        self.fault
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        drop(self.stop.take());
        // Wait for the device to be closed, so that a reopen never overlaps the old stream.
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Stream error callback. Glitches (xruns), refused real-time priority and automatic
/// rerouting leave the stream running; anything else means it stopped for good.
fn record_fault(fault: &Mutex<Option<String>>, err: &CpalError) {
    match err.kind() {
        CpalErrorKind::Xrun
        | CpalErrorKind::RealtimeDenied
        | CpalErrorKind::DeviceChanged
        | CpalErrorKind::DeviceBusy => {}
        _ => {
            let mut slot = fault.lock().unwrap_or_else(PoisonError::into_inner);
            if slot.is_none() {
                *slot = Some(format!("the audio output stopped: {err}"));
            }
        }
    }
}

/// Opens the default output device or, failing that, any other real one (like rodio's
/// `open_default_sink`, which cannot take an error callback). Returns the default device's
/// error when all fail: it is the one the user will recognise.
fn open_sink<E>(on_error: E) -> Result<MixerDeviceSink, String>
where
    E: FnMut(CpalError) + Clone + Send + 'static,
{
    let host = rodio::cpal::default_host();
    let default = host.default_output_device();
    let first_error = match &default {
        Some(device) => match open_device(device.clone(), on_error.clone()) {
            Ok(sink) => return Ok(sink),
            Err(reason) => reason,
        },
        None => "the system has no default audio output".to_owned(),
    };
    if let Ok(devices) = host.output_devices() {
        for device in devices {
            if Some(&device) == default.as_ref() || is_null_device(&device) {
                continue;
            }
            if let Ok(sink) = open_device(device, on_error.clone()) {
                return Ok(sink);
            }
        }
    }
    Err(first_error)
}

/// ALSA's `null` device swallows audio instantly: it "works" but nobody hears anything and
/// the position races ahead, so it is never a fallback.
fn is_null_device(device: &Device) -> bool {
    device
        .description()
        .map(|d| d.driver() == Some("null"))
        .unwrap_or(false)
}

fn open_device<E>(device: Device, on_error: E) -> Result<MixerDeviceSink, String>
where
    E: FnMut(CpalError) + Clone + Send + 'static,
{
    let name = device
        .description()
        .map(|d| d.name().to_owned())
        .unwrap_or_else(|_| "unnamed device".to_owned());
    DeviceSinkBuilder::from_device(device)
        .and_then(|builder| {
            builder
                .with_error_callback(on_error)
                .open_sink_or_fallback()
        })
        .map_err(|e| format!("{name}: {}", error_chain(&e)))
}

/// rodio's errors say what failed ("Failed to get the config...") and their source says why.
fn error_chain(err: &dyn StdError) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Decodes all files, a few at a time in parallel (decoding is CPU-bound; the mixes are
/// independent). Returns the tracks in order and their common sample rate, or the first
/// file's error in list order.
fn decode_all(paths: &[PathBuf]) -> Result<(Vec<Track>, u32), PlayerError> {
    let parallel = std::thread::available_parallelism().map_or(2, NonZero::get);
    let mut decoded = Vec::with_capacity(paths.len());
    for chunk in paths.chunks(parallel) {
        let results: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|path| scope.spawn(move || decode(path)))
                .collect();
            handles
                .into_iter()
                .zip(chunk)
                .map(|(handle, path)| {
                    handle.join().unwrap_or_else(|_| {
                        Err(PlayerError::Decode {
                            path: path.clone(),
                            reason: "the decoder panicked".into(),
                        })
                    })
                })
                .collect()
        });
        for result in results {
            decoded.push(result?);
        }
    }
    let expected = decoded.first().map_or(0, |(_, rate)| *rate);
    let mut tracks = Vec::with_capacity(decoded.len());
    for ((track, rate), path) in decoded.into_iter().zip(paths) {
        if rate != expected {
            return Err(PlayerError::SampleRateMismatch {
                path: path.clone(),
                rate,
                expected,
            });
        }
        tracks.push(track);
    }
    Ok((tracks, expected))
}

/// Decodes one WAV file (mono or stereo) into interleaved stereo `f32`. Mono is duplicated to
/// both channels.
fn decode(path: &Path) -> Result<(Track, u32), PlayerError> {
    if let Some(streamed) = Track::stream(path) {
        return Ok(streamed);
    }
    let pcm = crate::media::read_wav(path)?;
    if !(1..=2).contains(&pcm.channels) {
        return Err(PlayerError::UnsupportedFormat {
            path: path.to_owned(),
            detail: format!(
                "{} channels (only mono and stereo are played)",
                pcm.channels
            ),
        });
    }
    let mut samples = pcm.samples;
    if pcm.channels == 1 {
        samples = samples.iter().flat_map(|&s| [s, s]).collect();
    }
    // A final frame with a missing channel cannot be played; drop it.
    samples.truncate(samples.len() / 2 * 2);
    if samples.is_empty() {
        return Err(PlayerError::Decode {
            path: path.to_owned(),
            reason: "the file contains no audio".into(),
        });
    }
    Ok((Track::from_interleaved(samples), pcm.sample_rate))
}

impl From<WavError> for PlayerError {
    fn from(err: WavError) -> Self {
        match err {
            WavError::NotFound { path } => PlayerError::FileNotFound { path },
            WavError::Unreadable { path, reason } => PlayerError::Unreadable { path, reason },
            WavError::NotWav { path, reason } => PlayerError::NotWav { path, reason },
            WavError::Unsupported { path, detail } => {
                PlayerError::UnsupportedFormat { path, detail }
            }
            WavError::Damaged { path, reason } => PlayerError::Decode { path, reason },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session of tracks whose left sample is `base + frame` and right is its negation, so
    /// every output sample tells which track and frame it came from.
    fn session(bases: &[f32], frames: usize) -> Arc<Session> {
        let tracks = bases
            .iter()
            .map(|&base| {
                let samples = (0..frames)
                    .flat_map(|f| [base + f as f32, -(base + f as f32)])
                    .collect();
                Track::from_interleaved(samples)
            })
            .collect();
        Arc::new(Session::new(tracks, 1000))
    }

    fn deck(session: &Arc<Session>) -> Deck {
        session.deck.store(7, Ordering::Release);
        Deck::new(Arc::clone(session), 7)
    }

    fn frames(deck: &mut Deck, n: usize) -> Vec<[f32; 2]> {
        (0..n)
            .map(|_| deck.next_frame().expect("deck ended"))
            .collect()
    }

    // 1000 Hz sample rate: fades last 10 frames.
    const FADE: usize = 10;

    #[test]
    fn paused_deck_is_silent_and_does_not_advance() {
        let s = session(&[100.0], 50);
        let mut d = deck(&s);
        assert!(frames(&mut d, 20).iter().all(|f| *f == [0.0, 0.0]));
        assert_eq!(s.snapshot().frame, 0);
    }

    #[test]
    fn plays_every_frame_in_order_after_a_fade_in() {
        let s = session(&[100.0], 50);
        let mut d = deck(&s);
        s.play();
        let out = frames(&mut d, 30);
        assert_eq!(out[0], [0.0, 0.0], "fade-in starts from silence");
        for (f, frame) in out.iter().enumerate().skip(FADE) {
            assert_eq!(*frame, [100.0 + f as f32, -(100.0 + f as f32)]);
        }
        assert_eq!(s.snapshot().frame, 30);
    }

    #[test]
    fn select_switches_at_the_same_frame() {
        let s = session(&[100.0, 5000.0], 100);
        let mut d = deck(&s);
        s.play();
        frames(&mut d, 40);
        s.select(1);
        let out = frames(&mut d, 30);
        assert_eq!(
            s.snapshot(),
            Snapshot {
                playing: true,
                frame: 70,
                index: 1
            }
        );
        // During the fade both are heard: old and new heads at the same frame.
        let mid = 100.0 + 45.0 + 0.5 * (5000.0 - 100.0);
        assert!((out[5][0] - mid).abs() < 1.0, "{}", out[5][0]);
        for (i, frame) in out.iter().enumerate().skip(FADE) {
            assert_eq!(frame[0], 5000.0 + (40 + i) as f32);
        }
    }

    #[test]
    fn seek_is_exact_and_keeps_playing() {
        let s = session(&[100.0], 1000);
        let mut d = deck(&s);
        s.play();
        frames(&mut d, 20);
        s.seek(500);
        let out = frames(&mut d, 20);
        for (i, frame) in out.iter().enumerate().skip(FADE) {
            assert_eq!(frame[0], 100.0 + (500 + i) as f32);
        }
        s.seek(u64::MAX);
        assert_eq!(s.snapshot().frame, 1000, "seek clamps to the end");
    }

    #[test]
    fn pause_freezes_position_and_fades_out() {
        let s = session(&[100.0], 1000);
        let mut d = deck(&s);
        s.play();
        frames(&mut d, 50);
        s.pause();
        let out = frames(&mut d, 30);
        assert_eq!(s.snapshot().frame, 50);
        assert!(
            out[0][0] > 100.0,
            "the old head is still audible as it fades"
        );
        assert!(out[FADE..].iter().all(|f| *f == [0.0, 0.0]));
    }

    #[test]
    fn end_of_track_pauses_exactly_at_the_end_and_play_restarts() {
        let s = session(&[100.0], 30);
        let mut d = deck(&s);
        s.play();
        frames(&mut d, 29);
        assert!(s.snapshot().playing);
        frames(&mut d, 1);
        assert_eq!(
            s.snapshot(),
            Snapshot {
                playing: false,
                frame: 30,
                index: 0
            }
        );
        frames(&mut d, 10);
        assert_eq!(s.snapshot().frame, 30);
        s.play();
        assert_eq!(
            s.snapshot(),
            Snapshot {
                playing: true,
                frame: 0,
                index: 0
            }
        );
    }

    #[test]
    fn selecting_a_shorter_track_past_its_end_finishes_it() {
        let tracks = vec![
            Track::from_interleaved(vec![0.5; 200]),
            Track::from_interleaved(vec![0.5; 100]),
        ];
        let s = Arc::new(Session::new(tracks, 1000));
        s.seek(80);
        s.play();
        s.select(1);
        assert_eq!(
            s.snapshot(),
            Snapshot {
                playing: false,
                frame: 50,
                index: 1
            }
        );
    }

    #[test]
    fn a_detached_or_replaced_deck_ends() {
        let s = session(&[1.0], 10);
        let mut d = deck(&s);
        assert!(d.next().is_some());
        s.deck.store(8, Ordering::Release);
        // The pending right sample of the frame is still delivered, then the source ends.
        assert!(d.next().is_some());
        assert!(d.next().is_none());
    }

    #[test]
    fn fade_gains_are_complementary_and_bounded() {
        assert_eq!(fade_out_gain(10, 10), 1.0);
        assert_eq!(fade_out_gain(0, 10), 0.0);
        for r in 0..=10 {
            let g = fade_out_gain(r, 10);
            assert!((0.0..=1.0).contains(&g));
        }
    }

    fn write_wav(path: &Path, spec: hound::WavSpec, frames: usize) {
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..frames * usize::from(spec.channels) {
            let x = ((i % 7) as f32 - 3.0) / 4.0;
            match spec.sample_format {
                hound::SampleFormat::Float => w.write_sample(x).unwrap(),
                hound::SampleFormat::Int => {
                    let full = (1i64 << (spec.bits_per_sample - 1)) as f32;
                    w.write_sample((x * full) as i32).unwrap()
                }
            }
        }
        w.finalize().unwrap();
    }

    /// Frame `frame` of a float stereo file from `write_wav`.
    fn stereo_frame(frame: u64) -> [f32; 2] {
        let sample = |i: u64| ((i % 7) as f32 - 3.0) / 4.0;
        [sample(2 * frame), sample(2 * frame + 1)]
    }

    fn spec(channels: u16, rate: u32, bits: u16, float: bool) -> hound::WavSpec {
        hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: if float {
                hound::SampleFormat::Float
            } else {
                hound::SampleFormat::Int
            },
        }
    }

    #[test]
    fn decodes_int_and_float_formats_to_the_same_values() {
        let dir = tempfile::tempdir().unwrap();
        let mut decoded = Vec::new();
        for (bits, float) in [
            (16, false),
            (24, false),
            (32, false),
            (32, true),
            (8, false),
        ] {
            let path = dir.path().join(format!("{bits}{float}.wav"));
            write_wav(&path, spec(2, 44_100, bits, float), 100);
            let (track, rate) = decode(&path).unwrap();
            assert_eq!((rate, track.frames()), (44_100, 100));
            // The float stereo file is streamed, the others decoded.
            assert_eq!(matches!(track, Track::Streamed(_)), float, "{bits} bits");
            decoded.push(track);
        }
        for track in &decoded {
            for frame in 0..100 {
                let (a, b) = (track.frame(frame), decoded[0].frame(frame));
                for (a, b) in a.iter().zip(b) {
                    assert!((a - b).abs() < 1e-2, "{a} vs {b}");
                }
            }
            assert_eq!(track.frame(100), [0.0, 0.0], "silence past the end");
        }
        assert_eq!(decoded[0].frame(1), [-0.25, 0.0]);
    }

    /// A streamed mix that another process cuts short while it plays: the frames past the new
    /// end are silence, the ones before it play as written, and nothing crashes (a mapping
    /// would take SIGBUS here). Long enough for several read blocks.
    #[test]
    fn a_mix_cut_short_while_playing_turns_to_silence_where_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mix.wav");
        let frames = 3 * STREAM_BLOCK_FRAMES;
        write_wav(&path, spec(2, 44_100, 32, true), frames as usize);
        let (track, _) = decode(&path).unwrap();
        assert!(matches!(track, Track::Streamed(_)));
        let written = track.frame(40_000);
        assert_ne!(written, [0.0, 0.0]);
        // Cut to about a block and a half, from outside, while the track is open.
        let header = std::fs::metadata(&path).unwrap().len() - frames * 8;
        let kept = STREAM_BLOCK_FRAMES + STREAM_BLOCK_FRAMES / 2;
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(header + kept * 8)
            .unwrap();
        assert_eq!(track.frames(), frames, "the header's length");
        assert_eq!(track.frame(kept - 1), stereo_frame(kept - 1));
        assert_eq!(track.frame(kept), [0.0, 0.0]);
        assert_eq!(track.frame(40_000), [0.0, 0.0]);
        assert_eq!(track.frame(0), stereo_frame(0));
    }

    #[test]
    fn mono_is_played_on_both_channels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mono.wav");
        write_wav(&path, spec(1, 22_050, 16, false), 10);
        let (track, rate) = decode(&path).unwrap();
        assert_eq!((rate, track.frames()), (22_050, 10));
        assert_eq!(track.frame(1), [-0.5, -0.5]);
    }

    #[test]
    fn rejects_what_it_cannot_play_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let six = dir.path().join("six.wav");
        write_wav(&six, spec(6, 44_100, 16, false), 10);
        let err = decode(&six).err().unwrap();
        assert!(
            matches!(err, PlayerError::UnsupportedFormat { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("six.wav"), "{err}");

        let empty = dir.path().join("empty.wav");
        write_wav(&empty, spec(2, 44_100, 16, false), 0);
        let err = decode(&empty).err().unwrap();
        assert!(matches!(err, PlayerError::Decode { .. }), "{err}");

        let zero_bytes = dir.path().join("zero.wav");
        std::fs::write(&zero_bytes, b"").unwrap();
        let err = decode(&zero_bytes).err().unwrap();
        assert!(matches!(err, PlayerError::NotWav { .. }), "{err}");

        let truncated = dir.path().join("truncated.wav");
        write_wav(&truncated, spec(2, 44_100, 16, false), 1000);
        let bytes = std::fs::read(&truncated).unwrap();
        std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
        let err = decode(&truncated).err().unwrap();
        assert!(matches!(err, PlayerError::Decode { .. }), "{err}");
        assert!(err.to_string().contains("truncated.wav"), "{err}");

        let dir_path = dir.path().to_owned();
        let err = decode(&dir_path).err().unwrap();
        assert!(matches!(err, PlayerError::Unreadable { .. }), "{err}");
    }

    #[test]
    fn a_header_claiming_gigabytes_fails_without_allocating_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("liar.wav");
        write_wav(&path, spec(2, 44_100, 16, false), 100);
        let mut bytes = std::fs::read(&path).unwrap();
        let data = bytes.windows(4).position(|w| w == b"data").unwrap();
        bytes[data + 4..data + 8].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let err = decode(&path).err().unwrap();
        assert!(matches!(err, PlayerError::Decode { .. }), "{err}");
    }

    #[test]
    fn only_lasting_stream_errors_count_as_faults() {
        let fault = Mutex::new(None);
        for kind in [
            CpalErrorKind::Xrun,
            CpalErrorKind::RealtimeDenied,
            CpalErrorKind::DeviceChanged,
        ] {
            record_fault(&fault, &CpalError::from(kind));
        }
        assert_eq!(*fault.lock().unwrap(), None);
        record_fault(&fault, &CpalError::from(CpalErrorKind::DeviceNotAvailable));
        record_fault(&fault, &CpalError::from(CpalErrorKind::BackendError));
        let recorded = fault.lock().unwrap().clone().unwrap();
        assert!(
            recorded.contains("not available"),
            "the first fault is kept: {recorded}"
        );
    }

    #[test]
    fn all_candidates_must_share_a_sample_rate() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.wav");
        let b = dir.path().join("b.wav");
        write_wav(&a, spec(2, 44_100, 16, false), 10);
        write_wav(&b, spec(2, 48_000, 16, false), 10);
        let err = decode_all(&[a.clone(), b.clone()]).err().unwrap();
        assert_eq!(
            err,
            PlayerError::SampleRateMismatch {
                path: b,
                rate: 48_000,
                expected: 44_100
            }
        );
        let (tracks, rate) = decode_all(&[a.clone(), a]).unwrap();
        assert_eq!((tracks.len(), rate), (2, 44_100));
    }

    #[test]
    fn state_serializes_in_camel_case_and_errors_as_messages() {
        let state = PlayerState {
            loaded: true,
            index: Some(2),
            playing: false,
            position: 1.5,
            duration: 2.0,
            error: None,
        };
        assert_eq!(
            serde_json::to_string(&state).unwrap(),
            r#"{"loaded":true,"index":2,"playing":false,"position":1.5,"duration":2.0,"error":null}"#
        );
        let err = PlayerError::NoAudioDevice("no card".into());
        assert_eq!(
            serde_json::to_string(&err).unwrap(),
            r#""No audio output device could be opened: no card; playback is unavailable, the rest of the app works""#
        );
    }
}
