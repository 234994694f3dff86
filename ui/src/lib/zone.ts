// The viewer's time zone: the one every time in the app is shown in. Chosen
// in Settings and kept on this computer (it belongs to the person at the
// screen, not to the panel); the computer's own zone until then.

const KEY = "panelkeeper.viewerZone";

/** The computer's own zone. */
export function computerZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/** Whether `zone` is an IANA zone this computer knows. */
export function isZone(zone: string): boolean {
  if (zone.trim() === "") return false;
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function stored(): string | null {
  try {
    return globalThis.localStorage?.getItem(KEY) ?? null;
  } catch {
    return null;
  }
}

/** The zone times are shown in: the one chosen, else the computer's. */
export function viewerZone(): string {
  const chosen = stored();
  return chosen !== null && isZone(chosen) ? chosen : computerZone();
}

/** Whether the viewer chose a zone (rather than following the computer). */
export function viewerZoneChosen(): boolean {
  const chosen = stored();
  return chosen !== null && isZone(chosen);
}

/** Shows times in `zone` from now on; null follows the computer again. */
export function setViewerZone(zone: string | null): void {
  if (zone !== null && !isZone(zone)) throw new Error(`${zone} is not a time zone this computer knows`);
  if (zone === null) globalThis.localStorage?.removeItem(KEY);
  else globalThis.localStorage?.setItem(KEY, zone);
}

/** "Tokyo" from "Asia/Tokyo", "Buenos Aires" from "America/Argentina/Buenos_Aires". */
export function zoneCity(zone: string): string {
  return (zone.split("/").at(-1) ?? zone).replace(/_/g, " ");
}
