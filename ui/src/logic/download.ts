// First-run downloads: how much is left over every missing model, how fast it arrives, and
// when it will be done.
import type { DownloadProgressView, MissingModel } from "../bindings";
import { num } from "../format";

/** "3 models, 4.9 GB: whisper-base, emotion, riffusion". */
export function describeMissing(models: readonly MissingModel[]): string {
  const bytes = models.reduce((sum, m) => sum + m.bytesToDownload, 0);
  const count = models.length === 1 ? "1 model" : `${models.length} models`;
  return `${count}, ${(bytes / 1e9).toFixed(1)} GB: ${models.map((m) => m.name).join(", ")}`;
}

/** Bytes still to come: the rest of the model downloading now, and all of the ones after it. */
export function bytesLeft(models: readonly MissingModel[], current: number, progress: DownloadProgressView | null): number {
  const later = models.slice(current + 1).reduce((sum, m) => sum + m.bytesToDownload, 0);
  const now = models[current];
  if (!now) return later;
  const total = num(progress?.total);
  const rest = progress && progress.model === now.name && total > 0 ? total - num(progress.done) : now.bytesToDownload;
  return Math.max(0, rest) + later;
}

/** A transfer rate over a sliding window of samples, so a stall shows within seconds. */
export class RateMeter {
  private samples: { at: number; bytes: number }[] = [];

  constructor(private readonly windowMs = 5000) {}

  /** `bytes` is a running total; it may restart (a new model), which starts a new window. */
  add(at: number, bytes: number): void {
    const last = this.samples[this.samples.length - 1];
    if (last && bytes < last.bytes) this.samples = [];
    this.samples.push({ at, bytes });
    while (this.samples.length > 2 && at - (this.samples[0]?.at ?? at) > this.windowMs) this.samples.shift();
  }

  /** Bytes per second, or null before there is a second's worth of samples. */
  bytesPerSecond(): number | null {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.at - first.at < 1000) return null;
    return ((last.bytes - first.bytes) * 1000) / (last.at - first.at);
  }
}

/** "12.3 MB/s". */
export function formatRate(bytesPerSecond: number | null): string {
  if (bytesPerSecond === null || !Number.isFinite(bytesPerSecond)) return "";
  return `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`;
}
