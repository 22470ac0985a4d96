import { useState } from "preact/hooks";
import type { JobListItem } from "../bindings";
import { fileName, formatCreated, formatDuration } from "../format";

interface Props {
  jobs: JobListItem[];
  currentId: string | null;
  onOpen: (id: string) => void;
  onDelete: (id: string) => void;
}

/** Past jobs: reopen one, or delete it (asks once more before deleting). */
export function History({ jobs, currentId, onOpen, onDelete }: Props) {
  const [confirming, setConfirming] = useState<string | null>(null);
  if (jobs.length === 0) return null;
  return (
    <section class="history" aria-label="Recent videos" data-testid="history">
      <h2>Recent videos</h2>
      <ul>
        {jobs.map((job) => (
          <li key={job.id} class={job.id === currentId ? "current" : ""} data-testid="history-item">
            <button type="button" class="link" onClick={() => onOpen(job.id)} title={job.input}>
              {fileName(job.input)}
            </button>
            <span class="meta">
              {formatDuration(job.durationSeconds)} · {formatCreated(job.createdUnix)}
            </span>
            {confirming === job.id ? (
              <span class="confirm">
                <button type="button" class="danger" onClick={() => { setConfirming(null); onDelete(job.id); }}>
                  Delete job
                </button>
                <button type="button" onClick={() => setConfirming(null)}>
                  Keep
                </button>
              </span>
            ) : (
              <button type="button" class="quiet" aria-label={`Delete ${fileName(job.input)}`} onClick={() => setConfirming(job.id)}>
                Delete
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
