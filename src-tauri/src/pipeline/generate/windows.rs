//! How Stable Audio covers a plan: one generation window per section (sections longer than a
//! window are split), each after the first continuing the previous window's latents.
//!
//! A window starts a whole number of latent frames after the previous one, at least
//! `context` samples before its section, so the previous window's frames from there up to the
//! section boundary are its known start (the inpainting context of outpainting). The known
//! frames end at the frame edge nearest the boundary: that is the join, where the new section's
//! music takes over, within half a frame (46 ms) of the cut.

/// One generation of all candidates, in samples of the music (44.1 kHz).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    /// The plan section whose prompts it plays.
    pub section: usize,
    /// Which part of a section split over several windows (0 for most).
    pub part: usize,
    /// The first sample of its audio; a whole number of frames after the previous window's.
    pub start: usize,
    /// The end of its own music: the section's (or part's) end.
    pub end: usize,
    /// The previous window's latent frames it starts from: `(first, count)`.
    pub known: Option<(usize, usize)>,
    /// Where its audio takes over from the previous window's: the end of the known frames.
    pub join: usize,
}

impl Window {
    /// Samples to generate: a frame past the end, so the next window's join (up to half a
    /// frame past it) still falls inside this window's audio.
    pub fn length(&self, samples_per_frame: usize) -> usize {
        self.end + samples_per_frame - self.start
    }
}

/// The geometry windows are planned in.
#[derive(Clone, Copy, Debug)]
pub struct WindowLimits {
    pub samples_per_frame: usize,
    /// The least music each window continues from.
    pub context: usize,
    /// The longest one window may generate.
    pub max_length: usize,
}

/// The windows over sections ending at `section_ends` (samples, increasing, the last the
/// music's length). Sections too short to hold a sample are skipped.
pub fn plan_windows(section_ends: &[usize], limits: &WindowLimits) -> Vec<Window> {
    let spf = limits.samples_per_frame;
    // Room in a window after its context and the frames of rounding either side.
    let max_part = limits
        .max_length
        .saturating_sub(limits.context + 3 * spf)
        .max(spf);
    let mut windows: Vec<Window> = Vec::new();
    let mut section_start = 0;
    for (section, &section_end) in section_ends.iter().enumerate() {
        let span = section_end.saturating_sub(section_start);
        if span == 0 {
            continue;
        }
        let parts = span.div_ceil(max_part);
        for part in 0..parts {
            let begin = section_start + span * part / parts;
            let end = section_start + span * (part + 1) / parts;
            let window = match windows.last() {
                None => Window {
                    section,
                    part,
                    start: 0,
                    end,
                    known: None,
                    join: 0,
                },
                Some(previous) => {
                    let skip = begin.saturating_sub(limits.context + previous.start) / spf;
                    let start = previous.start + skip * spf;
                    let count = ((begin - start + spf / 2) / spf).max(1);
                    Window {
                        section,
                        part,
                        start,
                        end,
                        known: Some((skip, count)),
                        join: start + count * spf,
                    }
                }
            };
            windows.push(window);
        }
        section_start = section_end;
    }
    windows
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPF: usize = 4096;
    const RATE: usize = 44_100;

    fn limits() -> WindowLimits {
        WindowLimits {
            samples_per_frame: SPF,
            context: 10 * RATE,
            max_length: 120 * RATE,
        }
    }

    #[test]
    fn each_section_continues_the_last_from_a_context_of_whole_frames() {
        let ends = [12 * RATE + 77, 40 * RATE, 41 * RATE, 60 * RATE];
        let windows = plan_windows(&ends, &limits());
        assert_eq!(windows.len(), 4);
        assert_eq!((windows[0].start, windows[0].join), (0, 0));
        assert_eq!(windows[0].known, None);
        for pair in windows.windows(2) {
            let (previous, next) = (&pair[0], &pair[1]);
            let (first, count) = next.known.unwrap();
            assert_eq!(
                next.start,
                previous.start + first * SPF,
                "on the frame grid"
            );
            assert_eq!(next.join, next.start + count * SPF);
            // The join is the frame edge nearest the boundary, within the previous window.
            assert!(next.join.abs_diff(previous.end) <= SPF / 2, "{next:?}");
            assert!(next.join < previous.start + previous.length(SPF));
            // At least the context before the boundary, when the music is that long.
            let context = previous.end - next.start;
            assert!(
                context >= limits().context.min(previous.end - previous.start) || first == 0,
                "{next:?}"
            );
            assert!(next.length(SPF) <= limits().max_length);
        }
        assert_eq!(windows[1].known.unwrap().0, (2 * RATE + 77) / SPF);
        // The one-second section still continues what came before.
        assert_eq!(windows[2].section, 2);
        assert_eq!(windows.last().unwrap().end, 60 * RATE);
    }

    #[test]
    fn a_section_longer_than_a_window_is_split_into_parts_that_fit() {
        let ends = [30 * RATE, 330 * RATE];
        let windows = plan_windows(&ends, &limits());
        let parts: Vec<(usize, usize)> = windows.iter().map(|w| (w.section, w.part)).collect();
        assert_eq!(parts, [(0, 0), (1, 0), (1, 1), (1, 2)]);
        for window in &windows {
            assert!(window.length(SPF) <= limits().max_length, "{window:?}");
        }
        assert_eq!(windows[3].end, 330 * RATE);
        // Parts split the section evenly.
        let lengths: Vec<usize> = windows[1..].iter().map(|w| w.end).collect();
        assert_eq!(lengths, [130 * RATE, 230 * RATE, 330 * RATE]);
    }

    #[test]
    fn empty_sections_are_skipped() {
        let windows = plan_windows(&[0, 5 * RATE, 5 * RATE, 9 * RATE], &limits());
        let sections: Vec<usize> = windows.iter().map(|w| w.section).collect();
        assert_eq!(sections, [1, 3]);
        assert_eq!(
            windows[1].known.unwrap().0,
            0,
            "a short first section: from its start"
        );
    }
}
