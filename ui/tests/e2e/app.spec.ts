import { expect, test, type Page } from "@playwright/test";
import type { JobDetails, MediaInfo, StageView } from "../../src/bindings";
import type { Scenario } from "./harness";

const beach: MediaInfo = {
  path: "/videos/beach day.mp4",
  container: "mov,mp4,m4a,3gp,3g2,mj2",
  containerLongName: "QuickTime / MOV",
  durationSeconds: 83.2,
  sizeBytes: 48_300_000,
  videoStreams: [
    { index: 0, codec: "h264", width: 1920, height: 1080, fps: 30, rotationDegrees: 90, durationSeconds: 83.2 },
  ],
  audioStreams: [{ index: 1, codec: "aac", sampleRate: 48000, channels: 2, durationSeconds: 83.2, language: null }],
  metadata: {},
};

// A 2x2 grey JPEG is enough for the strip to render real <img> elements.
const tinyJpeg =
  "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/wAALCAACAAIBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAACf/EABQQAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQEAAD8AKp//2Q==";

const stages = (state: StageView["state"]): StageView[] =>
  (["decode", "separate", "transcribe", "emotions", "cuts", "plan", "generate", "mix"] as const).map((name) => ({
    name,
    // Separation is only needed when a mix keeps the speech alone: a finished job skipped it.
    state: name === "separate" && state === "done" ? "skipped" : state,
    seconds: state === "done" ? 2.5 : null,
    error: null,
  }));

// A 1x1 PNG stands in for the waveform previews.
const tinyPng =
  "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
const palettes = ["piano", "orchestral", "electronic", "band"];

const fresh: Omit<JobDetails, "job"> = {
  stages: stages("pending"),
  language: null,
  transcript: [],
  sections: [],
  cuts: [],
  candidates: palettes.map((palette, index) => ({ index, palette, ready: false, preview: null, loudnessLufs: null })),
  videoUrl: null,
  busy: false,
};

const finished: Omit<JobDetails, "job"> = {
  stages: stages("done"),
  language: "en",
  transcript: [
    { start: 0, end: 6, text: "What a wonderful surprise!", english: null },
    { start: 6, end: 12, text: "But our house is empty, and I miss you.", english: null },
  ],
  sections: [
    { start: 0, end: 6, emotion: "joy", detected: "joy", confidence: 0.81, description: "joyful", prompts: palettes.map((p) => `joyful ${p}`), snapped: false },
    { start: 6, end: 12, emotion: "sadness", detected: "sadness", confidence: 0.64, description: "sad", prompts: palettes.map((p) => `melancholic ${p}`), snapped: true },
  ],
  cuts: [2.4, 6, 9.5],
  candidates: palettes.map((palette, index) => ({ index, palette, ready: true, preview: tinyPng, loudnessLufs: -14.0 })),
  videoUrl: null,
  busy: false,
};

