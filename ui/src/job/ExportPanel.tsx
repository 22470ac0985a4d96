import { useEffect, useState } from "preact/hooks";
import type { AppSettings, DuckMode, OriginalAudio } from "../bindings";
import { num, oneOf } from "../format";

const ORIGINAL_AUDIO_MODES: readonly OriginalAudio[] = ["duck", "keep", "speech", "replace"];
const DUCK_MODES: readonly DuckMode[] = ["spectral", "gain"];

/** The modes in which the music drops under speech. */
function ducks(mode: OriginalAudio): boolean {
  return mode === "duck" || mode === "speech";
}

export type ExportStatus =
  | { kind: "idle" }
  | { kind: "exporting"; fraction: number }
  | { kind: "done"; path: string; sizeBytes: number }
  | { kind: "failed"; message: string };

interface Props {
  selected: number;
  ready: boolean;
  busy: boolean;
  status: ExportStatus;
  settings: AppSettings | null;
  onExport: () => void;
  onCancel: () => void;
  onShow: (path: string) => void;
  onRemix: (settings: AppSettings) => void;
}

/** Export the chosen candidate; the mix settings (music level, ducking, original sound) apply
 *  to all four candidates and re-mix them without generating again. */
export function ExportPanel({ selected, ready, busy, status, settings, onExport, onCancel, onShow, onRemix }: Props) {
  const [draft, setDraft] = useState<AppSettings | null>(settings);
  useEffect(() => setDraft(settings), [settings]);
  const changed =
    draft !== null &&
    settings !== null &&
    (draft.musicLevelDb !== settings.musicLevelDb ||
      draft.duckDepthDb !== settings.duckDepthDb ||
      draft.duckMode !== settings.duckMode ||
      draft.originalAudio !== settings.originalAudio);
  return (
    <section class="panel export" aria-label="Export" data-testid="export">
      <header class="panel-head">
        <h2>Export</h2>
      </header>
      {draft && (
        <div class="mix-settings">
          <label>
            <span>Original sound</span>
            <select
              value={draft.originalAudio}
              disabled={busy}
              data-testid="original-audio"
              onChange={(e) => {
                const originalAudio = oneOf(ORIGINAL_AUDIO_MODES, e.currentTarget.value);
                if (originalAudio) setDraft({ ...draft, originalAudio });
              }}
            >
              <option value="duck">Keep, music ducks under speech</option>
              <option value="keep">Keep, music at one level</option>
              <option value="speech">Keep the speech only, music replaces the background</option>
              <option value="replace">Replace with the music</option>
            </select>
          </label>
          <label>
            <span>Music level: {num(draft.musicLevelDb) > 0 ? "+" : ""}{num(draft.musicLevelDb)} dB</span>
            <input
              type="range"
              min={-24}
              max={12}
              step={1}
              value={num(draft.musicLevelDb)}
              disabled={busy}
              data-testid="music-level"
              onInput={(e) => setDraft({ ...draft, musicLevelDb: Number(e.currentTarget.value) })}
            />
          </label>
          <label>
            <span>Duck depth: {draft.duckDepthDb} dB</span>
            <input
              type="range"
              min={0}
              max={30}
              step={1}
              value={num(draft.duckDepthDb)}
              disabled={busy || !ducks(draft.originalAudio)}
              data-testid="duck-depth"
              onInput={(e) => setDraft({ ...draft, duckDepthDb: Number(e.currentTarget.value) })}
            />
          </label>
          <label>
            <span>Ducking</span>
            <select
              value={draft.duckMode}
              disabled={busy || !ducks(draft.originalAudio)}
              data-testid="duck-mode"
              onChange={(e) => {
                const duckMode = oneOf(DUCK_MODES, e.currentTarget.value);
                if (duckMode) setDraft({ ...draft, duckMode });
              }}
            >
              <option value="spectral">Speech band only, music keeps its body</option>
              <option value="gain">Whole music</option>
            </select>
          </label>
          <button type="button" disabled={!changed || busy} onClick={() => onRemix(draft)} data-testid="remix">
            Apply and re-mix
          </button>
        </div>
      )}
      <div class="export-row">
        {status.kind === "exporting" ? (
          <>
            <progress max={1} value={status.fraction} aria-label="Export progress" data-testid="export-progress" />
            <button type="button" onClick={onCancel}>
              Cancel
            </button>
          </>
        ) : (
          <button type="button" class="primary" disabled={!ready || busy || changed} onClick={onExport} data-testid="export-button">
            Export with candidate {selected + 1}…
          </button>
        )}
        {status.kind === "done" && (
          <span class="done" data-testid="export-done">
            Saved {status.path}{" "}
            <button type="button" class="link" onClick={() => onShow(status.path)}>
              Show in folder
            </button>
          </span>
        )}
        {status.kind === "failed" && (
          <span class="error inline" role="alert">
            {status.message}
          </span>
        )}
      </div>
    </section>
  );
}
