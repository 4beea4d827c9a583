/**
 * An incremental HTTP/1.1 message framer (RFC 9112): it finds where each request or response
 * starts and ends on a connection and hands the RAW bytes on unchanged, so a filtered steal can
 * send each request to the user's app or the original app exactly as the client wrote it.
 *
 * It parses only what framing needs: the start line, the header lines, and the body's framing
 * (Content-Length, chunked with trailers, or until close). An explicit state machine driven by
 * one loop, as in ws's receiver. Bytes are never copied except to join a head split across
 * reads.
 */

/** Largest head (start line and headers) accepted; a longer one is an error (as Node's 16 KiB, more lenient). */
export const MAX_HEAD_BYTES = 64 * 1024;

/** A request or response head. */
export interface MessageHead {
  /** The head's bytes exactly as received, through the empty line. */
  raw: Buffer;
  /** Request: method, target. Response: status, reason. */
  method: string;
  target: string;
  status: number;
  version: string;
  headers: Array<[name: string, value: string]>;
}

/** How the body after a head is delimited. */
export type BodyFraming =
  | { type: 'none' }
  | { type: 'length'; length: number }
  | { type: 'chunked' }
  /** A response body that ends when the server closes the connection. */
  | { type: 'close' }
  /** After this head the connection stops being HTTP (101 Switching Protocols, CONNECT). */
  | { type: 'tunnel' };

export interface ParserHandlers {
  /** A head arrived; answer how its body is delimited. Throw HttpParseError to refuse it. */
  head(head: MessageHead): BodyFraming;
  /** Raw body bytes, framing included (chunk sizes, trailers). */
  body(raw: Buffer): void;
  /** The message is complete. Parsing pauses until resume() when this returns 'pause'. */
  end(): 'pause' | 'continue';
}

/** The bytes are not HTTP/1 as this parser accepts it. `status` is what to answer a client with. */
export class HttpParseError extends Error {
  readonly status: number;
  constructor(message: string, status = 400) {
    super(message);
    this.name = 'HttpParseError';
    this.status = status;
  }
}

const State = {
  head: 0,
  lengthBody: 1,
  chunkSize: 2,
  chunkData: 3,
  chunkDataEnd: 4,
  trailers: 5,
  untilClose: 6,
  tunnel: 7,
} as const;
type State = (typeof State)[keyof typeof State];

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

export class Http1Parser {
  readonly #kind: 'request' | 'response';
  readonly #handlers: ParserHandlers;
  #state: State = State.head;
  #pending: Buffer = Buffer.alloc(0);
  #remaining = 0;
  #paused = false;

  constructor(kind: 'request' | 'response', handlers: ParserHandlers) {
    this.#kind = kind;
    this.#handlers = handlers;
  }

  /** True while stopped at a message end, waiting for resume(). */
  get paused(): boolean {
    return this.#paused;
  }

  /** Bytes received but not yet parsed (a partial head, or what came after a pause). */
  get bufferedBytes(): number {
    return this.#pending.length;
  }

  /** True when the connection is no longer HTTP (after a tunnel head) and bytes are raw. */
  get tunnelling(): boolean {
    return this.#state === State.tunnel;
  }

  /** True between messages: no head or body is partly received. */
  get idle(): boolean {
    return this.#state === State.head && this.#pending.length === 0;
  }

  /** Feeds bytes. Throws HttpParseError on bytes that are not acceptable HTTP/1. */
  push(chunk: Buffer): void {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    this.#run();
  }

  /** Continues after an end() that paused. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#run();
  }

  /** Takes the unparsed bytes (for a tunnel, which hands them on raw). */
  takeBuffered(): Buffer {
    const rest = this.#pending;
    this.#pending = Buffer.alloc(0);
    return rest;
  }

  /** The peer closed. A close-delimited body ends here; returns false when a message was cut short. */
  finish(): boolean {
    if (this.#state === State.untilClose) {
      this.#state = State.head;
      this.#handlers.end();
      return true;
    }
    return this.#state === State.tunnel || (this.#state === State.head && this.#pending.length === 0);
  }

  #run(): void {
    while (!this.#paused && this.#pending.length > 0) {
      if (!this.#step()) return;
    }
  }

