/**
 * Cron schedules as CronJobs write them: five fields (minute hour day-of-month month day-of-week)
 * with `*`, `a-b`, `/step` and lists; times in UTC (the controller's default time zone).
 * Used by validation and by the CronJob controller.
 */

/** How far back missed schedules are looked for (the real controller gives up after 100 misses). */
const LOOKBACK_MINUTES = 24 * 60;

const RANGES: Array<[number, number]> = [[0, 59], [0, 23], [1, 31], [1, 12], [0, 6]];

/** One field's values; undefined when a part is not a number, a range or a step in bounds. */
function field(text: string, [min, max]: [number, number]): Set<number> | undefined {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const [range, stepText, extra] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    const bounds = range === '*' ? [min, max] : range.split('-').map((n) => (/^\d+$/.test(n) ? Number(n) : NaN));
    const from = bounds[0];
    const to = bounds.length > 1 ? bounds[1] : stepText === undefined ? from : max;
    // Day of week 7 is Sunday, as 0.
    const top = max === 6 ? 7 : max;
    if (extra !== undefined || bounds.length > 2 || !Number.isInteger(step) || step < 1 || !(from >= min && to <= top && from <= to)) return undefined;
    for (let v = from; v <= to; v += step) out.add(v === 7 && max === 6 ? 0 : v);
  }
  return out;
}

/** A parsed schedule, or undefined when it cannot be read. */
export function parseSchedule(schedule: string): Array<Set<number>> | undefined {
  const parts = schedule.trim().split(/\s+/);
  if (parts.length !== 5) return undefined;
  const fields = parts.map((p, i) => field(p, RANGES[i]));
  return fields.every((f) => f !== undefined) ? fields : undefined;
}

function matches(fields: Array<Set<number>>, t: Date): boolean {
  return fields[0].has(t.getUTCMinutes()) && fields[1].has(t.getUTCHours()) && fields[2].has(t.getUTCDate()) && fields[3].has(t.getUTCMonth() + 1) && fields[4].has(t.getUTCDay());
}

/** The latest scheduled time in (after, now], or undefined. Minutes, UTC (the controller's default time zone). */
export function latestScheduled(fields: Array<Set<number>>, after: number, now: number): number | undefined {
  const start = Math.max(after, now - LOOKBACK_MINUTES * 60_000);
  for (let t = Math.floor(now / 60_000) * 60_000; t > start; t -= 60_000) if (matches(fields, new Date(t))) return t;
  return undefined;
}

