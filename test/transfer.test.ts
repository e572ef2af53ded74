import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { text } from 'node:stream/consumers';
import { after, before, describe, test } from 'node:test';
import { createConnection } from 'mysql2/promise';
import { buildApp } from '../service/src/app';
import { loadConfig } from '../service/src/config';
import { runDataCommand, storeConfig } from '../service/src/data';
import { MemoryStore } from '../service/src/stores/memory';
import type { Store } from '../service/src/stores/store';
import {
  itemsOf,
  merge,
  parse,
  readAll,
  serialize,
  TransferFileError,
  type TransferItem,
  walk,
} from '../service/src/transfer';
import { freePort } from './support/ports';
import { REPO, UNTHROTTLED } from './support/server-process';
import { describeMongo, MYSQL, type StoreFixture, stopFerretdb, storeFixtures, unavailable } from './support/stores';

const T0 = Date.parse('2026-03-01T08:00:00.000Z');
/** More than the init container's heap would hold twice over were the copy kept in memory. */
const COPY_DOCUMENTS = 1_200;
const COPY_DOCUMENT_CHARS = 50_000;
const COPY_HEAP_GROWTH_MIB = 40;
/** An export and an import of more than twice the heap the command is given. */
const LARGE_DOCUMENTS = 2_200;
const LARGE_HEAP_MIB = 48;

/** What a user would notice of a store: its messages and documents, in order, with their times; ids aside. */
async function contents(store: Store) {
  return (await readAll(store)).map(({ id: _id, ...item }) => item);
}

/** Messages and documents that are hard to carry over: equal twins, injections, unicode, times out of id order. */
async function seed(store: Store): Promise<void> {
  for (const [message, at] of [
    ['first', T0 + 1],
    ['twins: same text, same millisecond', T0 + 2],
    ['twins: same text, same millisecond', T0 + 2],
    ["'; DROP TABLE messages; --", T0 + 3],
    ['emoji 🚀 and ünïcødé 中文', T0 + 4],
    ['posted last, dated a day earlier', T0 - 86_400_000],
  ] as const) {
    await store.addMessage(message, new Date(at));
  }
  for (const document of [
    { name: 'nested', value: 123, ratio: 0.25, flags: [true, false, null], nested: { z: 1, a: { deeper: ['x'] } } },
    { n: 1 },
    { n: 1 },
    { text: '{"$gt": ""}' },
  ]) {
    await store.addDocument(document);
  }
}

/** The data command as a user runs it: `npm run data -- …`, which is node with tsx on service/src/data.ts. */
async function dataCommand(args: string[], env: Record<string, string>, stdin?: string | { file: string }) {
  const child = execFile(process.execPath, ['--import', 'tsx', join(REPO, 'service', 'src', 'data.ts'), ...args], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '', ...env },
    maxBuffer: 16 * 2 ** 20,
  });
  if (typeof stdin === 'object') createReadStream(stdin.file).pipe(child.stdin as NodeJS.WritableStream);
  else if (stdin !== undefined) child.stdin?.end(stdin);
  else child.stdin?.end();
  const [stdout, stderr, code] = await Promise.all([
    text(child.stdout as NodeJS.ReadableStream),
    text(child.stderr as NodeJS.ReadableStream),
    new Promise<number | null>((resolve) => child.once('exit', resolve)),
  ]);
  return { stdout, stderr: stderr.trim(), code };
}

/** In-process standard streams for the data command; `stderr()` is everything it has said so far. */
function streams(stdin = '') {
  const io = { stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough() };
  io.stdin.end(stdin);
  let said = '';
  io.stderr.on('data', (chunk: Buffer) => {
    said += chunk.toString();
  });
  return { io, stderr: () => said.trim() };
}

