// Smoke test of the real window: tauri-driver starts the app through WebKitWebDriver, and the
// test reads the page the window shows and saves a screenshot. Run under Xvfb on Linux:
//   xvfb-run -a node tools/window-smoke.mjs target/debug/bgm-studio out.png
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";

const [app, screenshotPath = "window.png"] = process.argv.slice(2);
if (!app) {
  console.error("usage: window-smoke.mjs APP_BINARY [SCREENSHOT.png]");
  process.exit(2);
}
const base = "http://127.0.0.1:4444";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function call(method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${JSON.stringify(json.value ?? json)}`);
  return json.value;
}

async function until(what, probe, timeoutMs = 60_000) {
  const start = Date.now();
  let last;
  while (Date.now() - start < timeoutMs) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
}

const driver = spawn("tauri-driver", ["--port", "4444"], { stdio: ["ignore", "inherit", "inherit"] });
let session;
let failed = false;
try {
  await until("tauri-driver", async () => (await fetch(`${base}/status`)).ok);
  const created = await call("POST", "/session", {
    capabilities: { alwaysMatch: { browserName: "wry", "tauri:options": { application: app } } },
  });
  session = created.sessionId;
  const find = async (css) => {
    const el = await call("POST", `/session/${session}/element`, { using: "css selector", value: css });
    return Object.values(el)[0];
  };
  const text = async (css) => call("GET", `/session/${session}/element/${await find(css)}/text`);

  const title = await call("GET", `/session/${session}/title`);
  if (title !== "BGM Studio") throw new Error(`window title is "${title}"`);
  await until("the drop zone", async () => (await text("[data-testid=dropzone]")).includes("Drop a video here"));
  // The device line comes from a Rust command: it proves the IPC works under the real CSP.
  const device = await until("the device line", async () => {
    const t = await text(".device");
    return /^(CPU|CUDA|Metal) · v\d/.test(t) ? t : "";
  });
  const listening = await until("the drop listener", async () => {
    const el = await find("[data-testid=dropzone]");
    return (await call("GET", `/session/${session}/element/${el}/attribute/data-listening`)) === "true";
  });
  const png = await call("GET", `/session/${session}/screenshot`);
  writeFileSync(screenshotPath, Buffer.from(png, "base64"));
  console.log(`window ok: title "${title}", device "${device}", drop listener ${listening}, screenshot ${screenshotPath}`);
} catch (err) {
  failed = true;
  console.error(`window smoke test failed: ${err.message}`);
} finally {
  if (session) await call("DELETE", `/session/${session}`).catch(() => {});
  driver.kill();
}
console.log(failed ? "0 passed, 1 failed" : "1 passed, 0 failed");
process.exit(failed ? 1 : 0);
