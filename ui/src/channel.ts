// Progress from long commands arrives through Tauri channels.
import { Channel } from "@tauri-apps/api/core";

export function channel<T>(onMessage: (message: T) => void): Channel<T> {
  return new Channel<T>(onMessage);
}