describe('transfer: the export file and the merge, on the memory store', () => {
  test('an export holds the messages, then the documents, each oldest first, with ids and times, under a counting header', async () => {
    const store = new MemoryStore();
    await seed(store);
    const file = serialize('memory', await readAll(store), new Date('2026-03-02T00:00:00.000Z'));
    const [header, first, ...rest] = file
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.deepEqual(header, {
      format: 'two-tier-data',
      version: 1,
      engine: 'memory',
      exportedAt: '2026-03-02T00:00:00.000Z',
      messages: 6,
      documents: 4,
    });
    assert.deepEqual(first, { kind: 'message', id: '1', message: 'first', createdAt: new Date(T0 + 1).toISOString() });
    assert.deepEqual(rest.at(5), {
      kind: 'document',
      id: '1',
      document: {
        name: 'nested',
        value: 123,
        ratio: 0.25,
        flags: [true, false, null],
        nested: { z: 1, a: { deeper: ['x'] } },
      },
    });
    assert.deepEqual(parse(file), await readAll(store), 'the file does not read back as what was exported');
  });

  test('importing the same file twice stores nothing the second time; twins stay twins', async () => {
    const source = new MemoryStore();
    await seed(source);
    const items = parse(serialize('memory', await readAll(source)));
    const target = new MemoryStore();
    assert.deepEqual(await merge(target, items), {
      messages: { added: 6, present: 0 },
      documents: { added: 4, present: 0 },
    });
    assert.deepEqual(await merge(target, items), {
      messages: { added: 0, present: 6 },
      documents: { added: 0, present: 4 },
    });
    assert.deepEqual(await contents(target), await contents(source), 'the second import changed the store');
  });

  test('what the target already holds is skipped; the rest is appended in the file order with its own times', async () => {
    const source = new MemoryStore();
    await seed(source);
    const items = await readAll(source);
    const target = new MemoryStore();
    await target.addMessage("'; DROP TABLE messages; --", new Date(T0 + 3));
    await target.addDocument({ n: 1 });
    const report = await merge(target, items);
    assert.deepEqual(report, { messages: { added: 5, present: 1 }, documents: { added: 3, present: 1 } });
    const messages = (await contents(target)).filter((item) => item.kind === 'message');
    assert.deepEqual(
      messages.map((item) => item.kind === 'message' && [item.message, item.createdAt]),
      [
        ["'; DROP TABLE messages; --", new Date(T0 + 3).toISOString()],
        ['first', new Date(T0 + 1).toISOString()],
        ['twins: same text, same millisecond', new Date(T0 + 2).toISOString()],
        ['twins: same text, same millisecond', new Date(T0 + 2).toISOString()],
        ['emoji 🚀 and ünïcødé 中文', new Date(T0 + 4).toISOString()],
        ['posted last, dated a day earlier', new Date(T0 - 86_400_000).toISOString()],
      ],
    );
  });

  test('an export holds exactly the items it counted: later ones are left out, and fewer on the second read fail it', async () => {
    const store = new MemoryStore();
    await seed(store);
    const counted = await walk(store);
    await store.addMessage('written during the export', new Date(T0));
    const items: TransferItem[] = [];
    for await (const item of counted.items) items.push(item);
    assert.equal(items.filter((item) => item.kind === 'message').length, counted.messages);
    assert.ok(!items.some((item) => item.kind === 'message' && item.message === 'written during the export'));

    // A store that lost items between the two reads (the stores only append; a restore underneath would do it).
    const shrinking = new MemoryStore();
    await seed(shrinking);
    const listed = shrinking.listDocuments.bind(shrinking);
    let reads = 0;
    shrinking.listDocuments = async (query) => {
      const page = await listed(query);
      return ++reads === 1 ? page : { ...page, items: page.items.slice(1) };
    };
    const cut = await walk(shrinking);
    await assert.rejects(async () => {
      for await (const _ of cut.items);
    }, /^Error: the documents changed while they were read: 3 of the 4 counted are left; run it again$/);
  });

  test('two copies into the same store at once write every item once', async () => {
    const source = new MemoryStore();
    await seed(source);
    const items = await readAll(source);
    const target = new MemoryStore();
    await Promise.all([merge(target, items), merge(target, items), merge(target, items)]);
    assert.deepEqual(await contents(target), await contents(source), 'concurrent copies duplicated items');
  });

  test('a file that is not an export, is cut short or holds what the service refuses is refused whole, naming the line', async () => {
    const good = serialize('memory', [
      { kind: 'message', id: '1', message: 'kept', createdAt: new Date(T0).toISOString() },
      { kind: 'document', id: '1', document: { n: 1 } },
    ]);
    const lines = good.trimEnd().split('\n');
    const withLine = (line: string) => [lines[0], line, lines[2]].join('\n');
    for (const [file, error] of [
      ['', /^line 1: not a JSON value$/],
      ['{"format":"other","version":1}\n', /^line 1: not a two-tier-data file of version 1$/],
      [
        lines.slice(0, 2).join('\n'),
        /^the file is incomplete: its header announces 1 messages and 1 documents, it holds 1 and 0$/,
      ],
      [
        withLine('{"kind":"message","id":"1","message":"   ","createdAt":"2026-03-01T08:00:00.000Z"}'),
        /^line 2: message must not be empty/,
      ],
      [
        withLine(`{"kind":"message","id":"1","message":"${'x'.repeat(2001)}","createdAt":"2026-03-01T08:00:00.000Z"}`),
        /^line 2: message must NOT have more than 2000 characters$/,
      ],
      [
        withLine('{"kind":"message","id":"1","message":"m","createdAt":"yesterday"}'),
        /^line 2: createdAt must be a time$/,
      ],
      [
        withLine('{"kind":"message","id":"1","message":"m","createdAt":"2026-03-01T08:00:00Z"}'),
        /^line 2: createdAt must be written as 2026-03-01T08:00:00.000Z$/,
      ],
      [withLine('{"kind":"note","id":"1"}'), /^line 2: kind must be "message" or "document"$/],
      [
        [lines[0], lines[1], '{"kind":"document","id":"1","document":{"id":"7"}}'].join('\n'),
        /^line 3: "id" is assigned by the server/,
      ],
      [
        [lines[0], lines[1], '{"kind":"document","id":"1","document":{"$where":"1"}}'].join('\n'),
        /^line 3: key "\$where" must not start with "\$"$/,
      ],
      [[lines[0], lines[1], 'not json'].join('\n'), /^line 3: not a JSON value$/],
      [
        [lines[0], lines[1], '{"kind":"document","id":"1","document":{"a":{"__proto__":{"polluted":true}}}}'].join(
          '\n',
        ),
        /^line 3: key "__proto__" must match pattern/,
      ],
      [
        [lines[0], lines[1], '{"kind":"document","id":"1","document":{"constructor":{"prototype":{"x":1}}}}'].join(
          '\n',
        ),
        /^line 3: document holds a "constructor" with a "prototype"/,
      ],
      [
        withLine('{"kind":"message","id":"1","message":"m","createdAt":"0999-12-31T23:59:59.999Z"}'),
        /^line 2: createdAt must be between 1000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z/,
      ],
      [
        withLine('{"kind":"message","id":"1","message":"m","createdAt":"+010000-01-01T00:00:00.000Z"}'),
        /^line 2: createdAt must be between/,
      ],
      [withLine('{"kind":"message","id":"1","message":42,"createdAt":"2026-03-01T08:00:00.000Z"}'), /must be string/],
    ] as const) {
      assert.throws(
        () => parse(file),
        (thrown: Error) => thrown instanceof TransferFileError && error.test(thrown.message),
        `not refused as expected: ${file.slice(0, 120)}`,
      );
    }
    assert.equal(parse(good).length, 2, 'the untouched file must parse');
  });

  test('a document or message in a file is refused exactly when POST /data or POST /messages refuses it', async () => {
    const app = await buildApp({ config: loadConfig({ ...UNTHROTTLED }), store: new MemoryStore(), logger: false });
    try {
      const header = (messages: number, documents: number) =>
        JSON.stringify({
          format: 'two-tier-data',
          version: 1,
          engine: 'memory',
          exportedAt: new Date(T0).toISOString(),
          messages,
          documents,
        });
      const documents = [
        '{"a":1}',
        '{"__proto__":{"x":1}}',
        '{"nested":{"__proto__":1}}',
        '{"constructor":{"prototype":{}}}',
        '{"constructor":1}',
        '{"constructor":{"name":"x"}}',
        '{"_bsontype":"Code"}',
        '{"x":{"_bsontype":"Code","code":"1"}}',
        '{"id":1}',
        '{"$set":1}',
        '{"a.b":1}',
        '{"s":"\\ud800"}',
        '{"": ""}',
        '{"deep":[[[[{"ok":null}]]]]}',
      ];
      const messages = [
        '"ok"',
        '""',
        '"  "',
        '"\\udc00"',
        `"${'x'.repeat(2000)}"`,
        `"${'x'.repeat(2001)}"`,
        '7',
        'null',
        '"🚀"',
      ];
      const verdicts = async (url: string, field: string, bodies: string[], line: (body: string) => string) => {
        for (const body of bodies) {
          const http = await app.inject({
            method: 'POST',
            url,
            headers: { 'content-type': 'application/json' },
            payload: field ? `{"${field}":${body}}` : body,
          });
          assert.ok([201, 400].includes(http.statusCode), `${url} ${body}: ${http.statusCode}`);
          const file = [header(field ? 1 : 0, field ? 0 : 1), line(body)].join('\n');
          const imported = (() => {
            try {
              parse(file);
              return true;
            } catch (error) {
              assert.ok(error instanceof TransferFileError, String(error));
              return false;
            }
          })();
          assert.equal(
            imported,
            http.statusCode === 201,
            `${body}: HTTP answered ${http.statusCode}, the import ${imported ? 'took' : 'refused'} it`,
          );
        }
      };
      await verdicts('/data', '', documents, (body) => `{"kind":"document","id":"1","document":${body}}`);
      await verdicts(
        '/messages',
        'message',
        messages,
        (body) => `{"kind":"message","id":"1","message":${body},"createdAt":"${new Date(T0).toISOString()}"}`,
      );
    } finally {
      await app.close();
    }
  });

  test('the command reads a database from the service variables, or SOURCE_ ones, naming a bad one; MONGODB_PASSWORD goes into the URL', () => {
    assert.throws(() => storeConfig({ DB_ENGINE: 'memory' }), /^ConfigError: DB_ENGINE must be mysql or mongodb/);
    assert.throws(() => storeConfig({}), /DB_ENGINE must be mysql or mongodb/);
    assert.throws(
      () => storeConfig({ SOURCE_DB_ENGINE: 'mysql', SOURCE_MYSQL_PORT: 'three' }, 'SOURCE_'),
      /^ConfigError: invalid configuration: SOURCE_MYSQL_PORT must be integer$/,
    );
    const config = storeConfig(
      {
        SOURCE_DB_ENGINE: 'mongodb',
        SOURCE_MONGODB_URL: 'mongodb://app@db-mongodb.two-tier-eks.svc.cluster.local:27017/app?authSource=app',
        SOURCE_MONGODB_PASSWORD: 'p@ss:w/rd%',
        DB_ENGINE: 'mysql',
      },
      'SOURCE_',
    );
    assert.equal(config.DB_ENGINE, 'mongodb');
    assert.equal(
      config.MONGODB_URL,
      'mongodb://app:p%40ss%3Aw%2Frd%25@db-mongodb.two-tier-eks.svc.cluster.local:27017/app?authSource=app',
    );
    assert.equal(decodeURIComponent(new URL(config.MONGODB_URL).password), 'p@ss:w/rd%');
  });
});

