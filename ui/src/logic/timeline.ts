// The emotion timeline under the video: where each section sits, its colour, and the
// transcript line at a moment.

import type { Emotion } from "../bindings";

export const EMOTIONS = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"] as const satisfies readonly Emotion[];

/** Colours chosen to stay apart for common colour blindness, on the dark background. One per
 *  emotion the Rust side has: a new one fails to compile here until it gets its colour. */
export const EMOTION_COLOURS: Record<Emotion, string> = {
  anger: "#e4572e",
  disgust: "#8cb369",
  fear: "#7b6cd9",
  joy: "#f4c542",
  neutral: "#7d8aa5",
  sadness: "#3e8ed0",
  surprise: "#e36fb4",
};

export function isEmotion(word: string): word is Emotion {
  return (EMOTIONS as readonly string[]).includes(word);
}

export function emotionColour(word: string): string {
  return isEmotion(word) ? EMOTION_COLOURS[word] : EMOTION_COLOURS.neutral;
}

/** Left edge and width of a span, in percent of the video. */
export function spanStyle(start: number | null, end: number | null, duration: number | null): { left: number; width: number } {
  if (start === null || end === null || duration === null || !(duration > 0)) return { left: 0, width: 0 };
  const a = Math.min(Math.max(0, start), duration);
  const b = Math.min(Math.max(a, end), duration);
  return { left: (a / duration) * 100, width: ((b - a) / duration) * 100 };
}

/** The index of the span containing `t` (the last one for t past the end), or -1. */
export function indexAt(spans: { start: number | null; end: number | null }[], t: number): number {
  for (let i = 0; i < spans.length; i++) {
    const span = spans[i];
    if (span && span.start !== null && span.end !== null && t >= span.start && t < span.end) return i;
  }
  const last = spans[spans.length - 1];
  return last && last.end !== null && t >= last.end ? spans.length - 1 : -1;
}

/** "62%": the classifier's confidence as people read it. */
export function formatConfidence(confidence: number | null): string {
  if (confidence === null) return "–";
  return `${Math.round(Math.min(1, Math.max(0, confidence)) * 100)}%`;
}
