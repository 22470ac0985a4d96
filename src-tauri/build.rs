fn main() {
    detect_ffmpeg_side_data_api();
    tauri_build::build();
}

/// FFmpeg before 7 (libavformat 61) keeps the display matrix of a stream in the stream's side
/// data; later versions keep it in the codec parameters. The export code copies whichever exists.
fn detect_ffmpeg_side_data_api() {
    println!("cargo::rustc-check-cfg=cfg(ffmpeg_stream_side_data)");
    let version = std::process::Command::new("pkg-config")
        .args(["--modversion", "libavformat"])
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok());
    let major = version
        .as_deref()
        .and_then(|v| v.trim().split('.').next())
        .and_then(|m| m.parse::<u32>().ok());
    if major.is_some_and(|m| m < 61) {
        println!("cargo::rustc-cfg=ffmpeg_stream_side_data");
    }
}
