//! A thin safe wrapper over libswresample that converts any decoded audio frame into
//! interleaved f32 at a fixed rate and channel count.

use std::ptr;

use ffmpeg_next::sys as ffi;

/// Converts frames of one input layout/format/rate; rebuilt when the input changes mid-stream.
pub(crate) struct Resampler {
    swr: *mut ffi::SwrContext,
    input: InputSignature,
    out_channels: usize,
}

// SAFETY: the SwrContext is owned exclusively by this value and only used through `&mut self`.
unsafe impl Send for Resampler {}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct InputSignature {
    format: i32,
    rate: i32,
    channels: i32,
    layout_mask: u64,
}

impl InputSignature {
    /// # Safety
    /// `frame` must point to a valid decoded audio frame.
    pub(crate) unsafe fn of(frame: *const ffi::AVFrame) -> Self {
        let layout = &(*frame).ch_layout;
        Self {
            format: (*frame).format,
            rate: (*frame).sample_rate,
            channels: layout.nb_channels,
            layout_mask: if layout.order == ffi::AVChannelOrder::AV_CHANNEL_ORDER_NATIVE {
                layout.u.mask
            } else {
                0
            },
        }
    }
}

impl Resampler {
    /// # Safety
    /// `frame` must point to a valid decoded audio frame; it only describes the input.
    pub(crate) unsafe fn for_frame(
        frame: *const ffi::AVFrame,
        out_rate: u32,
        out_channels: u16,
    ) -> Result<Self, ffmpeg_next::Error> {
        let input = InputSignature::of(frame);
        let mut in_layout: ffi::AVChannelLayout = std::mem::zeroed();
        // Files with an unspecified channel order still say how many channels they have.
        if input.layout_mask != 0 {
            ffi::av_channel_layout_copy(&mut in_layout, &(*frame).ch_layout);
        } else {
            ffi::av_channel_layout_default(&mut in_layout, input.channels.max(1));
        }
        let mut out_layout: ffi::AVChannelLayout = std::mem::zeroed();
        ffi::av_channel_layout_default(&mut out_layout, i32::from(out_channels));

        let mut swr = ptr::null_mut();
        let status = ffi::swr_alloc_set_opts2(
            &mut swr,
            &mut out_layout,
            ffi::AVSampleFormat::AV_SAMPLE_FMT_FLT,
            out_rate as i32,
            &mut in_layout,
            std::mem::transmute::<i32, ffi::AVSampleFormat>(input.format),
            input.rate,
            0,
            ptr::null_mut(),
        );
        ffi::av_channel_layout_uninit(&mut in_layout);
        ffi::av_channel_layout_uninit(&mut out_layout);
        if status < 0 {
            return Err(ffmpeg_next::Error::from(status));
        }
        let status = ffi::swr_init(swr);
        if status < 0 {
            ffi::swr_free(&mut swr);
            return Err(ffmpeg_next::Error::from(status));
        }
        Ok(Self {
            swr,
            input,
            out_channels: usize::from(out_channels),
        })
    }

    pub(crate) fn accepts(&self, signature: InputSignature) -> bool {
        self.input == signature
    }

    /// Converts one frame, appending interleaved samples to `out`.
    ///
    /// # Safety
    /// `frame` must point to a valid decoded audio frame matching this resampler's input.
    pub(crate) unsafe fn convert(
        &mut self,
        frame: *const ffi::AVFrame,
        out: &mut Vec<f32>,
    ) -> Result<(), ffmpeg_next::Error> {
        let in_samples = (*frame).nb_samples;
        self.run((*frame).extended_data as *mut *const u8, in_samples, out)
    }

    /// Drains the samples the resampler still holds (its filter delay).
    pub(crate) fn flush(&mut self, out: &mut Vec<f32>) -> Result<(), ffmpeg_next::Error> {
        unsafe { self.run(ptr::null_mut(), 0, out) }
    }

    unsafe fn run(
        &mut self,
        input: *mut *const u8,
        in_samples: i32,
        out: &mut Vec<f32>,
    ) -> Result<(), ffmpeg_next::Error> {
        let capacity = ffi::swr_get_out_samples(self.swr, in_samples);
        if capacity < 0 {
            return Err(ffmpeg_next::Error::from(capacity));
        }
        let capacity = capacity as usize + 32;
        out.reserve(capacity * self.out_channels);
        let start = out.len();
        let mut dst = out.as_mut_ptr().add(start) as *mut u8;
        let written = ffi::swr_convert(self.swr, &mut dst, capacity as i32, input, in_samples);
        if written < 0 {
            return Err(ffmpeg_next::Error::from(written));
        }
        out.set_len(start + written as usize * self.out_channels);
        Ok(())
    }
}

impl Drop for Resampler {
    fn drop(&mut self) {
        unsafe { ffi::swr_free(&mut self.swr) };
    }
}
