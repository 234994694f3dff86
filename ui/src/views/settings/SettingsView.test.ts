import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import { mockCommands } from "../../lib/testing";
import SettingsView from "./SettingsView.svelte";
import type { Staff } from "../../lib/bindings/Staff";

const person = (id: number, name: string, email: string, lead: number | null = null): Staff => ({
  id, name, email, title: "", role: "staff", lead, timeZone: null, canSignIn: false, active: true,
});

afterEach(() => {
  cleanup();
  clearMocks();
});

describe("Settings, staff", () => {
  it("edits a staff member, and says why someone cannot be marked as gone yet", async () => {
    let staff = [person(1, "Kim Care", "kim@company.example.com"), person(2, "Sam Owner", "sam@company.example.com")];
    const updated: Record<string, unknown>[] = [];
    mockCommands((cmd, args) => {
      switch (cmd) {
        case "staff_list":
          return staff;
        case "staff_current":
          return null;
        case "staff_deactivate":
          throw { kind: "Conflict", reason: "Sam Owner still owns 1 open issue (#3): hand it to someone else first" };
        case "staff_update": {
          updated.push(args);
          const input = args.input as { name: string; email: string };
          staff = staff.map((s) => (s.id === args.id ? { ...s, name: input.name, email: input.email } : s));
          return staff.find((s) => s.id === args.id);
        }
        default:
          return null;
      }
    });
    render(SettingsView, {});
    const rows = await screen.findAllByTestId("staff-row");
    expect(rows).toHaveLength(2);

    await fireEvent.click(within(rows[1]!).getByTestId("staff-deactivate"));
    expect((await screen.findByTestId("staff-error")).textContent).toBe(
      "Sam Owner still owns 1 open issue (#3): hand it to someone else first",
    );

    await fireEvent.click(within(rows[0]!).getByTestId("staff-edit"));
    const name = screen.getByTestId("staff-form").querySelector("input[name=staffName]") as HTMLInputElement;
    expect(name.value).toBe("Kim Care");
    await fireEvent.input(name, { target: { value: "Kim Carter" } });
    await fireEvent.submit(screen.getByTestId("staff-form"));
    await waitFor(() => expect(updated).toHaveLength(1));
    expect(updated[0]).toMatchObject({ id: 1, input: { name: "Kim Carter", email: "kim@company.example.com" } });
    expect((await screen.findByTestId("staff-notice")).textContent).toBe("Kim Carter's details are saved.");
    await waitFor(() => expect(screen.getAllByTestId("staff-row")[0]!.textContent).toContain("Kim Carter"));
  });
});
