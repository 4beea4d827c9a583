/**
 * The little protobuf the sandbox must read: kubectl's typed clients send bodies as
 * `application/vnd.kubernetes.protobuf` (the `k8s\0` envelope of runtime.Unknown, see
 * k8s.io/apimachinery/pkg/runtime/serializer/protobuf). Only SelfSubjectAccessReview bodies
 * (`kubectl auth can-i`) are decoded; answers are always JSON, which those clients accept.
 */
import { ApiError } from './status.ts';

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

type Fields = Map<number, Buffer[]>;

function readVarint(buf: Buffer, pos: number): [number, number] {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = buf[pos++];
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return [value, pos];
    shift += 7;
  }
}

/** Splits a message into its length-delimited fields (numbers, fixed-size and varints skipped). */
function fields(buf: Buffer): Fields {
  const out: Fields = new Map();
  let pos = 0;
  while (pos < buf.length) {
    const [key, afterKey] = readVarint(buf, pos);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    pos = afterKey;
    if (wire === 0) [, pos] = readVarint(buf, pos);
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const [len, start] = readVarint(buf, pos);
      out.set(field, [...(out.get(field) ?? []), buf.subarray(start, start + len)]);
      pos = start + len;
    } else {
      throw new ApiError(400, 'BadRequest', `unsupported protobuf wire type ${wire}`);
    }
  }
  return out;
}

function str(f: Fields, n: number): string | undefined {
  const v = f.get(n)?.[0];
  return v === undefined ? undefined : v.toString('utf8');
}

/** Decodes a protobuf SelfSubjectAccessReview into its JSON form. Throws ApiError 415 for other kinds. */
export function decodeProtobufBody(body: Buffer): unknown {
  if (!body.subarray(0, 4).equals(MAGIC)) throw new ApiError(400, 'BadRequest', 'protobuf body without the k8s envelope');
  const unknown = fields(body.subarray(4));
  const typeMeta = fields(unknown.get(1)?.[0] ?? Buffer.alloc(0));
  const kind = str(typeMeta, 2);
  if (kind !== 'SelfSubjectAccessReview') {
    throw new ApiError(415, 'UnsupportedMediaType', `the sandbox reads protobuf only for SelfSubjectAccessReview (got ${kind}); send application/json`);
  }
  const review = fields(unknown.get(2)?.[0] ?? Buffer.alloc(0));
  const spec = fields(review.get(2)?.[0] ?? Buffer.alloc(0));
  const ra = spec.get(1)?.[0];
  const nra = spec.get(2)?.[0];
  const out: Record<string, unknown> = {};
  if (ra) {
    const a = fields(ra);
    out.resourceAttributes = {
      namespace: str(a, 1) ?? '', verb: str(a, 2) ?? '', group: str(a, 3) ?? '', version: str(a, 4) ?? '',
      resource: str(a, 5) ?? '', subresource: str(a, 6) ?? '', name: str(a, 7) ?? '',
    };
  }
  if (nra) {
    const a = fields(nra);
    out.nonResourceAttributes = { path: str(a, 1) ?? '', verb: str(a, 2) ?? '' };
  }
  return { apiVersion: str(typeMeta, 1), kind, spec: out };
}
