// Loads the real app with Tauri's IPC mocked: commands answer from the scenario a test put in
// `window.__BGM_SCENARIO__`, and `window.__dropFiles` plays a native file drop.
import { emit } from "@tauri-apps/api/event";
import { mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import type { AppInfo, CommandError, MediaInfo } from "../../src/bindings";

export interface Scenario {
  appInfo: AppInfo;
  media: Record<string, MediaInfo | CommandError>;
}

declare global {
  interface Window {
    __BGM_SCENARIO__?: Scenario;
    __BGM_CALLS__: { cmd: string; args: unknown }[];
    __dropFiles: (paths: string[]) => Promise<void>;
  }
}

window.__BGM_CALLS__ = [];
mockWindows("main");
mockIPC(
  (cmd, args) => {
    window.__BGM_CALLS__.push({ cmd, args });
    const scenario = window.__BGM_SCENARIO__;
    if (!scenario) throw new Error("no scenario set");
    switch (cmd) {
      case "app_info":
        return scenario.appInfo;
      case "probe_media": {
        const path = (args as { path: string }).path;
        const answer = scenario.media[path];
        if (!answer) throw { kind: "internal", message: `no mock for ${path}` };
        if ("message" in answer) throw answer;
        return answer;
      }
      default:
        throw new Error(`unmocked command ${cmd}`);
    }
  },
  { shouldMockEvents: true },
);

window.__dropFiles = async (paths) => {
  await emit("tauri://drag-enter", { paths, position: { x: 10, y: 10 } });
  await emit("tauri://drag-drop", { paths, position: { x: 10, y: 10 } });
};

await import("../../src/main");
