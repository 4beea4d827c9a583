/**
 * The CLI's colours. chalk already turns colour off when stdout is not a TTY and honours NO_COLOR and
 * FORCE_COLOR (chalk 5 reads them through its supports-color code); `stderrColors` does the same for
 * stderr, where errors and progress go.
 */
import { Chalk, chalkStderr } from 'chalk';

function noColor(): boolean {
  // https://no-color.org: any non-empty value disables colour.
  return (process.env.NO_COLOR ?? '') !== '';
}

/** Colours for text written to stderr (progress, warnings, errors). */
export const stderrColors = noColor() ? new Chalk({ level: 0 }) : chalkStderr;
