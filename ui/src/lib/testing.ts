// Test helper: answers the app's commands as `mockIPC` does, with the
// core's table commands (sent through the one `call` command) seen by
// their own names and arguments, like the desktop's own commands.

import { mockIPC } from "@tauri-apps/api/mocks";

type Handler = (cmd: string, args: Record<string, unknown>) => unknown;

export function mockCommands(handler: Handler) {
  mockIPC((cmd, payload) => {
    const args = (payload ?? {}) as Record<string, unknown>;
    if (cmd === "call") {
      const inner = { ...((args.args ?? {}) as Record<string, unknown>) };
      // Every call carries a progress channel; kept out of sight of
      // assertions on the arguments, as only long commands use it.
      Object.defineProperty(inner, "onProgress", { value: args.onProgress, enumerable: false });
      return handler(args.name as string, inner);
    }
    return handler(cmd, args);
  });
}
