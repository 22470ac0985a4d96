// Command results as the window uses them: the data, or a message to show.
import type { CommandError } from "./bindings";

export type Outcome<T> = { ok: true; value: T } | { ok: false; message: string };

/** What a generated command binding resolves to. */
export type CommandResult<T> = { status: "ok"; data: T } | { status: "error"; error: CommandError };

export async function run<T>(call: Promise<CommandResult<T>>): Promise<Outcome<T>> {
  try {
    const result = await call;
    return result.status === "ok" ? { ok: true, value: result.data } : { ok: false, message: result.error.message };
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
}
