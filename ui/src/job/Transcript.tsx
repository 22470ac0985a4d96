import type { TranscriptLine } from "../bindings";
import { formatDuration, num } from "../format";
import { indexAt } from "../logic/timeline";

interface Props {
  lines: TranscriptLine[];
  language: string | null;
  position: number;
  onSeek: (seconds: number) => void;
}

/** What was said, with timestamps; a click plays from that line. */
export function Transcript({ lines, language, position, onSeek }: Props) {
  const current = indexAt(lines, position);
  return (
    <section class="panel transcript" aria-label="Transcript" data-testid="transcript">
      <header class="panel-head">
        <h2>Transcript</h2>
        {language && <span class="muted">language: {language}</span>}
      </header>
      {lines.length === 0 ? (
        <p class="muted">No speech yet.</p>
      ) : (
        <ol>
          {lines.map((line, i) => (
            <li key={`${line.start}-${i}`} class={i === current ? "current" : ""}>
              <button type="button" class="line" onClick={() => onSeek(num(line.start))} data-testid="transcript-line">
                <span class="time">{formatDuration(line.start)}</span>
                <span class="text">
                  {line.text}
                  {line.english && <span class="english">{line.english}</span>}
                </span>
              </button>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
