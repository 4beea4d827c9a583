/**
 * Encoder and streaming decoder for the layer link (declared in layer-messages.ts). Both are
 * driven by the declarations: a field list says what to write and read, in order.
 *
 * The decoder is a state machine (header, body, file contents) fed whatever chunks the socket
 * delivers; one byte at a time works the same as one big chunk. It yields whole messages, and
 * after an OPEN_FILE_OK with err 0 one `fileContent` item holding the raw bytes that follow it.
 */
import {
  LAYER_HEADER_SIZE,
  LAYER_MAX_FRAME,
  LayerMessages,
  LayerStructs,
  type LayerField,
  type LayerFieldType,
  type LayerMessage,
  type LayerMessageBody,
  type LayerMessageName,
  type LayerStat,
} from './layer-messages.ts';

/** Stable codes of layer-link failures. Any of them ends that one layer connection. */
export const LayerCodecErrorCode = {
  /** A body shorter than its fields, bytes left after the last field, a bad value. */
  malformed: 'ELAYER_MALFORMED',
  /** A type number this build does not know, or one that does not travel in this direction. */
  unknownType: 'ELAYER_UNKNOWN_TYPE',
  /** A length field above LAYER_MAX_FRAME or below the header. */
  frameTooLarge: 'ELAYER_FRAME_TOO_LARGE',
} as const;
export type LayerCodecErrorCode = (typeof LayerCodecErrorCode)[keyof typeof LayerCodecErrorCode];

export class LayerCodecError extends Error {
  readonly code: LayerCodecErrorCode;
  constructor(code: LayerCodecErrorCode, message: string) {
    super(message);
    this.name = 'LayerCodecError';
    this.code = code;
  }
}

/** Which side decodes: the proxy reads what the layer sends, and the other way round. */
export type LayerDirection = 'layer → proxy' | 'proxy → layer';

/** The raw file bytes that follow an OPEN_FILE_OK with err 0. */
export interface LayerFileContent {
  name: 'fileContent';
  /** The id of the OPEN_FILE_OK they follow. */
  id: number;
  data: Buffer;
}

export type LayerDecoded = LayerMessage | LayerFileContent;

type AnyBody = Record<string, unknown>;
const byType = new Map<number, [LayerMessageName, (typeof LayerMessages)[LayerMessageName]]>(
  Object.entries(LayerMessages).map(([name, m]) => [m.type, [name as LayerMessageName, m]]),
);
const utf8 = new TextDecoder('utf-8', { fatal: true });

// ---- encoding ----

function fieldSize(type: LayerFieldType, value: unknown, where: string): number {
  switch (type) {
    case 'u8': return 1;
    case 'u16': return 2;
    case 'u32': case 'i32': return 4;
    case 'u64': case 'i64': return 8;
    case 'str': return 4 + Buffer.byteLength(value as string, 'utf8');
    case 'bytes': return 4 + (value as Uint8Array).length;
    default: {
      const items = value as AnyBody[];
      if (!Array.isArray(items)) throw new TypeError(`${where}: expected an array`);
      let n = 4;
      for (const item of items) n += bodySize(LayerStructs[type.list], item, where);
      return n;
    }
  }
}

function bodySize(fields: readonly LayerField[], body: AnyBody, where: string): number {
  let n = 0;
  for (const [name, type] of fields) {
    if (!(name in body)) throw new TypeError(`${where}: field ${name} is missing`);
    n += fieldSize(type, body[name], `${where}.${name}`);
  }
  return n;
}

function writeField(buf: Buffer, at: number, type: LayerFieldType, value: unknown, where: string): number {
  switch (type) {
    case 'u8': return buf.writeUInt8(value as number, at);
    case 'u16': return buf.writeUInt16LE(value as number, at);
    case 'u32': return buf.writeUInt32LE(value as number, at);
    case 'i32': return buf.writeInt32LE(value as number, at);
    case 'u64': return buf.writeBigUInt64LE(value as bigint, at);
    case 'i64': return buf.writeBigInt64LE(value as bigint, at);
    case 'str': {
      const n = buf.write(value as string, at + 4, 'utf8');
      buf.writeUInt32LE(n, at);
      return at + 4 + n;
    }
    case 'bytes': {
      const bytes = value as Uint8Array;
      buf.writeUInt32LE(bytes.length, at);
      buf.set(bytes, at + 4);
      return at + 4 + bytes.length;
    }
    default: {
      const items = value as AnyBody[];
      let p = buf.writeUInt32LE(items.length, at);
      for (const item of items) p = writeBody(buf, p, LayerStructs[type.list], item, where);
      return p;
    }
  }
}

function writeBody(buf: Buffer, at: number, fields: readonly LayerField[], body: AnyBody, where: string): number {
  let p = at;
  for (const [name, type] of fields) p = writeField(buf, p, type, body[name], `${where}.${name}`);
  return p;
}

