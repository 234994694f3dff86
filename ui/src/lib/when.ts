// Dates, times and zones as people type them. A day may be written
// 2027-03-16, 16.03.2027, 16/03/2027 or 20270316; a time 10, 10:30, 1030,
// 10.30, 9am or 2:30 pm. A zone is found by any part of its IANA name
// ("tokyo", "new york", "berlin").

/** The day typed, as YYYY-MM-DD, or null when it names none. */
export function parseDay(typed: string): string | null {
  const s = typed.trim();
  let y: number, m: number, d: number;
  let match: RegExpMatchArray | null;
  if ((match = s.match(/^(\d{4})-(\d{1,2})-(\d{1,2})$/)) || (match = s.match(/^(\d{4})(\d{2})(\d{2})$/))) {
    [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  } else if ((match = s.match(/^(\d{1,2})[./](\d{1,2})[./](\d{4})$/))) {
    [d, m, y] = [Number(match[1]), Number(match[2]), Number(match[3])];
  } else {
    return null;
  }
  const date = new Date(Date.UTC(y, m - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) return null;
  return `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

/** The time of day typed, as HH:MM, or null when it names none. */
export function parseClock(typed: string): string | null {
  const s = typed.trim().toLowerCase().replace(/\s+/g, "");
  const match = s.match(/^(\d{1,2})(?:[:.h]?(\d{2}))?(am|pm|a\.m\.|p\.m\.)?$/);
  if (!match) return null;
  let h = Number(match[1]);
  const min = match[2] === undefined ? 0 : Number(match[2]);
  const half = match[3]?.[0];
  if (half) {
    if (h < 1 || h > 12) return null;
    h = (h % 12) + (half === "p" ? 12 : 0);
  }
  if (h > 23 || min > 59) return null;
  return `${String(h).padStart(2, "0")}:${String(min).padStart(2, "0")}`;
}

/** Zone names to choose from: every zone this computer knows, or the
 * common ones where it cannot list them. */
export function zoneNames(): string[] {
  const all = (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.("timeZone");
  return all && all.length > 0
    ? all
    : [
        "UTC", "Europe/London", "Europe/Paris", "Europe/Berlin", "Europe/Madrid", "Europe/Warsaw", "America/New_York",
        "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Sao_Paulo", "Asia/Tokyo", "Asia/Shanghai",
        "Asia/Kolkata", "Australia/Sydney",
      ];
}

/** The zones whose name holds every word typed (a city, a region), the
 * best matches first, at most `limit`. */
export function findZones(typed: string, names: string[], limit = 8): string[] {
  const words = typed.trim().toLowerCase().replace(/_/g, " ").split(/[\s/]+/).filter(Boolean);
  if (words.length === 0) return [];
  const readable = (z: string) => z.toLowerCase().replace(/_/g, " ");
  const city = (z: string) => readable(z.split("/").at(-1) ?? z);
  return names
    .filter((z) => words.every((w) => readable(z).includes(w)))
    .sort((a, b) => Number(!city(a).startsWith(words[0]!)) - Number(!city(b).startsWith(words[0]!)) || a.localeCompare(b))
    .slice(0, limit);
}
