// The audition keyboard: 1-4 pick a candidate, space plays or pauses, arrows seek.

export type AuditionAction =
  | { kind: "select"; index: number }
  | { kind: "toggle" }
  | { kind: "seek"; delta: number };

/** Seconds an arrow key moves; with Shift, a larger step. */
export const SEEK_STEP = 5;
export const SEEK_STEP_LARGE = 15;

export interface KeyInput {
  key: string;
  shiftKey?: boolean;
  ctrlKey?: boolean;
  metaKey?: boolean;
  altKey?: boolean;
  /** The focused element's tag name, upper case, and whether it is editable. */
  targetTag?: string | undefined;
  targetEditable?: boolean | undefined;
  /** Whether the focused element is one of the audition's own controls (cards, play). */
  inAudition?: boolean | undefined;
}

/** What a key press means, or null when it is not ours (typing in a field, shortcuts). */
export function auditionAction(input: KeyInput, candidates: number): AuditionAction | null {
  if (input.ctrlKey || input.metaKey || input.altKey) return null;
  const tag = input.targetTag ?? "";
  if (input.targetEditable || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") return null;
  if (/^[1-9]$/.test(input.key)) {
    const index = Number(input.key) - 1;
    return index < candidates ? { kind: "select", index } : null;
  }
  // A focused button elsewhere acts on space itself; the audition's own buttons (a card just
  // clicked, the play button) mean play or pause.
  if (input.key === " " && (tag !== "BUTTON" || input.inAudition)) return { kind: "toggle" };
  const step = input.shiftKey ? SEEK_STEP_LARGE : SEEK_STEP;
  if (input.key === "ArrowRight") return { kind: "seek", delta: step };
  if (input.key === "ArrowLeft") return { kind: "seek", delta: -step };
  return null;
}

/** The new position after seeking by `delta`, inside the track. */
export function seekTarget(position: number, delta: number, duration: number): number {
  return Math.min(Math.max(0, position + delta), Math.max(0, duration));
}

/** The video follows the player: it is corrected when it drifts further than this. */
export const MAX_DRIFT_SECONDS = 0.25;

/** Where the video should jump to, or null when it is close enough to the player. */
export function videoCorrection(videoTime: number, playerTime: number, playing: boolean): number | null {
  const drift = Math.abs(videoTime - playerTime);
  // Paused, any visible difference matters; playing, small drift is normal decoding jitter.
  const limit = playing ? MAX_DRIFT_SECONDS : 0.04;
  return drift > limit ? playerTime : null;
}
