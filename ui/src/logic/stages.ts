// The stage list of a job: what each stage is called, how far it is, and how long is left.
import type { StageName, StageProgress, StageState, StageView } from "../bindings";
import { num } from "../format";

export const STAGE_LABELS: Record<StageName, string> = {
  decode: "Read the video's sound",
  separate: "Separate the speech",
  transcribe: "Transcribe the speech",
  emotions: "Read the emotions",
  cuts: "Find the shot cuts",
  plan: "Plan the music",
  generate: "Generate four candidates",
  mix: "Mix and match loudness",
};

export interface StageRow {
  name: StageName;
  label: string;
  state: StageState;
  /** 0..1 of this stage. */
  fraction: number;
  message: string;
  etaSeconds: number | null;
  seconds: number | null;
  error: string | null;
}

/** What the runner says when a stage has finished (or had nothing to do). */
const FINISHED_MESSAGES: readonly string[] = ["done", "up to date", "not needed"];

/** The rows to show: the stored state of each stage, overlaid with the live progress events. */
export function stageRows(stored: StageView[], live: Partial<Record<StageName, StageProgress>>): StageRow[] {
  return stored.map((stage) => {
    const event = live[stage.name];
    const base: StageRow = {
      name: stage.name,
      label: STAGE_LABELS[stage.name],
      state: stage.state,
      fraction: isSettled(stage.state) ? 1 : 0,
      message: stage.state === "failed" && stage.error ? stage.error : stateWord(stage.state),
      etaSeconds: null,
      seconds: stage.seconds,
      error: stage.error,
    };
    if (!event) return base;
    const fraction = num(event.fraction);
    const finished = fraction >= 1 && FINISHED_MESSAGES.includes(event.message);
    const skipped = event.message === "not needed";
    return {
      ...base,
      state: skipped ? "skipped" : finished ? "done" : "running",
      fraction: clamp01(fraction),
      message: event.message,
      etaSeconds: finished ? null : event.etaSeconds,
      error: null,
    };
  });
}

function stateWord(state: StageState): string {
  switch (state) {
    case "pending":
      return "waiting";
    case "running":
      return "interrupted";
    case "done":
      return "done";
    case "skipped":
      return "not needed";
    case "failed":
      return "failed";
    case "cancelled":
      return "cancelled";
  }
}

/** Stages weigh what they usually cost: generating dwarfs the rest. */
const WEIGHTS: Record<StageName, number> = {
  decode: 1,
  separate: 4,
  transcribe: 6,
  emotions: 1,
  cuts: 0.5,
  plan: 0.2,
  generate: 40,
  mix: 2,
};

/** 0..1 of the whole job. */
export function overallFraction(rows: StageRow[]): number {
  const total = rows.reduce((sum, r) => sum + WEIGHTS[r.name], 0);
  const done = rows.reduce((sum, r) => sum + WEIGHTS[r.name] * r.fraction, 0);
  return total > 0 ? done / total : 0;
}

/** Whether the job has all four mixes. */
export function isComplete(stored: StageView[]): boolean {
  return stored.length > 0 && stored.every((s) => isSettled(s.state));
}

/** Done, or not needed with the current settings. */
function isSettled(state: StageState): boolean {
  return state === "done" || state === "skipped";
}

/** "about 3 min left", "12 s left"; nothing while the rate is unknown. */
export function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return "";
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s left`;
  if (seconds < 3600) return `about ${Math.round(seconds / 60)} min left`;
  const h = Math.floor(seconds / 3600);
  const m = Math.round((seconds % 3600) / 60);
  return `about ${h} h ${m} min left`;
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}
