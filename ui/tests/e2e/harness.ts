// Loads the real app with Tauri's IPC mocked: commands answer from the scenario a test put in
// `window.__BGM_SCENARIO__` (a tiny in-memory job store), and `window.__dropFiles` plays a
// native file drop.
import { emit } from "@tauri-apps/api/event";
import { mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import type { AppInfo, CommandError, JobListItem, JobView, MediaInfo, ThumbnailView } from "../../src/bindings";

export interface Scenario {
  appInfo: AppInfo;
  /** What opening each path gives: its media, or the error the backend would return. */
  media: Record<string, MediaInfo | CommandError>;
  /** What the file picker returns (null: the user cancelled). */
  picked: string | null;
  thumbnails: ThumbnailView[];
  jobs: JobView[];
}

declare global {
  interface Window {
    __BGM_SCENARIO__?: Scenario;
    __BGM_CALLS__: { cmd: string; args: unknown }[];
    __dropFiles: (paths: string[]) => Promise<void>;
  }
}

function listItem(job: JobView): JobListItem {
  return {
    id: job.id,
    createdUnix: job.createdUnix,
    input: job.input,
    durationSeconds: job.media.durationSeconds,
    doneThrough: null,
  };
}

let nextId = 1;

window.__BGM_CALLS__ = [];
mockWindows("main");
mockIPC(
  (cmd, args) => {
    window.__BGM_CALLS__.push({ cmd, args });
    const scenario = window.__BGM_SCENARIO__;
    if (!scenario) throw new Error("no scenario set");
    const byId = (id: string) => {
      const job = scenario.jobs.find((j) => j.id === id);
      if (!job) throw { kind: "badInput", message: `there is no job ${id}` } satisfies CommandError;
      return job;
    };
    switch (cmd) {
      case "app_info":
        return scenario.appInfo;
      case "pick_video":
        return scenario.picked;
      case "open_video": {
        const path = (args as { path: string }).path;
        const answer = scenario.media[path];
        if (!answer) throw { kind: "internal", message: `no mock for ${path}` } satisfies CommandError;
        if ("message" in answer) throw answer;
        const job: JobView = {
          id: `00000000-0000-4000-8000-${String(nextId++).padStart(12, "0")}`,
          createdUnix: Math.floor(Date.now() / 1000),
          input: path,
          media: answer,
        };
        scenario.jobs.unshift(job);
        return job;
      }
      case "list_jobs":
        return scenario.jobs.map(listItem);
      case "load_job":
        return byId((args as { id: string }).id);
      case "delete_job": {
        const id = (args as { id: string }).id;
        byId(id);
        scenario.jobs = scenario.jobs.filter((j) => j.id !== id);
        return null;
      }
      case "job_thumbnails":
        return scenario.thumbnails;
      default:
        throw new Error(`unmocked command ${cmd}`);
    }
  },
  { shouldMockEvents: true },
);

window.__dropFiles = async (paths) => {
  await emit("tauri://drag-enter", { paths, position: { x: 10, y: 10 } });
  await emit("tauri://drag-drop", { paths, position: { x: 10, y: 10 } });
};

await import("../../src/main");
