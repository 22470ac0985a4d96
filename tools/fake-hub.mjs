// A fake Hugging Face hub on 127.0.0.1 for the first-run tests (the window smoke test and
// tests/first_run.rs): the app downloads tiny models through its real downloader (hf-hub 1 plus
// models/src/weights) when started with HF_ENDPOINT=<url>. It answers what
// models/tests/weights_hub/mod.rs answers:
//   HEAD|GET /{org}/{name}/resolve/{revision}/{path}
//     small files: 200, ETag "<git blob id>", X-Repo-Commit, Content-Length.
//     weights (.bin, .safetensors): 302 to {url}/cdn/{sha256} with X-Linked-Etag "<sha256>",
//       X-Linked-Size and X-Repo-Commit (the downloader names the blob and checks the sha256
//       from X-Linked-Etag; for small files it checks the git blob id from ETag).
//     unknown file: 404 X-Error-Code: EntryNotFound (+ X-Repo-Commit); unknown repo or
//       revision: 404 RepoNotFound / RevisionNotFound.
//   HEAD|GET /cdn/{sha256}: the bytes, with Range: bytes=N- (206 + Content-Range) for resumes.
// Standalone: node tools/fake-hub.mjs [BYTES_PER_SECOND] serves catalogueFixtures(repo root).
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, readdir, stat } from "node:fs/promises";
import { createServer } from "node:http";
import { join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** Hashes a file in one streamed pass: sha256 (LFS etag) and git blob id (small-file etag). */
async function hashFile(abs, size) {
  const sha256 = createHash("sha256");
  const blob = createHash("sha1").update(`blob ${size}\0`);
  for await (const chunk of createReadStream(abs)) {
    sha256.update(chunk);
    blob.update(chunk);
  }
  return { sha256: sha256.digest("hex"), blobId: blob.digest("hex") };
}

async function listFiles(dir) {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name));
}

