// The palette's words on their grounds, light and dark, held to WCAG's
// 4.5:1 for text (3:1 for the lines and marks that carry meaning), read
// from app.css itself so that a colour changed there is checked here.
import { describe, expect, it } from "vitest";
import css from "./app.css?raw";

function palette(block: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of block.matchAll(/--([a-z-]+):\s*(#[0-9a-fA-F]{6})\s*;/g)) out[m[1]!] = m[2]!;
  return out;
}

const darkAt = css.indexOf("@media (prefers-color-scheme: dark)");
const light = palette(css.slice(css.indexOf(":root {"), darkAt));
const dark = { ...light, ...palette(css.slice(darkAt, css.indexOf("}\n}", darkAt))) };

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

function contrast(a: string, b: string): number {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x! + 0.05) / (y! + 0.05);
}

/** Words and the grounds they are written on. */
const text: [string, string][] = [
  ["text", "bg"], ["text", "surface"], ["text", "surface-raised"], ["text", "surface-muted"], ["text", "hover"],
  ["text", "selected"], ["text", "today"], ["text", "event"], ["text", "badge"], ["text", "unsaved"], ["text", "source-bg"],
  ["text-muted", "surface"], ["text-muted", "surface-raised"], ["text-muted", "surface-muted"], ["text-muted", "bg"],
  ["text-muted", "event"], ["text-muted", "today"], ["accent", "surface"], ["accent", "tag-bg"], ["accent", "bg"],
  ["on-accent", "accent"], ["on-header", "header"], ["header", "on-header"], ["ok", "surface"], ["warn", "surface"],
  ["warn", "warn-bg"], ["danger", "surface"], ["danger", "danger-bg"], ["danger", "danger-faint"], ["on-danger", "danger"],
];

/** Marks that carry meaning on their ground (a bar, today's line, a border). */
const marks: [string, string][] = [["danger", "today"], ["accent", "event"], ["bar-resolved", "surface"], ["bar-open", "surface"], ["source-line", "source-bg"]];

describe("the palette", () => {
  for (const [name, scheme] of [["light", light], ["dark", dark]] as const) {
    it(`writes every word at 4.5:1 or better, and draws marks at 3:1, ${name}`, () => {
      expect(Object.keys(scheme).length).toBeGreaterThan(25);
      const poor = [
        ...text.filter(([f, b]) => contrast(scheme[f]!, scheme[b]!) < 4.5),
        ...marks.filter(([f, b]) => contrast(scheme[f]!, scheme[b]!) < 3),
      ].map(([f, b]) => `${f} on ${b}: ${contrast(scheme[f]!, scheme[b]!).toFixed(2)}`);
      expect(poor).toEqual([]);
    });
  }

  it("gives the dark scheme its own value for every ground and word", () => {
    const same = Object.keys(palette(css.slice(css.indexOf(":root {"), darkAt))).filter(
      (k) => !["on-header", "on-accent", "on-danger"].includes(k) && palette(css.slice(darkAt))[k] === undefined,
    );
    expect(same).toEqual([]);
  });

  it("leaves no colour written outside the palette", () => {
    expect(css).toContain(".calendar");
    const rules = css.slice(css.indexOf("}\n}", darkAt));
    expect(rules.match(/#[0-9a-fA-F]{3,6}\b|(?<![-\w])(?:white|black)(?![-\w])|rgba?\(/g) ?? []).toEqual([]);
  });
});
