import { describe, expect, it } from "vitest";
import type { DownloadProgressView, MissingModel } from "../../src/bindings";
import { RateMeter, bytesLeft, describeMissing, formatRate } from "../../src/logic/download";

const models: MissingModel[] = [
  { name: "whisper-base", repo: "openai/whisper-base", bytesToDownload: 290_000_000 },
  { name: "emotion", repo: "j-hartmann/emotion-english-distilroberta-base", bytesToDownload: 330_000_000 },
  { name: "riffusion", repo: "riffusion/riffusion-model-v1", bytesToDownload: 4_280_000_000 },
];

function progress(model: string, done: number, total: number): DownloadProgressView {
  return { model, file: "model.safetensors", fileDone: done, fileTotal: total, done, total, stage: "transferring" };
}

describe("first-run downloads", () => {
  it("says what is needed in one line", () => {
    expect(describeMissing(models)).toBe("3 models, 4.9 GB: whisper-base, emotion, riffusion");
    expect(describeMissing(models.slice(1, 2))).toBe("1 model, 0.3 GB: emotion");
  });

  it("counts what is left of this model and all later ones", () => {
    expect(bytesLeft(models, 0, null)).toBe(4_900_000_000);
    expect(bytesLeft(models, 1, progress("emotion", 30_000_000, 330_000_000))).toBe(300_000_000 + 4_280_000_000);
    // Progress of another model (a late event) does not count against this one.
    expect(bytesLeft(models, 2, progress("emotion", 1, 2))).toBe(4_280_000_000);
    expect(bytesLeft(models, 3, null)).toBe(0);
  });

  it("measures the rate over a sliding window and restarts with a new model", () => {
    const meter = new RateMeter(5000);
    meter.add(0, 0);
    expect(meter.bytesPerSecond()).toBeNull();
    meter.add(2000, 20_000_000);
    expect(meter.bytesPerSecond()).toBe(10_000_000);
    meter.add(10_000, 20_000_000);
    expect(meter.bytesPerSecond()).toBe(0);
    meter.add(11_000, 5);
    expect(meter.bytesPerSecond()).toBeNull();
    expect(formatRate(12_345_678)).toBe("12.3 MB/s");
    expect(formatRate(null)).toBe("");
  });
});
