// Formatting of media facts for people: durations, sizes, stream summaries.
import type { DeviceKind, MediaInfo, VideoStreamInfo } from "./bindings";

/** Rust's f64 arrives as `number | null` (JSON has no NaN): a usable number or the fallback. */
export function num(value: number | null | undefined, fallback = 0): number {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}

/** "1:05", "1:02:03", or "0:04.5" for clips under ten seconds. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return "–";
  if (seconds < 10) return `0:0${seconds.toFixed(1)}`;
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** The device as people name it. */
export function deviceLabel(device: DeviceKind): string {
  const labels: Record<DeviceKind, string> = { cpu: "CPU", cuda: "CUDA", metal: "Metal" };
  return labels[device];
}

/** The option of a `<select>` whose values are all `options`: typed again, or undefined. */
export function oneOf<T extends string>(options: readonly T[], value: string): T | undefined {
  return options.find((option) => option === value);
}

/** "812 B", "1.4 MB", "2.10 GB" (decimal units, as file managers show). */
export function formatBytes(bytes: number | null): string {
  if (bytes === null || !Number.isFinite(bytes) || bytes < 0) return "–";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 ? 0 : value < 10 ? 2 : 1;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

/** The picture size as shown, after the rotation phones record. */
export function displaySize(video: VideoStreamInfo): { width: number; height: number } {
  const sideways = video.rotationDegrees % 180 === 90;
  return sideways
    ? { width: video.height, height: video.width }
    : { width: video.width, height: video.height };
}

/** One line per stream kind, e.g. "H264 · 1920×1080 · 29.97 fps". */
export function describeVideo(info: MediaInfo): string {
  const video = info.videoStreams[0];
  if (!video) return "No video track";
  const { width, height } = displaySize(video);
  const fps = video.fps !== null && video.fps > 0 ? ` · ${Number(video.fps.toFixed(2))} fps` : "";
  const rotated = video.rotationDegrees !== 0 ? ` · rotated ${video.rotationDegrees}°` : "";
  return `${video.codec.toUpperCase()} · ${width}×${height}${fps}${rotated}`;
}

export function describeAudio(info: MediaInfo): string {
  const audio = info.audioStreams[0];
  if (!audio) return "No audio track: the whole video gets one mood";
  const layout = audio.channels === 1 ? "mono" : audio.channels === 2 ? "stereo" : `${audio.channels} channels`;
  return `${audio.codec.toUpperCase()} · ${(audio.sampleRate / 1000).toFixed(1)} kHz · ${layout}`;
}

/** The file name of a path from any platform. */
export function fileName(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] || path;
}

/** "today 14:05", "yesterday 09:30", or "3 Nov 2026" for older dates. */
export function formatCreated(unixSeconds: number, now: Date = new Date()): string {
  const date = new Date(unixSeconds * 1000);
  const time = `${String(date.getHours()).padStart(2, "0")}:${String(date.getMinutes()).padStart(2, "0")}`;
  const startOfDay = (d: Date) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const days = Math.round((startOfDay(now) - startOfDay(date)) / 86_400_000);
  if (days === 0) return `today ${time}`;
  if (days === 1) return `yesterday ${time}`;
  const month = date.toLocaleString("en", { month: "short" });
  return `${date.getDate()} ${month} ${date.getFullYear()}`;
}
