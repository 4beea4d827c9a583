import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FailureLines, type Clock } from './failure-lines.ts';

/** A clock that moves only when told, running the timers that fall due. */
function fakeClock(): Clock & { advance(ms: number): void } {
  let now = 0;
  const timers: Array<{ at: number; fn: () => void }> = [];
  return {
    now: () => now,
    setTimeout: (fn, ms) => void timers.push({ at: now + ms, fn }),
    advance(ms) {
      const until = now + ms;
      for (;;) {
        timers.sort((a, b) => a.at - b.at);
        const next = timers[0];
        if (!next || next.at > until) break;
        timers.shift();
        now = next.at;
        next.fn();
      }
      now = until;
    },
  };
}

test('identical failures: the first at once, the rest summed up when the 10 s window ends', () => {
  const clock = fakeClock();
  const lines: string[] = [];
  const failures = new FailureLines((l) => lines.push(l), clock);
  const line = 'port 8080 → nosuch:80: no such host in the cluster';
  for (let i = 0; i < 38; i++) {
    failures.report(line);
    clock.advance(100);
  }
  assert.deepEqual(lines, [line]);
  clock.advance(10_000 - 3_800 - 1);
  assert.deepEqual(lines, [line]);
  clock.advance(1);
  assert.deepEqual(lines, [line, `${line} … and 37 more in the last 10 s`]);
  // Quiet for a whole window: it closes without a line, and the next failure prints at once again.
  clock.advance(10_000);
  assert.equal(lines.length, 2);
  failures.report(line);
  assert.deepEqual(lines.slice(2), [line]);
});

test('a failure that keeps going gets one summary per window; different failures do not share one', () => {
  const clock = fakeClock();
  const lines: string[] = [];
  const failures = new FailureLines((l) => lines.push(l), clock);
  const a = 'port 8080 → nosuch:80: no such host in the cluster';
  const b = 'port 8080 → web:9999: connection refused by 10.96.3.4:9999';
  failures.report(a);
  failures.report(b);
  failures.report(a);
  assert.deepEqual(lines, [a, b]);
  clock.advance(10_000);
  assert.deepEqual(lines.slice(2), [`${a} … and 1 more in the last 10 s`]);
  failures.report(a);
  failures.report(a);
  clock.advance(10_000);
  assert.deepEqual(lines.slice(3), [`${a} … and 2 more in the last 10 s`]);
  clock.advance(10_000);
  assert.equal(lines.length, 4);
});

test('flush at exit sums up the open windows with the time they covered, and nothing comes after', () => {
  const clock = fakeClock();
  const lines: string[] = [];
  const failures = new FailureLines((l) => lines.push(l), clock);
  const line = 'SOCKS port 1080 → web:80: no such host in the cluster';
  failures.report(line);
  failures.report(line);
  failures.report(line);
  failures.report('port 8080 → db:5432: no such host in the cluster');
  clock.advance(4_000);
  failures.flush();
  assert.deepEqual(lines.slice(2), [`${line} … and 2 more in the last 4 s`]);
  clock.advance(20_000);
  assert.equal(lines.length, 3);
});
