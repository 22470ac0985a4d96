// Loads the real app with Tauri's IPC mocked: commands answer from the scenario a test put in
// `window.__BGM_SCENARIO__` (a tiny in-memory job store), and `window.__dropFiles` plays a
// native file drop.
import { emit } from "@tauri-apps/api/event";
import { mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import type { Channel } from "@tauri-apps/api/core";
import type {
  AppInfo,
  AppSettings,
  CommandError,
  DownloadProgressView,
  Emotion,
  JobDetails,
  JobListItem,
  JobView,
  MediaInfo,
  MissingModel,
  ModelView,
  PlayerState,
  StageName,
  StageProgress,
  ThumbnailView,
} from "../../src/bindings";

export interface Scenario {
  appInfo: AppInfo;
  /** What opening each path gives: its media, or the error the backend would return. */
  media: Record<string, MediaInfo | CommandError>;
  /** What the file picker returns (null: the user cancelled). */
  picked: string | null;
  thumbnails: ThumbnailView[];
  jobs: JobView[];
  /** What a job looks like before any stage ran, and after all of them. */
  fresh: Omit<JobDetails, "job">;
  finished: Omit<JobDetails, "job">;
  /** Jobs already run to the end. */
  finishedIds: string[];
  /** Milliseconds between progress events of a run (a cancel can land in between). */
  stepMs: number;
  /** The error a run ends with instead of finishing, if any. */
  runError: CommandError | null;
  /** Models a run needs that are not downloaded: runs refuse to start until they are. */
  missing: MissingModel[];
  /** The path the save dialog returns (null: cancelled). */
  exportPath: string | null;
  /** Why the player cannot open an audio device, if it cannot. */
  playerError: string | null;
  settings: AppSettings;
  models: ModelView[];
  /** Whether a Hugging Face token is saved (set_hub_token changes it). */
  hubTokenSaved: boolean;
}

type Handler = (cmd: string, args: Record<string, unknown>) => unknown;

const STAGES: StageName[] = ["decode", "separate", "transcribe", "emotions", "cuts", "plan", "generate", "mix"];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
let cancelled = false;
let downloadCancelled = false;

/** A pretend player: position follows the wall clock while it plays. */
const player = {
  state: { loaded: false, index: null, playing: false, position: 0, duration: 0, error: null } as PlayerState,
  since: 0,
  now(): PlayerState {
    const s = this.state;
    if (s.playing) {
      const position = Math.min(s.duration ?? 0, (s.position ?? 0) + (Date.now() - this.since) / 1000);
      this.state = { ...s, position, playing: position < (s.duration ?? 0) };
      this.since = Date.now();
    }
    return this.state;
  },
  set(change: Partial<PlayerState>): PlayerState {
    this.now();
    this.state = { ...this.state, ...change };
    this.since = Date.now();
    return this.state;
  },
};

function scenarioOrThrow(): Scenario {
  const scenario = window.__BGM_SCENARIO__;
  if (!scenario) throw new Error("no scenario set");
  return scenario;
}

/** Sends the stage events of a whole run, then finishes (or fails, or stops when cancelled). */
async function runStages(id: string, progress: Channel<StageProgress>, only?: StageName[]) {
  const scenario = scenarioOrThrow();
  cancelled = false;
  const send = (stage: StageName, fraction: number, message: string, etaSeconds: number | null) =>
    progress.onmessage({ job: id, stage, fraction, message, etaSeconds });
  for (const stage of only ?? STAGES) {
    // As the runner: separation only runs when a mix keeps the speech alone.
    if (stage === "separate" && scenario.settings.originalAudio !== "speech") {
      send(stage, 1, "not needed", 0);
      continue;
    }
    send(stage, 0, "started", null);
    for (const fraction of [0.25, 0.5, 0.75]) {
      await sleep(scenario.stepMs);
      if (cancelled) throw { kind: "cancelled", message: "cancelled", missingModels: [] } satisfies CommandError;
      if (stage === "transcribe" && scenario.runError && fraction === 0.5) throw scenario.runError;
      send(stage, fraction, "running", (1 - fraction) * 40);
    }
    send(stage, 1, "done", 0);
  }
  scenario.finishedIds.push(id);
  return { job: scenario.jobs.find((j) => j.id === id), ...scenario.finished };
}

const extraCommands: Record<string, Handler> = {
  take_initial_file: () => null,
  get_settings: () => scenarioOrThrow().settings,
  save_settings: (_, args) => {
    const scenario = scenarioOrThrow();
    scenario.settings = args["settings"] as AppSettings;
    return scenario.settings;
  },
  list_models: () => scenarioOrThrow().models,
  hub_token_saved: () => scenarioOrThrow().hubTokenSaved,
  set_hub_token: (_, args) => {
    const scenario = scenarioOrThrow();
    scenario.hubTokenSaved = (args["token"] as string).trim() !== "";
    return scenario.hubTokenSaved;
  },
  run_job: (_, args) => {
    const missing = scenarioOrThrow().missing;
    if (missing.length > 0) {
      const message = `${missing.length} models not downloaded yet; download them to continue`;
      throw { kind: "modelsMissing", message, missingModels: missing } satisfies CommandError;
    }
    return runStages(args["id"] as string, args["progress"] as Channel<StageProgress>);
  },
  download_model: async (_, args) => {
    const scenario = scenarioOrThrow();
    const name = args["name"] as string;
    const progress = args["progress"] as Channel<DownloadProgressView>;
    const model = scenario.missing.find((m) => m.name === name);
    if (!model) return scenario.models;
    downloadCancelled = false;
    const total = model.bytesToDownload;
    for (const fraction of [0.1, 0.3, 0.5, 0.7, 0.9, 1]) {
      await sleep(scenario.stepMs);
      if (downloadCancelled) throw { kind: "cancelled", message: "cancelled", missingModels: [] } satisfies CommandError;
      const done = Math.round(total * fraction);
      const stage = fraction === 1 ? "finished" : "transferring";
      progress.onmessage({ model: name, file: "model.safetensors", fileDone: done, fileTotal: total, done, total, stage });
    }
    scenario.missing = scenario.missing.filter((m) => m.name !== name);
    return scenario.models;
  },
  cancel_download: () => {
    downloadCancelled = true;
    return true;
  },
  regenerate_candidate: (_, args) =>
    runStages(args["id"] as string, args["progress"] as Channel<StageProgress>, ["generate", "mix"]),
  cancel_job: () => {
    cancelled = true;
    return true;
  },
  set_section_emotion: (_, args) => {
    const scenario = scenarioOrThrow();
    const section = scenario.finished.sections[args["section"] as number];
    if (section) section.emotion = args["emotion"] as Emotion;
    return { job: scenario.jobs.find((j) => j.id === args["id"]), ...scenario.finished };
  },
  set_prompt: (_, args) => {
    const scenario = scenarioOrThrow();
    const section = scenario.finished.sections[args["section"] as number];
    if (section) section.prompts[args["candidate"] as number] = args["prompt"] as string;
    return { job: scenario.jobs.find((j) => j.id === args["id"]), ...scenario.finished };
  },
  pick_export_path: () => scenarioOrThrow().exportPath,
  export_job: async (_, args) => {
    const progress = args["progress"] as Channel<number | null>;
    for (const fraction of [0.2, 0.6, 1]) {
      await sleep(scenarioOrThrow().stepMs);
      progress.onmessage(fraction);
    }
    return { path: args["dest"] as string, sizeBytes: 1_234_567 };
  },
  show_in_folder: () => null,
  player_load: () => {
    const scenario = scenarioOrThrow();
    if (scenario.playerError) throw { kind: "internal", message: scenario.playerError, missingModels: [] } satisfies CommandError;
    return player.set({ loaded: true, index: 0, playing: false, position: 0, duration: 12, error: null });
  },
  player_select: (_, args) => player.set({ index: args["index"] as number }),
  player_play: () => player.set({ playing: true }),
  player_pause: () => player.set({ playing: false }),
  player_seek: (_, args) => player.set({ position: Math.max(0, Math.min(12, args["seconds"] as number)) }),
  player_state: () => player.now(),
  player_unload: () => {
    player.set({ loaded: false, index: null, playing: false, position: 0, duration: 0 });
    return null;
  },
};

window.__BGM_CALLS__ = [];
mockWindows("main");
mockIPC(
  (cmd, args) => {
    window.__BGM_CALLS__.push({ cmd, args });
    const scenario = window.__BGM_SCENARIO__;
    if (!scenario) throw new Error("no scenario set");
    const byId = (id: string) => {
      const job = scenario.jobs.find((j) => j.id === id);
      if (!job) throw { kind: "badInput", message: `there is no job ${id}`, missingModels: [] } satisfies CommandError;
      return job;
    };
    const details = (id: string): JobDetails => ({
      job: byId(id),
      ...(scenario.finishedIds.includes(id) ? scenario.finished : scenario.fresh),
    });
    const extra = extraCommands[cmd];
    if (extra) return extra(cmd, args as Record<string, unknown>);
    switch (cmd) {
      case "job_details":
        return details((args as { id: string }).id);
      case "app_info":
        return scenario.appInfo;
      case "pick_video":
        return scenario.picked;
      case "open_video": {
        const path = (args as { path: string }).path;
        const answer = scenario.media[path];
        if (!answer) throw { kind: "internal", message: `no mock for ${path}`, missingModels: [] } satisfies CommandError;
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
