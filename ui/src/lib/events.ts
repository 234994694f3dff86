/**
 * The app's events (the mail worker's `outbox-changed`, the mailbox's
 * `inbox-changed`, the team queue's `team-notes-sent`) heard for as long as
 * a view is open.
 */
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

/**
 * Calls `handler` on every event `name` until the function it gives back
 * is called. Listening takes a round trip to the app; a view closed before
 * it completes stops listening as soon as it does, so no closed view is
 * kept alive (and called) by a listener nobody can remove. Outside the
 * desktop app (the web app, a test) there are no such events: nothing is
 * heard and nothing fails.
 */
export function hear(name: string, handler: () => void): () => void {
  let stopped = false;
  let unlisten: UnlistenFn | null = null;
  listen(name, handler).then(
    (stop) => {
      if (stopped) stop();
      else unlisten = stop;
    },
    () => {},
  );
  return () => {
    stopped = true;
    unlisten?.();
    unlisten = null;
  };
}
