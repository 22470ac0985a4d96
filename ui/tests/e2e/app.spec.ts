import { expect, test, type Page } from "@playwright/test";
import type { MediaInfo } from "../../src/bindings";
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

function scenario(): Scenario {
  return {
    appInfo: { version: "0.1.0", device: "CPU", dataDir: "/home/me/.local/share/bgm-studio", gpuMemoryBytes: null, secondsPerStep: 41.5 },
    media: {
      "/videos/beach day.mp4": beach,
      "/videos/notes.mp4": {
        kind: "badInput",
        message: '"/videos/notes.mp4" is not a video or audio file that BGM Studio can read',
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
