import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import { mockCommands } from "../../lib/testing";
import RecruitmentSetup from "./RecruitmentSetup.svelte";

afterEach(() => {
  cleanup();
  clearMocks();
});

describe("RecruitmentSetup", () => {
  it("counts a screener as it is written, names a wrong line, and saves it; saves the contact rules", async () => {
    const asked: unknown[] = [];
    const saved: Record<string, unknown>[] = [];
    let rules = { cooldownDays: 90, maxSessionsPerYear: 4, noShowBanAfter: 2 };
    mockCommands((cmd, args) => {
      switch (cmd) {
        case "screeners_list":
          return [];
        case "contact_rules":
          return rules;
        case "contact_rules_save":
          rules = args.rules as typeof rules;
          return rules;
        case "suppression_lists":
        case "consent_texts":
          return [];
        case "screener_count": {
          const draft = args.draft as { qualify: string[] };
          asked.push(draft);
          if (draft.qualify.some((l) => l.includes(" from "))) {
            throw { kind: "InvalidInput", field: "criterion", value: "income from 10", reason: "write KEY=VALUE, KEY in A,B,C, KEY between MIN..MAX or KEY missing" };
          }
          return draft.qualify.length
            ? { panelSize: 3000, notQualified: 2100, eligible: 612, excluded: 288, excludedByRule: { cooldown: 200, suppressed: 88 } }
            : { panelSize: 3000, notQualified: 0, eligible: 2400, excluded: 600, excludedByRule: { cooldown: 600 } };
        }
        case "screener_save":
          saved.push(args);
          return { id: 1, name: args.name, definition: { criteria: [], quotas: [] }, createdAt: "2027-03-16T10:00:00Z", updatedAt: "2027-03-16T10:00:00Z" };
        default:
          throw new Error(`unexpected command ${cmd}`);
      }
    });
    render(RecruitmentSetup, { onClose: () => {} });
    await waitFor(() => expect(screen.getByTestId("screener-count").textContent).toContain("2,400 may be invited now"));

    const form = screen.getByTestId("screener-form");
    const qualify = form.querySelector("textarea[name=qualify]") as HTMLTextAreaElement;
    await fireEvent.input(qualify, { target: { value: "income from 10" } });
    await waitFor(() => expect(screen.getByTestId("screener-count").textContent).toContain('Criterion "income from 10" is not valid'));
    expect((screen.getByTestId("screener-save") as HTMLButtonElement).disabled).toBe(true);

    await fireEvent.input(qualify, { target: { value: "region in EU,UK\n\nage_band in 25-34" } });
    await waitFor(() => expect(screen.getByTestId("screener-count").textContent).toContain("612 may be invited now, of 3,000 on the panel"));
    expect(screen.getByTestId("screener-count").textContent).toContain("in cooldown 200, on a suppression list 88");
    await fireEvent.input(form.querySelector("input[name=screenerName]")!, { target: { value: "eu-early" } });
    await fireEvent.submit(form);
    await waitFor(() => expect(saved).toHaveLength(1));
    expect(saved[0]).toEqual({ name: "eu-early", draft: { qualify: ["region in EU,UK", "age_band in 25-34"], disqualify: [], quotas: [] } });
    expect((await screen.findByTestId("setup-notice")).textContent).toBe("Screener eu-early is saved.");

    const rulesForm = screen.getByTestId("rules-form");
    await fireEvent.input(rulesForm.querySelector("input[name=cooldownDays]")!, { target: { value: "30" } });
    await fireEvent.submit(rulesForm);
    await waitFor(() => expect(rules.cooldownDays).toBe(30));
  });
});