  /** One state's work. Returns false when it needs more bytes. */
  #step(): boolean {
    switch (this.#state) {
      case State.head: return this.#readHead();
      case State.lengthBody: return this.#readCounted(State.head);
      case State.chunkSize: return this.#readChunkSize();
      case State.chunkData: return this.#readCounted(State.chunkDataEnd);
      case State.chunkDataEnd: return this.#readChunkDataEnd();
      case State.trailers: return this.#readTrailers();
      case State.untilClose:
      case State.tunnel:
        this.#handlers.body(this.takeBuffered());
        return false;
    }
  }

  #readHead(): boolean {
    // Tolerate empty lines before a request (RFC 9112 section 2.2).
    while (this.#kind === 'request' && this.#pending.subarray(0, 2).equals(CRLF)) this.#pending = this.#pending.subarray(2);
    const end = this.#pending.indexOf(HEAD_END);
    if (end < 0) {
      if (this.#pending.length > MAX_HEAD_BYTES) throw new HttpParseError(`the ${this.#kind} head is over ${MAX_HEAD_BYTES} bytes`, 431);
      return false;
    }
    const raw = this.#pending.subarray(0, end + 4);
    this.#pending = this.#pending.subarray(end + 4);
    const head = parseHead(this.#kind, raw);
    this.#startBody(this.#handlers.head(head));
    return true;
  }

  #startBody(framing: BodyFraming): void {
    switch (framing.type) {
      case 'none': this.#endMessage(); break;
      case 'length':
        if (framing.length === 0) this.#endMessage();
        else { this.#remaining = framing.length; this.#state = State.lengthBody; }
        break;
      case 'chunked': this.#state = State.chunkSize; break;
      case 'close': this.#state = State.untilClose; break;
      case 'tunnel': this.#state = State.tunnel; this.#handlers.end(); break;
    }
  }

  #endMessage(): void {
    this.#state = State.head;
    if (this.#handlers.end() === 'pause') this.#paused = true;
  }

  /** Passes on up to #remaining bytes, then moves to `next`. */
  #readCounted(next: State): boolean {
    const n = Math.min(this.#remaining, this.#pending.length);
    this.#handlers.body(this.#pending.subarray(0, n));
    this.#pending = this.#pending.subarray(n);
    this.#remaining -= n;
    if (this.#remaining > 0) return false;
    if (next === State.head) this.#endMessage();
    else this.#state = next;
    return true;
  }

  #readChunkSize(): boolean {
    const line = this.#takeLine('chunk size line');
    if (!line) return false;
    const m = /^([0-9a-fA-F]{1,15})[ \t]*(;.*)?\r\n$/s.exec(line.toString('latin1'));
    if (!m) throw new HttpParseError(`bad chunk size line ${JSON.stringify(line.toString('latin1').slice(0, 40))}`);
    this.#handlers.body(line);
    const size = parseInt(m[1], 16);
    if (size === 0) this.#state = State.trailers;
    else { this.#remaining = size; this.#state = State.chunkData; }
    return true;
  }

  #readChunkDataEnd(): boolean {
    if (this.#pending.length < 2) return false;
    if (!this.#pending.subarray(0, 2).equals(CRLF)) throw new HttpParseError('chunk data not followed by CRLF');
    this.#handlers.body(this.#pending.subarray(0, 2));
    this.#pending = this.#pending.subarray(2);
    this.#state = State.chunkSize;
    return true;
  }

  #readTrailers(): boolean {
    const line = this.#takeLine('trailer section');
    if (!line) return false;
    this.#handlers.body(line);
    if (line.length === 2) this.#endMessage();
    return true;
  }

  /** A whole CRLF-terminated line from the front of #pending, or undefined when incomplete. */
  #takeLine(what: string): Buffer | undefined {
    const at = this.#pending.indexOf(CRLF);
    if (at < 0) {
      if (this.#pending.length > MAX_HEAD_BYTES) throw new HttpParseError(`the ${what} is over ${MAX_HEAD_BYTES} bytes`);
      return undefined;
    }
    const line = this.#pending.subarray(0, at + 2);
    this.#pending = this.#pending.subarray(at + 2);
    return line;
  }
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Parses a head's start line and header lines (RFC 9112 sections 3, 4 and 5). */
export function parseHead(kind: 'request' | 'response', raw: Buffer): MessageHead {
  const lines = raw.toString('latin1').slice(0, -4).split('\r\n');
  const start = lines[0];
  const head: MessageHead = { raw, method: '', target: '', status: 0, version: '', headers: [] };
  if (kind === 'request') {
    const m = /^(\S+) (\S+) (HTTP\/\d\.\d)$/.exec(start);
    if (!m || !TOKEN.test(m[1])) throw new HttpParseError(`not an HTTP/1 request line: ${JSON.stringify(start.slice(0, 80))}`);
    [, head.method, head.target, head.version] = m;
  } else {
    const m = /^(HTTP\/\d\.\d) (\d{3})(?: .*)?$/.exec(start);
    if (!m) throw new HttpParseError(`not an HTTP/1 status line: ${JSON.stringify(start.slice(0, 80))}`, 502);
    head.version = m[1];
    head.status = Number(m[2]);
  }
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon);
    // Obsolete line folding and whitespace before the colon are refused (RFC 9112 5.1, 5.2).
    if (colon <= 0 || !TOKEN.test(name)) throw new HttpParseError(`bad header line ${JSON.stringify(line.slice(0, 80))}`, kind === 'request' ? 400 : 502);
    head.headers.push([name, line.slice(colon + 1).trim()]);
  }
  return head;
}

/** The values of header `name` (case-insensitive), in order. */
export function headerValues(head: MessageHead, name: string): string[] {
  const lower = name.toLowerCase();
  return head.headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}

/** Whether a comma-separated header (Connection, Transfer-Encoding) holds `token`. */
export function headerHasToken(head: MessageHead, name: string, token: string): boolean {
  return headerValues(head, name).some((v) => v.split(',').some((t) => t.trim().toLowerCase() === token));
}
