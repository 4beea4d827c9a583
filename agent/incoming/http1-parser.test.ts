/** The HTTP/1 framer, fed whole and one byte at a time: raw bytes out must equal bytes in. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Http1Parser, HttpParseError, type MessageHead } from './http1-parser.ts';
import { requestFraming, responseFraming } from './http1-framing.ts';

function collect(kind: 'request' | 'response', input: Buffer, byteAtATime: boolean, method = 'GET') {
  const messages: Array<{ head: MessageHead; raw: Buffer[] }> = [];
  const parser = new Http1Parser(kind, {
    head: (head) => {
      messages.push({ head, raw: [head.raw] });
      return kind === 'request' ? requestFraming(head) : responseFraming(head, method);
    },
    body: (raw) => messages.at(-1)!.raw.push(Buffer.from(raw)),
    end: () => 'continue',
  });
  if (byteAtATime) for (let i = 0; i < input.length; i++) parser.push(input.subarray(i, i + 1));
  else parser.push(input);
  parser.finish();
  return messages.map((m) => ({ head: m.head, raw: Buffer.concat(m.raw).toString('latin1') }));
}

const pipelined = [
  'POST /a?x=1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n',
  'PUT /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc',
  'GET http://h/c HTTP/1.1\r\nHost: h\r\nX-User: me\r\n\r\n',
];

for (const byteAtATime of [false, true]) {
  test(`requests: pipelined chunked, length and empty bodies (${byteAtATime ? 'byte at a time' : 'whole'})`, () => {
    const out = collect('request', Buffer.from(pipelined.join(''), 'latin1'), byteAtATime);
    assert.deepEqual(out.map((m) => m.raw), pipelined);
    assert.deepEqual(out.map((m) => [m.head.method, m.head.target]), [['POST', '/a?x=1'], ['PUT', '/b'], ['GET', 'http://h/c']]);
    assert.deepEqual(out[2].head.headers, [['Host', 'h'], ['X-User', 'me']]);
  });

  test(`responses: 100 Continue, then a close-delimited body (${byteAtATime ? 'byte at a time' : 'whole'})`, () => {
    const input = 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end';
    const out = collect('response', Buffer.from(input), byteAtATime);
    assert.deepEqual(out.map((m) => [m.head.status, m.raw]), [
      [100, 'HTTP/1.1 100 Continue\r\n\r\n'], [200, 'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end'],
    ]);
  });
}

test('a response to HEAD has no body even with Content-Length', () => {
  const out = collect('response', Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n'), false, 'HEAD');
  assert.deepEqual(out.map((m) => m.head.status), [200, 204]);
});

test('refused: smuggling-prone framing, bad lines, bad chunk sizes, oversized heads', () => {
  const bad = [
    'POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n',
    'POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n',
    'POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n',
    'GET / HTTP/1.1\r\nBad Header: x\r\n\r\n',
    'GET / HTTP/1.1\r\n folded\r\n\r\n',
    'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    `GET / HTTP/1.1\r\nX: ${'a'.repeat(70_000)}`,
  ];
  for (const input of bad) assert.throws(() => collect('request', Buffer.from(input), false), HttpParseError, input.slice(0, 60));
});

test('a pause at a message end holds the next message until resume', () => {
  const seen: string[] = [];
  const parser = new Http1Parser('request', {
    head: (h) => { seen.push(h.target); return requestFraming(h); },
    body: () => {},
    end: () => 'pause',
  });
  parser.push(Buffer.from('GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n'));
  assert.deepEqual(seen, ['/1']);
  assert.equal(parser.paused, true);
  parser.resume();
  assert.deepEqual(seen, ['/1', '/2']);
});
