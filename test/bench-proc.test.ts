import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { cpuTimeMs, cpuTimeMsOf, machineTicks, machineTicksOf, stealShare } from '../bench/proc';

test("a process's CPU time is read after its command, whatever the command holds", () => {
  // utime 250 and stime 50 ticks; the command has a space and a closing parenthesis of its own.
  const line = '4242 (node (x) y) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 11 0 777 1 2\n';
  const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
  assert.equal(cpuTimeMsOf(line), (300 * 1000) / ticksPerSecond);
  assert.throws(() => cpuTimeMsOf('4242 (cut'), /unreadable \/proc stat line/);
});

test("this process's CPU time grows with the work it does, as Node.js counts it", () => {
  const before = cpuTimeMs(process.pid);
  const usage = process.cpuUsage();
  let x = 0;
  while (process.cpuUsage(usage).user < 300_000) x += Math.sqrt(x + 1);
  const spent = process.cpuUsage(usage);
  const spentMs = (spent.user + spent.system) / 1000;
  const counted = cpuTimeMs(process.pid) - before;
  // Whole ticks of 10 ms, and the test runner's own threads beside this loop.
  assert.ok(counted >= spentMs - 20, `counted ${counted} ms of the ${spentMs} ms spent`);
  assert.ok(counted <= spentMs + 200, `counted ${counted} ms of the ${spentMs} ms spent`);
  assert.ok(x > 0);
});

test("the machine's CPU time and the hypervisor's share of it", () => {
  const first = machineTicksOf('cpu  100 0 50 800 10 0 20 20 5 0\ncpu0 50 0 25 400 5 0 10 10 0 0\n');
  assert.deepEqual(first, { total: 1000, steal: 20 });
  const second = machineTicksOf('cpu  200 0 100 1500 10 0 30 160 9 0\n');
  assert.deepEqual(second, { total: 2000, steal: 160 });
  assert.equal(stealShare(first, second), 0.14);
  assert.equal(stealShare(second, second), 0, 'no time passed: no share');
  assert.throws(() => machineTicksOf('intr 1 2 3\n'), /unreadable \/proc\/stat/);
  const now = machineTicks();
  assert.ok(now.total > 0 && now.steal >= 0 && now.steal <= now.total);
});
