import { useCallback, useEffect, useState } from "preact/hooks";
import { commands, type AppInfo, type JobListItem } from "./bindings";
import { History } from "./components/History";
import { watchFileDrops, type DropState } from "./drop";
import { deviceLabel, fileName } from "./format";
import { JobScreen } from "./job/JobScreen";
import { run } from "./result";
import { SettingsScreen } from "./settings/SettingsScreen";

type Screen =
  | { kind: "start" }
  | { kind: "reading"; path: string }
  | { kind: "job"; id: string; autoRun: boolean }
  | { kind: "settings" }
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
        setScreen({ kind: "job", id: outcome.value.id, autoRun: true });
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

  // A video named on the command line opens the same way as a dropped one.
  useEffect(() => {
    if (!listening) return;
    void run(commands.takeInitialFile()).then((outcome) => {
      if (outcome.ok && outcome.value) void openPath(outcome.value);
    });
  }, [listening, openPath]);

  const pick = async () => {
    const outcome = await run(commands.pickVideo());
    if (!outcome.ok) setNotice(outcome.message);
    else if (outcome.value) void openPath(outcome.value);
  };

  const openJob = async (id: string) => {
    const outcome = await run(commands.loadJob(id));
    if (outcome.ok) setScreen({ kind: "job", id: outcome.value.id, autoRun: false });
    else setNotice(outcome.message);
  };

  const deleteJob = async (id: string) => {
    const outcome = await run(commands.deleteJob(id));
    if (!outcome.ok) setNotice(outcome.message);
    if (screen.kind === "job" && screen.id === id) setScreen({ kind: "start" });
    await refreshJobs();
  };

  const currentId = screen.kind === "job" ? screen.id : null;
  const showDropzone = screen.kind !== "settings";
  return (
    <div class="shell">
      <header class="topbar">
        <h1>BGM Studio</h1>
        <div class="actions">
          <button type="button" class="primary" onClick={() => void pick()}>
            Open video…
          </button>
          <button
            type="button"
            aria-pressed={screen.kind === "settings"}
            onClick={() => setScreen(screen.kind === "settings" ? { kind: "start" } : { kind: "settings" })}
          >
            {screen.kind === "settings" ? "Close settings" : "Models & settings"}
          </button>
          <span class="device" title={appInfo ? [appInfo.deviceNote, `Data folder: ${appInfo.dataDir}`].filter(Boolean).join("\n") : undefined}>
            {appInfo ? `${deviceLabel(appInfo.device)} · v${appInfo.version}` : "…"}
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
          hidden={!showDropzone}
          class={`dropzone ${drop === "hovering" ? "hovering" : ""} ${screen.kind === "job" ? "compact" : ""}`}
          aria-label="Drop a video here"
          data-testid="dropzone"
          data-listening={listening}
        >
          <p class="big">{drop === "hovering" ? "Release to open" : "Drop a video here"}</p>
          <p class="hint">MP4, MOV, MKV or WebM. The music is made on this computer; nothing is uploaded.</p>
        </section>
        <ScreenView screen={screen} appInfo={appInfo} onChanged={() => void refreshJobs()} />
        <History jobs={jobs} currentId={currentId} onOpen={(id) => void openJob(id)} onDelete={(id) => void deleteJob(id)} />
      </main>
    </div>
  );
}

function ScreenView({ screen, appInfo, onChanged }: { screen: Screen; appInfo: AppInfo | null; onChanged: () => void }) {
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
      return <JobScreen key={screen.id} jobId={screen.id} autoRun={screen.autoRun} onChanged={onChanged} />;
    case "settings":
      return <SettingsScreen appInfo={appInfo} />;
  }
}
