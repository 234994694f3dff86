import { describe, expect, it, vi } from "vitest";

const pending: { name: string; resolve: (stop: () => void) => void }[] = [];
vi.mock("@tauri-apps/api/event", () => ({
  listen: (name: string) => new Promise<() => void>((resolve) => pending.push({ name, resolve })),
}));

const { hear } = await import("./events");

describe("hear", () => {
  it("stops listening once listening completes when the view closed first", async () => {
    const stop = hear("outbox-changed", () => {});
    stop();
    const unlisten = vi.fn();
    pending.shift()!.resolve(unlisten);
    await Promise.resolve();
    expect(unlisten).toHaveBeenCalledOnce();
  });

  it("keeps listening while the view is open and stops when it closes", async () => {
    const stop = hear("inbox-changed", () => {});
    const unlisten = vi.fn();
    pending.shift()!.resolve(unlisten);
    await Promise.resolve();
    expect(unlisten).not.toHaveBeenCalled();
    stop();
    stop();
    expect(unlisten).toHaveBeenCalledOnce();
  });
});
