/** Small helpers for answering HTTP requests the way kube-apiserver does. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import { decodeProtobufBody } from './protobuf.ts';
import { ApiError, badRequest } from './status.ts';

/** The largest request body accepted (kube-apiserver's limit is 3 MiB). */
const MAX_BODY_BYTES = 3 * 1024 * 1024;

/** Sends `body` as JSON with status `code`. */
export function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache, private' });
  res.end(text);
}

/** Any thrown error as a Status; non-ApiErrors become 500 InternalError. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  return new ApiError(500, 'InternalError', `Internal error occurred: ${(err as Error)?.message ?? String(err)}`);
}

/** Sends `err` as a Status (or drops the connection once headers went out); returns the status code. */
export function sendError(res: ServerResponse, err: unknown): number {
  const apiErr = toApiError(err);
  if (res.headersSent) {
    res.destroy();
  } else {
    sendJson(res, apiErr.code, apiErr.toStatus());
  }
  return apiErr.code;
}

/** Answers a refused WebSocket upgrade with a Status body on the raw socket. */
export function rejectUpgrade(socket: Duplex, err: unknown): number {
  const apiErr = toApiError(err);
  const body = JSON.stringify(apiErr.toStatus());
  socket.end(`HTTP/1.1 ${apiErr.code} ${STATUS_CODES[apiErr.code] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  return apiErr.code;
}

/** Reads the request body: JSON, or the protobuf bodies protobuf.ts knows. Empty body → undefined. */
export async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, 'RequestEntityTooLarge', 'Request entity too large: limit is 3145728');
    chunks.push(chunk as Buffer);
  }
  const raw = Buffer.concat(chunks);
  if ((req.headers['content-type'] ?? '').startsWith('application/vnd.kubernetes.protobuf')) return decodeProtobufBody(raw);
  const text = raw.toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (${(err as Error).message})`);
  }
}
