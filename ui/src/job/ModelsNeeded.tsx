import { useRef, useState } from "preact/hooks";
import { commands, type DownloadProgressView, type MissingModel } from "../bindings";
import { channel } from "../channel";
import { formatBytes, num } from "../format";
import { RateMeter, bytesLeft, describeMissing, formatRate } from "../logic/download";
import { formatEta } from "../logic/stages";

interface Props {
  missing: MissingModel[];
  /** Every model is downloaded: run the job. */
  onReady: () => void;
}

const STABLE_AUDIO_PAGE = "https://huggingface.co/stabilityai/stable-audio-3-small-music";

type Phase = { kind: "ask" } | { kind: "downloading"; current: number } | { kind: "paused"; current: number; message: string };

/** What a job needs before it can run, with one button that downloads it all and carries on.
 *  Downloads resume where they stopped, after a cancel or a lost connection. */
export function ModelsNeeded({ missing, onReady }: Props) {
  const [phase, setPhase] = useState<Phase>({ kind: "ask" });
  const [progress, setProgress] = useState<DownloadProgressView | null>(null);
  const [rate, setRate] = useState<number | null>(null);
  const meter = useRef(new RateMeter());

  const download = async (from: number) => {
    for (let index = from; index < missing.length; index += 1) {
      const model = missing[index];
      if (!model) break;
      setPhase({ kind: "downloading", current: index });
      setProgress(null);
      meter.current = new RateMeter();
      const updates = channel<DownloadProgressView>((p) => {
        setProgress(p);
        meter.current.add(Date.now(), num(p.done));
        setRate(meter.current.bytesPerSecond());
      });
      const result = await commands.downloadModel(model.name, updates);
      if (result.status === "error") {
        const stopped = result.error.kind === "cancelled";
        setPhase({
          kind: "paused",
          current: index,
          message: stopped ? "Download paused. Resume continues where it stopped." : result.error.message,
        });
        return;
      }
    }
    onReady();
  };

  const current = phase.kind === "ask" ? 0 : phase.current;
  const left = bytesLeft(missing, current, progress);
  const model = missing[current];
  return (
    <section class="panel models-needed" data-testid="models-needed">
      <header class="panel-head">
        <h2>Models needed</h2>
      </header>
      <p>
        To make music for this video, BGM Studio first needs {describeMissing(missing)}. They are downloaded once and run on
        this computer.
      </p>
      {missing.some((m) => m.name === "riffusion") && (
        <p class="note" data-testid="engine-choice">
          The music comes from <strong>Riffusion</strong> (CreativeML OpenRAIL-M, no account needed). The other engine,{" "}
          <strong>Stable Audio 3 Small</strong>, makes full-band stereo in far less time; its weights are gated under the
          Stability AI Community License: accept it at <code>{STABLE_AUDIO_PAGE}</code>, then add your Hugging Face token
          and download it under Models &amp; settings.
        </p>
      )}
      {phase.kind === "downloading" && model && (
        <div class="download" data-testid="download-progress">
          <progress max={num(progress?.total) || 1} value={num(progress?.done)} />
          <p class="muted">
            {model.name} ({current + 1} of {missing.length})
            {progress ? ` · ${progress.file}: ${formatBytes(progress.fileDone)} of ${formatBytes(progress.fileTotal)}` : " · starting"}
          </p>
          <p class="muted" data-testid="download-rate">
            {formatBytes(left)} left
            {rate ? ` · ${formatRate(rate)} · ${formatEta(rate > 0 ? left / rate : null)}` : ""}
          </p>
          <button type="button" data-testid="download-cancel" onClick={() => void commands.cancelDownload(model.name)}>
            Cancel
          </button>
        </div>
      )}
      {phase.kind === "paused" && (
        <p class="notice" role="status" data-testid="download-message">
          {phase.message}
        </p>
      )}
      {phase.kind !== "downloading" && (
        <button type="button" class="primary" data-testid="download-continue" onClick={() => void download(current)}>
          {phase.kind === "ask" ? "Download and continue" : "Resume download"}
        </button>
      )}
    </section>
  );
}
