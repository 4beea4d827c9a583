/**
 * The one line a failed connection gets by default, and the rate limit on identical ones: a
 * client that retries in a loop (a health check, a browser) must not flood the terminal. The first
 * failure of a kind prints at once; the identical ones in the next 10 s are counted and summed up
 * in one line when the window ends ("… and 37 more in the last 10 s"). A window that ends with
 * nothing counted closes, so the next failure of that kind prints at once again.
 */

/** Time and timers, injectable so tests can drive the window without waiting. */
export interface Clock {
  now(): number;
  /** Runs `fn` after `ms`; the timer must not keep the process alive. */
  setTimeout(fn: () => void, ms: number): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    setTimeout(fn, ms).unref();
  },
};

export const FAILURE_WINDOW_MS = 10_000;

interface Window {
  openedAt: number;
  /** Identical failures seen since the window opened, not printed. */
  suppressed: number;
}

export class FailureLines {
  readonly #write: (line: string) => void;
  readonly #clock: Clock;
  readonly #windowMs: number;
  readonly #windows = new Map<string, Window>();

  /** @param write the sink: one line, without its newline (the terminal, or a session's log file). */
  constructor(write: (line: string) => void, clock: Clock = systemClock, windowMs = FAILURE_WINDOW_MS) {
    this.#write = write;
    this.#clock = clock;
    this.#windowMs = windowMs;
  }

  /** Prints `line` unless an identical line was printed in the current window; then counts it. */
  report(line: string): void {
    const open = this.#windows.get(line);
    if (open) {
      open.suppressed++;
      return;
    }
    this.#write(line);
    this.#open(line);
  }

  /** At exit: sums up what the open windows counted so far, so no count is lost. */
  flush(): void {
    const now = this.#clock.now();
    for (const [line, window] of this.#windows) {
      if (window.suppressed > 0) this.#write(`${line} … and ${window.suppressed} more in the last ${formatWindow(Math.max(1000, Math.round((now - window.openedAt) / 1000) * 1000))}`);
    }
    this.#windows.clear();
  }

  #open(line: string): void {
    const window: Window = { openedAt: this.#clock.now(), suppressed: 0 };
    this.#windows.set(line, window);
    this.#clock.setTimeout(() => this.#close(line, window), this.#windowMs);
  }

  #close(line: string, window: Window): void {
    // Flushed meanwhile.
    if (this.#windows.get(line) !== window) return;
    this.#windows.delete(line);
    if (window.suppressed === 0) return;
    this.#write(`${line} … and ${window.suppressed} more in the last ${formatWindow(this.#windowMs)}`);
    // Still failing: keep summing up, one line per window, until a window passes without one.
    this.#open(line);
  }
}

function formatWindow(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
