//! Opening media files safely: any path (unicode or not), never interpreted as a URL, only
//! FFmpeg's `file` protocol, no container that pulls in other files (playlists, concat lists,
//! image sequences), and a failure to open classified into an error a user can act on.

use std::ffi::CString;
use std::io::Read;
use std::path::Path;
use std::ptr;

use ffmpeg_next::format::context::{Input, Output};
use ffmpeg_next::sys as ffi;
use ffmpeg_next::Packet;

use super::error::MediaError;

/// The path as FFmpeg's `file:` protocol URL, so names like `http:x.mp4` or `a|b.mp4` stay files.
pub(crate) fn file_url(path: &Path) -> Result<CString, MediaError> {
    let mut bytes = b"file:".to_vec();
    bytes.extend_from_slice(path_bytes(path).as_ref());
    CString::new(bytes).map_err(|_| MediaError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the path contains a NUL byte",
        ),
    })
}

#[cfg(unix)]
fn path_bytes(path: &Path) -> std::borrow::Cow<'_, [u8]> {
    use std::os::unix::ffi::OsStrExt;
    std::borrow::Cow::Borrowed(path.as_os_str().as_bytes())
}

#[cfg(not(unix))]
fn path_bytes(path: &Path) -> std::borrow::Cow<'_, [u8]> {
    std::borrow::Cow::Owned(path.to_string_lossy().into_owned().into_bytes())
}

