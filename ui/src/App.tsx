import { useEffect, useState } from "preact/hooks";
import { commands, type AppInfo, type MediaInfo } from "./bindings";
import { watchFileDrops, type DropState } from "./drop";
import { describeAudio, describeVideo, fileName, formatBytes, formatDuration } from "./format";

type Selection =
  | { kind: "none" }
  | { kind: "reading"; path: string }
  | { kind: "ready"; info: MediaInfo }
  | { kind: "failed"; path: string; message: string };

export function App() {
  const [drop, setDrop] = useState<DropState>("idle");
  const [selection, setSelection] = useState<Selection>({ kind: "none" });
  const [appInfo, setAppInfo] = useState<AppInfo | null>(null);
  const [listening, setListening] = useState(false);

  useEffect(() => {
    void commands.appInfo().then((result) => {
      if (result.status === "ok") setAppInfo(result.data);
    });
  }, []);

  useEffect(() => {
    let unlisten: (() => void) | undefined;
    let disposed = false;
    void watchFileDrops({
      onHover: setDrop,
      onDrop: (paths) => void openVideo(paths[0] ?? "", setSelection),
    }).then((stop) => {
      if (disposed) stop();
      else {
        unlisten = stop;
        setListening(true);
      }
    });
    return () => {
      disposed = true;
      unlisten?.();
    };
  }, []);

  return (
    <div class="shell">
      <header class="topbar">
        <h1>BGM Studio</h1>
        <span class="device" title={appInfo ? `Data folder: ${appInfo.dataDir}` : undefined}>
          {appInfo ? `${appInfo.device} · v${appInfo.version}` : "…"}
        </span>
      </header>
      <main>
        <section
          class={`dropzone ${drop === "hovering" ? "hovering" : ""}`}
          aria-label="Drop a video here"
          data-testid="dropzone"
          data-listening={listening}
        >
          <p class="big">{drop === "hovering" ? "Release to open" : "Drop a video here"}</p>
          <p class="hint">MP4, MOV, MKV or WebM. The music is made on this computer; nothing is uploaded.</p>
        </section>
        <SelectionView selection={selection} />
      </main>
    </div>
  );
}

async function openVideo(path: string, show: (s: Selection) => void): Promise<void> {
  if (!path) return;
  show({ kind: "reading", path });
  const result = await commands.probeMedia(path);
  if (result.status === "ok") {
    show({ kind: "ready", info: result.data });
  } else {
    show({ kind: "failed", path, message: result.error.message });
  }
}

function SelectionView({ selection }: { selection: Selection }) {
  switch (selection.kind) {
    case "none":
      return null;
    case "reading":
      return (
        <p class="status" role="status">
          Reading {fileName(selection.path)}…
        </p>
      );
    case "failed":
      return (
        <div class="error" role="alert" data-testid="error">
          <strong>{fileName(selection.path)} can’t be used.</strong>
          <p>{selection.message}</p>
        </div>
      );
    case "ready": {
      const info = selection.info;
      return (
        <article class="media-card" data-testid="media-card">
          <h2>{fileName(info.path)}</h2>
          <dl>
            <dt>Length</dt>
            <dd data-testid="duration">{formatDuration(info.durationSeconds)}</dd>
            <dt>Video</dt>
            <dd data-testid="video">{describeVideo(info)}</dd>
            <dt>Audio</dt>
            <dd data-testid="audio">{describeAudio(info)}</dd>
            <dt>File</dt>
            <dd>
              {info.containerLongName} · {formatBytes(info.sizeBytes)}
            </dd>
          </dl>
        </article>
      );
    }
  }
}
