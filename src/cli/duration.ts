/** Durations on the command line: `90` (seconds), `500ms`, `30s`, `2m`. */
import { UsageError } from '../errors.ts';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration flag into milliseconds. A bare number is seconds, as in kubectl's
 * `--request-timeout`-style flags.
 * @throws UsageError naming the flag when the text is not a positive duration.
 */
export function parseDuration(text: string, flag: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?$/.exec(text.trim());
  const ms = match ? Number(match[1]) * UNITS[match[2] ?? 's'] : NaN;
  if (!Number.isFinite(ms) || ms <= 0) {
    throw new UsageError('EDURATION', `invalid ${flag} '${text}': not a positive duration`, {
      hint: `${flag} accepts seconds or a number with a unit: 90, 500ms, 30s, 2m, 1h`,
    });
  }
  return Math.round(ms);
}
