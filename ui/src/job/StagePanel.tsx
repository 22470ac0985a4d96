import type { StageRow } from "../logic/stages";
import { formatEta } from "../logic/stages";

interface Props {
  rows: StageRow[];
  overall: number;
  busy: boolean;
  complete: boolean;
  onRun: () => void;
  onCancel: () => void;
}

/** Each stage with its own bar, message and time left; run, resume or cancel the job. */
export function StagePanel({ rows, overall, busy, complete, onRun, onCancel }: Props) {
  const started = rows.some((r) => r.state !== "pending");
  const runLabel = complete ? "Run again" : started ? "Resume" : "Start";
  return (
    <section class="panel stages" aria-label="Progress" data-testid="stages">
      <header class="panel-head">
        <h2>Progress</h2>
        <span class="overall" data-testid="overall">
          {Math.round(overall * 100)}%
        </span>
        {busy ? (
          <button type="button" onClick={onCancel} data-testid="cancel">
            Cancel
          </button>
        ) : (
          // When complete, running again redoes only what an edit or a setting made stale.
          <button type="button" class={complete ? "" : "primary"} onClick={onRun} data-testid="run">
            {runLabel}
          </button>
        )}
      </header>
      <ol>
        {rows.map((row) => (
          <li key={row.name} class={`stage ${row.state}`} data-testid={`stage-${row.name}`} data-state={row.state}>
            <div class="stage-line">
              <span class="stage-label">{row.label}</span>
              <span class="stage-note">
                {row.state === "running" ? formatEta(row.etaSeconds) : row.seconds !== null && row.state === "done" ? `${row.seconds.toFixed(1)} s` : ""}
              </span>
            </div>
            <progress max={1} value={row.fraction} aria-label={`${row.label}: ${Math.round(row.fraction * 100)}%`} />
            <p class={`stage-message ${row.state === "failed" ? "failed" : ""}`} title={row.message}>
              {row.message}
            </p>
          </li>
        ))}
      </ol>
    </section>
  );
}
