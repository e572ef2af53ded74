import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isoTime, STORABLE_TIMES } from '../service/src/stores/store';

test('isoTime writes every storable time as toISOString does, and leaves the other years and invalid dates to it', () => {
  const edges = [
    STORABLE_TIMES.from,
    STORABLE_TIMES.to,
    new Date('2026-01-02T03:04:05.000Z'),
    new Date('2026-12-31T23:59:59.009Z'),
    new Date('2026-10-10T10:10:10.010Z'),
    new Date('2026-09-09T09:09:09.099Z'),
    new Date('2026-11-30T00:00:00.100Z'),
  ];
  const from = STORABLE_TIMES.from.getTime();
  const span = STORABLE_TIMES.to.getTime() - from;
  // A fixed sequence over the whole range (a linear congruential walk), so a failure is reproducible.
  let seed = 12345;
  const spread = Array.from({ length: 20_000 }, () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return new Date(from + Math.floor((seed / 2 ** 31) * span));
  });
  for (const date of [...edges, ...spread]) assert.equal(isoTime(date), date.toISOString());

  for (const outside of [new Date('0999-12-31T23:59:59.999Z'), new Date('+010000-01-01T00:00:00.000Z')])
    assert.equal(isoTime(outside), outside.toISOString());
  assert.throws(() => isoTime(new Date(Number.NaN)), RangeError);
});
