// Command results as the window uses them: the data, or a message to show.
import type { CommandError } from "./bindings";

export type Outcome<T> = { ok: true; value: T } | { ok: false; message: string };

export async function run<T>(
  call: Promise<{ status: "ok"; data: T } | { status: "error"; error: CommandError }>,
): Promise<Outcome<T>> {
  try {
    const result = await call;
    return result.status === "ok" ? { ok: true, value: result.data } : { ok: false, message: result.error.message };
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
}
