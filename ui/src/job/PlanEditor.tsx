import { useEffect, useState } from "preact/hooks";
import type { CandidateView, SectionView } from "../bindings";
import { formatDuration } from "../format";
import { emotionColour } from "../logic/timeline";

interface Props {
  sections: SectionView[];
  candidates: CandidateView[];
  editable: boolean;
  onPrompt: (section: number, candidate: number, prompt: string) => void;
  onRegenerate: (candidate: number, section: number | null) => void;
}

/** The prompts each candidate plays in each section: editable, and any one can be made anew. */
export function PlanEditor({ sections, candidates, editable, onPrompt, onRegenerate }: Props) {
  if (sections.length === 0 || sections.every((s) => s.prompts.length === 0)) return null;
  return (
    <section class="panel plan" aria-label="Music plan" data-testid="plan">
      <header class="panel-head">
        <h2>Music plan</h2>
        <span class="muted">Edit a prompt, then regenerate that candidate. Other candidates stay as they are.</span>
      </header>
      {sections.map((section, s) => (
        <article key={`${section.start}-${s}`} class="plan-section">
          <h3>
            <span class="swatch" style={{ background: emotionColour(section.emotion) }} aria-hidden="true" />
            Section {s + 1} · {formatDuration(section.start)}–{formatDuration(section.end)} · {section.emotion}
          </h3>
          <div class="prompts">
            {section.prompts.map((prompt, c) => (
              <PromptField
                key={c}
                label={`Candidate ${c + 1} (${candidates[c]?.palette ?? ""})`}
                value={prompt}
                editable={editable}
                onSave={(text) => onPrompt(s, c, text)}
                onRegenerate={() => onRegenerate(c, sections.length > 1 ? s : null)}
              />
            ))}
          </div>
        </article>
      ))}
    </section>
  );
}

function PromptField(props: {
  label: string;
  value: string;
  editable: boolean;
  onSave: (text: string) => void;
  onRegenerate: () => void;
}) {
  const [draft, setDraft] = useState(props.value);
  useEffect(() => setDraft(props.value), [props.value]);
  const changed = draft.trim() !== props.value.trim();
  return (
    <div class="prompt" data-testid="prompt">
      <label>
        <span class="prompt-label">{props.label}</span>
        <textarea
          rows={2}
          maxLength={400}
          value={draft}
          disabled={!props.editable}
          onInput={(e) => setDraft(e.currentTarget.value)}
        />
      </label>
      <div class="prompt-actions">
        <button type="button" disabled={!changed || !props.editable || draft.trim() === ""} onClick={() => props.onSave(draft)}>
          Save prompt
        </button>
        <button type="button" disabled={!props.editable || changed} onClick={props.onRegenerate}>
          Regenerate
        </button>
      </div>
    </div>
  );
}
