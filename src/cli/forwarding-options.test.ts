import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MirrordError } from '../errors.ts';
import { planForwarding, SOCKS_AUTH_ENV } from './forwarding-options.ts';

function usageError(fn: () => unknown, fragment: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof MirrordError && err.exitCode === 2 && fragment.test(err.message));
}

test('a plan from -L and --socks with defaults', () => {
  const plan = planForwarding({ local: ['8080:web:80', 'db:5432'], socks: '1080' }, {});
  assert.deepEqual(plan.forwards.map((f) => [f.localPort, f.host, f.port]), [[8080, 'web', 80], [5432, 'db', 5432]]);
  assert.deepEqual(plan.socks, { address: '127.0.0.1', port: 1080, text: '1080' });
  assert.equal(plan.bindAddress, '127.0.0.1');
  assert.equal(plan.exposedWarning, undefined);
  assert.equal(plan.agentIdleTimeoutMs, 60_000);
  assert.equal(plan.namespace, undefined);
  assert.equal(plan.socksAuth, undefined);
});

test('non-loopback listeners carry a warning', () => {
  const plan = planForwarding({ local: ['8080:web:80'], address: '0.0.0.0' }, {});
  assert.match(plan.exposedWarning ?? '', /0\.0\.0\.0/);
  const socksOnly = planForwarding({ socks: '10.1.2.3:1080', socksAuth: 'u:p' }, {});
  assert.match(socksOnly.exposedWarning ?? '', /10\.1\.2\.3/);
});

test('SOCKS on a non-loopback address needs credentials or --socks-allow-unauthenticated', () => {
  for (const socks of ['0.0.0.0:1080', '10.1.2.3:1080', '[::]:1080']) {
    assert.throws(() => planForwarding({ socks }, {}), (err: unknown) =>
      err instanceof MirrordError && err.code === 'ESOCKSOPEN' && err.exitCode === 2 &&
      err.message.includes(`--socks ${socks}`) && /open proxy/.test(err.message) && /--socks-allow-unauthenticated/.test(err.hint ?? ''));
  }
  assert.throws(() => planForwarding({ socks: '1080', address: '0.0.0.0' }, {}), (err: unknown) => (err as MirrordError).code === 'ESOCKSOPEN');
  assert.throws(() => planForwarding({ socks: '0.0.0.0:1080' }, {}, 'socks [addr:]port'), /socks \[addr:\]port 0\.0\.0\.0:1080/);
  assert.equal(planForwarding({ socks: '0.0.0.0:1080', socksAllowUnauthenticated: true }, {}).socksAuth, undefined);
  assert.deepEqual(planForwarding({ socks: '0.0.0.0:1080' }, { [SOCKS_AUTH_ENV]: 'u:p' }).socksAuth, { username: 'u', password: 'p' });
  // Loopback needs nothing: browsers cannot authenticate.
  assert.equal(planForwarding({ socks: '127.0.0.1:1080' }, {}).socksAuth, undefined);
  assert.equal(planForwarding({ socks: '[::1]:1080' }, {}).socksAuth, undefined);
});

test('--socks-auth-file: its first line; an unreadable file or both sources are refused', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'socks-auth-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'auth');
  writeFileSync(file, 'bob:se:cret\nignored\n', { mode: 0o600 });
  assert.deepEqual(planForwarding({ socks: '1080', socksAuthFile: file }, { [SOCKS_AUTH_ENV]: 'u:p' }).socksAuth, { username: 'bob', password: 'se:cret' });
  usageError(() => planForwarding({ socks: '1080', socksAuthFile: join(dir, 'missing') }, {}), /cannot read --socks-auth-file .*missing: ENOENT/);
  usageError(() => planForwarding({ socks: '1080', socksAuthFile: file, socksAuth: 'a:b' }, {}), /both given/);
  usageError(() => planForwarding({ local: ['1:a:1'], socksAuthFile: file }, {}), /--socks-auth-file was given without --socks/);
  writeFileSync(file, 'nocolon\n');
  usageError(() => planForwarding({ socks: '1080', socksAuthFile: file }, {}), /invalid --socks-auth-file .*: no ':'/);
});

test('-n and -a', () => {
  assert.equal(planForwarding({ socks: '1080', agentNamespace: 'x' }, {}).namespace, 'x');
  assert.equal(planForwarding({ socks: '1080', namespace: 'x', agentNamespace: 'x' }, {}).namespace, 'x');
  usageError(() => planForwarding({ socks: '1080', namespace: 'x', agentNamespace: 'y' }, {}), /disagree/);
});

test('socks auth from the flag or the environment', () => {
  assert.deepEqual(planForwarding({ socks: '1080' }, { [SOCKS_AUTH_ENV]: 'u:p' }).socksAuth, { username: 'u', password: 'p' });
  assert.deepEqual(planForwarding({ socks: '1080', socksAuth: 'a:b' }, { [SOCKS_AUTH_ENV]: 'u:p' }).socksAuth, { username: 'a', password: 'b' });
  usageError(() => planForwarding({ socks: '1080' }, { [SOCKS_AUTH_ENV]: 'nocolon' }), /KUBECTL_MIRRORD_SOCKS_AUTH/);
  usageError(() => planForwarding({ local: ['1:a:1'], socksAuth: 'a:b' }, {}), /without --socks/);
});

test('bad plans', () => {
  usageError(() => planForwarding({}, {}), /nothing to forward/);
  usageError(() => planForwarding({ local: ['80:a:80'], remote: ['8080'] }, {}), /reverse forwarding needs a target/);
  usageError(() => planForwarding({ socks: '1080', agentIdleTimeout: 'soon' }, {}), /--agent-idle-timeout 'soon'/);
  usageError(() => planForwarding({ socks: '1080', agentStartupTimeout: '0' }, {}), /--agent-startup-timeout/);
  assert.equal(planForwarding({ socks: '1080', agentIdleTimeout: '500ms' }, {}).agentIdleTimeoutMs, 500);
  assert.equal(planForwarding({ socks: '1080', agentIdleTimeout: '2m' }, {}).agentIdleTimeoutMs, 120_000);
  assert.equal(planForwarding({ socks: '1080', agentIdleTimeout: '5' }, {}).agentIdleTimeoutMs, 5000);
});

test('agent image pull flags override the config file; bad values name the flag', () => {
  const plan = planForwarding({ socks: '1080', agentImagePullPolicy: 'never', agentImagePullSecret: ['a', 'b'] }, {});
  assert.deepEqual(plan.agentImagePull, { policy: 'Never', secrets: ['a', 'b'] });
  assert.deepEqual(planForwarding({ socks: '1080' }, {}).agentImagePull, { policy: undefined, secrets: [] });
  usageError(() => planForwarding({ socks: '1080', agentImagePullPolicy: 'latest' }, {}), /--agent-image-pull-policy is 'latest'/);
  usageError(() => planForwarding({ socks: '1080', agentImagePullSecret: ['UPPER'] }, {}), /--agent-image-pull-secret 'UPPER'/);
});
