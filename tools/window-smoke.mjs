// Smoke test of the real window: tauri-driver starts the app through WebKitWebDriver, and the
// test reads the page the window shows and saves screenshots. Run under Xvfb on Linux:
//   xvfb-run -a node tools/window-smoke.mjs APP_BINARY SCREENSHOT_DIR
// 1. The empty window: title, drop zone, device line from a Rust command, drop listener.
// 2. The app started with `--open speech.mp4` (the front end opens it through the same command
//    a drop uses) and tiny models: the job view, the preview video playing from the loopback
//    server (readyState >= 2), the stages running to the end, the audition keys driving the
//    rodio player on an ALSA null device, and the export panel.
// 3. A first run on a machine without models: the job view lists what is needed, "Download and
//    continue" fetches the tiny models from a fake Hugging Face hub over HTTP (throttled, so the
//    rate shows and Cancel lands mid-file), Resume finishes it, and the stages run to the end.
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { catalogueFixtures, startFakeHub } from "./fake-hub.mjs";

const [app, shots = "target/window-screenshots"] = process.argv.slice(2);
if (!app) {
  console.error("usage: window-smoke.mjs APP_BINARY [SCREENSHOT_DIR]");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });
const root = resolve(new URL("..", import.meta.url).pathname);
let base = "http://127.0.0.1:4444";
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

/** A WebDriver session on the app, started with `args`. */
async function session(args) {
  const created = await call("POST", "/session", {
    capabilities: { alwaysMatch: { browserName: "wry", "tauri:options": { application: app, args } } },
  });
  const id = created.sessionId;
  const s = {
    id,
    find: async (css) => Object.values(await call("POST", `/session/${id}/element`, { using: "css selector", value: css }))[0],
    text: async (css) => call("GET", `/session/${id}/element/${await s.find(css)}/text`),
    attr: async (css, name) => call("GET", `/session/${id}/element/${await s.find(css)}/attribute/${name}`),
    run: (script, ...args) => call("POST", `/session/${id}/execute/sync`, { script, args }),
    click: async (css) => call("POST", `/session/${id}/element/${await s.find(css)}/click`, {}),
    keys: (key) =>
      call("POST", `/session/${id}/actions`, {
        actions: [{ type: "key", id: "keyboard", actions: [{ type: "keyDown", value: key }, { type: "keyUp", value: key }] }],
      }),
    shot: async (name) => {
      const png = await call("GET", `/session/${id}/screenshot`);
      const path = join(shots, `${name}.png`);
      writeFileSync(path, Buffer.from(png, "base64"));
      return path;
    },
    close: () => call("DELETE", `/session/${id}`).catch(() => {}),
  };
  return s;
}

/** Every folder this run makes lives under one scratch folder, removed at the end: the copied
 * models alone are 145 MB a run. */
const scratchRoot = mkdtempSync(join(tmpdir(), "bgm-window-smoke-"));
const scratch = (name) => mkdtempSync(join(scratchRoot, `${name}-`));

/** Tiny random models of the real architectures, with real whisper-base when it is built. */
function tinyModels() {
  const dir = scratch("models");
  const fixtures = join(root, "models/tests/fixtures");
  const whisper = process.env.BGM_WHISPER_BASE_DIR ?? join(fixtures, "whisper/tiny");
  cpSync(whisper, join(dir, "openai/whisper-base"), { recursive: true });
  cpSync(join(fixtures, "emotion"), join(dir, "j-hartmann/emotion-english-distilroberta-base"), { recursive: true });
  cpSync(join(fixtures, "riffusion/tiny-bin"), join(dir, "riffusion/riffusion-model-v1"), { recursive: true });
  return dir;
}

/** Audio output goes to ALSA's null device: CI machines have no sound card. */
function nullAudio() {
  const path = join(scratch("alsa"), "asound.conf");
  writeFileSync(path, "pcm.!default { type null }\nctl.!default { type hw card 0 }\n");
  return path;
}

