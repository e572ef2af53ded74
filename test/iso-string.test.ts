import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isoString } from '../service/src/stores/store';

test('isoString is Date#toISOString, within a minute, across minutes and at the edges of its range', () => {
  const start = Date.UTC(2026, 10, 22, 10, 4, 59, 990);
  const times = [start, start + 5, start + 10, start + 11, start - 1, start + 60_000, start + 59_999];
  for (let i = 0; i < 2000; i++) times.push(start + Math.floor(Math.random() * 3 * 60_000) - 60_000);
  for (let i = 0; i < 2000; i++) times.push(Math.floor((Math.random() - 0.5) * 2 * 8.64e15));
  times.push(Date.UTC(1000, 0, 1), Date.UTC(9999, 11, 31, 23, 59, 59, 999), -1, 0, 1, -62167219200000, -62167219200001);
  times.push(253402300799999, 253402300800000, 8.64e15, -8.64e15);
  for (const time of times) {
    // Twice: once filling the minute's text, once from it.
    assert.equal(isoString(new Date(time)), new Date(time).toISOString(), String(time));
    assert.equal(isoString(new Date(time)), new Date(time).toISOString(), String(time));
  }
  assert.throws(() => isoString(new Date(Number.NaN)), RangeError);
});
