/**
 * DNS messages on the wire (RFC 1035 section 4), just what cluster DNS needs: parse a query (name
 * compression followed, with a loop guard), encode a response with answers, authority and an EDNS
 * OPT record (RFC 6891), truncating with the TC bit when it does not fit the client's UDP size.
 */

export const RR_TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, ANY: 255 } as const;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
const CLASS_IN = 1;
const HEADER_LEN = 12;
/** RFC 1035 4.2.1: UDP messages without EDNS are at most 512 bytes. */
export const CLASSIC_UDP_MAX = 512;
/** The EDNS buffer size this server advertises and honours at most (DNS Flag Day 2020). */
export const EDNS_UDP_MAX = 1232;

const FLAG = { QR: 0x8000, AA: 0x0400, TC: 0x0200, RD: 0x0100, RA: 0x0080 } as const;

export class DnsFormatError extends Error {
  readonly code = 'DNS_FORMERR';
}

export interface Question { name: string; type: number; qclass: number }
export interface Query { id: number; flags: number; opcode: number; question: Question; ednsUdpSize?: number }
export interface ResourceRecord { name: string; type: number; ttl: number; rdata: Buffer }

/** Reads a possibly compressed name at `offset`; `next` is where the field after it starts. */
export function readName(buf: Buffer, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = offset;
  let next = -1;
  for (let jumps = 0; ; ) {
    if (pos >= buf.length) throw new DnsFormatError('name runs past the end of the message');
    const len = buf[pos];
    if (len === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= buf.length) throw new DnsFormatError('truncated compression pointer');
      if (++jumps > 64) throw new DnsFormatError('compression pointer loop');
      if (next < 0) next = pos + 2;
      pos = ((len & 0x3f) << 8) | buf[pos + 1];
      continue;
    }
    if ((len & 0xc0) !== 0) throw new DnsFormatError(`unsupported label type 0x${len.toString(16)}`);
    if (pos + 1 + len > buf.length) throw new DnsFormatError('label runs past the end of the message');
    labels.push(buf.toString('latin1', pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  return { name: labels.join('.'), next };
}

/** Encodes `name` uncompressed (`a.b` → 1 a 1 b 0). Throws for labels over 63 bytes. */
export function encodeName(name: string): Buffer {
  const parts: Buffer[] = [];
  for (const label of name.split('.').filter(Boolean)) {
    const b = Buffer.from(label, 'latin1');
    if (b.length > 63) throw new DnsFormatError(`label "${label}" is longer than 63 bytes`);
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/** Parses the first question of a query (and its EDNS OPT, if any). Throws DnsFormatError. */
export function parseQuery(buf: Buffer): Query {
  if (buf.length < HEADER_LEN) throw new DnsFormatError('message shorter than the 12-byte header');
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  const qdcount = buf.readUInt16BE(4);
  const arcount = buf.readUInt16BE(10);
  if (flags & FLAG.QR) throw new DnsFormatError('message is a response, not a query');
  if (qdcount !== 1) throw new DnsFormatError(`expected exactly one question, got ${qdcount}`);
  const { name, next } = readName(buf, HEADER_LEN);
  if (next + 4 > buf.length) throw new DnsFormatError('question runs past the end of the message');
  const question = { name, type: buf.readUInt16BE(next), qclass: buf.readUInt16BE(next + 2) };
  const query: Query = { id, flags, opcode: (flags >> 11) & 0xf, question };
  // Answer and authority sections are empty in a query; look for OPT among the additionals.
  let pos = next + 4;
  for (let i = 0; i < arcount && pos < buf.length; i++) {
    const rr = readName(buf, pos);
    if (rr.next + 10 > buf.length) break;
    const type = buf.readUInt16BE(rr.next);
    if (type === RR_TYPE.OPT) query.ednsUdpSize = buf.readUInt16BE(rr.next + 2);
    pos = rr.next + 10 + buf.readUInt16BE(rr.next + 8);
  }
  return query;
}

function encodeRecord(rr: ResourceRecord, questionName: string): Buffer {
  // The only compression written: a name equal to the question's points at offset 12.
  const name = rr.name.toLowerCase() === questionName.toLowerCase() ? Buffer.from([0xc0, HEADER_LEN]) : encodeName(rr.name);
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(rr.type, 0);
  fixed.writeUInt16BE(CLASS_IN, 2);
  fixed.writeUInt32BE(rr.ttl, 4);
  fixed.writeUInt16BE(rr.rdata.length, 8);
  return Buffer.concat([name, fixed, rr.rdata]);
}

export interface ResponseParts { rcode: number; answers: ResourceRecord[]; authority: ResourceRecord[]; authoritative: boolean }

/**
 * Encodes the response to `query`. With `maxSize` (UDP), answers that do not fit are dropped and TC
 * is set, so the client retries over TCP (RFC 1035 4.2.1, RFC 7766).
 */
export function encodeResponse(query: Query, parts: ResponseParts, maxSize?: number): Buffer {
  const header = Buffer.alloc(HEADER_LEN);
  const question = Buffer.concat([encodeName(query.question.name), Buffer.from([0, 0, 0, 0])]);
  question.writeUInt16BE(query.question.type, question.length - 4);
  question.writeUInt16BE(query.question.qclass, question.length - 2);
  const opt = query.ednsUdpSize !== undefined ? Buffer.from([0, 0, RR_TYPE.OPT, EDNS_UDP_MAX >> 8, EDNS_UDP_MAX & 255, 0, 0, 0, 0, 0, 0]) : Buffer.alloc(0);
  let answers = parts.answers.map((rr) => encodeRecord(rr, query.question.name));
  let authority = parts.authority.map((rr) => encodeRecord(rr, query.question.name));
  let truncated = false;
  const size = () => HEADER_LEN + question.length + opt.length + [...answers, ...authority].reduce((n, b) => n + b.length, 0);
  if (maxSize !== undefined && size() > maxSize) {
    truncated = true;
    authority = [];
    while (answers.length && size() > maxSize) answers = answers.slice(0, -1);
  }
  let flags = FLAG.QR | (query.opcode << 11) | (query.flags & FLAG.RD) | FLAG.RA | parts.rcode;
  if (parts.authoritative) flags |= FLAG.AA;
  if (truncated) flags |= FLAG.TC;
  header.writeUInt16BE(query.id, 0);
  header.writeUInt16BE(flags, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  header.writeUInt16BE(authority.length, 8);
  header.writeUInt16BE(opt.length ? 1 : 0, 10);
  return Buffer.concat([header, question, ...answers, ...authority, opt]);
}

/** A FORMERR/NOTIMP reply to a message that could not be parsed: echoes the id only. */
export function errorResponse(raw: Buffer, rcode: number): Buffer {
  const header = Buffer.alloc(HEADER_LEN);
  if (raw.length >= 2) raw.copy(header, 0, 0, 2);
  header.writeUInt16BE(FLAG.QR | rcode, 2);
  return header;
}

export const rdata = {
  a(ip: string): Buffer { return Buffer.from(ip.split('.').map(Number)); },
  aaaa(ip: string): Buffer {
    const [head, tail = ''] = ip.split('::');
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
    const b = Buffer.alloc(16);
    groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
    return b;
  },
  srv(priority: number, weight: number, port: number, target: string): Buffer {
    const fixed = Buffer.alloc(6);
    fixed.writeUInt16BE(priority, 0);
    fixed.writeUInt16BE(weight, 2);
    fixed.writeUInt16BE(port, 4);
    return Buffer.concat([fixed, encodeName(target)]);
  },
  soa(mname: string, rname: string, serial: number, minimum: number): Buffer {
    const nums = Buffer.alloc(20);
    [serial, 7200, 1800, 86400, minimum].forEach((n, i) => nums.writeUInt32BE(n, i * 4));
    return Buffer.concat([encodeName(mname), encodeName(rname), nums]);
  },
};
