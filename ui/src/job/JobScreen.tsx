import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import {
  commands,
  type AppSettings,
  type JobDetails,
  type MissingModel,
  type PlayerState,
  type StageName,
  type StageProgress,
} from "../bindings";
import type { Channel } from "@tauri-apps/api/core";
import { channel } from "../channel";
import { auditionAction, seekTarget, videoCorrection } from "../logic/audition";
import { isComplete, overallFraction, stageRows } from "../logic/stages";
import { num } from "../format";
import { run, type CommandResult, type Outcome } from "../result";
import { MediaCard } from "../components/MediaCard";
import { ThumbnailStrip } from "../components/ThumbnailStrip";
import { Audition } from "./Audition";
import { EmotionTimeline } from "./EmotionTimeline";
import { ModelsNeeded } from "./ModelsNeeded";
import { ExportPanel, type ExportStatus } from "./ExportPanel";
import { PlanEditor } from "./PlanEditor";
import { StagePanel } from "./StagePanel";
import { Transcript } from "./Transcript";

interface Props {
  jobId: string;
  /** Start processing at once (a newly dropped video). */
  autoRun: boolean;
  onChanged: () => void;
}

type Live = Partial<Record<StageName, StageProgress>>;

/** Everything about one job: its stages, what was said and felt, the plan, the four
 *  candidates against the video, and the export. */
