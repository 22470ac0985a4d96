import { describe, expect, it } from "vitest";
import type { StageView } from "../../src/bindings";
import { formatEta, isComplete, overallFraction, stageRows } from "../../src/logic/stages";

const stored = (states: StageView["state"][]): StageView[] =>
  (["decode", "transcribe", "emotions", "plan", "generate", "mix"] as const).map((name, i) => ({
    name,
    state: states[i] ?? "pending",
    seconds: states[i] === "done" ? 1.5 : null,
    error: states[i] === "failed" ? "riffusion is not downloaded" : null,
  }));

describe("stage rows", () => {
  it("shows stored states until progress arrives", () => {
    const rows = stageRows(stored(["done", "done", "failed"]), {});
    expect(rows.map((r) => r.fraction)).toEqual([1, 1, 0, 0, 0, 0]);
    expect(rows[2]?.message).toBe("riffusion is not downloaded");
    expect(rows[3]?.message).toBe("waiting");
  });

  it("live events win over the stored state", () => {
    const rows = stageRows(stored(["done", "done", "failed"]), {
      emotions: { job: "j", stage: "emotions", fraction: 0.4, message: "running", etaSeconds: 12 },
      plan: { job: "j", stage: "plan", fraction: 1, message: "up to date", etaSeconds: 0 },
    });
    expect(rows[2]).toMatchObject({ state: "running", fraction: 0.4, etaSeconds: 12, error: null });
    expect(rows[3]).toMatchObject({ state: "done", fraction: 1, etaSeconds: null });
  });

  it("weighs generate most in the overall fraction", () => {
    const before = overallFraction(stageRows(stored(["done", "done", "done", "done"]), {}));
    const after = overallFraction(stageRows(stored(["done", "done", "done", "done", "done"]), {}));
    expect(before).toBeLessThan(0.25);
    expect(after).toBeGreaterThan(0.9);
    expect(overallFraction(stageRows(stored(["done", "done", "done", "done", "done", "done"]), {}))).toBe(1);
  });

  it("counts a stage the settings do not need as finished", () => {
    const rows = stageRows(stored(["done", "pending"]), {
      transcribe: { job: "j", stage: "transcribe", fraction: 1, message: "not needed", etaSeconds: 0 },
    });
    expect(rows[1]).toMatchObject({ state: "skipped", fraction: 1, message: "not needed", etaSeconds: null });
    expect(stageRows(stored(["done", "skipped"]), {})[1]).toMatchObject({ fraction: 1, message: "not needed" });
    expect(isComplete(stored(["done", "skipped", "done", "done", "done", "done"]))).toBe(true);
    expect(isComplete(stored(["done", "skipped", "done", "done", "done", "pending"]))).toBe(false);
  });

  it("is complete only when every stage is done", () => {
    expect(isComplete(stored(["done", "done", "done", "done", "done", "done"]))).toBe(true);
    expect(isComplete(stored(["done", "done", "done", "done", "done", "cancelled"]))).toBe(false);
    expect(isComplete([])).toBe(false);
  });
});

describe("ETA", () => {
  it("reads like a person would say it", () => {
    expect(formatEta(null)).toBe("");
    expect(formatEta(0.2)).toBe("1 s left");
    expect(formatEta(42)).toBe("42 s left");
    expect(formatEta(200)).toBe("about 3 min left");
    expect(formatEta(3 * 3600 + 20 * 60)).toBe("about 3 h 20 min left");
    expect(formatEta(Number.NaN)).toBe("");
  });
});
