/**
 * One stream of a session, as a Node Duplex: what the application writes goes to the peer in DATA
 * frames within the peer's credit; what the peer sends is pushed to the readable side, and credit
 * is returned as the application consumes it. `end()` half-closes (FIN), `destroy()` resets.
 */
import { Duplex } from 'node:stream';
import { INITIAL_WINDOW, ResetReason } from '../protocol/constants.ts';
import { StreamResetError, resetReasonForErrno } from '../protocol/errors.ts';
import type { Open, OpenOk } from '../protocol/frames.ts';
import type { ReceiveWindow } from './flow-control.ts';
import { ADMISSION_BYTES, ADMISSION_MS, STREAM_QUEUE_FLOOR } from './send-budget.ts';
import type { SessionStream, StreamHost } from './stream-host.ts';

/**
 * How many bytes a stream queues for sending before it stops accepting writes from the application.
 * The session's SendBudget (send-budget.ts) holds it back sooner when all streams together hold a lot.
 */
const SEND_BUFFER = 256 * 1024;
const EMPTY = Buffer.alloc(0);

export class MuxStream extends Duplex implements SessionStream {
  readonly id: number;
  /** What the OPEN frame said: destination, transport, source. */
  readonly open: Open;
  readonly #host: StreamHost;
  readonly #window: ReceiveWindow;
  #credit = INITIAL_WINDOW;
  /** Chunks the application wrote, not yet sent, from #head on (no shift(): O(1) per chunk). */
  #queue: Buffer[] = [];
  #head = 0;
  #queuedBytes = 0;
  /**
   * The callback of the write that took the queue over SEND_BUFFER. A Writable calls _write again
   * only once the previous callback ran, so there is never more than one.
   */
  #held: ((err?: Error | null) => void) | undefined;
  #finQueued = false;
  /** sendAdmission() has been asked for (it admits a stream once). */
  #admissionAsked = false;
  /** Budget reserved at admission, until the first write or ADMISSION_MS. */
  #reservation = 0;
  #reservationTimer: NodeJS.Timeout | undefined;
  #admissionWaiter: (() => void) | undefined;
  /** _final's callback, held until the FIN has been handed to the writer. */
  #finalCallback: ((err?: Error | null) => void) | undefined;
  #finSent = false;
  #finReceived = false;
  #reset = false;
  #established = false;
  #pushedTotal = 0;
  #consumedTotal = 0;
  #released = false;

  constructor(id: number, open: Open, host: StreamHost, window: ReceiveWindow) {
    super({ allowHalfOpen: true, readableHighWaterMark: 64 * 1024, writableHighWaterMark: 64 * 1024 });
    this.id = id;
    this.open = open;
    this.#host = host;
    this.#window = window;
  }

  /** True once the responder confirmed the destination is connected (OPEN_OK). */
  get established(): boolean {
    return this.#established;
  }

  /** The current receive window, in bytes (grows as the stream proves fast). */
  get receiveWindow(): number {
    return this.#window.size;
  }

  /** Bytes this side may still send before the peer grants more. */
  get sendCredit(): number {
    return this.#credit;
  }

