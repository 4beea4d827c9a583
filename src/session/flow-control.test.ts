import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INITIAL_WINDOW } from '../protocol/constants.ts';
import { MAX_STREAM_WINDOW, QUEUE_RTT_FACTOR, QUEUE_SLACK_MS, ReceiveWindow, SESSION_WINDOW_BUDGET, SHARED_LINK_MS, WindowBudget, queueing } from './flow-control.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
/** A link with a 10 ms round trip and no queue. */
const rtt10 = { rtt: 10, minRtt: 10 };

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
  const roundTrips = { rtt: 5, minRtt: 5 };
  const budget = new WindowBudget();
  const window = new ReceiveWindow(budget, roundTrips);
  const other = interactiveStream(budget, roundTrips);
  let credit = INITIAL_WINDOW;
  let buffered = 0;
  let grew = false;
  let shrank = false;
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
      // The link queues now and then, and another stream receives now and then, so the window
      // both grows and shrinks.
      roundTrips.rtt = random() < 0.2 ? 50 : 5;
      if (random() < 0.1) other(now);
      const before = window.size;
      credit += window.consume(n, now);
      grew ||= window.size > before;
      shrank ||= window.size < before;
    }
    assert.ok(buffered <= window.size, 'the receiver never buffers more than its window');
    assert.ok(credit + buffered <= window.size, 'credit in hand and bytes in the buffer never exceed the window');
    assert.ok(window.size <= MAX_STREAM_WINDOW);
  }
  assert.ok(grew && shrank, 'the walk exercised growing and shrinking');
});

test('the link counts as queueing only past twice its smallest round trip plus the slack', () => {
  assert.equal(queueing({ rtt: 10, minRtt: 10 }), false);
  assert.equal(queueing({ rtt: QUEUE_RTT_FACTOR * 10 + QUEUE_SLACK_MS, minRtt: 10 }), false, 'at the threshold: not yet');
  assert.equal(queueing({ rtt: QUEUE_RTT_FACTOR * 10 + QUEUE_SLACK_MS + 0.1, minRtt: 10 }), true);
  assert.equal(queueing({ rtt: 0.9, minRtt: 0.05 }), false, 'loopback jitter below the slack is no queue');
  assert.equal(queueing({ rtt: 6, minRtt: 0.1 }), true, 'megabytes queued on loopback');
});

/** A second stream of the same session that receives a byte now and then, as a shell would. */
function interactiveStream(budget: WindowBudget, roundTrips: { rtt: number; minRtt: number }): (now: number) => void {
  const window = new ReceiveWindow(budget, roundTrips);
  return (now) => { window.receive(1); window.consume(1, now); };
}

/** A session on a link queueing five times its own round trip: a bulk window, and another stream that may join it. */
function queueingLink(): { budget: WindowBudget; window: ReceiveWindow; other: (now: number) => void } {
  const budget = new WindowBudget(64 * MiB);
  const roundTrips = { rtt: 30, minRtt: 5 };
  return { budget, window: new ReceiveWindow(budget, roundTrips), other: interactiveStream(budget, roundTrips) };
}

test('a window does not grow while the link is queueing and shared, however fast updates come', () => {
  const { budget, window, other } = queueingLink();
  let now = 1000;
  for (let i = 0; i < 20; i++) {
    if (i % 5 === 0) other(now);
    assert.equal(window.consume(INITIAL_WINDOW / 2, now), INITIAL_WINDOW / 2, 'all consumed credit goes back: nothing to shrink');
    now += 1;
  }
  assert.equal(window.size, INITIAL_WINDOW);
});

test('a stream alone on a queueing link grows: its queue delays no other stream', () => {
  const { budget, window } = queueingLink();
  let now = 1000;
  for (let i = 0; i < 3; i++) window.consume(window.size / 2, now++);
  assert.equal(window.size, 4 * INITIAL_WINDOW, 'it doubles as on a link without a queue');
  assert.equal(budget.shared(now), false);
});

