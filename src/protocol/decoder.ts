/**
 * Splits a byte stream into frames. An explicit state machine (header, then payload) driven by one
 * loop, fed whatever chunks the transport delivers: one byte at a time works the same as 1 MiB.
 *
 * DATA payloads are not gathered: each piece is handed on as it arrives, as a view of the
 * transport's chunk, so bulk bytes are never copied here. Every other frame is delivered whole.
 */
import { FrameType, HEADER_SIZE, MAX_FRAME_PAYLOAD } from './constants.ts';
import { ProtocolError, ProtocolErrorCode } from './errors.ts';

/** What the decoder calls. Any of these may throw a ProtocolError; it stops the decoder. */
export interface FrameSink {
  /** A whole non-DATA frame. `payload` may be a view of the transport's buffer: copy to keep it. */
  onFrame(type: FrameType, flags: number, streamId: number, payload: Buffer): void;
  /** A DATA frame begins. `length` is its whole payload, known before any of it arrives. */
  onDataStart(streamId: number, flags: number, length: number): void;
  /** A piece of the current DATA frame's payload. */
  onData(streamId: number, piece: Buffer): void;
  /** The current DATA frame is complete. */
  onDataEnd(streamId: number, flags: number): void;
}

const knownTypes: ReadonlySet<number> = new Set(Object.values(FrameType));
const STATE_HEADER = 0;
const STATE_PAYLOAD = 1;

export class FrameDecoder {
  readonly #sink: FrameSink;
  readonly #header = Buffer.alloc(HEADER_SIZE);
  #headerFill = 0;
  #state = STATE_HEADER;
  #type = 0;
  #flags = 0;
  #streamId = 0;
  #remaining = 0;
  #parts: Buffer[] = [];
  #failed: ProtocolError | undefined;

  constructor(sink: FrameSink) {
    this.#sink = sink;
  }

  /** Feeds bytes. Throws the first ProtocolError; after that every call throws it again. */
  push(chunk: Buffer): void {
    if (this.#failed) throw this.#failed;
    try {
      this.#consume(chunk);
    } catch (err) {
      this.#failed = err instanceof ProtocolError
        ? err
        : new ProtocolError(ProtocolErrorCode.malformed, `frame handling failed: ${(err as Error).message}`);
      throw this.#failed;
    }
  }

  /** True between frames: nothing partial is buffered. */
  get idle(): boolean {
    return this.#state === STATE_HEADER && this.#headerFill === 0;
  }

  #consume(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#state === STATE_HEADER) {
        if (this.#headerFill === 0 && chunk.length - at >= HEADER_SIZE) {
          this.#beginFrame(chunk, at);
          at += HEADER_SIZE;
        } else {
          const n = Math.min(HEADER_SIZE - this.#headerFill, chunk.length - at);
          chunk.copy(this.#header, this.#headerFill, at, at + n);
          this.#headerFill += n;
          at += n;
          if (this.#headerFill === HEADER_SIZE) {
            this.#headerFill = 0;
            this.#beginFrame(this.#header, 0);
          }
        }
      } else {
        const n = Math.min(this.#remaining, chunk.length - at);
        this.#takePayload(chunk.subarray(at, at + n));
        at += n;
      }
    }
  }

  #beginFrame(buf: Buffer, at: number): void {
    const length = buf.readUInt32BE(at);
    const type = buf[at + 4];
    this.#flags = buf[at + 5];
    this.#streamId = buf.readUInt32BE(at + 6);
    if (!knownTypes.has(type)) {
      throw new ProtocolError(ProtocolErrorCode.unknownType, `unknown frame type ${type} on stream ${this.#streamId}`);
    }
    if (length > MAX_FRAME_PAYLOAD) {
      throw new ProtocolError(
        ProtocolErrorCode.frameTooLarge,
        `frame of ${length} bytes on stream ${this.#streamId} exceeds the ${MAX_FRAME_PAYLOAD}-byte limit`,
      );
    }
    this.#type = type;
    this.#remaining = length;
    if (type === FrameType.data) this.#sink.onDataStart(this.#streamId, this.#flags, length);
    if (length === 0) this.#endFrame();
    else this.#state = STATE_PAYLOAD;
  }

  #takePayload(piece: Buffer): void {
    this.#remaining -= piece.length;
    if (this.#type === FrameType.data) this.#sink.onData(this.#streamId, piece);
    else this.#parts.push(piece);
    if (this.#remaining === 0) this.#endFrame();
  }

  #endFrame(): void {
    this.#state = STATE_HEADER;
    if (this.#type === FrameType.data) {
      this.#sink.onDataEnd(this.#streamId, this.#flags);
      return;
    }
    const parts = this.#parts;
    this.#parts = [];
    const payload = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    this.#sink.onFrame(this.#type as FrameType, this.#flags, this.#streamId, payload);
  }
}