function scenario(): Scenario {
  return {
    fresh,
    finished: structuredClone(finished),
    finishedIds: ["0b6f4e3a-4c1d-4f7e-9a55-2d8c1e6b7f10"],
    stepMs: 40,
    runError: null,
    missing: [],
    exportPath: "/videos/beach day - music 2.mp4",
    playerError: null,
    settings: { device: "auto", whisperModel: "whisper-base", steps: null, originalAudio: "duck", musicLevelDb: 0, duckDepthDb: 12, duckMode: "spectral", engine: "auto" },
    models: [
      { name: "whisper-base", repo: "openai/whisper-base", kind: "whisper", state: "ready", bytesOnDisk: 290_403_936, expectedBytes: 290_403_936, path: "/cache/whisper-base", downloading: false, licence: null },
      { name: "whisper-small", repo: "openai/whisper-small", kind: "whisper", state: "missing", bytesOnDisk: 0, expectedBytes: 966_995_080, path: "/cache/whisper-small", downloading: false, licence: null },
      { name: "riffusion", repo: "riffusion/riffusion-model-v1", kind: "riffusion", state: "partial", bytesOnDisk: 1_000_000_000, expectedBytes: 4_265_000_000, path: "/cache/riffusion", downloading: false, licence: { name: "CreativeML OpenRAIL-M", url: "https://huggingface.co/riffusion/riffusion-model-v1", gated: false } },
    ],
    hubTokenSaved: false,
    appInfo: {
      version: "0.1.0",
      device: "cpu",
      deviceNote: "CUDA build, no NVIDIA driver found (libcuda): using the CPU",
      dataDir: "/home/me/.local/share/bgm-studio",
      gpuMemoryBytes: null,
      secondsPerStep: 41.5,
    },
    media: {
      "/videos/beach day.mp4": beach,
      "/videos/notes.mp4": {
        kind: "badInput",
        message: '"/videos/notes.mp4" is not a video or audio file that BGM Studio can read',
        missingModels: [],
      },
    },
    picked: "/videos/beach day.mp4",
    thumbnails: [0.5, 1.5, 2.5].map((t) => ({ timeSeconds: t * 10, dataUrl: tinyJpeg })),
    jobs: [
      {
        id: "0b6f4e3a-4c1d-4f7e-9a55-2d8c1e6b7f10",
        createdUnix: 1_700_000_000,
        input: "/videos/old trip.mov",
        media: { ...beach, path: "/videos/old trip.mov", durationSeconds: 12 },
      },
    ],
  };
}

async function shot(page: Page, name: string) {
  await page.screenshot({ path: `test-results/screens/${name}.png`, fullPage: true });
}

async function start(page: Page, s: Scenario = scenario()) {
  await page.addInitScript((value) => {
    window.__BGM_SCENARIO__ = value;
  }, s);
  await page.goto("/tests/e2e/harness.html");
  // Drops only arrive once the window listens for them.
  await expect(page.getByTestId("dropzone")).toHaveAttribute("data-listening", "true");
}

test("shows the device, invites a drop and lists past jobs", async ({ page }) => {
  await start(page);
  await expect(page.getByText("CPU · v0.1.0")).toBeVisible();
  await expect(page.getByTestId("dropzone")).toContainText("Drop a video here");
  await expect(page.getByTestId("history-item")).toHaveCount(1);
  await expect(page.getByTestId("history")).toContainText("old trip.mov");
});

test("a dropped video becomes a job with its facts and thumbnails", async ({ page }) => {
  await start(page);
  await page.evaluate(() => window.__dropFiles(["/videos/beach day.mp4"]));
  await expect(page.getByTestId("media-card")).toContainText("beach day.mp4");
  await expect(page.getByTestId("duration")).toHaveText("1:23");
  await expect(page.getByTestId("video")).toHaveText("H264 · 1080×1920 · 30 fps · rotated 90°");
  await expect(page.getByTestId("audio")).toHaveText("AAC · 48.0 kHz · stereo");
  await expect(page.getByTestId("thumbnails").locator("img")).toHaveCount(3);
  await expect(page.getByTestId("thumbnails")).toContainText("0:15");
  await expect(page.getByTestId("history-item")).toHaveCount(2);
  const opened = await page.evaluate(() => window.__BGM_CALLS__.filter((c) => c.cmd === "open_video"));
  expect(opened).toEqual([{ cmd: "open_video", args: { path: "/videos/beach day.mp4" } }]);
});

test("the file picker opens a video the same way", async ({ page }) => {
  await start(page);
  await page.getByRole("button", { name: "Open video…" }).click();
  await expect(page.getByTestId("media-card")).toContainText("beach day.mp4");
});

test("a cancelled file picker changes nothing", async ({ page }) => {
  await start(page, { ...scenario(), picked: null });
  await page.getByRole("button", { name: "Open video…" }).click();
  await expect(page.getByTestId("media-card")).toHaveCount(0);
  await expect(page.getByRole("alert")).toHaveCount(0);
});

