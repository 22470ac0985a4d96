// Files dropped on the window, through Tauri's native drag-and-drop (real file paths).
import { getCurrentWebview } from "@tauri-apps/api/webview";

export type DropState = "idle" | "hovering";

export interface DropHandlers {
  onHover: (state: DropState) => void;
  onDrop: (paths: string[]) => void;
}

/** Subscribes to drag-and-drop on this window; resolves to the unsubscribe function. */
export async function watchFileDrops(handlers: DropHandlers): Promise<() => void> {
  return getCurrentWebview().onDragDropEvent((event) => {
    const payload = event.payload;
    switch (payload.type) {
      case "enter":
      case "over":
        handlers.onHover("hovering");
        break;
      case "leave":
        handlers.onHover("idle");
        break;
      case "drop":
        handlers.onHover("idle");
        if (payload.paths.length > 0) handlers.onDrop(payload.paths);
        break;
    }
  });
}
