import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import { mockCommands } from "../../lib/testing";
import TeamConnection from "./TeamConnection.svelte";
import type { TeamStatus } from "../../lib/bindings/TeamStatus";

const rita = { id: 2, name: "Rita Researcher", email: "rita@company.example.com", title: "", role: "researcher" as const, lead: null, timeZone: null, canSignIn: true, active: true };

afterEach(() => {
  cleanup();
  clearMocks();
});

describe("TeamConnection", () => {
  it("connects with the address, the sign-in and a company's own authority", async () => {
    const sent: Record<string, unknown>[] = [];
    mockCommands((cmd, args) => {
      if (cmd === "team_connect") {
        sent.push(args);
        return { server: "https://panel.example.com", signedIn: rita, queued: 0, refused: 0 };
      }
      throw new Error(`unexpected command ${cmd}`);
    });
    const connected: (TeamStatus | null)[] = [];
    render(TeamConnection, { team: null, onConnection: (s) => connected.push(s) });
    await fireEvent.click(screen.getByTestId("team-mode-team"));
    await fireEvent.input(await screen.findByTestId("team-server"), { target: { value: "panel.example.com" } });
    await fireEvent.input(screen.getByTestId("team-email"), { target: { value: "rita@company.example.com" } });
    await fireEvent.input(screen.getByTestId("team-password"), { target: { value: "ritas long password" } });
    await fireEvent.input(screen.getByTestId("team-ca"), { target: { value: "  -----BEGIN CERTIFICATE-----x  " } });
    await fireEvent.submit(screen.getByTestId("team-form"));
    await waitFor(() => expect(connected).toHaveLength(1));
    expect(sent[0]).toMatchObject({
      server: "panel.example.com",
      ca: "-----BEGIN CERTIFICATE-----x",
      email: "rita@company.example.com",
      password: "ritas long password",
    });
    expect(connected[0]?.signedIn?.name).toBe("Rita Researcher");
  });

  it("leaving with notes not yet sent says so and offers to discard them", async () => {
    const asked: unknown[] = [];
    mockCommands((cmd, args) => {
      if (cmd === "team_disconnect") {
        asked.push(args.discardQueued);
        if (!args.discardQueued) throw { kind: "Conflict", reason: "2 live notes typed here are not yet sent to https://panel.example.com" };
        return null;
      }
      throw new Error(`unexpected command ${cmd}`);
    });
    const connected: (TeamStatus | null)[] = [];
    const team: TeamStatus = { server: "https://panel.example.com", signedIn: rita, queued: 2, refused: 0 };
    render(TeamConnection, { team, onConnection: (s) => connected.push(s) });
    expect(screen.getByTestId("team-queued").textContent).toContain("2 live notes typed here are not yet sent");
    await fireEvent.click(screen.getByTestId("team-disconnect"));
    expect((await screen.findByTestId("team-error")).textContent).toContain("not yet sent");
    expect(connected).toEqual([]);
    await fireEvent.click(await screen.findByTestId("team-disconnect-discard"));
    await waitFor(() => expect(connected).toEqual([null]));
    expect(asked).toEqual([false, true]);
  });
});
