import type { MediaInfo } from "../bindings";
import { describeAudio, describeVideo, fileName, formatBytes, formatDuration } from "../format";

export function MediaCard({ info }: { info: MediaInfo }) {
  return (
    <article class="media-card" data-testid="media-card">
      <h2>{fileName(info.path)}</h2>
      <dl>
        <dt>Length</dt>
        <dd data-testid="duration">{formatDuration(info.durationSeconds)}</dd>
        <dt>Video</dt>
        <dd data-testid="video">{describeVideo(info)}</dd>
        <dt>Audio</dt>
        <dd data-testid="audio">{describeAudio(info)}</dd>
        <dt>File</dt>
        <dd>
          {info.containerLongName} · {formatBytes(info.sizeBytes)}
        </dd>
      </dl>
    </article>
  );
}
