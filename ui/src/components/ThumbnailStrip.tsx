import { useEffect, useState } from "preact/hooks";
import { commands, type ThumbnailView } from "../bindings";
import { formatDuration } from "../format";
import { run } from "../result";

const COUNT = 8;
const WIDTH = 160;

/** Frames spread over the video, so the user sees what the music is for. */
export function ThumbnailStrip({ jobId }: { jobId: string }) {
  const [thumbs, setThumbs] = useState<ThumbnailView[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let current = true;
    setThumbs(null);
    setError(null);
    void run(commands.jobThumbnails(jobId, COUNT, WIDTH)).then((outcome) => {
      if (!current) return;
      if (outcome.ok) setThumbs(outcome.value);
      else setError(outcome.message);
    });
    return () => {
      current = false;
    };
  }, [jobId]);

  if (error) return <p class="status">No preview: {error}</p>;
  if (!thumbs) return <div class="strip loading" aria-busy="true" data-testid="thumbnails-loading" />;
  return (
    <div class="strip" data-testid="thumbnails">
      {thumbs.map((t) => (
        <figure key={t.dataUrl.length + String(t.timeSeconds)}>
          <img src={t.dataUrl} alt={`Frame at ${formatDuration(t.timeSeconds)}`} />
          <figcaption>{formatDuration(t.timeSeconds)}</figcaption>
        </figure>
      ))}
    </div>
  );
}