test("a file that is not a video gets an inline message, and the next drop works", async ({ page }) => {
  await start(page);
  await page.evaluate(() => window.__dropFiles(["/videos/notes.mp4"]));
  const alert = page.getByRole("alert");
  await expect(alert).toContainText("notes.mp4 can’t be used.");
  await expect(alert).toContainText("is not a video or audio file");
  await expect(page.getByTestId("media-card")).toHaveCount(0);
  await page.evaluate(() => window.__dropFiles(["/videos/beach day.mp4"]));
  await expect(page.getByTestId("media-card")).toBeVisible();
  await expect(page.getByRole("alert")).toHaveCount(0);
});

test("a past job reopens, and deleting asks once more", async ({ page }) => {
  await start(page);
  await page.getByRole("button", { name: "old trip.mov", exact: true }).click();
  await expect(page.getByTestId("media-card")).toContainText("old trip.mov");
  await page.getByRole("button", { name: "Delete old trip.mov" }).click();
  await expect(page.getByTestId("history-item")).toHaveCount(1);
  await page.getByRole("button", { name: "Keep" }).click();
  await expect(page.getByTestId("history-item")).toHaveCount(1);
  await page.getByRole("button", { name: "Delete old trip.mov" }).click();
  await page.getByRole("button", { name: "Delete job" }).click();
  await expect(page.getByTestId("history-item")).toHaveCount(0);
  await expect(page.getByTestId("media-card")).toHaveCount(0);
  const deleted = await page.evaluate(() => window.__BGM_CALLS__.filter((c) => c.cmd === "delete_job"));
  expect(deleted).toEqual([{ cmd: "delete_job", args: { id: "0b6f4e3a-4c1d-4f7e-9a55-2d8c1e6b7f10" } }]);
});

test("a dropped video runs its stages with progress, then offers four candidates", async ({ page }) => {
  // Each stage runs for 3 steps of 400 ms (1.2 s): longer than expect's 1 s polls once they slow,
  // so the running state cannot fall between two of them (150 ms steps once did, in CI).
  await start(page, { ...scenario(), stepMs: 400 });
  await page.evaluate(() => window.__dropFiles(["/videos/beach day.mp4"]));
  await expect(page.getByTestId("stage-transcribe")).toHaveAttribute("data-state", "running");
  await expect(page.getByTestId("stage-decode")).toHaveAttribute("data-state", "done");
  await expect(page.getByTestId("stage-transcribe")).toContainText("s left");
  await expect(page.getByTestId("cancel")).toBeVisible();
  await shot(page, "processing");
  await expect(page.getByTestId("stage-mix")).toHaveAttribute("data-state", "done", { timeout: 30_000 });
  await expect(page.getByTestId("overall")).toHaveText("100%");
  await expect(page.getByTestId("candidate").locator("img")).toHaveCount(4);
  await expect(page.getByTestId("transcript-line")).toHaveCount(2);
  await expect(page.getByTestId("timeline-section")).toHaveCount(2);
  await expect(page.getByTestId("timeline-section").first()).toHaveAttribute("data-emotion", "joy");
  const runs = await page.evaluate(() => window.__BGM_CALLS__.filter((c) => c.cmd === "run_job").length);
  expect(runs).toBe(1);
});

