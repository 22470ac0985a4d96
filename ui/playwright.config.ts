import { defineConfig } from "@playwright/test";

// Browser tests of the front end in Debian's Chromium, with the Tauri IPC mocked
// (tests/e2e/harness.ts). The real window is covered by the tauri-driver smoke test.
const port = 1421;

export default defineConfig({
  testDir: "tests/e2e",
  fullyParallel: false,
  workers: 1,
  reporter: [["list"]],
  timeout: 30_000,
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    // The smallest window the layout is designed for; one test also checks 1920x1080.
    viewport: { width: 1280, height: 800 },
    launchOptions: {
      executablePath: process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  webServer: {
    command: `npx vite --port ${port} --strictPort --host 127.0.0.1`,
    url: `http://127.0.0.1:${port}/tests/e2e/harness.html`,
    reuseExistingServer: false,
    timeout: 60_000,
  },
});
