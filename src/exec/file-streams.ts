/**
 * The streams that fileRead answers arrive on. The agent opens each toward the CLI (destination
 * FILE_STREAM_DESTINATION) before it sends the RESPONSE naming it (docs/protocol.md, fileRead), so
 * the proxy keeps every such stream by id until the answer claims it. Any other stream the agent
 * opens is an incoming connection: ReverseForwards' when exec's incoming traffic is on, else refused.
 */
import { ResetReason } from '../protocol/constants.ts';
import { FILE_STREAM_DESTINATION } from '../protocol/file-requests.ts';
import type { Session } from '../session/session.ts';
import type { MuxStream } from '../session/stream.ts';

/** An unclaimed file stream is reset after this long (its answer was lost, or its asker gave up). */
const UNCLAIMED_MS = 30_000;

export class FileStreams {
  readonly #waiting = new Map<number, { stream: MuxStream; timer: NodeJS.Timeout }>();
  readonly #incomingElsewhere: boolean;

  /** @param incomingElsewhere other streams are served by another listener (ReverseForwards). */
  constructor(incomingElsewhere = false) {
    this.#incomingElsewhere = incomingElsewhere;
  }

  /** Takes the file streams of a session (call once per session). */
  attach(session: Session): void {
    session.on('stream', (stream: MuxStream) => {
      const d = stream.open.destination;
      if (d.host !== FILE_STREAM_DESTINATION.host || d.port !== FILE_STREAM_DESTINATION.port) {
        if (!this.#incomingElsewhere) stream.reject(ResetReason.notAllowed, 'this exec takes no incoming traffic (feature.network.incoming is off, or there is no target)');
        return;
      }
      stream.pause();
      const timer = setTimeout(() => {
        this.#waiting.delete(stream.id);
        stream.destroy();
      }, UNCLAIMED_MS);
      timer.unref();
      this.#waiting.set(stream.id, { stream, timer });
    });
  }

  /** The stream a fileRead answer names, or undefined if it never came. */
  take(id: number): MuxStream | undefined {
    const entry = this.#waiting.get(id);
    if (!entry) return undefined;
    this.#waiting.delete(id);
    clearTimeout(entry.timer);
    return entry.stream;
  }
}

/**
 * Accepts a file stream (OPEN_OK: the agent sends only its initial window before that), reads
 * exactly `size` bytes and the FIN, then ends this side so the stream is released at both ends.
 * @throws Error when the stream resets or ends at another length (the program then sees EIO).
 */
export function readAll(stream: MuxStream, size: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    stream.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > size) {
        stream.destroy();
        reject(new Error(`the file stream carried more than the ${size} bytes its stat said`));
        return;
      }
      chunks.push(chunk);
    });
    stream.once('error', reject);
    stream.once('end', () => {
      stream.end();
      if (total !== size) reject(new Error(`the file stream carried ${total} bytes, its stat said ${size}`));
      else resolve(Buffer.concat(chunks, total));
    });
    stream.accept();
    stream.resume();
  });
}
