import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeAtomic } from './atomic-writer.ts';

const file = (text: string, mode = 0o644) => ({ content: Buffer.from(text), mode });

test('a volume as AtomicWriter lays it out: timestamped dir, ..data, one link per key; a rewrite swaps ..data and drops old keys', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kmrd-atomic-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await writeAtomic(dir, new Map([['api-key', file('abc', 0o400)], ['conf/app.yaml', file('a: 1')]]));
  const names = readdirSync(dir).sort();
  assert.equal(names.length, 4, names.join(' '));
  const ts = names.find((n) => /^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\..+$/.test(n));
  assert.ok(ts, `a timestamped directory among ${names.join(' ')}`);
  assert.equal(readlinkSync(join(dir, '..data')), ts);
  assert.equal(readlinkSync(join(dir, 'api-key')), '..data/api-key');
  assert.equal(readlinkSync(join(dir, 'conf')), '..data/conf');
  assert.equal(readFileSync(join(dir, 'api-key'), 'utf8'), 'abc');
  assert.equal(statSync(join(dir, 'api-key')).mode & 0o777, 0o400);
  assert.ok(lstatSync(join(dir, 'api-key')).isSymbolicLink());
  assert.equal(readFileSync(join(dir, 'conf', 'app.yaml'), 'utf8'), 'a: 1');

  await writeAtomic(dir, new Map([['api-key', file('new')]]));
  const after = readdirSync(dir).sort();
  assert.deepEqual(after.filter((n) => !n.startsWith('..')), ['api-key'], 'conf is gone');
  assert.equal(after.filter((n) => n.startsWith('..') && n !== '..data').length, 1, 'the old timestamped directory is removed');
  assert.equal(readFileSync(join(dir, 'api-key'), 'utf8'), 'new');
  await assert.rejects(writeAtomic(dir, new Map([['../x', file('no')]])), /invalid volume item path "\.\.\/x"/);
});
