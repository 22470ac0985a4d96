import { describe, expect, it } from "vitest";
import { emotionColour, formatConfidence, indexAt, isEmotion, spanStyle } from "../../src/logic/timeline";

describe("timeline geometry", () => {
  it("places spans in percent and clamps them to the video", () => {
    expect(spanStyle(0, 5, 20)).toEqual({ left: 0, width: 25 });
    expect(spanStyle(15, 30, 20)).toEqual({ left: 75, width: 25 });
    expect(spanStyle(-2, 5, 20)).toEqual({ left: 0, width: 25 });
    expect(spanStyle(0, 5, 0)).toEqual({ left: 0, width: 0 });
  });

  it("finds the span at a moment", () => {
    const spans = [
      { start: 0, end: 5 },
      { start: 5, end: 12 },
    ];
    expect(indexAt(spans, 0)).toBe(0);
    expect(indexAt(spans, 5)).toBe(1);
    expect(indexAt(spans, 12)).toBe(1);
    expect(indexAt([{ start: 2, end: 3 }], 1)).toBe(-1);
    expect(indexAt([], 1)).toBe(-1);
  });

  it("knows the seven emotions and their colours", () => {
    expect(isEmotion("joy")).toBe(true);
    expect(isEmotion("boredom")).toBe(false);
    expect(emotionColour("boredom")).toBe(emotionColour("neutral"));
    expect(new Set(["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"].map(emotionColour)).size).toBe(7);
    expect(formatConfidence(0.624)).toBe("62%");
    expect(formatConfidence(1.4)).toBe("100%");
  });
});
