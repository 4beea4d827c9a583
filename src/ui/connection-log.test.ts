import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stripVTControlCharacters } from 'node:util';
import { StreamResetError } from '../protocol/errors.ts';
import { ResetReason } from '../protocol/constants.ts';
import type { ConnectionEvent } from '../forward/connection-events.ts';
import { connectionLogger, failureReason } from './connection-log.ts';
import type { Clock } from './failure-lines.ts';

const still: Clock = { now: () => 0, setTimeout: () => {} };

const reset = (reason: ResetReason, message: string) => new StreamResetError(reason, message, true);

const base: ConnectionEvent = { via: '-L 8080:nosuch:80', listener: 'port 8080', peer: '127.0.0.1:50000', destination: 'nosuch:80', outcome: 'closed', sent: 10, received: 20, durationMs: 5 };

test('reasons in words', () => {
  assert.equal(failureReason(reset(ResetReason.dnsFailure, 'cannot resolve nosuch in the cluster (ENOTFOUND)'), 'nosuch:80'), 'no such host in the cluster');
  assert.match(failureReason(reset(ResetReason.dnsFailure, 'cannot resolve web in the cluster (EAI_AGAIN)'), 'web:80'), /DNS did not answer/);
  assert.equal(failureReason(reset(ResetReason.refused, 'connection refused by 10.96.3.4:9999'), 'web:9999'), 'connection refused by 10.96.3.4:9999');
  const local = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8080'), { code: 'ECONNREFUSED', address: '127.0.0.1', port: 8080 });
  assert.equal(failureReason(local, '127.0.0.1:8080'), 'connection refused by 127.0.0.1:8080');
  assert.match(failureReason(reset(ResetReason.hostUnreachable, 'x'), '10.1.2.3:80'), /^no route to 10\.1\.2\.3:80 from the cluster/);
  assert.match(failureReason(reset(ResetReason.timeout, 'connecting to web:80 timed out after 10000 ms'), 'web:80'), /^no answer from web:80: connecting .* timed out/);
});

test('without -v: a failed connect prints one line, successes and mid-transfer errors print nothing', () => {
  const lines: string[] = [];
  const log = connectionLogger(false, (l) => lines.push(stripVTControlCharacters(l)), still);
  log(base);
  log({ ...base, outcome: 'failed', error: Object.assign(new Error('reset by the client'), { code: 'ECONNRESET' }) });
  assert.deepEqual(lines, []);
  log({ ...base, outcome: 'failed', failedToConnect: true, error: reset(ResetReason.dnsFailure, 'cannot resolve nosuch in the cluster (ENOTFOUND)') });
  assert.deepEqual(lines, ['port 8080 → nosuch:80: no such host in the cluster']);
});

test('with -v: every connection, and every failure with its client', () => {
  const lines: string[] = [];
  const log = connectionLogger(true, (l) => lines.push(stripVTControlCharacters(l)), still);
  log(base);
  const failed: ConnectionEvent = { ...base, outcome: 'failed', failedToConnect: true, error: reset(ResetReason.dnsFailure, 'cannot resolve nosuch in the cluster (ENOTFOUND)') };
  log(failed);
  log(failed);
  assert.equal(lines.length, 3);
  assert.match(lines[0], /^-L 8080:nosuch:80 {2}127\.0\.0\.1:50000 → nosuch:80 {2}↑10 B ↓20 B/);
  assert.equal(lines[1], 'port 8080 → nosuch:80: no such host in the cluster  (client 127.0.0.1:50000, -L 8080:nosuch:80)');
  assert.equal(lines[2], lines[1]);
});