/**
 * One whole frame. Throws a TypeError for a missing field or a value out of its type's range
 * (a programming error of the caller), and a LayerCodecError for a frame above LAYER_MAX_FRAME.
 */
export function encodeLayerMessage<K extends LayerMessageName>(name: K, id: number, body: LayerMessageBody<K>): Buffer {
  const message = LayerMessages[name];
  const size = bodySize(message.fields, body as AnyBody, name);
  if (size + LAYER_HEADER_SIZE - 4 > LAYER_MAX_FRAME) {
    throw new LayerCodecError(LayerCodecErrorCode.frameTooLarge, `${name} body of ${size} bytes is above the ${LAYER_MAX_FRAME}-byte frame limit`);
  }
  const buf = Buffer.allocUnsafe(LAYER_HEADER_SIZE + size);
  buf.writeUInt32LE(LAYER_HEADER_SIZE - 4 + size, 0);
  buf.writeUInt16LE(message.type, 4);
  buf.writeUInt32LE(id, 6);
  const end = writeBody(buf, LAYER_HEADER_SIZE, message.fields, body as AnyBody, name);
  if (end !== buf.length) throw new Error(`${name}: wrote ${end} bytes of ${buf.length}`);
  return buf;
}

/**
 * The answer to OPEN_FILE: the OPEN_FILE_OK frame, then the raw contents (not framed). Write both,
 * in order, on the layer's socket. With err != 0 there are no contents. Throws a TypeError when
 * `stat.size` and the contents disagree.
 */
export function encodeOpenFileReply(id: number, stat: LayerStat, contents?: Uint8Array): Buffer[] {
  const frame = encodeLayerMessage('openFileOk', id, stat);
  if (stat.err !== 0) {
    if (contents && contents.length > 0) throw new TypeError('openFileOk with an error carries no contents');
    return [frame];
  }
  const data = contents ?? new Uint8Array(0);
  if (BigInt(data.length) !== stat.size) {
    throw new TypeError(`openFileOk: size ${stat.size} but ${data.length} bytes of contents`);
  }
  return data.length === 0 ? [frame] : [frame, Buffer.from(data.buffer, data.byteOffset, data.length)];
}

// ---- decoding ----

/** Reads fields out of one body; every short read is a LayerCodecError. */
class BodyReader {
  readonly #buf: Buffer;
  #at = 0;
  readonly #where: string;

  constructor(buf: Buffer, where: string) {
    this.#buf = buf;
    this.#where = where;
  }

  #need(n: number, field: string): void {
    if (this.#buf.length - this.#at < n) {
      throw new LayerCodecError(LayerCodecErrorCode.malformed, `${this.#where}: body ends inside field ${field}`);
    }
  }

  field(type: LayerFieldType, field: string): unknown {
    const buf = this.#buf;
    const at = this.#at;
    switch (type) {
      case 'u8': this.#need(1, field); this.#at += 1; return buf.readUInt8(at);
      case 'u16': this.#need(2, field); this.#at += 2; return buf.readUInt16LE(at);
      case 'u32': this.#need(4, field); this.#at += 4; return buf.readUInt32LE(at);
      case 'i32': this.#need(4, field); this.#at += 4; return buf.readInt32LE(at);
      case 'u64': this.#need(8, field); this.#at += 8; return buf.readBigUInt64LE(at);
      case 'i64': this.#need(8, field); this.#at += 8; return buf.readBigInt64LE(at);
      case 'str': {
        const bytes = this.#lengthPrefixed(field);
        try {
          return utf8.decode(bytes);
        } catch {
          throw new LayerCodecError(LayerCodecErrorCode.malformed, `${this.#where}: field ${field} is not valid UTF-8`);
        }
      }
      case 'bytes': return Buffer.from(this.#lengthPrefixed(field));
      default: {
        this.#need(4, field);
        const count = buf.readUInt32LE(at);
        this.#at += 4;
        // Each item is at least one byte, so a count above the bytes left is malformed at once
        // (and never allocates a huge array).
        if (count > buf.length - this.#at) {
          throw new LayerCodecError(LayerCodecErrorCode.malformed, `${this.#where}: field ${field} counts ${count} items in ${buf.length - this.#at} bytes`);
        }
        const items: AnyBody[] = [];
        for (let i = 0; i < count; i++) items.push(this.body(LayerStructs[type.list], `${field}[${i}]`));
        return items;
      }
    }
  }

  #lengthPrefixed(field: string): Buffer {
    this.#need(4, field);
    const n = this.#buf.readUInt32LE(this.#at);
    this.#at += 4;
    this.#need(n, field);
    const bytes = this.#buf.subarray(this.#at, this.#at + n);
    this.#at += n;
    return bytes;
  }

  body(fields: readonly LayerField[], prefix = ''): AnyBody {
    const out: AnyBody = {};
    for (const [name, type] of fields) out[name] = this.field(type, prefix ? `${prefix}.${name}` : name);
    return out;
  }

  end(): void {
    if (this.#at !== this.#buf.length) {
      throw new LayerCodecError(LayerCodecErrorCode.malformed, `${this.#where}: ${this.#buf.length - this.#at} bytes after the last field`);
    }
  }
}

