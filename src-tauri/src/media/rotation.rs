//! Display rotation of phone videos, from the stream's display matrix.

use ffmpeg_next::codec::packet::side_data::Type as SideDataType;
use ffmpeg_next::Stream;

/// The clockwise rotation (0, 90, 180, 270) a player applies to show the picture upright.
pub(crate) fn stream_rotation_degrees(stream: &Stream) -> u32 {
    stream
        .side_data()
        .find(|sd| sd.kind() == SideDataType::DisplayMatrix)
        .and_then(|sd| rotation_from_display_matrix(sd.data()))
        .unwrap_or(0)
}

/// The display matrix is nine 32-bit values, the first ones in 16.16 fixed point. FFmpeg's
/// `av_display_rotation_get` reports the negated angle of its first row; players rotate the
/// picture clockwise by that row's angle.
pub(crate) fn rotation_from_display_matrix(bytes: &[u8]) -> Option<u32> {
    if bytes.len() < 36 {
        return None;
    }
    let value = |i: usize| i32::from_ne_bytes(bytes[i * 4..i * 4 + 4].try_into().unwrap()) as f64;
    let (a, b, c, d) = (value(0), value(1), value(3), value(4));
    let scale_x = a.hypot(c);
    let scale_y = b.hypot(d);
    if scale_x == 0.0 || scale_y == 0.0 {
        return None;
    }
    let clockwise = (b / scale_y).atan2(a / scale_x).to_degrees();
    // Snap to the nearest quarter turn; other angles do not occur in real files.
    let quarter = ((clockwise / 90.0).round() as i64).rem_euclid(4);
    Some((quarter * 90) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(values: [i32; 9]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_ne_bytes()).collect()
    }

    #[test]
    fn identity_is_upright() {
        let m = matrix([1 << 16, 0, 0, 0, 1 << 16, 0, 0, 0, 1 << 30]);
        assert_eq!(rotation_from_display_matrix(&m), Some(0));
    }

    #[test]
    fn phone_portrait_is_ninety_degrees() {
        // What phones write for a portrait recording (ffprobe: "rotation of -90.00 degrees").
        let m = matrix([0, 1 << 16, 0, -(1 << 16), 0, 0, 0, 0, 1 << 30]);
        assert_eq!(rotation_from_display_matrix(&m), Some(90));
        let m = matrix([0, -(1 << 16), 0, 1 << 16, 0, 0, 0, 0, 1 << 30]);
        assert_eq!(rotation_from_display_matrix(&m), Some(270));
    }

    #[test]
    fn short_data_is_ignored() {
        assert_eq!(rotation_from_display_matrix(&[0; 8]), None);
    }
}