test("audition: keys pick a candidate, play, and seek; switching keeps playing", async ({ page }) => {
  await start(page);
  await page.getByRole("button", { name: "old trip.mov", exact: true }).click();
  await expect(page.getByTestId("play")).toBeEnabled();
  await shot(page, "audition-1280x800");
  await page.setViewportSize({ width: 1920, height: 1080 });
  await shot(page, "audition-1920x1080");
  // The mouse picks a card; from then on the keys drive the player.
  await page.getByRole("radio", { name: /piano/ }).click();
  await page.keyboard.press("3");
  await expect(page.locator("[data-testid=candidate][data-selected=true]")).toContainText("electronic");
  await page.keyboard.press(" ");
  await expect(page.getByTestId("play")).toHaveText("Pause");
  await expect(page.getByTestId("clock")).not.toHaveText(/^0:00\.0 /, { timeout: 5000 });
  await page.keyboard.press("1");
  await expect(page.getByTestId("play")).toHaveText("Pause");
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press(" ");
  await expect(page.getByTestId("play")).toHaveText("Play");
  const calls = await page.evaluate(() =>
    window.__BGM_CALLS__.filter((c) => c.cmd.startsWith("player_") && c.cmd !== "player_state"),
  );
  const names = calls.map((c) => c.cmd);
  expect(names.slice(names.indexOf("player_load"))).toEqual([
    "player_load",
    "player_select",
    "player_select",
    "player_play",
    "player_select",
    "player_seek",
    "player_pause",
  ]);
  expect(calls.filter((c) => c.cmd === "player_select").map((c) => c.args)).toEqual([{ index: 0 }, { index: 2 }, { index: 0 }]);
  const seek = calls.find((c) => c.cmd === "player_seek")?.args as { seconds: number };
  expect(seek.seconds).toBeGreaterThan(5);
  // Typing in a prompt is not a shortcut.
  await page.getByTestId("prompt").first().locator("textarea").focus();
  await page.keyboard.press("2");
  await expect(page.locator("[data-testid=candidate][data-selected=true]")).toContainText("piano");
});

test("without an audio device the player says so and the rest works", async ({ page }) => {
  await start(page, { ...scenario(), playerError: "No audio output device could be opened: no card" });
  await page.getByRole("button", { name: "old trip.mov", exact: true }).click();
  await expect(page.getByTestId("player-error")).toContainText("No audio output device could be opened");
  await expect(page.getByTestId("play")).toBeDisabled();
  await page.getByTestId("transcript-line").nth(1).click();
  await expect(page.getByTestId("export-button")).toBeEnabled();
});

test("cancel stops a run, and resume continues it", async ({ page }) => {
  await start(page, { ...scenario(), stepMs: 200 });
  await page.evaluate(() => window.__dropFiles(["/videos/beach day.mp4"]));
  await expect(page.getByTestId("stage-decode")).toHaveAttribute("data-state", "running");
  await page.getByTestId("cancel").click();
  await expect(page.getByTestId("job-message")).toContainText("Cancelled");
  await expect(page.getByTestId("run")).toHaveText("Start");
  await page.getByTestId("run").click();
  await expect(page.getByTestId("stage-mix")).toHaveAttribute("data-state", "done", { timeout: 15_000 });
});

test("a failing stage shows its error in place", async ({ page }) => {
  await start(page, {
    ...scenario(),
    runError: { kind: "internal", message: "transcription failed: out of memory", missingModels: [] },
  });
  await page.evaluate(() => window.__dropFiles(["/videos/beach day.mp4"]));
  await expect(page.getByTestId("job-message")).toContainText("transcription failed: out of memory");
  await expect(page.getByTestId("run")).toBeVisible();
  await shot(page, "stage-error");
});

test("first run: the models a job needs, downloaded with progress, cancel and resume, then the run", async ({ page }) => {
  await start(page, {
    ...scenario(),
    stepMs: 400,
    missing: [
      { name: "whisper-base", repo: "openai/whisper-base", bytesToDownload: 290_000_000 },
      { name: "emotion", repo: "j-hartmann/emotion-english-distilroberta-base", bytesToDownload: 330_000_000 },
      { name: "riffusion", repo: "riffusion/riffusion-model-v1", bytesToDownload: 4_280_000_000 },
    ],
  });
  await page.evaluate(() => window.__dropFiles(["/videos/beach day.mp4"]));
  const panel = page.getByTestId("models-needed");
  await expect(panel).toContainText("3 models, 4.9 GB: whisper-base, emotion, riffusion");
  await expect(page.getByTestId("engine-choice")).toContainText("Stable Audio 3 Small");
  await expect(page.getByTestId("engine-choice")).toContainText("https://huggingface.co/stabilityai/stable-audio-3-small-music");
  await page.getByTestId("download-continue").click();
  await expect(page.getByTestId("download-progress")).toContainText("whisper-base (1 of 3)");
  await expect(page.getByTestId("download-rate")).toContainText("MB/s", { timeout: 5_000 });
  await expect(page.getByTestId("download-rate")).toContainText("left");
  await shot(page, "first-run-download");
  await page.getByTestId("download-cancel").click();
  await expect(page.getByTestId("download-message")).toContainText("paused");
  await page.getByTestId("download-continue").click();
  await expect(page.getByTestId("stage-mix")).toHaveAttribute("data-state", "done", { timeout: 30_000 });
  await expect(panel).toHaveCount(0);
  const downloads = await page.evaluate(() =>
    window.__BGM_CALLS__.filter((c) => c.cmd === "download_model").map((c) => (c.args as { name: string }).name),
  );
  expect(downloads).toEqual(["whisper-base", "whisper-base", "emotion", "riffusion"]);
});