/// Checks that the path is a non-empty regular file, with the reason when it is not.
pub(crate) fn check_readable_file(path: &Path) -> Result<u64, MediaError> {
    let meta = std::fs::metadata(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => MediaError::NotFound {
            path: path.to_path_buf(),
        },
        _ => MediaError::Io {
            path: path.to_path_buf(),
            source,
        },
    })?;
    if meta.is_dir() {
        return Err(MediaError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    if meta.len() == 0 {
        return Err(MediaError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    // Opening it ourselves gives a precise error (permission denied) that FFmpeg would blur.
    std::fs::File::open(path).map_err(|source| MediaError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(meta.len())
}

/// Demuxers that open further files named inside the one given: a crafted "video" of these
/// kinds could read any file the user can (and put it in an export). With what each is.
const REACHING_DEMUXERS: [(&str, &str); 4] = [
    ("hls", "an HLS playlist"),
    ("applehttp", "an HLS playlist"),
    ("dash", "a DASH manifest"),
    ("concat", "an FFmpeg concat list"),
];
/// The demuxer of pictures by file name, which also reads numbered siblings (`img%03d.png`):
/// a picture is refused as one before it can.
const IMAGE_FILES_DEMUXER: &str = "image2";

/// What FFmpeg's probe takes the file for, refused when it is one of [`REACHING_DEMUXERS`].
/// Probing reads the first bytes only; nothing the file names is opened yet.
unsafe fn probe_allowed_format(
    path: &Path,
    url: &CString,
) -> Result<*const ffi::AVInputFormat, MediaError> {
    let mut pb = ptr::null_mut();
    let opened = ffi::avio_open(&mut pb, url.as_ptr(), ffi::AVIO_FLAG_READ);
    if opened < 0 {
        return Err(MediaError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::from_raw_os_error(-opened),
        });
    }
    let mut format: *const ffi::AVInputFormat = ptr::null();
    let probed = ffi::av_probe_input_buffer2(pb, &mut format, url.as_ptr(), ptr::null_mut(), 0, 0);
    ffi::avio_closep(&mut pb);
    if probed < 0 || format.is_null() {
        return Err(classify_open_failure(
            path,
            ffmpeg_next::Error::from(probed),
        ));
    }
    let names = std::ffi::CStr::from_ptr((*format).name).to_string_lossy();
    for name in names.split(',') {
        if name == IMAGE_FILES_DEMUXER {
            return Err(MediaError::StillImage {
                path: path.to_path_buf(),
            });
        }
        if let Some((_, kind)) = REACHING_DEMUXERS.iter().find(|(n, _)| *n == name) {
            return Err(MediaError::ReachesOtherFiles {
                path: path.to_path_buf(),
                kind,
            });
        }
    }
    Ok(format)
}

/// Opens a media file for demuxing and reads its stream information: with the probed format
/// (once allowed) and the `file` protocol alone, so nothing inside it reaches the network or,
/// through another protocol, other files.
pub(crate) fn open_input(path: &Path) -> Result<Input, MediaError> {
    super::init();
    check_readable_file(path)?;
    let url = file_url(path)?;
    unsafe {
        let format = probe_allowed_format(path, &url)?;
        let mut options = ptr::null_mut();
        ffi::av_dict_set(
            &mut options,
            c"protocol_whitelist".as_ptr(),
            c"file".as_ptr(),
            0,
        );
        let mut ctx = ptr::null_mut();
        let opened = ffi::avformat_open_input(&mut ctx, url.as_ptr(), format, &mut options);
        ffi::av_dict_free(&mut options);
        if opened < 0 {
            return Err(classify_open_failure(
                path,
                ffmpeg_next::Error::from(opened),
            ));
        }
        let found = ffi::avformat_find_stream_info(ctx, ptr::null_mut());
        if found < 0 {
            ffi::avformat_close_input(&mut ctx);
            return Err(classify_open_failure(path, ffmpeg_next::Error::from(found)));
        }
        Ok(Input::wrap(ctx))
    }
}

/// Creates an output context of the given container format writing to `path`.
pub(crate) fn open_output(path: &Path, format_name: &str) -> Result<Output, MediaError> {
    super::init();
    let url = file_url(path)?;
    let format = CString::new(format_name).expect("format names have no NUL");
    unsafe {
        let mut ctx = ptr::null_mut();
        let allocated = ffi::avformat_alloc_output_context2(
            &mut ctx,
            ptr::null(),
            format.as_ptr(),
            url.as_ptr(),
        );
        if allocated < 0 || ctx.is_null() {
            return Err(MediaError::ffmpeg(path, "creating the output container")(
                ffmpeg_next::Error::from(allocated),
            ));
        }
        let opened = ffi::avio_open(&mut (*ctx).pb, url.as_ptr(), ffi::AVIO_FLAG_WRITE);
        if opened < 0 {
            ffi::avformat_free_context(ctx);
            let source = std::io::Error::from_raw_os_error(-opened);
            return Err(MediaError::destination(path, source.to_string()));
        }
        Ok(Output::wrap(ctx))
    }
}

/// FFmpeg says little more than "invalid data" when it cannot open a file. Looking at the first
/// bytes tells a damaged video (a truncated MP4) apart from something that is not media at all.
fn classify_open_failure(path: &Path, err: ffmpeg_next::Error) -> MediaError {
    let mut head = [0u8; 16];
    let read = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    match sniff_container(&head[..read]) {
        Some(container) => MediaError::Damaged {
            path: path.to_path_buf(),
            container,
            detail: err.to_string(),
        },
        None => MediaError::NotMedia {
            path: path.to_path_buf(),
        },
    }
}

/// Recognises common container signatures.
pub(crate) fn sniff_container(head: &[u8]) -> Option<&'static str> {
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    if at(4, b"ftyp") || at(4, b"moov") || at(4, b"mdat") || at(4, b"wide") || at(4, b"free") {
        Some("an MP4/QuickTime video")
    } else if at(0, &[0x1A, 0x45, 0xDF, 0xA3]) {
        Some("a Matroska/WebM video")
    } else if at(0, b"RIFF") {
        Some("a RIFF (AVI/WAV) file")
    } else if at(0, b"OggS") {
        Some("an Ogg file")
    } else if at(0, b"fLaC") {
        Some("a FLAC file")
    } else if at(0, b"ID3") || at(0, &[0xFF, 0xFB]) {
        Some("an MP3 file")
    } else if at(0, &[0x00, 0x00, 0x01, 0xBA]) {
        Some("an MPEG program stream")
    } else {
        None
    }
}

/// Reads `input`'s next packet into `packet`, releasing what `packet` held first.
/// ffmpeg-next's `Packet::read` hands the packet to `av_read_frame` as it is, and FFmpeg
/// expects a blank one: a packet reused across reads kept every buffer it had read
/// (rust-ffmpeg issue 260). Over an hour-long export that was the size of both files.
pub(crate) fn read_packet(
    packet: &mut Packet,
    input: &mut Input,
) -> Result<(), ffmpeg_next::Error> {
    *packet = Packet::empty();
    packet.read(input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ffmpeg_next::packet::Ref;

    #[test]
    fn sniffs_common_containers() {
        assert_eq!(
            sniff_container(b"\0\0\0\x20ftypisom\0\0\x02\0"),
            Some("an MP4/QuickTime video")
        );
        assert_eq!(
            sniff_container(&[0x1A, 0x45, 0xDF, 0xA3, 1, 2]),
            Some("a Matroska/WebM video")
        );
        assert_eq!(sniff_container(b"hello, this is text"), None);
        assert_eq!(sniff_container(b""), None);
    }

    #[test]
    fn reading_the_next_packet_releases_the_last_one() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/media/h264_aac.mp4");
        let mut input = open_input(&path).unwrap();
        let mut packet = Packet::empty();
        read_packet(&mut packet, &mut input).unwrap();
        // SAFETY: a second reference to the packet's buffer, released below.
        let mut held = unsafe { ffi::av_buffer_ref((*packet.as_ptr()).buf) };
        assert!(!held.is_null());
        assert_eq!(unsafe { ffi::av_buffer_get_ref_count(held) }, 2);
        read_packet(&mut packet, &mut input).unwrap();
        // Only our reference is left: the packet let go of the buffer it had.
        let count = unsafe { ffi::av_buffer_get_ref_count(held) };
        unsafe { ffi::av_buffer_unref(&mut held) };
        assert_eq!(count, 1);
    }

    #[test]
    fn urls_are_always_file_protocol() {
        let url = file_url(Path::new("http:evil.mp4")).unwrap();
        assert_eq!(url.to_bytes(), b"file:http:evil.mp4");
    }
}
