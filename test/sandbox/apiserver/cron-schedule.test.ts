import { test } from 'node:test';
import assert from 'node:assert/strict';
import { latestScheduled, parseSchedule } from './cron-schedule.ts';

test('schedules: steps, ranges, lists, Sunday as 7; bad ones refused', () => {
  const every5 = parseSchedule('*/5 * * * *')!;
  assert.deepEqual([...every5[0]].slice(0, 3), [0, 5, 10]);
  assert.deepEqual([...parseSchedule('0 9-17/4 * * 1,3,7')![1]], [9, 13, 17]);
  assert.deepEqual([...parseSchedule('0 0 * * 7')![4]], [0]);
  for (const bad of ['* * * *', '*/0 * * * *', '60 * * * *', 'a * * * *', '5-1 * * * *', '1/2/3 * * * *']) assert.equal(parseSchedule(bad), undefined, bad);
});

test('the latest scheduled minute in (after, now]', () => {
  const fields = parseSchedule('*/10 * * * *')!;
  const now = Date.parse('2026-12-01T10:27:30Z');
  assert.equal(new Date(latestScheduled(fields, Date.parse('2026-12-01T10:05:00Z'), now)!).toISOString(), '2026-12-01T10:20:00.000Z');
  assert.equal(latestScheduled(fields, Date.parse('2026-12-01T10:20:00Z'), now), undefined, 'already run');
});