  /** Bytes written by the application and not yet handed to the transport. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  // ---- responder side ----

  /** Confirms the open to the peer (sends OPEN_OK). Call once the destination is connected. */
  accept(): void {
    if (this.#reset || this.#established) return;
    this.#established = true;
    this.#host.sendOpenOk(this.id, this.#window.size);
  }

  /** Refuses the open: resets the stream with `reason`, and ends it here without an error. */
  reject(reason: ResetReason, message: string): void {
    if (this.#reset) return;
    this.#reset = true;
    this.#host.sendReset(this.id, reason, message);
    this.#dropQueue();
    this.destroy();
  }

  // ---- called by the session ----

  /** The peer's OPEN_OK arrived with its receive window. */
  onOpenOk({ window }: OpenOk): void {
    this.#established = true;
    this.#credit += window - INITIAL_WINDOW;
    this.emit('established');
    if (this.sendable) this.#host.wake(this);
  }

  /** A DATA frame of `length` bytes is about to arrive. Returns false on a window violation. */
  onDataStart(length: number): boolean {
    return this.#window.receive(length);
  }

  onData(piece: Buffer): void {
    if (this.#reset || this.destroyed) return;
    this.#pushedTotal += piece.length;
    this.push(piece);
    this.#returnCredit();
  }

  onDataEnd(fin: boolean): void {
    if (fin) this.onFin();
  }

  onFin(): void {
    if (this.#finReceived) return;
    this.#finReceived = true;
    this.push(null);
    this.#maybeRelease();
  }

  onWindowUpdate(increment: number): void {
    this.#credit += increment;
    if (this.sendable) this.#host.wake(this);
  }

  /** The peer reset the stream. */
  onReset(reason: ResetReason, message: string): void {
    if (this.#reset) return;
    this.#reset = true;
    this.#dropQueue();
    const text = message || `stream reset by peer (${reason})`;
    this.destroy(new StreamResetError(reason, text, true));
  }

  /** The session ended under the stream. */
  onSessionClosed(err: Error | undefined): void {
    if (this.#reset || this.destroyed) return;
    this.#reset = true;
    this.#dropQueue();
    this.destroy(new StreamResetError(ResetReason.goingAway, err ? `session closed: ${err.message}` : 'session closed', false));
  }

  // ---- DataSource, for the writer ----

  get sendable(): boolean {
    if (this.#reset) return false;
    if (this.#queuedBytes > 0) return this.#credit > 0;
    return this.#finQueued && !this.#finSent;
  }

  pullFrame(max: number): Buffer[] | undefined {
    if (!this.sendable) return undefined;
    if (this.#queuedBytes === 0) {
      this.#finSent = true;
      queueMicrotask(() => this.#maybeRelease());
      return [this.#host.dataHeader(this.id, 0, true)];
    }
    // Gather queued chunks into one frame, without copying: the application's writes are often
    // smaller than a frame, and fewer, larger frames mean fewer, larger writes at the far end.
    const frame: Buffer[] = [Buffer.alloc(0)];
    const queue = this.#queue;
    let n = 0;
    const limit = Math.min(max, this.#credit);
    while (n < limit && this.#head < queue.length) {
      const chunk = queue[this.#head];
      const take = Math.min(limit - n, chunk.length);
      if (take === chunk.length) {
        frame.push(chunk);
        // Drop the queue's reference now: under a steady upload the queue never empties, and its
        // sent slots would keep every chunk of the last 1,024 alive (64 MB of socket reads).
        queue[this.#head++] = EMPTY;
      } else {
        frame.push(chunk.subarray(0, take));
        queue[this.#head] = chunk.subarray(take);
      }
      n += take;
    }
    this.#compactQueue();
    this.#credit -= n;
    this.#queuedBytes -= n;
    this.#host.sendBudget.remove(n);
    const fin = this.#queuedBytes === 0 && this.#finQueued;
    if (fin) this.#finSent = true;
    frame[0] = this.#host.dataHeader(this.id, n, fin);
    this.#releaseWriter();
    if (fin) queueMicrotask(() => this.#maybeRelease());
    return frame;
  }

  // ---- Duplex ----

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.#reset) {
      callback(new StreamResetError(ResetReason.cancelled, 'write after the stream was reset', false));
      return;
    }
    this.#releaseReservation();
    this.#queuedBytes += chunk.length;
    this.#host.sendBudget.add(chunk.length);
    // Let the application keep writing while the queue is short; hold it back once it is long.
    this.#queue.push(chunk);
    if (this.#mustHold()) this.#hold(callback);
    else callback();
    if (this.sendable) this.#host.wake(this);
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.#finQueued = true;
    this.#finalCallback = callback;
    if (this.sendable) this.#host.wake(this);
  }

  override _read(): void {
    this.#returnCredit();
  }

  // Readable calls _read before it takes data out of its buffer, so consumption is only visible
  // after read() returns: return credit there, or the last chunks of a window are never returned.
  override read(size?: number): any {
    const chunk = super.read(size);
    if (chunk !== null) this.#returnCredit();
    return chunk;
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    if (!this.#reset && !(this.#finSent && this.#finReceived)) {
      this.#reset = true;
      const reason = err ? resetReasonForErrno((err as NodeJS.ErrnoException).code) : ResetReason.cancelled;
      const code = (err as NodeJS.ErrnoException | null)?.code;
      this.#host.sendReset(this.id, reason, err ? (code ? `${code}: ${err.message}` : err.message) : 'cancelled');
    }
    this.#dropQueue();
    this.#release();
    callback(err);
  }

  /** Returns credit for what the application has consumed since the last call. */
  #returnCredit(): void {
    if (this.#reset || this.#finReceived) return;
    const consumed = this.#pushedTotal - this.readableLength;
    const delta = consumed - this.#consumedTotal;
    if (delta <= 0) return;
    this.#consumedTotal = consumed;
    const increment = this.#window.consume(delta, performance.now());
    if (increment > 0) this.#host.sendWindowUpdate(this.id, increment);
  }

  /** True while the application should not write more: its queue, or the session's, is long. */
  #mustHold(): boolean {
    return this.#queuedBytes > SEND_BUFFER || (this.#queuedBytes > STREAM_QUEUE_FLOOR && this.#host.sendBudget.exhausted);
  }

  #hold(callback: (err?: Error | null) => void): void {
    this.#held = callback;
    this.#waitForBudgetIfItHolds();
  }

  /** Held by the session's budget alone, nothing of this stream's own would release the writer. */
  #waitForBudgetIfItHolds(): void {
    if (this.#queuedBytes <= SEND_BUFFER) this.#host.sendBudget.wait(this.#onBudgetRoom);
  }

  readonly #onBudgetRoom = () => this.#releaseWriter();

  /** Lets the application write again once the queue is short. */
  #releaseWriter(): void {
    if (!this.#held) return;
    if (this.#mustHold()) {
      this.#waitForBudgetIfItHolds();
      return;
    }
    // Clear first: the callback makes the Writable call _write at once, which may hold again.
    const callback = this.#held;
    this.#held = undefined;
    callback();
  }

  /**
   * Admits the stream to the session's send budget (send-budget.ts): undefined if it is admitted
   * now, else a promise that resolves once it is. Admission reserves the stream's likely first
   * read until it arrives. splice() waits for this before it reads a socket into the stream; asked
   * again, it admits nothing more.
   */
  sendAdmission(): Promise<void> | undefined {
    if (this.#admissionAsked || this.#reset) return undefined;
    this.#admissionAsked = true;
    const budget = this.#host.sendBudget;
    if (!budget.exhausted) {
      this.#reserve();
      return undefined;
    }
    return new Promise((resolve) => {
      this.#admissionWaiter = () => {
        this.#admissionWaiter = undefined;
        if (!this.#reset && !this.destroyed) this.#reserve();
        resolve();
      };
      budget.wait(this.#admissionWaiter);
    });
  }

  #reserve(): void {
    this.#reservation = ADMISSION_BYTES;
    this.#host.sendBudget.reserve(ADMISSION_BYTES);
    this.#reservationTimer = setTimeout(() => this.#releaseReservation(), ADMISSION_MS);
    this.#reservationTimer.unref();
  }

  #releaseReservation(): void {
    if (this.#reservation === 0) return;
    clearTimeout(this.#reservationTimer);
    this.#host.sendBudget.unreserve(this.#reservation);
    this.#reservation = 0;
  }

  /** Forgets the sent part of the queue: at once when all is sent, else in large steps. */
  #compactQueue(): void {
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  #dropQueue(): void {
    this.#queue = [];
    this.#head = 0;
    this.#host.sendBudget.remove(this.#queuedBytes);
    this.#host.sendBudget.cancel(this.#onBudgetRoom);
    this.#releaseReservation();
    if (this.#admissionWaiter) {
      // Let splice() go on: it finds the stream reset.
      this.#host.sendBudget.cancel(this.#admissionWaiter);
      this.#admissionWaiter();
    }
    this.#queuedBytes = 0;
    const held = this.#held;
    this.#held = undefined;
    held?.(new StreamResetError(ResetReason.cancelled, 'stream reset', false));
  }

  #maybeRelease(): void {
    if (this.#finSent && this.#finalCallback) {
      const callback = this.#finalCallback;
      this.#finalCallback = undefined;
      callback();
    }
    if (this.#finSent && this.#finReceived) this.#release();
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#window.release();
    this.#host.release(this);
  }
}