describe('the data command against MariaDB', () => {
  const fixtures: StoreFixture[] = [];
  const mysql = async () => {
    const fixture = await storeFixtures.mysql();
    fixtures.push(fixture);
    return fixture;
  };

  after(async () => {
    for (const fixture of fixtures) {
      await fixture.store.close();
      await fixture.drop();
    }
  });

  test(`a copy of ${COPY_DOCUMENTS} documents of ${COPY_DOCUMENT_CHARS / 1000} kB (MariaDB to MariaDB) holds a page at a time: the heap grows by less than ${COPY_HEAP_GROWTH_MIB} MiB`, async (context) => {
    const [source, target] = [await mysql(), await mysql()];
    await Promise.all([source.store.connect(), target.store.connect()]);
    const blob = 'c'.repeat(COPY_DOCUMENT_CHARS);
    for (let n = 0; n < COPY_DOCUMENTS; n++) await source.store.addDocument({ n, blob });
    await target.store.addDocument({ n: 0, blob });
    const baseline = process.memoryUsage().heapUsed;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    }, 2);
    const report = await merge(target.store, itemsOf(source.store));
    clearInterval(sampler);
    const growth = (peak - baseline) / 2 ** 20;
    context.diagnostic(
      `heap growth ${growth.toFixed(1)} MiB for ${((COPY_DOCUMENTS * COPY_DOCUMENT_CHARS) / 2 ** 20).toFixed(0)} MiB copied`,
    );
    assert.deepEqual(report.documents, { added: COPY_DOCUMENTS - 1, present: 1 });
    assert.ok(growth < COPY_HEAP_GROWTH_MIB, `the copy grew the heap by ${growth.toFixed(1)} MiB`);
  });

  test(`import and export of ${LARGE_DOCUMENTS} documents of ${COPY_DOCUMENT_CHARS / 1000} kB (MariaDB), from a file and from standard input, each in a ${LARGE_HEAP_MIB} MiB heap`, async (context) => {
    const [fromFile, fromStdin] = [await mysql(), await mysql()];
    const blob = 'e'.repeat(COPY_DOCUMENT_CHARS);
    const documents = Array.from(
      { length: LARGE_DOCUMENTS },
      (_, n): TransferItem => ({
        kind: 'document',
        id: String(n + 1),
        document: { n, blob },
      }),
    );
    const folder = await mkdtemp(join(tmpdir(), 'two-tier-large-'));
    const heap = { NODE_OPTIONS: `--max-old-space-size=${LARGE_HEAP_MIB}` };
    try {
      const file = join(folder, 'large.jsonl');
      await writeFile(file, serialize('mysql', documents));
      const { size } = await stat(file);
      assert.ok(size > 2 * LARGE_HEAP_MIB * 2 ** 20, `the file holds only ${size} bytes`);
      const added = `imported into mysql: 0 messages and ${LARGE_DOCUMENTS} documents added, 0 and 0 already there`;
      const imports = await Promise.all([
        dataCommand(['import', file], { ...fromFile.env, ...heap }),
        dataCommand(['import', '-'], { ...fromStdin.env, ...heap }, { file }),
      ]);
      assert.deepEqual(
        imports.map((run) => run.stderr),
        [added, added],
      );
      const exported = join(folder, 'exported.jsonl');
      assert.equal(
        (await dataCommand(['export', exported], { ...fromStdin.env, ...heap })).stderr,
        `exported 0 messages and ${LARGE_DOCUMENTS} documents from mysql to ${exported}`,
      );
      context.diagnostic(
        `${(size / 2 ** 20).toFixed(0)} MiB imported twice and exported, each with a ${LARGE_HEAP_MIB} MiB heap`,
      );
      await Promise.all([fromFile.store.connect(), fromStdin.store.connect()]);
      for (const store of [fromFile.store, fromStdin.store]) {
        const newest = await store.listDocuments({ limit: 1 });
        assert.deepEqual(
          newest.items.map(({ id: _id, ...document }) => document),
          [{ n: LARGE_DOCUMENTS - 1, blob }],
        );
      }
      assert.equal((await stat(exported)).size, size, 'the export is the file again, but for its header and ids');
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  test('a line longer than any item is refused by its number, and nothing is written', async () => {
    const target = await mysql();
    const header = serialize('mysql', []).replace('"documents":0', '"documents":2');
    const line = (text: string) => `${JSON.stringify({ kind: 'document', id: '1', document: { text } })}\n`;
    const file = header + line('fits') + line('x'.repeat(200_000));
    const refused = await dataCommand(['import', '-'], target.env, file);
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr, 'line 3: longer than 131072 characters, which no item is');
    const connection = await createConnection(MYSQL);
    const [databases] = await connection.query('SHOW DATABASES LIKE ?', [target.env.MYSQL_DATABASE]);
    await connection.end();
    assert.deepEqual(databases, [], 'a refused file touched the database');
  });

  test('an export is written beside its name and renamed once whole: a failed one leaves nothing behind', async () => {
    const source = await mysql();
    await source.store.connect();
    await seed(source.store);
    const folder = await mkdtemp(join(tmpdir(), 'two-tier-export-'));
    try {
      // The name is taken by a folder: the file is written, then cannot take the name.
      const taken = join(folder, 'backup.jsonl');
      await mkdir(taken);
      const failed = await dataCommand(['export', taken], source.env);
      assert.equal(failed.code, 1);
      assert.match(failed.stderr, /^data export failed: EISDIR/);
      assert.deepEqual(await readdir(folder), ['backup.jsonl']);
      assert.deepEqual(await readdir(taken), []);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  test('export to standard output and import from standard input, as `kubectl exec` would pipe them', async () => {
    const [source, target] = [await mysql(), await mysql()];
    await source.store.connect();
    await seed(source.store);
    const exported = await dataCommand(['export', '-'], source.env);
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(exported.stderr, 'exported 6 messages and 4 documents from mysql to standard output');
    const first = await dataCommand(['import', '-'], target.env, exported.stdout);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stderr, 'imported into mysql: 6 messages and 4 documents added, 0 and 0 already there');
    const again = await dataCommand(['import', '-'], target.env, exported.stdout);
    assert.equal(again.stderr, 'imported into mysql: 0 messages and 0 documents added, 6 and 4 already there');
    await target.store.connect();
    assert.deepEqual(await contents(target.store), await contents(source.store));
  });

  test('a relative FILE is where the user typed it (npm runs scripts from the repository root)', async () => {
    const source = await mysql();
    await source.store.connect();
    await source.store.addMessage('kept', new Date(T0));
    const folder = await mkdtemp(join(tmpdir(), 'two-tier-export-'));
    try {
      const result = await dataCommand(['export', 'backup.jsonl'], { ...source.env, INIT_CWD: folder });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr, `exported 1 messages and 0 documents from mysql to ${join(folder, 'backup.jsonl')}`);
      assert.equal(parse(await readFile(join(folder, 'backup.jsonl'), 'utf8')).length, 1);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  test('failures are one line with exit 1 that never shows the password; a bad file imports nothing', async () => {
    const target = await mysql();
    const deadPort = String(await freePort());
    const password = 'not-to-be-shown-4711';
    const refused = await dataCommand(['export', '-'], {
      ...target.env,
      MYSQL_PORT: deadPort,
      MYSQL_PASSWORD: password,
    });
    assert.equal(refused.code, 1);
    assert.equal(refused.stdout, '');
    assert.match(refused.stderr, new RegExp(`^data export failed: connect ECONNREFUSED 127\\.0\\.0\\.1:${deadPort}$`));
    assert.ok(!refused.stderr.includes(password));

    const cut = `${serialize('mysql', [{ kind: 'message', id: '1', message: 'lost', createdAt: new Date(T0).toISOString() }]).split('\n')[0]}\n`;
    const partial = await dataCommand(['import', '-'], target.env, cut.replace('"messages":1', '"messages":2'));
    assert.equal(partial.code, 1);
    assert.match(partial.stderr, /^the file is incomplete/);
    const connection = await createConnection(MYSQL);
    const [databases] = await connection.query('SHOW DATABASES LIKE ?', [target.env.MYSQL_DATABASE]);
    await connection.end();
    assert.deepEqual(databases, [], 'a refused file touched the database');

    const usage = await dataCommand(['backup'], target.env);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^usage: data export FILE \| data import FILE \| data copy/);
  });

  test('copy: a source whose host does not resolve, or stops resolving while the copy waits for it, is an empty source; another lookup failure is tried again, then fails the copy', async () => {
    const target = await mysql();
    const env = {
      ...target.env,
      SOURCE_DB_ENGINE: 'mongodb',
      SOURCE_MONGODB_URL: 'mongodb://app@db-mongodb.ns.svc.cluster.local:27017/app',
    };
    const absent = streams();
    const code = await runDataCommand(['copy'], env, absent.io, {
      resolve: async () => {
        throw Object.assign(new Error('getaddrinfo ENOTFOUND db-mongodb.ns.svc.cluster.local'), { code: 'ENOTFOUND' });
      },
    });
    assert.equal(code, 0);
    assert.equal(
      absent.stderr(),
      'nothing to copy: db-mongodb.ns.svc.cluster.local does not resolve, so no mongodb database is there',
    );

    const outage = () =>
      Object.assign(new Error('getaddrinfo EAI_AGAIN db-mongodb.ns.svc.cluster.local'), { code: 'EAI_AGAIN' });
    const flaky = streams();
    const failed = await runDataCommand(['copy'], env, flaky.io, {
      connectWithinMs: 0,
      resolve: async () => {
        throw outage();
      },
    });
    assert.equal(failed, 1, 'a DNS outage must not pass for an absent source');
    assert.equal(flaky.stderr(), 'data copy failed: getaddrinfo EAI_AGAIN db-mongodb.ns.svc.cluster.local');

    let lookups = 0;
    const recovered = streams();
    const answer = await runDataCommand(['copy'], env, recovered.io, {
      connectWithinMs: 5_000,
      resolve: async () => {
        lookups++;
        throw lookups === 1 ? outage() : Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
      },
    });
    assert.deepEqual([answer, lookups], [0, 2], 'a passing DNS outage is tried again until the deadline');
    assert.match(recovered.stderr(), /^nothing to copy/);

    // A pod started after the switch's up removed the database, before its Service went: the name resolves,
    // nothing answers; once the name is gone, there is nothing to copy (not five minutes of tries).
    let asked = 0;
    const removed = streams();
    const started = performance.now();
    const gone = await runDataCommand(
      ['copy'],
      {
        ...target.env,
        SOURCE_DB_ENGINE: 'mysql',
        SOURCE_MYSQL_HOST: '127.0.0.1',
        SOURCE_MYSQL_PORT: String(await freePort()),
        DB_ENGINE: 'mongodb',
        MONGODB_URL: 'mongodb://127.0.0.1:1/app',
      },
      removed.io,
      {
        connectWithinMs: 60_000,
        resolve: async () => {
          asked++;
          if (asked > 2) throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
        },
      },
    );
    assert.equal(gone, 0, removed.stderr());
    assert.equal(removed.stderr(), 'nothing to copy: 127.0.0.1 no longer resolves, so the mysql database was removed');
    assert.ok(performance.now() - started < 10_000, 'the copy went on trying a source that was gone');

    const same = streams();
    assert.equal(await runDataCommand(['copy'], { ...target.env, SOURCE_DB_ENGINE: 'mysql' }, same.io), 1);
    assert.equal(same.stderr(), 'SOURCE_DB_ENGINE must be the other engine than DB_ENGINE');
  });
});

describe('export from one engine, import into the other: MariaDB and FerretDB', {
  skip: unavailable('mongodb'),
}, () => {
  const fixtures: Record<'mysql' | 'mongodb', StoreFixture[]> = { mysql: [], mongodb: [] };
  const open = async (engine: 'mysql' | 'mongodb') => {
    const fixture = await storeFixtures[engine]();
    fixtures[engine].push(fixture);
    await fixture.store.connect();
    return fixture;
  };
  let folder: string;

  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'two-tier-transfer-'));
  });

  after(async () => {
    for (const fixture of [...fixtures.mysql, ...fixtures.mongodb]) {
      await fixture.store.close();
      await fixture.drop();
    }
    await rm(folder, { recursive: true, force: true });
    await stopFerretdb();
  });

  test('which MongoDB these tests run on', (t) => t.diagnostic(describeMongo()));

  for (const [from, into] of [
    ['mysql', 'mongodb'],
    ['mongodb', 'mysql'],
  ] as const) {
    test(`${from} to ${into} through a file: same messages and documents, same order, same times; a second import adds nothing`, async () => {
      const source = await open(from);
      const target = await open(into);
      await seed(source.store);
      const file = join(folder, `${from}-to-${into}.jsonl`);
      const exported = await dataCommand(['export', file], source.env);
      assert.equal(exported.code, 0, exported.stderr);
      const imported = await dataCommand(['import', file], target.env);
      assert.equal(imported.stderr, `imported into ${into}: 6 messages and 4 documents added, 0 and 0 already there`);
      const again = await dataCommand(['import', file], target.env);
      assert.equal(again.stderr, `imported into ${into}: 0 messages and 0 documents added, 6 and 4 already there`);

      assert.deepEqual(await contents(target.store), await contents(source.store));
      const ids = (await readAll(target.store)).map((item) => item.id);
      assert.ok(
        ids.every((id) => target.store.isValidId(id)),
        `${into} ids are its own: ${ids.join(', ')}`,
      );
    });
  }

  for (const engine of ['mysql', 'mongodb'] as const) {
    test(`three copies into ${engine} at once write every item once`, async () => {
      const source = new MemoryStore();
      await seed(source);
      const items = await readAll(source);
      const target = await open(engine);
      await Promise.all([merge(target.store, items), merge(target.store, items), merge(target.store, items)]);
      assert.deepEqual(await contents(target.store), await contents(source), 'concurrent copies duplicated items');
    });
  }

  test('copy from MariaDB into FerretDB while a copy of it already came back: nothing is written twice', async () => {
    const mysql = await open('mysql');
    const mongodb = await open('mongodb');
    await seed(mysql.store);
    const source = Object.fromEntries(Object.entries(mysql.env).map(([name, value]) => [`SOURCE_${name}`, value]));
    const copy = streams();
    assert.equal(await runDataCommand(['copy'], { ...mongodb.env, ...source }, copy.io), 0, copy.stderr());
    assert.equal(copy.stderr(), 'copied mysql into mongodb: 6 messages and 4 documents added, 0 and 0 already there');
    await mongodb.store.addMessage('written after the switch', new Date(T0 + 10));

    // Switching back: what went over and came back is already there; only the new message is added.
    const back = streams();
    const reverse = Object.fromEntries(Object.entries(mongodb.env).map(([name, value]) => [`SOURCE_${name}`, value]));
    assert.equal(await runDataCommand(['copy'], { ...mysql.env, ...reverse }, back.io), 0, back.stderr());
    assert.equal(back.stderr(), 'copied mongodb into mysql: 1 messages and 0 documents added, 6 and 4 already there');
    const items: TransferItem[] = await readAll(mysql.store);
    assert.equal(items.filter((item) => item.kind === 'message').at(-1)?.id, '7');
    assert.deepEqual(await contents(mysql.store), await contents(mongodb.store));
  });
});
