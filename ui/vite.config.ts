import { defineConfig } from "vitest/config";

// The Tauri window loads the dev server on this fixed port (tauri.conf.json `devUrl`).
export default defineConfig({
  clearScreen: false,
  server: { port: 1420, strictPort: true, host: "127.0.0.1" },
  build: { target: "es2022", outDir: "dist", emptyOutDir: true },
  test: { include: ["tests/unit/**/*.test.ts"], environment: "node" },
});
