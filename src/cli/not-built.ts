/**
 * The error for commands and flags that a later issue builds. They exist so users and scripts get a
 * clear, non-zero answer instead of a silent no-op.
 */
import { UsageError } from '../errors.ts';

/**
 * @param what the command or flag, as the user typed it.
 * @param where which piece of work builds it.
 */
export function notBuiltYet(what: string, where: string): UsageError {
  return new UsageError('ENOTBUILT', `${what} is not built yet`, {
    hint: `${what} arrives with ${where}; today kubectl mirrord offers port-forward -L and socks`,
  });
}