/** Two diffusion steps: the tiny models make noise either way, and the run stays short. */
function quickSettings(data = process.env.BGM_DATA_DIR ?? scratch("data")) {
  mkdirSync(join(data, "config"), { recursive: true });
  writeFileSync(join(data, "config/settings.json"), JSON.stringify({ device: "cpu", steps: 2 }));
  return data;
}

const env = {
  ...process.env,
  BGM_DATA_DIR: quickSettings(),
  BGM_MODELS_DIR: tinyModels(),
  BGM_DEVICE: "cpu",
  HF_HUB_OFFLINE: "1",
  ALSA_CONFIG_PATH: process.env.ALSA_CONFIG_PATH ?? nullAudio(),
};
const driver = spawn("tauri-driver", ["--port", "4444"], { stdio: ["ignore", "inherit", "inherit"], env });
const results = [];
async function check(name, body) {
  let s;
  try {
    await body((created) => (s = created));
    results.push([name, null]);
    console.log(`ok   ${name}`);
  } catch (err) {
    results.push([name, err]);
    console.error(`FAIL ${name}: ${err.message}`);
    if (s) await s.shot(`${name}-failure`).catch(() => {});
  } finally {
    if (s) await s.close();
  }
}

try {
  await until("tauri-driver", async () => (await fetch(`${base}/status`)).ok);

  await check("empty-window", async (keep) => {
    const s = keep(await session([]));
    const title = await call("GET", `/session/${s.id}/title`);
    if (title !== "BGM Studio") throw new Error(`window title is "${title}"`);
    await until("the drop zone", async () => (await s.text("[data-testid=dropzone]")).includes("Drop a video here"));
    // The device line comes from a Rust command: it proves the IPC works under the real CSP.
    const device = await until("the device line", async () => {
      const t = await s.text(".device");
      return /^(CPU|CUDA|Metal) · v\d/.test(t) ? t : "";
    });
    await until("the drop listener", async () => (await s.attr("[data-testid=dropzone]", "data-listening")) === "true");
    console.log(`     device "${device}", screenshot ${await s.shot("1-empty")}`);
  });

  await check("job-view", async (keep) => {
    const video = join(root, "src-tauri/tests/fixtures/media/speech.mp4");
    const s = keep(await session(["--open", video]));
    await until("the job view", async () => (await s.text("[data-testid=media-card]")).includes("speech.mp4"), 30_000);
    const ready = await until(
      "the preview video (readyState >= 2)",
      async () => {
        const state = await s.run("const v = document.querySelector('[data-testid=preview-video]'); return v ? [v.readyState, v.currentSrc] : null;");
        return state && state[0] >= 2 ? state : null;
      },
      30_000,
    );
    if (!/^http:\/\/127\.0\.0\.1:\d+\/[0-9a-f]{32}\//.test(ready[1])) throw new Error(`video source ${ready[1]}`);
    console.log(`     preview video readyState ${ready[0]} from ${ready[1].replace(/[0-9a-f]{32}/, "<token>")}`);
    await until("a stage running", async () => (await s.run("return document.querySelectorAll('[data-state=running], [data-state=done]').length")) > 0);
    await sleep(1500);
    console.log(`     screenshot ${await s.shot("2-processing")}`);

    await until(
      "all seven stages done",
      async () => {
        const failed = await s.run("const f = document.querySelector('[data-state=failed] .stage-message'); return f ? f.textContent : null;");
        if (failed) throw new Error(`a stage failed: ${failed}`);
        return (await s.run("return document.querySelectorAll('[data-testid^=stage-][data-state=done]').length")) === 7;
      },
      600_000,
    );
    await until("four candidates", async () => (await s.run("return document.querySelectorAll('[data-testid=candidate] img').length")) === 4, 30_000);
    await until("the player", async () => {
      const error = await s.run("const e = document.querySelector('[data-testid=player-error]'); return e ? e.textContent : null;");
      if (error) throw new Error(error);
      return (await s.attr("[data-testid=play]", "disabled")) === null;
    });
    // The audition keys: 2 picks candidate 2, space plays; the clock moves.
    await s.run("document.activeElement && document.activeElement.blur && document.activeElement.blur();");
    await s.keys("2");
    await until("candidate 2 selected", async () => (await s.run("return document.querySelector('[data-testid=candidate][data-selected=true] kbd').textContent")) === "2");
    await s.keys(" ");
    const clock = await until("the clock to move", async () => {
      const t = await s.text("[data-testid=clock]");
      return t.startsWith("0:00.0") ? "" : t;
    }, 15_000);
    console.log(`     playing candidate 2, clock ${clock}; screenshot ${await s.shot("3-audition")}`);
    await s.keys(" ");
    await s.run("document.querySelector('[data-testid=export]').scrollIntoView({ block: 'center' });");
    await sleep(300);
    console.log(`     screenshot ${await s.shot("4-export")}`);
  });

  await check("first-run", async (keep) => {
    const hub = await startFakeHub({ models: catalogueFixtures(root) });
    hub.throttle(1_000_000);
    const fresh = {
      ...env,
      BGM_DATA_DIR: quickSettings(scratch("data")),
      BGM_MODELS_DIR: scratch("no-models"),
      HF_HOME: scratch("hf"),
      HF_ENDPOINT: hub.url,
    };
    delete fresh.HF_HUB_OFFLINE;
    const second = spawn("tauri-driver", ["--port", "4446", "--native-port", "4447"], { stdio: ["ignore", "inherit", "inherit"], env: fresh });
    base = "http://127.0.0.1:4446";
    let s;
    try {
      await until("the second tauri-driver", async () => (await fetch(`${base}/status`)).ok);
      s = keep(await session(["--open", join(root, "src-tauri/tests/fixtures/media/speech.mp4")]));
      const needed = await until("the models needed", async () => {
        const t = await s.text("[data-testid=models-needed]");
        return t.includes("Download and continue") ? t : "";
      }, 60_000);
      if (!needed.includes("3 models") || !needed.includes("whisper-base, emotion, riffusion")) throw new Error(`models needed: ${needed}`);
      await s.click("[data-testid=download-continue]");
      const rate = await until("the download rate", async () => {
        const t = await s.text("[data-testid=download-rate]");
        return t.includes("MB/s") ? t : "";
      }, 30_000);
      console.log(`     downloading: ${rate}; screenshot ${await s.shot("5-first-run-download")}`);
      await s.click("[data-testid=download-cancel]");
      await until("the download paused", async () => (await s.text("[data-testid=download-message]")).includes("paused"), 30_000);
      const resumedFrom = hub.requests.length;
      hub.throttle(null);
      await s.click("[data-testid=download-continue]");
      await until(
        "all seven stages done after the download",
        async () => {
          const failed = await s.run("const f = document.querySelector('[data-state=failed] .stage-message, [data-testid=download-message]'); return f ? f.textContent : null;");
          if (failed && !failed.includes("paused")) throw new Error(failed);
          return (await s.run("return document.querySelectorAll('[data-testid^=stage-][data-state=done]').length")) === 7;
        },
        600_000,
      );
      await until("the audition's four candidates", async () => (await s.run("return document.querySelectorAll('[data-testid=candidate] img').length")) === 4, 30_000);
      const ranged = hub.requests.slice(resumedFrom).filter((r) => r.range).length;
      if (ranged === 0) throw new Error("the resumed download asked for no byte range");
      console.log(`     ${hub.requests.length} requests to the fake hub, ${ranged} ranged after resume; screenshot ${await s.shot("6-first-run-done")}`);
    } finally {
      if (s) await s.close();
      base = "http://127.0.0.1:4444";
      second.kill();
      await hub.close();
    }
  });
} finally {
  driver.kill();
  // The app may still hold files under the scratch folder until tauri-driver has gone.
  if (driver.exitCode === null && driver.signalCode === null) await new Promise((resolve) => driver.once("exit", resolve));
  rmSync(scratchRoot, { recursive: true, force: true });
}
const failed = results.filter(([, err]) => err).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
