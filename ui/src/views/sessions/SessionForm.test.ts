import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import { mockCommands } from "../../lib/testing";
import SessionForm from "./SessionForm.svelte";
import type { SessionInput } from "../../lib/bindings/SessionInput";

const ana = { id: 1, name: "Ana", email: "ana@example.com", title: "moderator", role: "researcher" as const, lead: null, timeZone: null, canSignIn: false, active: true };
let created: SessionInput[] = [];

beforeEach(() => {
  created = [];
  mockCommands((cmd, args) => {
    const a = (args ?? {}) as Record<string, unknown>;
    switch (cmd) {
      case "staff_list":
        return [ana];
      case "staff_current":
        return ana;
      case "session_start_instant":
        if (a.timeZone === "Europe/Berlin" && a.start === "2027-03-28T02:30:00") {
          throw { kind: "InvalidInput", field: "start", value: "2027-03-28 02:30", reason: "does not exist in Europe/Berlin (clocks go forward that night); choose another time" };
        }
        if (a.timeZone === "Asia/Tokyo" && a.start === "2027-03-16T10:00:00") return "2027-03-16T01:00:00Z";
        throw { kind: "InvalidInput", field: "time zone", value: String(a.timeZone), reason: "is not an IANA time zone name such as Europe/Berlin" };
      case "session_create":
        created.push(a.input as SessionInput);
        return { id: 9 };
      default:
        throw new Error(`unexpected command ${cmd}`);
    }
  });
});

afterEach(() => {
  cleanup();
  clearMocks();
});

const typeInto = (name: string, value: string) =>
  fireEvent.input(document.querySelector(`input[name=${name}]`)!, { target: { value } });

describe("SessionForm", () => {
  it("takes a typed day and time, finds the zone by its city, and shows the start here and in UTC", async () => {
    render(SessionForm, { onCreated: () => {}, onCancel: () => {} });
    await typeInto("title", "Checkout");
    await typeInto("startDay", "16.03.2027");
    await typeInto("startTime", "10");
    const zone = document.querySelector("input[name=timeZone]") as HTMLInputElement;
    await fireEvent.focus(zone);
    await typeInto("timeZone", "tokyo");
    await fireEvent.click(await screen.findByText("Asia/Tokyo"));
    expect(zone.value).toBe("Asia/Tokyo");
    await waitFor(() => expect(screen.getByTestId("start-preview").textContent).toContain("2027-03-16 01:00 UTC"));
    await fireEvent.submit(screen.getByTestId("session-form"));
    await waitFor(() => expect(created).toHaveLength(1));
    expect(created[0]).toMatchObject({ start: "2027-03-16T10:00:00", timeZone: "Asia/Tokyo" });
  });

  it("says when a typed time is not one, or does not exist in the zone", async () => {
    render(SessionForm, { onCreated: () => {}, onCancel: () => {} });
    await typeInto("startDay", "28.03.2027");
    await typeInto("startTime", "25:00");
    expect(screen.getByTestId("start-preview").textContent).toContain('"25:00" is not a time');
    await typeInto("startTime", "2:30");
    await typeInto("timeZone", "Europe/Berlin");
    await waitFor(() => expect(screen.getByTestId("start-preview").textContent).toContain("does not exist in Europe/Berlin"));
  });
});
