import { useCallback, useEffect, useState } from "preact/hooks";
import {
  commands,
  type AppInfo,
  type AppSettings,
  type DevicePreference,
  type DownloadProgressView,
  type EngineChoice,
  type ModelView,
} from "../bindings";
import { channel } from "../channel";
import { deviceLabel, formatBytes, num, oneOf } from "../format";

const DEVICE_PREFERENCES: readonly DevicePreference[] = ["auto", "cuda", "metal", "cpu"];
const ENGINES: readonly EngineChoice[] = ["auto", "riffusion", "stable-audio"];
import { run } from "../result";

interface Props {
  appInfo: AppInfo | null;
}

/** Models on disk (with downloads), the compute device, and the pipeline's choices. */
export function SettingsScreen({ appInfo }: Props) {
  const [models, setModels] = useState<ModelView[]>([]);
  const [downloads, setDownloads] = useState<Record<string, DownloadProgressView>>({});
  const [settings, setSettings] = useState<AppSettings | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [tokenSaved, setTokenSaved] = useState(false);
  const [tokenDraft, setTokenDraft] = useState("");

  const refresh = useCallback(async () => {
    const outcome = await run(commands.listModels());
    if (outcome.ok) setModels(outcome.value);
    else setMessage(outcome.message);
  }, []);

  useEffect(() => {
    void refresh();
    void run(commands.getSettings()).then((outcome) => {
      if (outcome.ok) setSettings(outcome.value);
    });
    void run(commands.hubTokenSaved()).then((outcome) => {
      if (outcome.ok) setTokenSaved(outcome.value);
    });
  }, [refresh]);

  const download = async (name: string) => {
    const progress = channel<DownloadProgressView>((p) => setDownloads((prev) => ({ ...prev, [name]: p })));
    setModels((prev) => prev.map((m) => (m.name === name ? { ...m, downloading: true } : m)));
    const outcome = await run(commands.downloadModel(name, progress));
    setDownloads((prev) => {
      const { [name]: _, ...rest } = prev;
      return rest;
    });
    if (outcome.ok) setModels(outcome.value);
    else {
      setMessage(`${name}: ${outcome.message}`);
      await refresh();
    }
  };

  const save = async (next: AppSettings) => {
    setSettings(next);
    const outcome = await run(commands.saveSettings(next));
    if (outcome.ok) {
      setSettings(outcome.value);
      setMessage("Saved. New settings apply to the next run.");
    } else setMessage(outcome.message);
  };

  const saveToken = async (token: string) => {
    const outcome = await run(commands.setHubToken(token));
    if (outcome.ok) {
      setTokenSaved(outcome.value);
      setTokenDraft("");
      setMessage(outcome.value ? "Token saved (readable by you alone)." : "Token removed.");
    } else setMessage(outcome.message);
  };

  const whisperModels = models.filter((m) => m.kind === "whisper");
  const onCpu = appInfo?.device === "cpu";
  return (
    <section class="settings" data-testid="settings">
      <section class="panel">
        <header class="panel-head">
          <h2>Device</h2>
        </header>
        <p data-testid="device-line">
          Models run on <strong>{appInfo ? deviceLabel(appInfo.device) : "…"}</strong>
          {appInfo?.gpuMemoryBytes ? ` · ${formatBytes(appInfo.gpuMemoryBytes)} of GPU memory` : ""}.
        </p>
        {appInfo?.deviceNote && (
          <p class="note" data-testid="device-note">
            {appInfo.deviceNote}.
          </p>
        )}
        {onCpu && (
          <p class="warning" role="note" data-testid="cpu-warning">
            No GPU is in use, so generating music is slow
            {appInfo?.secondsPerStep ? `: about ${appInfo.secondsPerStep.toFixed(1)} s per diffusion step, measured on this computer` : ""}.
            Fewer steps make it faster at some cost in quality.
          </p>
        )}
        {settings && (
          <div class="fields">
            <label>
              <span>Device</span>
              <select
                value={settings.device}
                onChange={(e) => {
                  const device = oneOf(DEVICE_PREFERENCES, e.currentTarget.value);
                  if (device) void save({ ...settings, device });
                }}
              >
                <option value="auto">Automatic (GPU when there is one)</option>
                <option value="cuda">NVIDIA (CUDA)</option>
                <option value="metal">Apple (Metal)</option>
                <option value="cpu">CPU</option>
              </select>
            </label>
            <label>
              <span>Music engine</span>
              <select
                value={settings.engine}
                data-testid="engine"
                onChange={(e) => {
                  const engine = oneOf(ENGINES, e.currentTarget.value);
                  if (engine) void save({ ...settings, engine });
                }}
              >
                <option value="auto">Automatic (Stable Audio once downloaded)</option>
                <option value="riffusion">Riffusion (open licence, 10 kHz, slower)</option>
                <option value="stable-audio">
                  Stable Audio 3 Small (full-band stereo; gated: Stability AI Community License)
                </option>
              </select>
            </label>
            <label>
              <span>Speech model</span>
              <select
                value={settings.whisperModel}
                data-testid="whisper-model"
                onChange={(e) => void save({ ...settings, whisperModel: e.currentTarget.value })}
              >
                {whisperModels.map((m) => (
                  <option key={m.name} value={m.name}>
                    {m.name} ({formatBytes(m.expectedBytes)}{m.state === "ready" ? "" : ", not downloaded"})
                  </option>
                ))}
              </select>
            </label>
            <label>
              <span>Diffusion steps (empty: Riffusion 25, Stable Audio 8)</span>
              <input
                type="number"
                min={1}
                max={150}
                value={settings.steps ?? ""}
                placeholder="default"
                data-testid="steps"
                onChange={(e) => {
                  const text = e.currentTarget.value.trim();
                  if (text === "") return void save({ ...settings, steps: null });
                  const steps = Math.round(Number(text));
                  if (steps >= 1 && steps <= 150) void save({ ...settings, steps });
                }}
              />
            </label>
          </div>
        )}
        {message && (
          <p class="notice" role="status">
            {message}
          </p>
        )}
      </section>
      <section class="panel" aria-label="Models">
        <header class="panel-head">
          <h2>Models</h2>
          <span class="muted">Downloaded once (from the Hugging Face Hub, or from the publisher's own server), then used offline.</span>
        </header>
        <table class="models" data-testid="models">
          <thead>
            <tr>
              <th>Model</th>
              <th>State</th>
              <th>Size</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {models.map((m) => {
              const p = downloads[m.name];
              return (
                <tr key={m.name} data-testid="model-row" data-state={m.state}>
                  <td>
                    <strong>{m.name}</strong>
                    <div class="muted small" title={m.path}>
                      {modelSource(m.repo)}
                    </div>
                    {m.licence && (
                      <div class="muted small" data-testid="model-licence">
                        {m.licence.name}
                        {m.licence.gated ? " · gated: accept it at " : " · "}
                        <code>{m.licence.url}</code>
                        {m.licence.gated && (tokenSaved ? ", then download (your token is saved)" : ", then save a token below")}
                      </div>
                    )}
                  </td>
                  <td>
                    {m.downloading && p ? (
                      <>
                        <progress max={Math.max(num(p.total), 1)} value={num(p.done)} aria-label={`Downloading ${m.name}`} />
                        <div class="muted small">
                          {p.stage} {p.file} · {formatBytes(p.done)} of {formatBytes(p.total)}
                        </div>
                      </>
                    ) : (
                      m.state
                    )}
                  </td>
                  <td>{formatBytes(m.state === "ready" ? m.bytesOnDisk : m.expectedBytes)}</td>
                  <td>
                    {m.downloading ? (
                      <button type="button" onClick={() => void commands.cancelDownload(m.name)}>
                        Cancel
                      </button>
                    ) : (
                      m.state !== "ready" && (
                        <button type="button" onClick={() => void download(m.name)}>
                          {m.state === "partial" ? "Resume download" : "Download"}
                        </button>
                      )
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        <form
          class="fields token"
          data-testid="hub-token"
          onSubmit={(e) => {
            e.preventDefault();
            void saveToken(tokenDraft);
          }}
        >
          <label>
            <span>Hugging Face token {tokenSaved ? "(saved)" : "(for gated models)"}</span>
            <input
              type="password"
              autocomplete="off"
              placeholder={tokenSaved ? "A token is saved" : "hf_…"}
              value={tokenDraft}
              data-testid="hub-token-input"
              onInput={(e) => setTokenDraft(e.currentTarget.value)}
            />
          </label>
          <button type="submit" disabled={!tokenDraft.trim()}>
            Save token
          </button>
          {tokenSaved && (
            <button type="button" data-testid="hub-token-remove" onClick={() => void saveToken("")}>
              Remove
            </button>
          )}
        </form>
      </section>
    </section>
  );
}

/** A Hub repo id as it is; a model published at a URL (htdemucs) by the server's name. */
function modelSource(repo: string): string {
  if (!/^https?:\/\//.test(repo)) return repo;
  try {
    return new URL(repo).host;
  } catch {
    return repo;
  }
}
