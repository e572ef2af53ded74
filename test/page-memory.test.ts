import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { PAGE_READS, PAGE_READS_WAITING } from '../service/src/plugins/store';
import { startApp, type TestApp } from './support/app';

const DOCUMENTS = 64;
const DOCUMENT_CHARS = 60_000;
const READERS = 48;
/** A burst the service serves in turn: as many readers as read and wait at once. */
const BURST = 40;
/** What a burst of page reads may add to the heap: the service runs in 160 MiB, most of it for other work. */
const HEAP_GROWTH_LIMIT = 64 * 1024 * 1024;

let t: TestApp;
before(async () => {
  t = await startApp('mysql');
  for (let i = 0; i < DOCUMENTS; i++)
    await t.app.store.addDocument({ n: i, blob: String(i % 10).repeat(DOCUMENT_CHARS) });
});
after(() => t.close());

test(`${READERS} readers of pages of ${DOCUMENTS} documents of ${DOCUMENT_CHARS / 1000} kB at once (MySQL): the heap grows by less than ${HEAP_GROWTH_LIMIT / 2 ** 20} MiB; ${PAGE_READS} read at once, ${PAGE_READS_WAITING} more wait their turn, readers past that get a 503 with Retry-After`, async (context) => {
  // What the reads hold, not the garbage of pages already sent: each sample collects first.
  setFlagsFromString('--expose-gc');
  const collect = runInNewContext('gc') as () => void;
  collect();
  const baseline = process.memoryUsage().heapUsed;
  let peak = baseline;
  const sampler = setInterval(() => {
    collect();
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  }, 20);
  const answers = await Promise.all(Array.from({ length: READERS }, () => t.app.inject('/data?limit=500')));
  clearInterval(sampler);
  const growth = peak - baseline;
  const statuses = answers.map((answer) => answer.statusCode);
  const ok = statuses.filter((status) => status === 200).length;
  context.diagnostic(`heap growth ${(growth / 2 ** 20).toFixed(1)} MiB; ${ok} x 200, ${READERS - ok} x 503`);
  assert.ok(
    statuses.every((status) => status === 200 || status === 503),
    `unexpected answers: ${statuses}`,
  );
  for (const answer of answers.filter((a) => a.statusCode === 503)) {
    assert.ok(Number(answer.headers['retry-after']) > 0, 'a 503 without Retry-After');
    assert.match(answer.json().message, /page reads are under way|no page read finished within/);
  }
  assert.ok(ok >= PAGE_READS, `only ${ok} readers got a page`);
  assert.ok(
    READERS - ok >= READERS - PAGE_READS - PAGE_READS_WAITING,
    'more readers were let in than read or wait at once',
  );
  for (const answer of answers.filter((a) => a.statusCode === 200)) {
    const bytes = Buffer.byteLength(answer.body);
    assert.ok(bytes <= 1024 * 1024 + DOCUMENT_CHARS + 100, `a page of ${bytes} bytes`);
    assert.match(answer.headers.link as string, /rel="next"/, 'a page cut by its size does not link to the rest');
  }
  assert.ok(growth < HEAP_GROWTH_LIMIT, `the heap grew by ${(growth / 2 ** 20).toFixed(1)} MiB`);
});

test(`a burst of ${BURST} readers of small pages (kept-alive connections under load) is served in turn, none refused`, async () => {
  for (let i = 0; i < 20; i++) await t.app.store.addMessage(`burst ${i}`, new Date());
  const answers = await Promise.all(Array.from({ length: BURST }, () => t.app.inject('/messages?limit=20')));
  assert.deepEqual(
    answers.map((answer) => answer.statusCode).filter((status) => status !== 200),
    [],
    'readers waiting their turn were refused',
  );
});
