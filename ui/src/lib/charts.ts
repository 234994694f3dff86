// Charts drawn with Chart.js on a canvas: it works offline (bundled, no
// fonts or scripts fetched), sets styles only through the CSS object model
// (so the strict content security policy holds), and is kept up by a large
// project. Each chart is a pure description built from figures here, drawn
// by the `drawn` attachment, which redraws it when its figures or the
// system's light or dark setting change and frees it when it goes. Every
// chart also says what it shows in words, for a screen reader.

import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
} from "chart.js";

Chart.register(BarController, BarElement, CategoryScale, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip);

/** The colours a chart is drawn in, read from the app's palette. */
export interface Palette {
  text: string;
  muted: string;
  line: string;
  resolved: string;
  open: string;
  overdue: string;
  accent: string;
}

/** The app's palette as the page shows it now (light or dark). */
export function palette(): Palette {
  const css = getComputedStyle(document.documentElement);
  const v = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  return {
    text: v("--text", "#1d2430"),
    muted: v("--text-muted", "#5a6270"),
    line: v("--line-faint", "#eef0f3"),
    resolved: v("--bar-resolved", "#3d8a4a"),
    open: v("--bar-open", "#3f78b8"),
    overdue: v("--danger", "#a11d2b"),
    accent: v("--accent", "#1f5c99"),
  };
}

/** A chart to draw, and the same in words. */
export interface Drawing {
  config: ChartConfiguration;
  words: string;
}

function axes(p: Palette, stacked: boolean, horizontal = false) {
  const scale = { stacked, ticks: { color: p.muted, precision: 0 }, grid: { color: p.line } };
  // Labels upright, some skipped where they would crowd (weeks of a year).
  const category = { stacked, ticks: { color: p.text, maxRotation: 0, autoSkipPadding: 12 }, grid: { display: false } };
  return horizontal ? { x: scale, y: category } : { x: category, y: scale };
}

function common(p: Palette, legend: boolean) {
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: false as const,
    plugins: { legend: { display: legend, labels: { color: p.text, boxWidth: 12 } } },
  };
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** Each owner's promises: resolved, open in time and overdue, stacked. */
export function byOwner(owners: { owner: string; open: number; overdue: number; resolved: number }[], p: Palette): Drawing {
  return {
    config: {
      type: "bar",
      data: {
        labels: owners.map((o) => o.owner),
        datasets: [
          { label: "Resolved or closed", data: owners.map((o) => o.resolved), backgroundColor: p.resolved },
          { label: "Open, in time", data: owners.map((o) => o.open - o.overdue), backgroundColor: p.open },
          { label: "Overdue", data: owners.map((o) => o.overdue), backgroundColor: p.overdue },
        ],
      },
      options: { ...common(p, true), indexAxis: "y", scales: axes(p, true, true) },
    },
    words:
      "Promises by owner: " +
      owners.map((o) => `${o.owner}, ${o.resolved} resolved, ${o.open} open, ${o.overdue} overdue`).join("; "),
  };
}

/** Issues raised each week. */
export function raisedByWeek(weeks: { label: string; raised: number }[], p: Palette): Drawing {
  return {
    config: {
      type: "bar",
      data: {
        labels: weeks.map((w) => w.label),
        datasets: [{ label: "Raised", data: weeks.map((w) => w.raised), backgroundColor: p.open }],
      },
      options: { ...common(p, false), scales: axes(p, false) },
    },
    words: "Issues raised by week: " + weeks.map((w) => `week of ${w.label}, ${w.raised}`).join("; "),
  };
}

/** The median time to first contact (hours) and to resolution (days) of
 *  each week's issues: a gap where a week has none. */
export function timesByWeek(
  weeks: { label: string; firstContactHours: number | null; resolutionDays: number | null }[],
  p: Palette,
): Drawing {
  const round = (n: number | null) => (n === null ? null : Math.round(n * 10) / 10);
  const said = (n: number | null, unit: string) => (n === null ? "none yet" : `${round(n)} ${unit}`);
  return {
    config: {
      type: "line",
      data: {
        labels: weeks.map((w) => w.label),
        datasets: [
          {
            label: "First contact (hours)",
            data: weeks.map((w) => round(w.firstContactHours)),
            borderColor: p.accent,
            backgroundColor: p.accent,
            yAxisID: "hours",
          },
          {
            label: "Resolution (days)",
            data: weeks.map((w) => round(w.resolutionDays)),
            borderColor: p.resolved,
            backgroundColor: p.resolved,
            yAxisID: "days",
          },
        ],
      },
      options: {
        ...common(p, true),
        scales: {
          x: { ticks: { color: p.text, maxRotation: 0, autoSkipPadding: 12 }, grid: { display: false } },
          hours: {
            position: "left",
            beginAtZero: true,
            title: { display: true, text: "hours", color: p.muted },
            ticks: { color: p.muted },
            grid: { color: p.line },
          },
          days: {
            position: "right",
            beginAtZero: true,
            title: { display: true, text: "days", color: p.muted },
            ticks: { color: p.muted },
            grid: { display: false },
          },
        },
      },
    },
    words:
      "Median time to first contact and to resolution by week raised: " +
      weeks
        .map((w) => `week of ${w.label}, first contact ${said(w.firstContactHours, "hours")}, resolution ${said(w.resolutionDays, "days")}`)
        .join("; "),
  };
}

/** How many issues were handed off none, once, twice… */
export function handoffs(counts: { handoffs: number; issues: number }[], p: Palette): Drawing {
  const label = (n: number) => (n === 0 ? "none" : n === 1 ? "once" : n === 2 ? "twice" : `${n} times`);
  return {
    config: {
      type: "bar",
      data: {
        labels: counts.map((c) => label(c.handoffs)),
        datasets: [
          {
            label: "Issues",
            data: counts.map((c) => c.issues),
            backgroundColor: counts.map((c) => (c.handoffs === 0 ? p.resolved : c.handoffs === 1 ? p.open : p.overdue)),
          },
        ],
      },
      options: { ...common(p, false), scales: axes(p, false) },
    },
    words:
      "Issues by how often they were handed off: " +
      counts.map((c) => `${label(c.handoffs)}, ${plural(c.issues, "issue", "issues")}`).join("; "),
  };
}

/**
 * Draws `make(palette)` on the canvas it is attached to, in the page's
 * light or dark colours; drawn again when what `make` reads changes or the
 * system's setting does, and freed when the canvas goes. Where there is no
 * layout to draw into (a test's document without a canvas), it draws
 * nothing and the chart's words still stand.
 */
export function drawn(make: (p: Palette) => Drawing) {
  return (canvas: HTMLCanvasElement) => {
    if (typeof ResizeObserver === "undefined") return;
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    let chart = new Chart(ctx, make(palette()).config);
    const scheme = window.matchMedia("(prefers-color-scheme: dark)");
    const redraw = () => {
      chart.destroy();
      chart = new Chart(ctx, make(palette()).config);
    };
    scheme.addEventListener("change", redraw);
    return () => {
      scheme.removeEventListener("change", redraw);
      chart.destroy();
    };
  };
}
