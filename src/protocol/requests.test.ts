/**
 * The request contracts: the spec's tables agree with them, every op has one, and each check
 * accepts what the spec allows and refuses the rest with the right code, naming the field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { RequestOp } from './constants.ts';
import { posixError, posixErrorName, RequestError, ResponseErrorCode } from './request-errors.ts';
import { contractFor, Requests } from './requests.ts';

const spec = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');

/** The rows of the markdown table whose header row is `header` exactly. */
function table(header: string): string[][] {
  const lines = spec.split('\n');
  const start = lines.indexOf(header);
  assert.ok(start >= 0, `docs/protocol.md has a table headed ${header}`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.split('|').slice(1, -1).map((c) => c.trim()));
  }
  return rows;
}

const unquote = (cell: string) => cell.replace(/`/g, '');
const fields = (cell: string) => (unquote(cell) === 'null' ? null : unquote(cell).replace(/^\{|\}$/g, '').split(',').map((f) => f.trim()).filter(Boolean));

test('docs/protocol.md lists every op with the contract\'s direction, body, answer and errors', () => {
  const rows = table('| op | name | direction | body | answer | errors |');
  const documented = rows.map(([op, name, direction, body, answer, errors]) => ({
    op: Number(op), name, direction, body: fields(body), answer: fields(answer), errors: unquote(errors).split(',').map((e) => e.trim()),
  }));
  const coded = Object.values(Requests).map((c) => ({
    op: c.op, name: c.name, direction: c.direction, body: [...c.bodyFields], answer: c.answerFields && [...c.answerFields], errors: [...c.errors],
  }));
  assert.deepEqual(documented, coded);
});

test('docs/protocol.md lists every response error code, in order', () => {
  const rows = table('| error code | name | meaning |').map(([code, name]) => [name, code]);
  assert.deepEqual(rows, Object.entries(ResponseErrorCode));
  const codes = Object.values(ResponseErrorCode);
  assert.equal(new Set(codes).size, codes.length, 'codes are unique');
});

test('every op has exactly one contract, under its own name', () => {
  for (const [name, op] of Object.entries(RequestOp)) {
    const contract = contractFor(op);
    assert.ok(contract, `op ${name} has a contract`);
    assert.equal(contract.name, name);
    assert.equal(Requests[name as keyof typeof Requests], contract);
  }
  assert.equal(Object.keys(Requests).length, Object.keys(RequestOp).length);
  assert.equal(contractFor(999), undefined);
});

/** Asserts `fn` throws a RequestError with `code` and a message matching `message`. */
function refuses(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof RequestError && err.code === code && message.test(err.message));
}

test('dnsLookup: body and answer checks', () => {
  const c = Requests.dnsLookup;
  assert.deepEqual(c.checkBody({ host: 'web' }), { host: 'web' });
  assert.deepEqual(c.checkBody({ host: 'web', family: 6 }), { host: 'web', family: 6 });
  refuses(() => c.checkBody({ host: '' }), 'EINVAL', /host of 1 to 255 characters/);
  refuses(() => c.checkBody({ host: 'x'.repeat(256) }), 'EINVAL', /host of 1 to 255 characters/);
  refuses(() => c.checkBody(null), 'EINVAL', /host/);
  refuses(() => c.checkBody({ host: 'web', family: 5 }), 'EINVAL', /family must be 4 or 6, got 5/);
  assert.deepEqual(c.checkAnswer({ addresses: ['10.0.0.1'] }), { addresses: ['10.0.0.1'] });
  refuses(() => c.checkAnswer({ addresses: [1] }), 'EBADANSWER', /dnsLookup.*addresses must be a list of strings/);
  refuses(() => c.checkAnswer(null), 'EBADANSWER', /must be an object/);
});

test('portSubscribe: each bad field is named; a good body comes back as sent', () => {
  const c = Requests.portSubscribe;
  const good = { port: 80, mode: 'steal', filter: { header: '^x-user: me$', ports: [80, 8080] } };
  assert.deepEqual(c.checkBody(good), good);
  assert.deepEqual(c.checkBody({ port: 80, mode: 'mirror', filter: null }), { port: 80, mode: 'mirror' });
  const bad: Array<[unknown, RegExp]> = [
    [{ port: 0, mode: 'steal' }, /port must be a TCP port \(1-65535\), got 0/],
    [{ port: 80.5, mode: 'steal' }, /port must be a TCP port/],
    [{ port: 80, mode: 'copy' }, /mode must be "steal" or "mirror", got "copy"/],
    [{ port: 80, mode: 'mirror', filter: { header: 'a' } }, /filter only applies to mode "steal"/],
    [{ port: 80, mode: 'steal', filter: [] }, /filter must be an object/],
    [{ port: 80, mode: 'steal', filter: { heder: 'a' } }, /unknown field filter\.heder; accepted: header, path, ports/],
    [{ port: 80, mode: 'steal', filter: { path: '' } }, /filter\.path must be a non-empty regex/],
    [{ port: 80, mode: 'steal', filter: { header: 3 } }, /filter\.header must be a non-empty regex, got 3/],
    [{ port: 80, mode: 'steal', filter: {} }, /needs a header or a path/],
    [{ port: 80, mode: 'steal', filter: { header: 'a', ports: [0] } }, /filter\.ports must be a list of TCP ports/],
    [{ port: 80, mode: 'steal', filter: { header: 'a', ports: '80' } }, /filter\.ports must be a list of TCP ports/],
  ];
  for (const [body, message] of bad) refuses(() => c.checkBody(body), 'EINVAL', message);
  assert.deepEqual(c.checkAnswer({ subscription: 3 }), { subscription: 3 });
  refuses(() => c.checkAnswer({ subscription: 0 }), 'EBADANSWER', /subscription must be a positive integer/);
});

test('portUnsubscribe and notice', () => {
  assert.deepEqual(Requests.portUnsubscribe.checkBody({ subscription: 2 }), { subscription: 2 });
  refuses(() => Requests.portUnsubscribe.checkBody({ subscription: -1 }), 'EINVAL', /subscription must be the number a portSubscribe answered/);
  assert.equal(Requests.portUnsubscribe.checkAnswer(null), null);
  refuses(() => Requests.portUnsubscribe.checkAnswer({}), 'EBADANSWER', /must be null/);

  const n = Requests.notice;
  assert.deepEqual(n.checkBody({ kind: 'mirrorDropped', port: 80, dropped: 1, total: 4 }), { kind: 'mirrorDropped', port: 80, dropped: 1, total: 4 });
  assert.deepEqual(n.checkBody({ kind: 'somethingNew', extra: true }), { kind: 'unknown', name: 'somethingNew' }, 'a newer kind is not an error');
  refuses(() => n.checkBody({ port: 80 }), 'EINVAL', /a notice needs a kind/);
  refuses(() => n.checkBody({ kind: 'mirrorDropped', port: 80, dropped: -1, total: 1 }), 'EINVAL', /dropped and total must be counts/);
});

test('an error answer keeps its code, also one this build does not know', () => {
  const known = RequestError.fromAnswer({ code: 'EEXIST', message: 'port 80 is already subscribed' });
  assert.equal(known.code, 'EEXIST');
  assert.equal(known.message, 'port 80 is already subscribed');
  assert.equal(RequestError.fromAnswer({ code: 'ENEWER', message: 'm' }).code, 'ENEWER');
  const bare = RequestError.fromAnswer(null);
  assert.equal(bare.code, 'EINTERNAL');
  assert.equal(bare.message, 'request failed');
});

const stat = {
  mode: 0o100644, uid: 0, gid: 0, size: 20, nlink: 1, ino: '18446744073709551615', dev: '2049', rdev: '0', blksize: 4096, blocks: 8,
  atime: { s: 1, ns: 2 }, mtime: { s: 3, ns: 999_999_999 }, ctime: { s: -1, ns: 0 },
};

test('file requests: paths are absolute, without NUL, and up to PATH_MAX; ENAMETOOLONG names the limit', () => {
  const c = Requests.fileStat;
  assert.deepEqual(c.checkBody({ path: '/etc/x', follow: true }), { path: '/etc/x', follow: true });
  refuses(() => c.checkBody({ path: 'etc/x', follow: true }), 'EINVAL', /absolute path/);
  refuses(() => c.checkBody({ path: '/a\0b', follow: true }), 'EINVAL', /NUL/);
  refuses(() => c.checkBody({ path: '/etc/x', follow: 1 }), 'EINVAL', /follow must be true \(stat\) or false \(lstat\)/);
  refuses(() => c.checkBody({ path: '/etc/x', follow: true, extra: 1 }), 'EINVAL', /unknown field fileStat\.extra/);
  refuses(() => c.checkBody({ path: `/${'a'.repeat(4095)}`, follow: true }), 'EPOSIX', /^ENAMETOOLONG: .*at most 4095/);
  assert.deepEqual(c.checkAnswer(stat), stat);
  refuses(() => c.checkAnswer({ ...stat, ino: 5 }), 'EBADANSWER', /ino must be a u64 in decimal digits/);
  refuses(() => c.checkAnswer({ ...stat, ino: '18446744073709551616' }), 'EBADANSWER', /ino must be a u64/);
  refuses(() => c.checkAnswer({ ...stat, mtime: { s: 1, ns: 1e9 } }), 'EBADANSWER', /mtime must be \{s, ns\}/);
  refuses(() => c.checkAnswer({ ...stat, size: -1 }), 'EBADANSWER', /size must be a non-negative integer/);
});

test('fileRead, dirList, readLink: bodies and answers', () => {
  assert.deepEqual(Requests.fileRead.checkBody({ path: '/f', maxBytes: 0 }), { path: '/f', maxBytes: 0 });
  refuses(() => Requests.fileRead.checkBody({ path: '/f', maxBytes: -1 }), 'EINVAL', /maxBytes must be a whole number of bytes from 0 to/);
  assert.deepEqual(Requests.fileRead.checkAnswer({ stream: 4, stat }), { stream: 4, stat });
  refuses(() => Requests.fileRead.checkAnswer({ stream: 3, stat }), 'EBADANSWER', /even id/);
  assert.deepEqual(Requests.dirList.checkBody({ path: '/d' }), { path: '/d' });
  assert.deepEqual(Requests.dirList.checkBody({ path: '/d', offset: 7 }), { path: '/d', offset: 7 });
  refuses(() => Requests.dirList.checkBody({ path: '/d', offset: 'x' }), 'EINVAL', /offset must be a count/);
  const page = { entries: [{ name: '..data', type: 'link', ino: '12' }], next: null };
  assert.deepEqual(Requests.dirList.checkAnswer(page), page);
  refuses(() => Requests.dirList.checkAnswer({ entries: [{ name: 'a/b', type: 'file', ino: '1' }], next: null }), 'EBADANSWER', /entries\[0\]\.name must be a file name/);
  refuses(() => Requests.dirList.checkAnswer({ entries: [{ name: 'a', type: 'sock', ino: '1' }], next: null }), 'EBADANSWER', /type must be one of file, dir/);
  assert.deepEqual(Requests.readLink.checkAnswer({ target: '..data/key' }), { target: '..data/key' });
  refuses(() => Requests.readLink.checkAnswer({ target: '' }), 'EBADANSWER', /target must be a non-empty string/);
});

test('targetEnv and dnsReverse', () => {
  assert.deepEqual(Requests.targetEnv.checkBody({}), {});
  assert.deepEqual(Requests.targetEnv.checkBody(null), {});
  refuses(() => Requests.targetEnv.checkBody({ pid: 1 }), 'EINVAL', /unknown field targetEnv\.pid/);
  assert.deepEqual(Requests.targetEnv.checkAnswer({ env: { A: '1', B: '' } }), { env: { A: '1', B: '' } });
  refuses(() => Requests.targetEnv.checkAnswer({ env: { A: 1 } }), 'EBADANSWER', /env must map names/);
  assert.deepEqual(Requests.dnsReverse.checkBody({ address: '10.0.0.1' }), { address: '10.0.0.1' });
  assert.deepEqual(Requests.dnsReverse.checkBody({ address: 'fd00::1' }), { address: 'fd00::1' });
  refuses(() => Requests.dnsReverse.checkBody({ address: 'web' }), 'EINVAL', /IPv4 or IPv6 address, got "web"/);
});

test('sessionEnd takes an empty body and answers null', () => {
  assert.deepEqual(Requests.sessionEnd.checkBody({}), {});
  assert.deepEqual(Requests.sessionEnd.checkBody(undefined), {});
  refuses(() => Requests.sessionEnd.checkBody({ now: true }), 'EINVAL', /unknown field sessionEnd\.now/);
  assert.equal(Requests.sessionEnd.checkAnswer(null), null);
});

test('an EPOSIX answer gives its POSIX name back; anything else gives none', () => {
  assert.equal(posixErrorName(RequestError.fromAnswer({ code: 'EPOSIX', message: 'ENOENT: /x does not exist' })), 'ENOENT');
  assert.equal(posixErrorName(posixError('ELOOP', 'too many links')), 'ELOOP');
  assert.equal(posixErrorName(RequestError.fromAnswer({ code: 'EPOSIX', message: 'EWHAT: new' })), undefined);
  assert.equal(posixErrorName(RequestError.fromAnswer({ code: 'EINVAL', message: 'ENOENT: no' })), undefined);
});
