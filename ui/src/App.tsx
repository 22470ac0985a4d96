import { useCallback, useEffect, useState } from "preact/hooks";
import { commands, type AppInfo, type JobListItem, type JobView } from "./bindings";
import { History } from "./components/History";
import { MediaCard } from "./components/MediaCard";
import { ThumbnailStrip } from "./components/ThumbnailStrip";
import { watchFileDrops, type DropState } from "./drop";
import { fileName } from "./format";
import { run } from "./result";

type Screen =
  | { kind: "start" }
  | { kind: "reading"; path: string }
  | { kind: "job"; job: JobView }
  | { kind: "failed"; path: string; message: string };

export function App() {
  const [drop, setDrop] = useState<DropState>("idle");
  const [screen, setScreen] = useState<Screen>({ kind: "start" });
  const [appInfo, setAppInfo] = useState<AppInfo | null>(null);
  const [jobs, setJobs] = useState<JobListItem[]>([]);
  const [listening, setListening] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);

  const refreshJobs = useCallback(async () => {
    const outcome = await run(commands.listJobs());
    if (outcome.ok) setJobs(outcome.value);
  }, []);

  const openPath = useCallback(
    async (path: string) => {
      setScreen({ kind: "reading", path });
      const outcome = await run(commands.openVideo(path));
      if (outcome.ok) {
        setScreen({ kind: "job", job: outcome.value });
        await refreshJobs();
      } else {
        setScreen({ kind: "failed", path, message: outcome.message });
      }
    },
    [refreshJobs],
  );

  useEffect(() => {
    void run(commands.appInfo()).then((outcome) => {
      if (outcome.ok) setAppInfo(outcome.value);
    });
    void refreshJobs();
  }, [refreshJobs]);

  useEffect(() => {
    let unlisten: (() => void) | undefined;
    let disposed = false;
    void watchFileDrops({
      onHover: setDrop,
      onDrop: (paths) => {
        const first = paths[0];
        if (first) void openPath(first);
      },
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
  }, [openPath]);

  const pick = async () => {
    const outcome = await run(commands.pickVideo());
    if (!outcome.ok) setNotice(outcome.message);
    else if (outcome.value) void openPath(outcome.value);
  };

  const openJob = async (id: string) => {
    const outcome = await run(commands.loadJob(id));
    if (outcome.ok) setScreen({ kind: "job", job: outcome.value });
    else setNotice(outcome.message);
  };

  const deleteJob = async (id: string) => {
    const outcome = await run(commands.deleteJob(id));
    if (!outcome.ok) setNotice(outcome.message);
    if (screen.kind === "job" && screen.job.id === id) setScreen({ kind: "start" });
    await refreshJobs();
  };

  const currentId = screen.kind === "job" ? screen.job.id : null;
  return (
    <div class="shell">
      <header class="topbar">
        <h1>BGM Studio</h1>
        <div class="actions">
          <button type="button" class="primary" onClick={() => void pick()}>
            Open video…
          </button>
          <span class="device" title={appInfo ? `Data folder: ${appInfo.dataDir}` : undefined}>
            {appInfo ? `${appInfo.device} · v${appInfo.version}` : "…"}
          </span>
        </div>
      </header>
      <main>
        {notice && (
          <p class="notice" role="status">
            {notice}{" "}
            <button type="button" class="quiet" onClick={() => setNotice(null)}>
              Dismiss
            </button>
          </p>
        )}
        <section
          class={`dropzone ${drop === "hovering" ? "hovering" : ""} ${screen.kind === "job" ? "compact" : ""}`}
          aria-label="Drop a video here"
          data-testid="dropzone"
          data-listening={listening}
        >
          <p class="big">{drop === "hovering" ? "Release to open" : "Drop a video here"}</p>
          <p class="hint">MP4, MOV, MKV or WebM. The music is made on this computer; nothing is uploaded.</p>
        </section>
        <ScreenView screen={screen} />
        <History jobs={jobs} currentId={currentId} onOpen={(id) => void openJob(id)} onDelete={(id) => void deleteJob(id)} />
      </main>
    </div>
  );
}

function ScreenView({ screen }: { screen: Screen }) {
  switch (screen.kind) {
    case "start":
      return null;
    case "reading":
      return (
        <p class="status" role="status">
          Reading {fileName(screen.path)}…
        </p>
      );
    case "failed":
      return (
        <div class="error" role="alert" data-testid="error">
          <strong>{fileName(screen.path)} can’t be used.</strong>
          <p>{screen.message}</p>
        </div>
      );
    case "job":
      return (
        <section class="job" data-testid="job">
          <MediaCard info={screen.job.media} />
          <ThumbnailStrip jobId={screen.job.id} />
        </section>
      );
  }
}
