/**
 * An unresolvable name. The agent resolves names with the system resolver, which would send a
 * query to the machine's nameserver; so the check runs in a network and mount namespace of its
 * own (unshare, as root) where the only nameserver is a local one answering NXDOMAIN.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const probe = fileURLToPath(new URL('../test/support/agent-dns-failure.ts', import.meta.url));
const canIsolate = spawnSync('unshare', ['--net', '--mount', 'true']).status === 0;

test('an unresolvable name resets the stream and the datagram stream with ENOTFOUND and fails a lookup with ENOTFOUND', {
  skip: canIsolate ? false : 'needs root for unshare --net --mount',
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kmrd-dns-'));
  try {
    const resolvConf = join(dir, 'resolv.conf');
    writeFileSync(resolvConf, 'nameserver 127.0.0.1\noptions attempts:1 timeout:1\n');
    const script = 'ip link set lo up && mount --bind "$1" /etc/resolv.conf && exec "$2" "$3"';
    const run = spawnSync('unshare', ['--net', '--mount', 'sh', '-c', script, 'sh', resolvConf, process.execPath, probe], {
      encoding: 'utf8', timeout: 8000,
    });
    assert.equal(run.status, 0, `probe failed: ${run.stderr}`);
    type Failure = { code: string; message: string };
    const result = JSON.parse(run.stdout.trim()) as { stream: Failure; datagrams: Failure; lookup?: Failure };
    assert.equal(result.stream.code, 'ENOTFOUND');
    assert.equal(result.stream.message, 'cannot resolve name.invalid in the cluster (ENOTFOUND)');
    assert.equal(result.datagrams.code, 'ENOTFOUND');
    assert.equal(result.datagrams.message, 'cannot resolve name.invalid in the cluster (ENOTFOUND)');
    assert.equal(result.lookup?.code, 'ENOTFOUND');
    assert.match(result.lookup?.message ?? '', /cannot resolve name.invalid in the cluster/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
