/**
 * A one-line progress indicator on stderr. On a TTY it animates and rewrites its line; otherwise
 * (CI, pipes) it prints each new status once as a plain line, so logs stay readable.
 */
import { stderrColors as c } from './colors.ts';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export class Spinner {
  readonly #out: NodeJS.WriteStream;
  readonly #tty: boolean;
  #text = '';
  #frame = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #started = Date.now();

  constructor(text: string, out: NodeJS.WriteStream = process.stderr) {
    this.#out = out;
    this.#tty = out.isTTY === true && (process.env.TERM ?? '') !== 'dumb';
    this.update(text);
    if (this.#tty) {
      this.#timer = setInterval(() => this.#render(), 80);
      this.#timer.unref();
    }
  }

  /** Seconds since the spinner started, one decimal. */
  get elapsed(): string {
    return ((Date.now() - this.#started) / 1000).toFixed(1);
  }

  update(text: string): void {
    if (text === this.#text) return;
    this.#text = text;
    if (this.#tty) this.#render();
    else this.#out.write(`${c.dim('…')} ${text}\n`);
  }

  /** Ends the spinner, leaving `finalLine` (if any) in its place. */
  stop(finalLine?: string): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#tty) this.#out.write('\r\x1b[2K');
    if (finalLine !== undefined) this.#out.write(`${finalLine}\n`);
  }

  #render(): void {
    const frame = FRAMES[this.#frame++ % FRAMES.length];
    const width = (this.#out.columns ?? 80) - 4;
    const line = `${frame} ${this.#text} ${c.dim(`(${this.elapsed} s)`)}`;
    this.#out.write(`\r\x1b[2K${c.cyan(line.length > width + 20 ? line.slice(0, width) : line)}`);
  }
}