// Weights go through LFS on the real hub, so they take the redirect path like there.
const isLfs = (path) => /\.(bin|safetensors|pt|ckpt|onnx|msgpack|h5)$/.test(path);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function startFakeHub({ models, port = 0 }) {
  const repos = new Map(); // repo -> { revision, files: Map(path -> file) }
  const bySha = new Map(); // sha256 -> file, for the CDN route
  for (const { repo, revision, dir } of models) {
    const files = new Map();
    for (const abs of await listFiles(dir)) {
      const path = relative(dir, abs).split(sep).join("/");
      const { size } = await stat(abs);
      const file = { abs, size, lfs: isLfs(path), ...(await hashFile(abs, size)) };
      files.set(path, file);
      if (file.lfs) bySha.set(file.sha256, file);
    }
    repos.set(repo, { revision, files });
  }

  let rate = null; // bytes per second; null = full speed
  const requests = [];

  /** Streams `file` from `start` (to `end` inclusive), pacing by `rate`, stopping when the client goes. */
  async function sendBody(res, file, start, end) {
    const handle = await open(file.abs, "r");
    try {
      let pos = start;
      while (pos <= end && !res.destroyed) {
        const limit = rate;
        // Small chunks when throttled (about 10 a second) so progress moves smoothly.
        const want = Math.min(limit ? Math.max(1024, Math.floor(limit / 10)) : 256 * 1024, end - pos + 1);
        const { bytesRead, buffer } = await handle.read(Buffer.alloc(want), 0, want, pos);
        if (bytesRead === 0 || res.destroyed) break;
        pos += bytesRead;
        if (!res.write(buffer.subarray(0, bytesRead))) {
          await new Promise((r) => {
            if (res.destroyed) return r();
            const done = () => (res.off("drain", done), res.off("close", done), r());
            res.on("drain", done).on("close", done);
          });
        }
        if (limit) await sleep((bytesRead / limit) * 1000);
      }
    } finally {
      await handle.close();
    }
    res.end();
  }

  /** 200 or 206 for `Range: bytes=N-` / `bytes=N-M`, as the CDN (and hub for small files) do. */
  async function sendFile(req, res, file, headers) {
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    let start = 0;
    let end = file.size - 1;
    let status = 200;
    if (m) {
      start = Number(m[1]);
      if (m[2]) end = Math.min(end, Number(m[2]));
      if (start > file.size) {
        res.writeHead(416, { "Content-Range": `bytes */${file.size}`, "Content-Length": 0 }).end();
        return;
      }
      status = 206;
      headers["Content-Range"] = `bytes ${start}-${Math.max(end, start - 1)}/${file.size}`;
    }
    const length = Math.max(0, end - start + 1);
    res.writeHead(status, { ...headers, "Accept-Ranges": "bytes", "Content-Length": length });
    if (req.method === "HEAD" || length === 0) return void res.end();
    await sendBody(res, file, start, end);
  }

  function notFound(res, code, what, extra = {}) {
    // Loud on purpose: a drifted catalogue revision or file list shows up here.
    console.error(`fake-hub: 404 ${code} for ${what}`);
    res.writeHead(404, { "X-Error-Code": code, "Content-Length": 0, ...extra }).end();
  }

  async function handle(req, res) {
    const path = req.url.split("?")[0];
    requests.push({ method: req.method, path, range: req.headers.range ?? null });
    if (req.method !== "GET" && req.method !== "HEAD") return void res.writeHead(405).end();

    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(path);
    if (cdn) {
      const file = bySha.get(cdn[1]);
      if (!file) return notFound(res, "EntryNotFound", `cdn blob ${cdn[1]}`);
      return sendFile(req, res, file, {});
    }

    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    if (!m) return notFound(res, "RepoNotFound", `unknown route ${req.method} ${path}`);
    const [repoId, revision, filePath] = [m[1], decodeURIComponent(m[2]), m[3].split("/").map(decodeURIComponent).join("/")];
    const repo = repos.get(repoId);
    const asked = `repo=${repoId} revision=${revision} path=${filePath}`;
    if (!repo) return notFound(res, "RepoNotFound", asked);
    if (revision !== repo.revision && revision !== "main") {
      return notFound(res, "RevisionNotFound", `${asked} (hosting revision ${repo.revision})`);
    }
    const commit = { "X-Repo-Commit": repo.revision };
    const file = repo.files.get(filePath);
    if (!file) return notFound(res, "EntryNotFound", asked, commit);
    if (file.lfs) {
      res.writeHead(302, {
        ...commit,
        Location: `${base}/cdn/${file.sha256}`,
        "X-Linked-Etag": `"${file.sha256}"`,
        "X-Linked-Size": file.size,
        ETag: `W/"redirect-${file.blobId}"`,
        "Content-Length": 0,
      });
      return void res.end();
    }
    return sendFile(req, res, file, { ...commit, ETag: `"${file.blobId}"` });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      console.error(`fake-hub: ${req.method} ${req.url}: ${err.message}`);
      if (!res.headersSent) res.writeHead(500, { "Content-Length": 0 });
      res.destroy();
    });
  });
  await new Promise((ok, fail) => server.once("error", fail).listen(port, "127.0.0.1", ok));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    url: base,
    requests,
    throttle(bytesPerSecond) {
      rate = bytesPerSecond && bytesPerSecond > 0 ? bytesPerSecond : null;
    },
    close() {
      // Drop keep-alive and in-flight (throttled) connections, or close() would wait on them.
      server.closeAllConnections();
      return new Promise((ok) => server.close(() => ok()));
    },
  };
}

/**
 * The hub repos of the catalogue entries whisper-base, emotion and riffusion, served from the
 * tiny fixtures (the same mapping as install_tiny_models in the Rust tests). Repo ids and
 * revisions mirror models/src/weights/catalogue.rs: if they drift, the app asks for another
 * revision and the hub logs a RevisionNotFound 404 naming it. Riffusion's entry carries its own
 * tokenizer/ files, so no clip-tokenizer repo is needed.
 */
export function catalogueFixtures(root) {
  const fixtures = join(root, "models/tests/fixtures");
  return [
    { repo: "openai/whisper-base", revision: "e37978b90ca9030d5170a5c07aadb050351a65bb", dir: join(fixtures, "whisper/tiny") },
    { repo: "j-hartmann/emotion-english-distilroberta-base", revision: "0e1cd914e3d46199ed785853e12b57304e04178b", dir: join(fixtures, "emotion") },
    { repo: "riffusion/riffusion-model-v1", revision: "79993436c342ff529802d1dabb016ebe15b5c4ae", dir: join(fixtures, "riffusion/tiny-bin") },
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
  const hub = await startFakeHub({ models: catalogueFixtures(root) });
  const rate = Number(process.argv[2]);
  if (rate > 0) hub.throttle(rate);
  console.log(hub.url);
  console.error(`fake hub serving the tiny catalogue models${rate > 0 ? ` at ${rate} B/s` : ""}; Ctrl-C stops it`);
  process.on("SIGINT", () => hub.close().then(() => process.exit(0)));
  process.on("SIGTERM", () => hub.close().then(() => process.exit(0)));
}
