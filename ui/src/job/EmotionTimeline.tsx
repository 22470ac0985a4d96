import type { Emotion, SectionView } from "../bindings";
import { formatDuration, num } from "../format";
import { EMOTIONS, emotionColour, formatConfidence, isEmotion, spanStyle } from "../logic/timeline";

interface Props {
  sections: SectionView[];
  /** Shot cuts, seconds: ticks on the bands. */
  cuts: number[];
  duration: number | null;
  position: number;
  editable: boolean;
  onSeek: (seconds: number) => void;
  onEmotion: (section: number, emotion: Emotion) => void;
}

/** The emotion sections as coloured bands under the video, with a playhead; each section's
 *  emotion can be changed, and the music plan follows it. */
export function EmotionTimeline({ sections, cuts, duration, position, editable, onSeek, onEmotion }: Props) {
  const head = spanStyle(0, position, duration).width;
  return (
    <section class="timeline" aria-label="Emotion timeline" data-testid="timeline">
      <div
        class="bands"
        onClick={(e) => {
          const box = e.currentTarget.getBoundingClientRect();
          if (box.width > 0) onSeek(((e.clientX - box.left) / box.width) * num(duration));
        }}
      >
        {sections.map((s, i) => {
          const { left, width } = spanStyle(s.start, s.end, duration);
          return (
            <div
              key={`${s.start}-${i}`}
              class={`band ${s.snapped ? "snapped" : ""}`}
              data-testid="timeline-section"
              data-emotion={s.emotion}
              data-snapped={s.snapped}
              style={{ left: `${left}%`, width: `${width}%`, background: emotionColour(s.emotion) }}
              title={`${s.emotion} · ${formatDuration(s.start)}–${formatDuration(s.end)}${s.snapped ? " · starts on a cut" : ""}`}
            >
              <span>{s.emotion}</span>
            </div>
          );
        })}
        {cuts.map((t) => (
          <div
            key={t}
            class="cut-tick"
            data-testid="cut-tick"
            style={{ left: `${spanStyle(0, t, duration).width}%` }}
            title={`Shot cut at ${formatDuration(t)}`}
          />
        ))}
        <div class="playhead" style={{ left: `${head}%` }} aria-hidden="true" />
      </div>
      <ul class="section-list">
        {sections.map((s, i) => (
          <li key={`${s.start}-${i}`}>
            <span class="swatch" style={{ background: emotionColour(s.emotion) }} aria-hidden="true" />
            <span class="when">
              {formatDuration(s.start)}–{formatDuration(s.end)}
            </span>
            <label>
              <span class="visually-hidden">Emotion of section {i + 1}</span>
              <select
                value={s.emotion}
                disabled={!editable}
                data-testid="section-emotion"
                onChange={(e) => {
                  const value = e.currentTarget.value;
                  if (isEmotion(value)) onEmotion(i, value);
                }}
              >
                {EMOTIONS.map((emotion) => (
                  <option key={emotion} value={emotion}>
                    {emotion}
                  </option>
                ))}
              </select>
            </label>
            <span class="muted">
              {s.emotion === s.detected
                ? `detected, ${formatConfidence(s.confidence)} sure`
                : `detected ${s.detected} (${formatConfidence(s.confidence)}), changed by you`}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}
