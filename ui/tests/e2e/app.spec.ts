import { expect, test } from "@playwright/test";
import type { Scenario } from "./harness";

const scenario: Scenario = {
  appInfo: { version: "0.1.0", device: "CPU", dataDir: "/home/me/.local/share/bgm-studio" },
  media: {
    "/videos/beach day.mp4": {
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
    },
    "/videos/notes.mp4": {
      kind: "badInput",
      message: '"/videos/notes.mp4" is not a video or audio file that BGM Studio can read',
    },
  },
};

test.beforeEach(async ({ page }) => {
  await page.addInitScript((s) => {
    window.__BGM_SCENARIO__ = s;
  }, scenario);
  await page.goto("/tests/e2e/harness.html");
  // Drops only arrive once the window listens for them.
  await expect(page.getByTestId("dropzone")).toHaveAttribute("data-listening", "true");
});

test("shows the device and invites a drop", async ({ page }) => {
  await expect(page.getByText("CPU · v0.1.0")).toBeVisible();
  await expect(page.getByTestId("dropzone")).toContainText("Drop a video here");
});

test("a dropped video is probed and described", async ({ page }) => {
  await page.evaluate(() => window.__dropFiles(["/videos/beach day.mp4"]));
  const card = page.getByTestId("media-card");
  await expect(card).toContainText("beach day.mp4");
  await expect(page.getByTestId("duration")).toHaveText("1:23");
  await expect(page.getByTestId("video")).toHaveText("H264 · 1080×1920 · 30 fps · rotated 90°");
  await expect(page.getByTestId("audio")).toHaveText("AAC · 48.0 kHz · stereo");
  const calls = await page.evaluate(() => window.__BGM_CALLS__.filter((c) => c.cmd === "probe_media"));
  expect(calls).toEqual([{ cmd: "probe_media", args: { path: "/videos/beach day.mp4" } }]);
});

test("a file that is not a video gets an inline message", async ({ page }) => {
  await page.evaluate(() => window.__dropFiles(["/videos/notes.mp4"]));
  const alert = page.getByRole("alert");
  await expect(alert).toContainText("notes.mp4 can’t be used.");
  await expect(alert).toContainText("is not a video or audio file");
  await expect(page.getByTestId("media-card")).toHaveCount(0);
  // The window still works: the next drop is read.
  await page.evaluate(() => window.__dropFiles(["/videos/beach day.mp4"]));
  await expect(page.getByTestId("media-card")).toBeVisible();
  await expect(page.getByRole("alert")).toHaveCount(0);
});