test('the link counts as shared for SHARED_LINK_MS after two streams consumed, then the lone stream grows again', () => {
  const { budget, window, other } = queueingLink();
  window.consume(1, 1000);
  assert.equal(budget.shared(1000), false, 'one stream is not a shared link');
  other(1000 + SHARED_LINK_MS);
  assert.equal(budget.shared(1000 + SHARED_LINK_MS), false, 'the first stream last received SHARED_LINK_MS ago: not together');
  const together = 2000 + SHARED_LINK_MS / 2;
  window.consume(INITIAL_WINDOW / 2 - 1, together);
  assert.equal(budget.shared(together), true, 'two streams within SHARED_LINK_MS');
  let now = together + 1;
  window.consume(INITIAL_WINDOW / 2, now);
  assert.equal(window.size, INITIAL_WINDOW, 'no growth while shared and queueing');
  assert.equal(budget.shared(together + SHARED_LINK_MS - 1), true, 'the same stream consuming again does not extend it');
  now = together + SHARED_LINK_MS;
  assert.equal(budget.shared(now), false, 'the other stream went quiet');
  window.consume(INITIAL_WINDOW / 2, now++);
  window.consume(INITIAL_WINDOW / 2, now++);
  assert.equal(window.size, 2 * INITIAL_WINDOW, 'alone again, it grows');
});

test('a grown window gives its growth back while the link is queueing and shared, down to the initial window', () => {
  const budget = new WindowBudget(64 * MiB);
  const roundTrips = { rtt: 10, minRtt: 10 };
  const window = new ReceiveWindow(budget, roundTrips);
  let now = 1000;
  for (let i = 0; i < 6; i++) window.consume(window.size / 2, now++);
  const grown = window.size;
  assert.ok(grown >= 8 * INITIAL_WINDOW, `grew to ${grown}`);
  assert.equal(budget.available, 64 * MiB - (grown - INITIAL_WINDOW));

  roundTrips.rtt = 40; // the same link, now holding a queue of three round trips
  interactiveStream(budget, roundTrips)(now); // and another stream waits behind it
  const due = grown / 2;
  const increment = window.consume(due, now++);
  assert.equal(window.size, grown - (grown - INITIAL_WINDOW) / 2, 'half the growth goes');
  assert.ok(increment > 0);
  assert.equal(increment, due - (grown - window.size), 'the peer gets back that much less credit');
  assert.equal(budget.available, 64 * MiB - (window.size - INITIAL_WINDOW), 'the budget gets it back');
  for (let i = 0; i < 10; i++) window.consume(window.size / 2, now++);
  assert.equal(window.size, INITIAL_WINDOW, 'never below the initial window');
  assert.equal(budget.available, 64 * MiB);

  roundTrips.rtt = 10; // the queue drained
  window.consume(window.size / 2, now++);
  assert.equal(window.size, 2 * INITIAL_WINDOW, 'it grows again');
});

test('a shrinking window keeps the peer within what it may buffer', () => {
  const roundTrips = { rtt: 10, minRtt: 10 };
  const budget = new WindowBudget(64 * MiB);
  const window = new ReceiveWindow(budget, roundTrips);
  const other = interactiveStream(budget, roundTrips);
  let credit = INITIAL_WINDOW;
  let now = 1000;
  // Grow to 2 MiB with the peer sending everything it may.
  while (window.size < 2 * MiB) {
    assert.equal(window.receive(credit), true);
    credit = window.consume(credit, now++);
  }
  roundTrips.rtt = 100;
  for (let i = 0; i < 10; i++) {
    other(now);
    assert.equal(window.receive(credit), true, 'the peer may send all it was given');
    assert.equal(window.receive(1), false, 'and not a byte more');
    credit = window.consume(credit, now++);
    assert.ok(credit <= window.size);
  }
  assert.equal(window.size, INITIAL_WINDOW);
});
