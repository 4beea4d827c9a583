/**
 * SPDY/3.1 framing, as much as kubectl's port-forward needs (the protocol of
 * github.com/moby/spdystream, which client-go uses; spec: "SPDY Protocol - Draft 3.1"). Control
 * frames: SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE; data
 * frames carry a stream id. Header blocks are zlib-compressed with one stream per direction per
 * connection, primed with the SPDY/3 dictionary.
 */
import { constants, createDeflate, createInflate, type Deflate, type Inflate } from 'node:zlib';

/** The SPDY version in every control frame. */
export const SPDY_VERSION = 3;
/** Control frame types. */
export const FRAME = { SYN_STREAM: 1, SYN_REPLY: 2, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, HEADERS: 8, WINDOW_UPDATE: 9 } as const;
/** FIN flag of data and SYN frames: the sender will send nothing more on the stream. */
export const FLAG_FIN = 0x01;
/** RST_STREAM status codes used here. */
export const RST = { PROTOCOL_ERROR: 1, INVALID_STREAM: 2, REFUSED_STREAM: 3, CANCEL: 5, INTERNAL_ERROR: 6 } as const;
const HEADER_BYTES = 8;
/** Largest payload one frame carries (24-bit length). */
export const MAX_FRAME_DATA = 0xffffff;

/** Name/value entries: 4-byte length-prefixed words, then a run of common values (draft 3.1, 2.6.10.1). */
const DICTIONARY_WORDS = [
  'options', 'head', 'post', 'put', 'delete', 'trace', 'accept', 'accept-charset', 'accept-encoding', 'accept-language',
  'accept-ranges', 'age', 'allow', 'authorization', 'cache-control', 'connection', 'content-base', 'content-encoding',
  'content-language', 'content-length', 'content-location', 'content-md5', 'content-range', 'content-type', 'date', 'etag',
  'expect', 'expires', 'from', 'host', 'if-match', 'if-modified-since', 'if-none-match', 'if-range', 'if-unmodified-since',
  'last-modified', 'location', 'max-forwards', 'pragma', 'proxy-authenticate', 'proxy-authorization', 'range', 'referer',
  'retry-after', 'server', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'user-agent', 'vary', 'via', 'warning',
  'www-authenticate', 'method', 'get', 'status', '200 OK', 'version', 'HTTP/1.1', 'url', 'public', 'set-cookie', 'keep-alive', 'origin',
];
const DICTIONARY_TAIL = '100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505'
  + '203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized403 Forbidden'
  + '404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable'
  + 'Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT'
  + 'chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,'
  + 'publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.';

/** The SPDY/3 header-compression dictionary (1423 bytes). */
export const SPDY_DICTIONARY: Buffer = Buffer.concat([
  ...DICTIONARY_WORDS.map((w) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(w.length);
    return Buffer.concat([len, Buffer.from(w, 'latin1')]);
  }),
  Buffer.from(DICTIONARY_TAIL, 'latin1'),
]);

/** A parsed frame: control frames keep their raw payload. */
export type Frame =
  | { control: true; type: number; flags: number; payload: Buffer }
  | { control: false; streamId: number; flags: number; data: Buffer };

/** Splits a byte stream into frames; call `push` with each chunk, it returns the complete frames. */
export class FrameReader {
  private buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const frames: Frame[] = [];
    while (this.buffer.length >= HEADER_BYTES) {
      const length = this.buffer.readUIntBE(5, 3);
      if (this.buffer.length < HEADER_BYTES + length) break;
      const flags = this.buffer[4];
      const body = this.buffer.subarray(HEADER_BYTES, HEADER_BYTES + length);
      if (this.buffer[0] & 0x80) frames.push({ control: true, type: this.buffer.readUInt16BE(2), flags, payload: body });
      else frames.push({ control: false, streamId: this.buffer.readUInt32BE(0) & 0x7fffffff, flags, data: body });
      this.buffer = this.buffer.subarray(HEADER_BYTES + length);
    }
    return frames;
  }
}

function frameHeader(first: number, flags: number, length: number): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32BE(first >>> 0);
  header[4] = flags;
  header.writeUIntBE(length, 5, 3);
  return header;
}

/** Serialises a control frame. */
export function controlFrame(type: number, flags: number, payload: Buffer): Buffer {
  return Buffer.concat([frameHeader((0x8000 | SPDY_VERSION) * 0x10000 + type, flags, payload.length), payload]);
}

/** Serialises a data frame. */
export function dataFrame(streamId: number, flags: number, data: Buffer): Buffer {
  return Buffer.concat([frameHeader(streamId & 0x7fffffff, flags, data.length), data]);
}

/** Serialises RST_STREAM for `streamId` with `status` (RST). */
export function rstStreamFrame(streamId: number, status: number): Buffer {
  const payload = Buffer.alloc(8);
  payload.writeUInt32BE(streamId & 0x7fffffff);
  payload.writeUInt32BE(status, 4);
  return controlFrame(FRAME.RST_STREAM, 0, payload);
}

/** Runs one zlib stream chunk by chunk, each chunk sync-flushed, strictly in call order. */
class FlushingZlib {
  private readonly stream: Deflate | Inflate;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(stream: Deflate | Inflate) {
    this.stream = stream;
    this.stream.pause();
  }

  process(input: Buffer): Promise<Buffer> {
    const next = this.tail.then(() => new Promise<Buffer>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.stream.once('error', onError);
      this.stream.write(input);
      this.stream.flush(constants.Z_SYNC_FLUSH, () => {
        this.stream.off('error', onError);
        const chunks: Buffer[] = [];
        for (let c = this.stream.read(); c !== null; c = this.stream.read()) chunks.push(c as Buffer);
        resolve(Buffer.concat(chunks));
      });
    }));
    this.tail = next.catch(() => undefined);
    return next;
  }

  close(): void {
    this.stream.destroy();
  }
}

/** Header (de)compression for one connection: one inflate for what the peer sends, one deflate for ours. */
export class HeaderCodec {
  private readonly inflate = new FlushingZlib(createInflate({ dictionary: SPDY_DICTIONARY }));
  private readonly deflate = new FlushingZlib(createDeflate({ dictionary: SPDY_DICTIONARY }));

  /** Decodes a compressed name/value block into lower-case names → values. */
  async decode(block: Buffer): Promise<Map<string, string>> {
    const raw = await this.inflate.process(block);
    const headers = new Map<string, string>();
    const count = raw.readUInt32BE(0);
    let pos = 4;
    for (let i = 0; i < count; i++) {
      const nameLen = raw.readUInt32BE(pos);
      const name = raw.toString('utf8', pos + 4, pos + 4 + nameLen);
      pos += 4 + nameLen;
      const valueLen = raw.readUInt32BE(pos);
      headers.set(name.toLowerCase(), raw.toString('utf8', pos + 4, pos + 4 + valueLen));
      pos += 4 + valueLen;
    }
    return headers;
  }

  /** Encodes name/value pairs into a compressed block. */
  async encode(headers: Array<[string, string]>): Promise<Buffer> {
    const parts: Buffer[] = [Buffer.alloc(4)];
    parts[0].writeUInt32BE(headers.length);
    for (const [name, value] of headers) {
      for (const s of [name.toLowerCase(), value]) {
        const len = Buffer.alloc(4);
        len.writeUInt32BE(Buffer.byteLength(s));
        parts.push(len, Buffer.from(s));
      }
    }
    return this.deflate.process(Buffer.concat(parts));
  }

  close(): void {
    this.inflate.close();
    this.deflate.close();
  }
}