/** Decodes one body (the bytes after the header). Exported for the C codec's fixture tests. */
export function decodeLayerBody(type: number, id: number, body: Buffer): LayerMessage {
  const entry = byType.get(type);
  if (!entry) throw new LayerCodecError(LayerCodecErrorCode.unknownType, `unknown layer message type ${type}`);
  const [name, message] = entry;
  const reader = new BodyReader(body, name);
  const decoded = reader.body(message.fields);
  reader.end();
  return { name, id, body: decoded } as LayerMessage;
}

const STATE_HEADER = 0;
const STATE_BODY = 1;
const STATE_CONTENT = 2;

/**
 * Streaming decoder. `push` returns what the chunk completed; after the first error every call
 * throws that error again (the connection is over).
 */
export class LayerDecoder {
  readonly #accept: LayerDirection;
  #state = STATE_HEADER;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #need = LAYER_HEADER_SIZE;
  #type = 0;
  #id = 0;
  #failed: LayerCodecError | undefined;

  /** `accept`: the direction of the messages this side receives; others are unknownType errors. */
  constructor(accept: LayerDirection) {
    this.#accept = accept;
  }

  /** True between messages: nothing partial is buffered. */
  get idle(): boolean {
    return this.#state === STATE_HEADER && this.#pendingBytes === 0;
  }

  push(chunk: Buffer): LayerDecoded[] {
    if (this.#failed) throw this.#failed;
    const out: LayerDecoded[] = [];
    try {
      this.#consume(chunk, out);
    } catch (err) {
      this.#failed = err instanceof LayerCodecError
        ? err
        : new LayerCodecError(LayerCodecErrorCode.malformed, `layer message handling failed: ${(err as Error).message}`);
      throw this.#failed;
    }
    return out;
  }

  #consume(chunk: Buffer, out: LayerDecoded[]): void {
    let at = 0;
    // A zero-length body or content still needs one pass of the loop after the header.
    while (at < chunk.length || (this.#need === 0 && this.#state !== STATE_HEADER)) {
      const n = Math.min(this.#need - this.#pendingBytes, chunk.length - at);
      if (n > 0) {
        this.#pending.push(chunk.subarray(at, at + n));
        this.#pendingBytes += n;
        at += n;
      }
      if (this.#pendingBytes < this.#need) return;
      const whole = this.#pending.length === 1 ? this.#pending[0] : Buffer.concat(this.#pending, this.#pendingBytes);
      this.#pending = [];
      this.#pendingBytes = 0;
      this.#step(whole, out);
    }
  }

  #step(whole: Buffer, out: LayerDecoded[]): void {
    if (this.#state === STATE_HEADER) {
      const length = whole.readUInt32LE(0);
      if (length > LAYER_MAX_FRAME || length < LAYER_HEADER_SIZE - 4) {
        throw new LayerCodecError(LayerCodecErrorCode.frameTooLarge, `layer frame length ${length} is outside ${LAYER_HEADER_SIZE - 4}..${LAYER_MAX_FRAME}`);
      }
      this.#type = whole.readUInt16LE(4);
      this.#id = whole.readUInt32LE(6);
      const entry = byType.get(this.#type);
      if (!entry || entry[1].direction !== this.#accept) {
        throw new LayerCodecError(LayerCodecErrorCode.unknownType, `layer message type ${this.#type} is not one this side receives (${this.#accept})`);
      }
      this.#state = STATE_BODY;
      this.#need = length - (LAYER_HEADER_SIZE - 4);
      return;
    }
    if (this.#state === STATE_BODY) {
      // Copy: the message may outlive the chunk it came in.
      const message = decodeLayerBody(this.#type, this.#id, Buffer.from(whole));
      out.push(message);
      if (message.name === 'openFileOk' && message.body.err === 0) {
        if (message.body.size > BigInt(Number.MAX_SAFE_INTEGER)) {
          throw new LayerCodecError(LayerCodecErrorCode.malformed, `openFileOk size ${message.body.size} is too large`);
        }
        this.#state = STATE_CONTENT;
        this.#need = Number(message.body.size);
        return;
      }
      this.#toHeader();
      return;
    }
    out.push({ name: 'fileContent', id: this.#id, data: Buffer.from(whole) });
    this.#toHeader();
  }

  #toHeader(): void {
    this.#state = STATE_HEADER;
    this.#need = LAYER_HEADER_SIZE;
  }
}