test("the timeline shows the shot cuts and the boundaries that snapped to them", async ({ page }) => {
  await start(page);
  await page.getByRole("button", { name: "old trip.mov", exact: true }).click();
  await expect(page.getByTestId("cut-tick")).toHaveCount(3);
  await expect(page.getByTestId("timeline-section").nth(1)).toHaveAttribute("data-snapped", "true");
  await expect(page.getByTestId("timeline-section").nth(0)).toHaveAttribute("data-snapped", "false");
  await shot(page, "timeline-cuts");
});

test("the ducking mode is chosen in the export panel and re-mixes", async ({ page }) => {
  await start(page, { ...scenario(), stepMs: 40 });
  await page.getByRole("button", { name: "old trip.mov", exact: true }).click();
  await expect(page.getByTestId("duck-mode")).toHaveValue("spectral");
  await page.getByTestId("duck-mode").selectOption("gain");
  await page.getByTestId("remix").click();
  await expect(page.getByTestId("remix")).toBeDisabled();
  const saved = await page.evaluate(() => window.__BGM_CALLS__.filter((c) => c.cmd === "save_settings").map((c) => c.args));
  expect(saved).toEqual([
    { settings: { device: "auto", whisperModel: "whisper-base", steps: null, originalAudio: "duck", musicLevelDb: 0, duckDepthDb: 12, duckMode: "gain", engine: "auto" } },
  ]);
  await page.getByTestId("original-audio").selectOption("speech");
  await expect(page.getByTestId("duck-mode")).toBeEnabled();
  await expect(page.getByTestId("duck-depth")).toBeEnabled();
  await page.getByTestId("original-audio").selectOption("replace");
  await expect(page.getByTestId("duck-mode")).toBeDisabled();
});

test("export: the save dialog, progress, then show in folder", async ({ page }) => {
  await start(page, { ...scenario(), stepMs: 150 });
  await page.getByRole("button", { name: "old trip.mov", exact: true }).click();
  await expect(page.getByTestId("play")).toBeEnabled();
  await page.keyboard.press("2");
  await expect(page.getByTestId("export-button")).toHaveText("Export with candidate 2…");
  await page.getByTestId("export-button").click();
  await expect(page.getByTestId("export-progress")).toBeVisible();
  await shot(page, "export-progress");
  await expect(page.getByTestId("export-done")).toContainText("/videos/beach day - music 2.mp4");
  await shot(page, "export-done");
  await page.getByRole("button", { name: "Show in folder" }).click();
  const calls = await page.evaluate(() =>
    window.__BGM_CALLS__.filter((c) => ["pick_export_path", "export_job", "show_in_folder"].includes(c.cmd)),
  );
  expect(calls.map((c) => c.cmd)).toEqual(["pick_export_path", "export_job", "show_in_folder"]);
  expect(calls[1]?.args).toMatchObject({ candidate: 1, dest: "/videos/beach day - music 2.mp4" });
});

test("a cancelled save dialog exports nothing", async ({ page }) => {
  await start(page, { ...scenario(), exportPath: null });
  await page.getByRole("button", { name: "old trip.mov", exact: true }).click();
  await page.getByTestId("export-button").click();
  await expect(page.getByTestId("export-button")).toBeVisible();
  const exports = await page.evaluate(() => window.__BGM_CALLS__.filter((c) => c.cmd === "export_job").length);
  expect(exports).toBe(0);
});

