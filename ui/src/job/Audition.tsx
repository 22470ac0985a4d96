import type { CandidateView, PlayerState } from "../bindings";
import { formatDuration } from "../format";

interface Props {
  candidates: CandidateView[];
  player: PlayerState | null;
  playerError: string | null;
  selected: number;
  busy: boolean;
  onSelect: (index: number) => void;
  onToggle: () => void;
  onSeek: (seconds: number) => void;
  onRegenerate: (index: number) => void;
}

/** The four candidates side by side, and the transport that plays the selected one. */
export function Audition({ candidates, player, playerError, selected, busy, onSelect, onToggle, onSeek, onRegenerate }: Props) {
  const duration = player?.duration ?? 0;
  const position = player?.position ?? 0;
  return (
    <section class="panel audition" aria-label="Audition" data-testid="audition">
      <header class="panel-head">
        <h2>Candidates</h2>
        <span class="muted">Keys: 1–4 choose · space plays or pauses · ← → seek</span>
      </header>
      <div class="cards" role="radiogroup" aria-label="Candidate">
        {candidates.map((c) => (
          <div
            key={c.index}
            class={`card ${c.index === selected ? "selected" : ""} ${c.ready ? "" : "not-ready"}`}
            data-testid="candidate"
            data-selected={c.index === selected}
          >
            <button
              type="button"
              role="radio"
              aria-checked={c.index === selected}
              class="card-main"
              disabled={!c.ready}
              onClick={() => onSelect(c.index)}
            >
              <span class="card-title">
                <kbd>{c.index + 1}</kbd> {c.palette}
              </span>
              {c.preview ? (
                <img src={c.preview} alt={`Waveform of candidate ${c.index + 1}`} />
              ) : (
                <span class="placeholder">{busy ? "being made…" : "not made yet"}</span>
              )}
              <span class="muted">{c.loudnessLufs !== null ? `${c.loudnessLufs.toFixed(1)} LUFS` : "\u00a0"}</span>
            </button>
            <button type="button" class="quiet" disabled={busy || !c.ready} onClick={() => onRegenerate(c.index)}>
              New take
            </button>
          </div>
        ))}
      </div>
      <div class="transport">
        <button
          type="button"
          class="primary play"
          disabled={!player?.loaded}
          onClick={onToggle}
          data-testid="play"
          aria-label={player?.playing ? "Pause" : "Play"}
        >
          {player?.playing ? "Pause" : "Play"}
        </button>
        <input
          type="range"
          min={0}
          max={Math.max(duration, 0.01)}
          step={0.1}
          value={position}
          disabled={!player?.loaded}
          aria-label="Position"
          data-testid="seek"
          onInput={(e) => onSeek(Number(e.currentTarget.value))}
        />
        <span class="clock" data-testid="clock">
          {formatDuration(position)} / {formatDuration(duration)}
        </span>
      </div>
      {playerError && (
        <p class="error inline" role="alert" data-testid="player-error">
          {playerError}
        </p>
      )}
    </section>
  );
}
