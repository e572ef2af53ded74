import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { appForSuite, assertClientError, clusterReadiness, JSON_BODY, scrape } from './support/app';
import { responseSchemas } from './support/openapi';
import { ENGINES, stopFerretdb, unavailable } from './support/stores';

const json = JSON_BODY;

function nested(depth: number): Record<string, unknown> {
  let document: Record<string, unknown> = { leaf: true };
  for (let level = 1; level < depth; level++) document = { child: document };
  return document;
}

for (const engine of ENGINES) {
  describe(`routes on ${engine}`, { skip: unavailable(engine) }, () => {
    const t = appForSuite(engine);
    const post = t.post;
    const counts = async () => ({
      messages: (await t.app.store.listMessages({ limit: 500 })).items.length,
      documents: (await t.app.store.listDocuments({ limit: 500 })).items.length,
    });

    /** Runs the requests and checks that none of them wrote anything. */
    async function writesNothing(requests: () => Promise<void>) {
      const before = await counts();
      await requests();
      assert.deepEqual(await counts(), before, 'a refused request wrote to the database');
    }

    test('GET /health answers without the database; GET /ready says the status, the metrics port names the engine', async () => {
      assert.deepEqual((await t.app.inject('/health')).json(), { status: 'ok' });
      const ready = await t.app.inject('/ready');
      assert.equal(ready.statusCode, 200);
      assert.deepEqual(ready.json(), { status: 'ready' });
      const detail = await clusterReadiness(t.app);
      assert.equal(detail.statusCode, 200);
      assert.deepEqual(detail.json(), { status: 'ready', engine });
    });

    test('every JSON answer is what the OpenAPI document declares for its route and status, field for field', async () => {
      await post('/messages', { message: 'contract' });
      await post('/data', { contract: true });
      const cases: [method: 'GET' | 'POST', url: string, status: number, payload?: unknown][] = [
        ['GET', '/health', 200],
        ['GET', '/ready', 200],
        ['GET', '/', 200],
        ['GET', '/messages?limit=1', 200],
        ['GET', '/messages?before=x', 400],
        ['POST', '/messages', 201, { message: 'checked against the document' }],
        ['POST', '/messages', 400, { message: '' }],
        ['GET', '/data?limit=1', 200],
        ['POST', '/data', 201, { checked: ['against', 'the', 'document'] }],
        ['POST', '/submit', 201, { message: 'from the form, as JSON' }],
        ['POST', '/data', 413, { blob: 'x'.repeat(70_000) }],
        ['POST', '/data', 400, { $where: 'sleep(1)' }],
      ];
      const checked = responseSchemas(t.app.swagger());
      for (const [method, url, status, payload] of cases) {
        const response = await t.app.inject({
          method,
          url,
          headers: { ...json, accept: 'application/json' },
          ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
        });
        assert.equal(response.statusCode, status, `${method} ${url}: ${response.body}`);
        const path = url.split('?', 1)[0] as string;
        const validate = checked(path, method, status);
        assert.ok(validate(response.json()), `${method} ${url} ${status}: ${JSON.stringify(validate.errors)}`);
      }
    });

    test('GET / with Accept: application/json is the JSON welcome', async () => {
      const response = await t.app.inject({ url: '/', headers: { accept: 'application/json' } });
      assert.equal(response.statusCode, 200);
      const body = response.json();
      assert.deepEqual(Object.keys(body), ['message', 'time']);
      assert.equal(new Date(body.time).toISOString(), body.time);
    });

    test('POST /messages then GET /messages: 201 with string id, newest first', async () => {
      const created = await post('/messages', { message: 'first' });
      assert.equal(created.statusCode, 201);
      const body = created.json();
      assert.deepEqual(Object.keys(body), ['id', 'message', 'createdAt']);
      assert.equal(typeof body.id, 'string');
      await post('/messages', { message: 'second' });
      const list = (await t.app.inject('/messages?limit=2')).json();
      assert.deepEqual(
        list.map((m: { message: string }) => m.message),
        ['second', 'first'],
      );
    });

    test('paging follows the Link header to the end and visits every message once', async () => {
      for (let i = 0; i < 5; i++) await post('/messages', { message: `page item ${i}` });
      const all = (await t.app.inject('/messages?limit=500')).json().map((m: { id: string }) => m.id);
      const seen: string[] = [];
      let url: string | undefined = '/messages?limit=2';
      while (url) {
        const response: LightMyRequestResponse = await t.app.inject(url);
        assert.equal(response.statusCode, 200);
        seen.push(...response.json().map((m: { id: string }) => m.id));
        const link = response.headers.link as string | undefined;
        url = link ? /^<([^>]+)>; rel="next"$/.exec(link)?.[1] : undefined;
        if (link) assert.ok(url, `malformed Link header: ${link}`);
      }
      assert.deepEqual(seen, all);
    });

    test('POST /data then GET /data returns the document as posted, with its id', async () => {
      const document = { name: 'test', value: 123, tags: ['a', 'b'], nested: { ok: true } };
      const created = await post('/data', document);
      assert.equal(created.statusCode, 201);
      const { id, ...rest } = created.json();
      assert.equal(typeof id, 'string');
      assert.deepEqual(rest, document);
      const list = await t.app.inject('/data?limit=1');
      assert.deepEqual(list.json(), [{ ...document, id }]);
    });

    test('injection strings are stored and returned verbatim as data', async () => {
      const attacks = ["'; DROP TABLE messages; --", '{"$where": "sleep(1000)"}', "1' OR '1'='1"];
      for (const message of attacks) assert.equal((await post('/messages', { message })).statusCode, 201);
      const listed = (await t.app.inject('/messages?limit=3')).json().map((m: { message: string }) => m.message);
      assert.deepEqual(listed, [...attacks].reverse());
      const doc = { query: { field: '$ne' }, text: "'; DELETE FROM documents; --" };
      assert.equal((await post('/data', doc)).statusCode, 201);
      assert.deepEqual((await t.app.inject('/data?limit=1')).json()[0].query, doc.query);
    });

    test('the page lists messages escaped, names the engine, and the form post comes back to it', async () => {
      const response = await post('/submit', `new_message=${encodeURIComponent('<b>bold</b> & "quoted"')}`, {
        'content-type': 'application/x-www-form-urlencoded',
      });
      assert.equal(response.statusCode, 303);
      assert.equal(response.headers.location, '/');
      const page = await t.app.inject('/');
      assert.equal(page.statusCode, 200);
      assert.match(page.headers['content-type'] as string, /^text\/html/);
      assert.ok(page.body.includes('&lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot;'), 'the message is not escaped');
      assert.ok(!page.body.includes('<b>bold</b>'), 'raw HTML from a message reached the page');
      assert.match(page.body, new RegExp(`data-engine="${engine}"`));
    });

    test('POST /submit with JSON {"message"} answers 201 like POST /messages', async () => {
      const response = await post('/submit', { message: 'from json' });
      assert.equal(response.statusCode, 201);
      assert.equal(response.json().message, 'from json');
    });

    test('a refused form post returns the page with the list, the reason in words, and the text kept', async () => {
      await post('/messages', { message: 'already on the board' });
      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      await writesNothing(async () => {
        const response = await post('/submit', 'new_message=%20%20%20', form);
        assert.equal(response.statusCode, 400);
        assert.match(response.headers['content-type'] as string, /^text\/html/);
        assert.match(response.body, /Please write a message before posting: it cannot be empty or only spaces\./);
        assert.match(response.body, /<textarea[^>]*> {3}<\/textarea>/);
        assert.match(response.body, /already on the board/, 'the refused post lost the list of messages');
        const long = await post('/submit', `new_message=${'z'.repeat(2001)}`, form);
        assert.equal(long.statusCode, 400);
        assert.match(long.body, /Your message is 2001 characters long; please shorten it to 2000 or fewer\./);
        assert.doesNotMatch(long.body, /body\/|must NOT/, 'a validator message reached the page');
      });
    });

    test('bad message bodies are 400 or 415 or 413 with a JSON error and write nothing', async () => {
      await writesNothing(async () => {
        assertClientError(await post('/messages', '{"message": "unterminated'), 400, /JSON/i);
        assertClientError(await post('/messages', 'message=hi', { 'content-type': 'text/plain' }), 415);
        assertClientError(
          await post('/messages', 'message=hi', { 'content-type': 'application/x-www-form-urlencoded' }),
          415,
        );
        assertClientError(await post('/messages', { message: 'x'.repeat(70_000) }), 413);
        assertClientError(await post('/messages', {}), 400, /message/);
        assertClientError(await post('/messages', { message: '' }), 400, /message/);
        assertClientError(await post('/messages', { message: ' \n\t ' }), 400, /white space/);
        assertClientError(await post('/messages', { message: 'x'.repeat(2001) }), 400, /2000/);
        assertClientError(await post('/messages', { message: 42 }), 400, /string/);
        assertClientError(await post('/messages', 'null'), 400);
        assertClientError(await post('/messages', ''), 400);
        assertClientError(await post('/submit', {}), 400, /new_message is required/);
      });
    });

    test('Idempotency-Key: the same key and body give the first result and store once; another body is a 422', async () => {
      const form = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
      for (const [url, body, headers, other] of [
        ['/messages', { message: 'only once' }, json, { message: 'only once, changed' }],
        ['/data', { order: 42, items: ['a'] }, json, { order: 42, items: ['a'], changed: true }],
        ['/submit', 'new_message=once%20from%20the%20form', form, 'new_message=once%20from%20the%20form%20changed'],
      ] as const) {
        const key = `key-${engine}-${url}`;
        const before = await counts();
        const first = await post(url, body, { ...headers, 'idempotency-key': key });
        assert.equal(first.statusCode, 201, `${url}: ${first.body}`);
        const again = await post(url, body, { ...headers, 'idempotency-key': key });
        assert.equal(again.statusCode, 201);
        assert.deepEqual(again.json(), first.json(), `${url}: a retry did not return the first result`);
        const after = await counts();
        assert.equal(
          after.messages + after.documents,
          before.messages + before.documents + 1,
          `${url}: a retry stored again`,
        );
        await writesNothing(async () => {
          assertClientError(await post(url, other, { ...headers, 'idempotency-key': key }), 422, /Idempotency-Key/);
        });
      }
      assertClientError(await post('/messages', { message: 'x' }, { ...json, 'idempotency-key': 'has space' }), 400);
    });

    test('content negotiation: /submit answers JSON to clients that ask for it, the page and a 303 otherwise', async () => {
      const form = 'new_message=negotiated';
      const jquery = await post('/submit', form, {
        'content-type': 'application/x-www-form-urlencoded; charset=UTF-8',
        accept: 'application/json, text/javascript, */*; q=0.01',
      });
      assert.equal(jquery.statusCode, 201, 'a form post asking for JSON was not answered with JSON');
      assert.equal(jquery.json().message, 'negotiated');
      const shouting = await post('/submit', form, {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'APPLICATION/JSON',
      });
      assert.equal(shouting.statusCode, 201, 'media types must match case-insensitively');
      const browser = await post('/submit', form, {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
      });
      assert.equal(browser.statusCode, 303);
      const refused = await post('/submit', 'new_message=', {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      });
      assertClientError(refused, 400);
      const page = await t.app.inject({ url: '/', headers: { accept: 'Application/Json' } });
      assert.match(page.headers['content-type'] as string, /^application\/json/);
      assert.match(page.headers.vary as string, /Accept/i);
      assert.match((await t.app.inject('/')).headers.vary as string, /Accept/i);
    });

    test('a wrong method is a 405 that says which methods are allowed', async () => {
      const response = await t.app.inject({ method: 'DELETE', url: '/messages' });
      assertClientError(response, 405);
      assert.equal(response.headers.allow, 'GET, HEAD, POST');
      const submit = await t.app.inject({ method: 'GET', url: '/submit' });
      assertClientError(submit, 405);
      assert.equal(submit.headers.allow, 'POST');
      // Whatever the request carries: a QUERY without a Content-Type, a PUT of a type no route parses.
      const query = await t.app.inject({ method: 'QUERY', url: '/health' });
      assertClientError(query, 405);
      assert.equal(query.headers.allow, 'GET, HEAD');
      const put = await post('/data', 'x', { 'content-type': 'text/plain' });
      assert.equal(put.statusCode, 415, 'POST is allowed on /data, so its body is judged');
      assertClientError(
        await t.app.inject({ method: 'PUT', url: '/data', payload: 'x', headers: { 'content-type': 'text/plain' } }),
        405,
      );
    });

    test('the OpenAPI document says what the service does: ids, bodies, every answer and its content types', async () => {
      const document = t.app.swagger() as {
        openapi: string;
        // biome-ignore lint/suspicious/noExplicitAny: the document is plain JSON.
        paths: Record<string, Record<string, any>>;
      };
      assert.equal(document.openapi, '3.1.0');
      const id = engine === 'mongodb' ? /^[0-9a-f]{24}$/ : /^[1-9][0-9]{0,18}$/;
      for (const path of ['/messages', '/data']) {
        const parameters = document.paths[path]?.get.parameters as {
          name: string;
          required: boolean;
          schema: { pattern?: string };
        }[];
        const before = parameters.find((p) => p.name === 'before');
        assert.equal(
          before?.schema.pattern,
          id.source,
          `${path}: the document does not say what an id is on ${engine}`,
        );
        assert.equal(parameters.find((p) => p.name === 'limit')?.required, false, `${path}: limit has a default`);
        const created = (await post(path, path === '/data' ? { a: 1 } : { message: 'an id' })).json();
        assert.match(created.id, new RegExp(before?.schema.pattern as string));
      }
      for (const path of ['/messages', '/data', '/submit']) {
        const statuses = Object.keys(document.paths[path]?.post.responses).sort();
        const expected = [
          '201',
          '400',
          '403',
          '413',
          '415',
          '422',
          '429',
          '503',
          ...(path === '/submit' ? ['303'] : []),
        ];
        assert.deepEqual(statuses, expected.sort(), `${path}: the answers documented`);
      }
      const submit = document.paths['/submit']?.post.responses;
      assert.ok(submit['303'].headers.location && !submit['303'].content, 'the 303 is a redirect without a body');
      for (const status of ['400', '413', '415', '422', '429', '503']) {
        assert.deepEqual(Object.keys(submit[status].content).sort(), ['application/json', 'text/html'], status);
      }
      const keys = new RegExp(
        document.paths['/data']?.post.requestBody.content['application/json'].schema.propertyNames.pattern,
      );
      assert.deepEqual(
        ['note', 'a.b', '$set', 'id', '_id', 'a\u0000b', '__proto__', '_bsontype', 'ident'].filter((key) =>
          keys.test(key),
        ),
        ['note', 'ident'],
        'the document says which keys a document may have',
      );
      assert.equal(
        document.paths['/messages']?.post.requestBody.content['application/json'].schema.additionalProperties,
        false,
      );
    });

    test('security headers are on the page, not on JSON', async () => {
      const api = await t.app.inject('/messages');
      assert.equal(api.headers['content-security-policy'], undefined);
    });

    test('a message of exactly 2000 characters is accepted', async () => {
      assert.equal((await post('/messages', { message: 'y'.repeat(2000) })).statusCode, 201);
    });

    test('bad documents are refused with the same message on every engine and write nothing', async () => {
      await writesNothing(async () => {
        for (const body of ['[1,2]', '"text"', 'null', '42', 'true']) {
          assertClientError(await post('/data', body), 400, /object/);
        }
        assertClientError(await post('/data', nested(33)), 400, /^documents may nest at most 32 levels$/);
        assertClientError(await post('/data', { $where: 'sleep(1)' }), 400, /^key "\$where" must not start with "\$"$/);
        assertClientError(await post('/data', { a: [{ $gt: 1 }] }), 400, /^key "\$gt" must not start with "\$"$/);
        assertClientError(await post('/data', { 'a.b': 1 }), 400, /^key "a\.b" must not contain "\."$/);
        assertClientError(await post('/data', { deep: { 'x.y': 1 } }), 400, /must not contain "\."/);
        assertClientError(await post('/data', { 'a\u0000b': 1 }), 400, /must not contain a NUL character/);
        assertClientError(await post('/data', { _id: 'mine' }), 400, /"_id" is assigned by the server/);
        assertClientError(await post('/data', { id: 7 }), 400, /"id" is assigned by the server/);
        assertClientError(await post('/data', '{"__proto__": {"polluted": true}}'), 400);
        assertClientError(await post('/data', { blob: 'x'.repeat(66_000) }), 413);
      });
      assert.equal((await post('/data', nested(32))).statusCode, 201, 'a document 32 levels deep must be accepted');
    });

    test('paging parameters out of range or malformed are 400', async () => {
      for (const url of ['/messages?limit=0', '/messages?limit=501', '/messages?limit=abc', '/data?limit=-1']) {
        assertClientError(await t.app.inject(url), 400, /limit/);
      }
      const foreign = engine === 'mongodb' ? '12' : '65f0c0ffee0000000000beef';
      for (const before of ['abc', '-1', '1.5', foreign, '0']) {
        assertClientError(await t.app.inject(`/messages?before=${before}`), 400, /before/);
        assertClientError(await t.app.inject(`/data?before=${before}`), 400, /before/);
      }
    });

    test('unknown routes are a 404 JSON error', async () => {
      assertClientError(await t.app.inject('/nope'), 404);
    });

    test('security headers: a CSP that allows only the page origin', async () => {
      const { headers } = await t.app.inject('/');
      const csp = headers['content-security-policy'] as string;
      assert.match(csp, /default-src 'self'/);
      assert.match(csp, /script-src 'self'(;|$)/);
      assert.doesNotMatch(csp, /https?:|\*|unsafe-inline|unsafe-eval/);
      assert.equal(headers['x-content-type-options'], 'nosniff');
      const script = await t.app.inject('/static/app.js');
      assert.equal(script.statusCode, 200);
      assert.match(script.headers['content-type'] as string, /javascript/);
    });

    test("the metrics listener's GET /metrics exposes request counts and latency by route and status, store errors and pool state", async () => {
      await t.app.inject('/messages');
      const text = await scrape(t.app);
      assert.match(text, /http_requests_total\{method="GET",route="\/messages",status_code="200"\} \d+/);
      assert.match(text, /http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/messages"/);
      assert.match(text, /# TYPE store_operation_errors_total counter/);
      assert.match(text, /store_pool_connections\{state="open"\} \d+/);
    });

    test('GET /docs/json is an OpenAPI 3 document of every endpoint', async () => {
      const doc = (await t.app.inject('/docs/json')).json();
      assert.match(doc.openapi, /^3\./);
      for (const path of ['/', '/submit', '/messages', '/data', '/health', '/ready']) {
        assert.ok(doc.paths[path], `${path} is missing from the OpenAPI document`);
      }
      assert.ok(doc.paths['/messages'].post.requestBody, 'POST /messages has no request body schema');
      assert.ok(doc.paths['/messages'].get.responses['200'].headers?.link, 'the Link header is not documented');
    });
  });
}

after(stopFerretdb);