test("a section's emotion and a prompt can be changed", async ({ page }) => {
  await start(page);
  await page.getByRole("button", { name: "old trip.mov", exact: true }).click();
  await page.getByTestId("section-emotion").nth(1).selectOption("fear");
  await expect(page.getByTestId("timeline-section").nth(1)).toHaveAttribute("data-emotion", "fear");
  const prompt = page.getByTestId("prompt").first();
  await prompt.locator("textarea").fill("gentle music box, slow");
  await prompt.getByRole("button", { name: "Save prompt" }).click();
  await expect(page.getByTestId("job-message")).toContainText("Run again");
  const edits = await page.evaluate(() =>
    window.__BGM_CALLS__.filter((c) => c.cmd === "set_section_emotion" || c.cmd === "set_prompt").map((c) => c.args),
  );
  expect(edits).toEqual([
    { id: "0b6f4e3a-4c1d-4f7e-9a55-2d8c1e6b7f10", section: 1, emotion: "fear" },
    { id: "0b6f4e3a-4c1d-4f7e-9a55-2d8c1e6b7f10", section: 0, candidate: 0, prompt: "gentle music box, slow" },
  ]);
});

test("models and settings: states, the CPU warning with the measured step time, choices saved", async ({ page }) => {
  await start(page);
  await page.getByRole("button", { name: "Models & settings" }).click();
  await expect(page.getByTestId("cpu-warning")).toContainText("41.5 s per diffusion step");
  await expect(page.getByTestId("device-note")).toHaveText("CUDA build, no NVIDIA driver found (libcuda): using the CPU.");
  await expect(page.getByTestId("model-row")).toHaveCount(3);
  await expect(page.getByTestId("model-row").nth(2)).toContainText("Resume download");
  await page.getByTestId("whisper-model").selectOption("whisper-small");
  await expect(page.getByRole("status")).toContainText("Saved");
  await shot(page, "settings");
  const saved = await page.evaluate(() => window.__BGM_CALLS__.filter((c) => c.cmd === "save_settings").map((c) => c.args));
  expect(saved).toEqual([
    { settings: { device: "auto", whisperModel: "whisper-small", steps: null, originalAudio: "duck", musicLevelDb: 0, duckDepthDb: 12, duckMode: "spectral", engine: "auto" } },
  ]);
  await page.getByTestId("engine").selectOption("stable-audio");
  await expect
    .poll(() => page.evaluate(() => window.__BGM_CALLS__.filter((c) => c.cmd === "save_settings").length))
    .toBe(2);
  const engine = await page.evaluate(() => window.__BGM_CALLS__.filter((c) => c.cmd === "save_settings")[1]?.args);
  expect(engine).toEqual({
    settings: { device: "auto", whisperModel: "whisper-small", steps: null, originalAudio: "duck", musicLevelDb: 0, duckDepthDb: 12, duckMode: "spectral", engine: "stable-audio" },
  });
  // The engines' licences, and a token saved without ever being shown back.
  await expect(page.getByTestId("model-licence")).toContainText("CreativeML OpenRAIL-M");
  await page.getByTestId("hub-token-input").fill("hf_test_token");
  await page.getByRole("button", { name: "Save token" }).click();
  await expect(page.getByRole("status")).toContainText("Token saved");
  await expect(page.getByTestId("hub-token-input")).toHaveValue("");
  await expect(page.getByTestId("hub-token-input")).toHaveAttribute("placeholder", "A token is saved");
  const tokens = await page.evaluate(() => window.__BGM_CALLS__.filter((c) => c.cmd === "set_hub_token").map((c) => c.args));
  expect(tokens).toEqual([{ token: "hf_test_token" }]);
  await page.getByTestId("hub-token-remove").click();
  await expect(page.getByRole("status")).toContainText("Token removed");
});
