import { describe, expect, it } from "vitest";
import type { MediaInfo } from "../../src/bindings";
import {
  describeAudio,
  describeVideo,
  displaySize,
  fileName,
  formatBytes,
  formatCreated,
  formatDuration,
} from "../../src/format";

const sample: MediaInfo = {
  path: "/videos/holiday clip.mp4",
  container: "mov,mp4,m4a,3gp,3g2,mj2",
  containerLongName: "QuickTime / MOV",
  durationSeconds: 65.4,
  sizeBytes: 1_400_000,
  videoStreams: [
    { index: 0, codec: "h264", width: 1920, height: 1080, fps: 29.97002997, rotationDegrees: 90, durationSeconds: 65.4 },
  ],
  audioStreams: [{ index: 1, codec: "aac", sampleRate: 48000, channels: 2, durationSeconds: 65.4, language: "eng" }],
  metadata: {},
};

describe("formatDuration", () => {
  it("shows minutes and seconds, hours when needed, tenths for short clips", () => {
    expect(formatDuration(65.4)).toBe("1:05");
    expect(formatDuration(3723)).toBe("1:02:03");
    expect(formatDuration(4.52)).toBe("0:04.5");
    expect(formatDuration(Number.NaN)).toBe("–");
    expect(formatDuration(null)).toBe("–");
  });
});

describe("formatBytes", () => {
  it("uses decimal units with sensible precision", () => {
    expect(formatBytes(812)).toBe("812 B");
    expect(formatBytes(1_400_000)).toBe("1.40 MB");
    expect(formatBytes(2_100_000_000)).toBe("2.10 GB");
    expect(formatBytes(123_456_789)).toBe("123.5 MB");
  });
});

describe("stream descriptions", () => {
  it("swaps width and height of a rotated phone video", () => {
    const video = sample.videoStreams[0];
    if (!video) throw new Error("fixture has a video stream");
    expect(displaySize(video)).toEqual({ width: 1080, height: 1920 });
    expect(describeVideo(sample)).toBe("H264 · 1080×1920 · 29.97 fps · rotated 90°");
  });

  it("describes audio, and its absence", () => {
    expect(describeAudio(sample)).toBe("AAC · 48.0 kHz · stereo");
    expect(describeAudio({ ...sample, audioStreams: [] })).toMatch(/No audio track/);
  });

  it("takes the file name from POSIX and Windows paths", () => {
    expect(fileName(sample.path)).toBe("holiday clip.mp4");
    expect(fileName("C:\\Users\\me\\clip.mov")).toBe("clip.mov");
  });
});

describe("formatCreated", () => {
  const now = new Date(2026, 10, 28, 15, 0);
  it("says today and yesterday with the time, and the date before that", () => {
    expect(formatCreated(new Date(2026, 10, 28, 9, 5).getTime() / 1000, now)).toBe("today 09:05");
    expect(formatCreated(new Date(2026, 10, 27, 23, 59).getTime() / 1000, now)).toBe("yesterday 23:59");
    expect(formatCreated(new Date(2026, 10, 3, 12, 0).getTime() / 1000, now)).toBe("3 Nov 2026");
  });
});
