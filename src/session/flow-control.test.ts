import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INITIAL_WINDOW } from '../protocol/constants.ts';
import { MAX_STREAM_WINDOW, ReceiveWindow, SESSION_WINDOW_BUDGET, WindowBudget } from './flow-control.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const rtt10 = () => 10;

test('defaults: a stream can grow to several MiB, and the session cap lets one stream grow that far', () => {
  assert.ok(MAX_STREAM_WINDOW >= 4 * MiB && MAX_STREAM_WINDOW % INITIAL_WINDOW === 0);
  assert.ok(SESSION_WINDOW_BUDGET >= MAX_STREAM_WINDOW - INITIAL_WINDOW);
  assert.equal(new WindowBudget().available, SESSION_WINDOW_BUDGET);
  assert.equal(new ReceiveWindow(new WindowBudget(), rtt10).size, INITIAL_WINDOW);
});

test('the peer may send exactly the initial window before any update', () => {
  const window = new ReceiveWindow(new WindowBudget(), rtt10);
  assert.equal(window.receive(INITIAL_WINDOW - 1), true);
  assert.equal(window.receive(1), true);
  assert.equal(window.receive(1), false, 'one byte past the credit is a violation');
});

test('updates are batched until half the window is consumed', () => {
  const window = new ReceiveWindow(new WindowBudget(), rtt10);
  window.receive(INITIAL_WINDOW);
  assert.equal(window.consume(INITIAL_WINDOW / 4, 1000), 0);
  assert.equal(window.consume(INITIAL_WINDOW / 4 - 1, 1000), 0);
  assert.equal(window.consume(1, 5000), INITIAL_WINDOW / 2, 'the whole unreturned amount, once half is due');
  assert.equal(window.consume(100, 5001), 0, 'the counter starts again after an update');
  assert.equal(window.receive(INITIAL_WINDOW / 2), true, 'the update gave the peer that credit back');
  assert.equal(window.receive(1), false);
});

test('the window doubles when updates come faster than 2 x RTT', () => {
  const budget = new WindowBudget(64 * MiB);
  const window = new ReceiveWindow(budget, rtt10);
  assert.equal(window.consume(INITIAL_WINDOW / 2, 1000), INITIAL_WINDOW / 2, 'the first update never grows');
  assert.equal(window.size, INITIAL_WINDOW);
  const increment = window.consume(INITIAL_WINDOW / 2, 1019);
  assert.equal(window.size, 2 * INITIAL_WINDOW);
  assert.equal(increment, INITIAL_WINDOW / 2 + INITIAL_WINDOW, 'the growth is granted to the peer at once');
  assert.equal(budget.available, 64 * MiB - INITIAL_WINDOW);
});

test('the window does not grow when updates are slower than 2 x RTT', () => {
  const window = new ReceiveWindow(new WindowBudget(), rtt10);
  let now = 1000;
  for (let i = 0; i < 20; i++) {
    assert.equal(window.consume(INITIAL_WINDOW / 2, now), INITIAL_WINDOW / 2);
    now += 20; // exactly 2 x RTT: not faster
  }
  assert.equal(window.size, INITIAL_WINDOW);
});

test('the window never grows past its maximum', () => {
  const window = new ReceiveWindow(new WindowBudget(), rtt10, 1 * MiB + 100 * KiB);
  let now = 1000;
  for (let i = 0; i < 50; i++) {
    window.consume(window.size, now++);
    assert.ok(window.size <= 1 * MiB + 100 * KiB);
  }
  assert.equal(window.size, 1 * MiB + 100 * KiB, 'the last step is capped, not skipped');
  const defaults = new ReceiveWindow(new WindowBudget(), rtt10);
  for (let i = 0; i < 50; i++) defaults.consume(defaults.size, now++);
  assert.equal(defaults.size, MAX_STREAM_WINDOW);
});

test('growth stops when the session budget is spent, and release returns it', () => {
  const budget = new WindowBudget(INITIAL_WINDOW + INITIAL_WINDOW / 2);
  const a = new ReceiveWindow(budget, rtt10);
  const b = new ReceiveWindow(budget, rtt10);
  let now = 1000;
  for (let i = 0; i < 10; i++) a.consume(a.size, now++);
  assert.equal(a.size, 2 * INITIAL_WINDOW, 'the second doubling needs more than the budget has left');
  assert.equal(budget.available, INITIAL_WINDOW / 2);
  for (let i = 0; i < 10; i++) b.consume(b.size, now++);
  assert.equal(b.size, INITIAL_WINDOW, 'another stream cannot grow past the budget either');
  a.release();
  assert.equal(budget.available, INITIAL_WINDOW + INITIAL_WINDOW / 2);
  for (let i = 0; i < 10; i++) b.consume(b.size, now++);
  assert.equal(b.size, 2 * INITIAL_WINDOW, 'the released budget is usable again');
});

test('a random walk: the peer never has more credit than granted, the receiver never buffers past its window', () => {
  // A random walk of receive / consume, checking the invariant that bounds a stream's memory.
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const window = new ReceiveWindow(new WindowBudget(), () => 5);
  let credit = INITIAL_WINDOW;
  let buffered = 0;
  let now = 1000;
  for (let i = 0; i < 5000; i++) {
    if (random() < 0.5) {
      const n = Math.floor(random() * (credit + 10));
      const ok = window.receive(n);
      assert.equal(ok, n <= credit);
      if (ok) { credit -= n; buffered += n; }
    } else {
      const n = Math.floor(random() * buffered);
      buffered -= n;
      now += random() * 20;
      credit += window.consume(n, now);
    }
    assert.ok(buffered <= window.size, 'the receiver never buffers more than its window');
    assert.ok(window.size <= MAX_STREAM_WINDOW);
  }
});
