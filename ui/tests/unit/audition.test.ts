import { describe, expect, it } from "vitest";
import { auditionAction, seekTarget, videoCorrection } from "../../src/logic/audition";

describe("audition keys", () => {
  it("maps 1-4, space and arrows", () => {
    expect(auditionAction({ key: "1" }, 4)).toEqual({ kind: "select", index: 0 });
    expect(auditionAction({ key: "4" }, 4)).toEqual({ kind: "select", index: 3 });
    expect(auditionAction({ key: "5" }, 4)).toBeNull();
    expect(auditionAction({ key: " " }, 4)).toEqual({ kind: "toggle" });
    expect(auditionAction({ key: "ArrowRight" }, 4)).toEqual({ kind: "seek", delta: 5 });
    expect(auditionAction({ key: "ArrowLeft", shiftKey: true }, 4)).toEqual({ kind: "seek", delta: -15 });
    expect(auditionAction({ key: "x" }, 4)).toBeNull();
  });

  it("leaves typing and shortcuts alone", () => {
    expect(auditionAction({ key: "1", targetTag: "TEXTAREA" }, 4)).toBeNull();
    expect(auditionAction({ key: " ", targetTag: "INPUT" }, 4)).toBeNull();
    expect(auditionAction({ key: "2", targetTag: "DIV", targetEditable: true }, 4)).toBeNull();
    expect(auditionAction({ key: "1", ctrlKey: true }, 4)).toBeNull();
    // A focused button handles space itself.
    expect(auditionAction({ key: " ", targetTag: "BUTTON" }, 4)).toBeNull();
    expect(auditionAction({ key: "2", targetTag: "BUTTON" }, 4)).toEqual({ kind: "select", index: 1 });
    // ...but on a candidate card or the play button, space is play/pause.
    expect(auditionAction({ key: " ", targetTag: "BUTTON", inAudition: true }, 4)).toEqual({ kind: "toggle" });
  });

  it("seeks inside the track", () => {
    expect(seekTarget(3, -5, 60)).toBe(0);
    expect(seekTarget(58, 5, 60)).toBe(60);
    expect(seekTarget(10, 5, 60)).toBe(15);
  });
});

describe("video follows the player", () => {
  it("corrects drift beyond the limit only", () => {
    expect(videoCorrection(10.1, 10.0, true)).toBeNull();
    expect(videoCorrection(10.5, 10.0, true)).toBe(10.0);
    expect(videoCorrection(10.1, 10.0, false)).toBe(10.0);
    expect(videoCorrection(10.0, 10.0, false)).toBeNull();
  });
});