export function JobScreen({ jobId, autoRun, onChanged }: Props) {
  const [details, setDetails] = useState<JobDetails | null>(null);
  const [live, setLive] = useState<Live>({});
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<string | null>(null);
  const [missingModels, setMissingModels] = useState<MissingModel[] | null>(null);
  const [player, setPlayer] = useState<PlayerState | null>(null);
  const [playerError, setPlayerError] = useState<string | null>(null);
  const [selected, setSelected] = useState(0);
  const selectedRef = useRef(0);
  selectedRef.current = selected;
  const [exportStatus, setExportStatus] = useState<ExportStatus>({ kind: "idle" });
  const [settings, setSettings] = useState<AppSettings | null>(null);
  const [videoTime, setVideoTime] = useState(0);
  const [poster, setPoster] = useState<string | undefined>(undefined);
  const video = useRef<HTMLVideoElement>(null);
  const started = useRef(false);

  const complete = details !== null && isComplete(details.stages);
  const position = player?.loaded ? num(player.position) : videoTime;

  const runTask = useCallback(
    async (task: (progress: Channel<StageProgress>) => Promise<CommandResult<JobDetails>>) => {
      setBusy(true);
      setMessage(null);
      setMissingModels(null);
      setLive({});
      setPlayer(null);
      const progress = channel<StageProgress>((p) => setLive((prev) => ({ ...prev, [p.stage]: p })));
      const outcome = await task(progress);
      if (outcome.status === "ok") {
        setDetails(outcome.data);
      } else {
        if (outcome.error.kind === "modelsMissing") setMissingModels(outcome.error.missingModels);
        else setMessage(outcome.error.kind === "cancelled" ? "Cancelled. Resume picks up where it stopped." : outcome.error.message);
        const reread = await run(commands.jobDetails(jobId));
        if (reread.ok) setDetails(reread.value);
      }
      setLive({});
      setBusy(false);
      onChanged();
    },
    [jobId, onChanged],
  );

  const start = useCallback(() => runTask((p) => commands.runJob(jobId, p)), [jobId, runTask]);

  useEffect(() => {
    let current = true;
    started.current = false;
    setDetails(null);
    setPlayer(null);
    setPlayerError(null);
    setSelected(0);
    setExportStatus({ kind: "idle" });
    void run(commands.jobDetails(jobId)).then((outcome) => {
      if (!current) return;
      if (outcome.ok) setDetails(outcome.value);
      else setMessage(outcome.message);
    });
    void run(commands.getSettings()).then((outcome) => {
      if (current && outcome.ok) setSettings(outcome.value);
    });
    setPoster(undefined);
    void run(commands.jobThumbnails(jobId, 1, 960)).then((outcome) => {
      if (current && outcome.ok) setPoster(outcome.value[0]?.dataUrl);
    });
    return () => {
      current = false;
      void commands.playerUnload();
    };
  }, [jobId]);

  // A new video starts processing by itself, once.
  useEffect(() => {
    if (!autoRun || !details || started.current || details.busy || isComplete(details.stages)) return;
    started.current = true;
    void start();
  }, [autoRun, details, start]);

  // The four mixes go into the player once they exist.
  useEffect(() => {
    if (!complete || busy) return;
    let current = true;
    void run(commands.playerLoad(jobId)).then((outcome) => {
      if (!current) return;
      if (outcome.ok) {
        setPlayerError(null);
        setPlayer(outcome.value);
        // A candidate picked while the mixes were loading stays picked.
        const wanted = selectedRef.current;
        if (wanted !== 0) void run(commands.playerSelect(wanted)).then((o) => o.ok && setPlayer(o.value));
      } else {
        setPlayerError(`Playback is unavailable: ${outcome.message}`);
      }
    });
    return () => {
      current = false;
    };
  }, [complete, busy, jobId, details]);

  // While playing, the position comes from the player; the video follows it.
  useEffect(() => {
    if (!player?.playing) return;
    const timer = window.setInterval(() => {
      void run(commands.playerState()).then((outcome) => {
        if (outcome.ok) setPlayer(outcome.value);
      });
    }, 100);
    return () => window.clearInterval(timer);
  }, [player?.playing]);

  useEffect(() => {
    const v = video.current;
    if (!v || !player?.loaded) return;
    const target = videoCorrection(v.currentTime, num(player.position), player.playing);
    if (target !== null && v.readyState >= 1) v.currentTime = target;
    if (player.playing && v.paused) void v.play().catch(() => {});
    if (!player.playing && !v.paused) v.pause();
  }, [player]);

  const apply = (outcome: Outcome<PlayerState>) => {
    if (outcome.ok) setPlayer(outcome.value);
    else setPlayerError(outcome.message);
  };
  const select = useCallback(
    async (index: number) => {
      setSelected(index);
      if (player?.loaded) apply(await run(commands.playerSelect(index)));
    },
    [player?.loaded],
  );
  const toggle = useCallback(async () => {
    if (!player?.loaded) return;
    apply(await run(player.playing ? commands.playerPause() : commands.playerPlay()));
  }, [player]);
  const seek = useCallback(
    async (seconds: number) => {
      if (player?.loaded) apply(await run(commands.playerSeek(seconds)));
      else if (video.current) video.current.currentTime = seconds;
    },
    [player?.loaded],
  );

  useEffect(() => {
    if (!complete) return;
    const onKey = (e: KeyboardEvent) => {
      const target = e.target instanceof HTMLElement ? e.target : null;
      const action = auditionAction(
        {
          key: e.key,
          shiftKey: e.shiftKey,
          ctrlKey: e.ctrlKey,
          metaKey: e.metaKey,
          altKey: e.altKey,
          targetTag: target?.tagName,
          targetEditable: target?.isContentEditable,
          inAudition: target !== null && target.closest("[data-testid=audition]") !== null,
        },
        details?.candidates.filter((c) => c.ready).length ?? 0,
      );
      if (!action) return;
      e.preventDefault();
      if (action.kind === "select") void select(action.index);
      else if (action.kind === "toggle") void toggle();
      else void seek(seekTarget(position, action.delta, num(player?.duration ?? details?.job.media.durationSeconds)));
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [complete, details, select, toggle, seek, position, player?.duration]);

  const edit = async (call: Promise<CommandResult<JobDetails>>) => {
    const outcome = await run(call);
    if (outcome.ok) {
      setDetails(outcome.value);
      setMessage("Plan changed: press “Run again” to hear it; only the music is made again.");
    } else setMessage(outcome.message);
  };

  const exportChosen = async () => {
    const picked = await run(commands.pickExportPath(jobId, selected));
    if (!picked.ok) return setExportStatus({ kind: "failed", message: picked.message });
    if (picked.value === null) return;
    setExportStatus({ kind: "exporting", fraction: 0 });
    const progress = channel<number | null>((fraction) => setExportStatus({ kind: "exporting", fraction: num(fraction) }));
    const done = await run(commands.exportJob(jobId, selected, picked.value, progress));
    if (done.ok) setExportStatus({ kind: "done", path: done.value.path, sizeBytes: done.value.sizeBytes });
    else setExportStatus(done.message === "cancelled" ? { kind: "idle" } : { kind: "failed", message: done.message });
  };

  const remix = async (next: AppSettings) => {
    const saved = await run(commands.saveSettings(next));
    if (!saved.ok) return setMessage(saved.message);
    setSettings(saved.value);
    await start();
  };

  if (!details) {
    return message ? (
      <p class="error" role="alert">
        {message}
      </p>
    ) : (
      <p class="status">Opening the job…</p>
    );
  }
  const rows = stageRows(details.stages, live);
  const editable = !busy && !details.busy;
  return (
    <section class="job" data-testid="job">
      <div class="job-top">
        <div class="viewer">
          {details.videoUrl ? (
            <video
              ref={video}
              src={details.videoUrl}
              poster={poster}
              muted
              playsInline
              preload="auto"
              data-testid="preview-video"
              onTimeUpdate={(e) => setVideoTime(e.currentTarget.currentTime)}
            />
          ) : (
            <p class="status">The video preview is unavailable.</p>
          )}
          <EmotionTimeline
            sections={details.sections}
            cuts={details.cuts.map((t) => num(t))}
            duration={details.job.media.durationSeconds}
            position={position}
            editable={editable}
            onSeek={(t) => void seek(t)}
            onEmotion={(s, emotion) => void edit(commands.setSectionEmotion(jobId, s, emotion))}
          />
        </div>
        <div class="side">
          <StagePanel
            rows={rows}
            overall={overallFraction(rows)}
            busy={busy || details.busy}
            complete={complete}
            onRun={() => void start()}
            onCancel={() => void commands.cancelJob(jobId)}
          />
          {missingModels && missingModels.length > 0 && (
            <ModelsNeeded
              missing={missingModels}
              onReady={() => {
                setMissingModels(null);
                void start();
              }}
            />
          )}
          {message && (
            <p class="notice" role="status" data-testid="job-message">
              {message}
            </p>
          )}
        </div>
      </div>
      <Audition
        candidates={details.candidates}
        player={player}
        playerError={playerError}
        selected={selected}
        busy={busy}
        onSelect={(i) => void select(i)}
        onToggle={() => void toggle()}
        onSeek={(t) => void seek(t)}
        onRegenerate={(c) => void runTask((p) => commands.regenerateCandidate(jobId, c, null, p))}
      />
      <ExportPanel
        selected={selected}
        ready={complete && (details.candidates[selected]?.ready ?? false)}
        busy={busy}
        status={exportStatus}
        settings={settings}
        onExport={() => void exportChosen()}
        onCancel={() => void commands.cancelJob(jobId)}
        onShow={(path) => void commands.showInFolder(path)}
        onRemix={(next) => void remix(next)}
      />
      <div class="job-bottom">
        <Transcript lines={details.transcript} language={details.language} position={position} onSeek={(t) => void seek(t)} />
        <PlanEditor
          sections={details.sections}
          candidates={details.candidates}
          editable={editable}
          onPrompt={(s, c, text) => void edit(commands.setPrompt(jobId, s, c, text))}
          onRegenerate={(c, s) => void runTask((p) => commands.regenerateCandidate(jobId, c, s, p))}
        />
      </div>
      <MediaCard info={details.job.media} />
      <ThumbnailStrip jobId={jobId} />
    </section>
  );
}
