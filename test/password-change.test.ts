/**
 * The README's password change, at the store: the password is changed in the database first and the
 * web pods roll after it, so until they do they must keep serving on the connections they logged in
 * with. A MongoDB driver clears its whole pool when one new login is refused, so the store opens its
 * connections at the start and never grows its pool; these tests hold it, on a FerretDB that asks
 * for logins (SCRAM), as the real node's image does.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { MongoClient } from 'mongodb';
import { MongoStore } from '../service/src/stores/mongodb';
import { waitFor } from './support/app';
import { FerretdbInstance, mongoUnavailable } from './support/ferretdb';

const DATABASE = 'app';
const USER = 'app';
const POOL = 4;
/** Concurrent requests in a burst: several times the pool, so a pool that could grow would. */
const BURST = 40;

const secret = () => randomBytes(12).toString('hex');

describe('a MongoDB password changed before the web pods roll', { skip: mongoUnavailable() }, () => {
  const admin = { username: 'root', password: secret() };
  const oldPassword = secret();
  const newPassword = secret();
  let ferretdb: FerretdbInstance;
  let root: MongoClient;
  let store: MongoStore;

  const appUrl = (password: string) =>
    `mongodb://${USER}:${password}@127.0.0.1:${ferretdb.port}/${DATABASE}?authSource=${DATABASE}&directConnection=true`;

  before(async () => {
    ferretdb = await FerretdbInstance.create(admin);
    await ferretdb.start();
    root = new MongoClient(
      `mongodb://${admin.username}:${admin.password}@127.0.0.1:${ferretdb.port}/admin?directConnection=true`,
    );
    await root.db(DATABASE).command({ createUser: USER, pwd: oldPassword, roles: [] });
    store = new MongoStore({ url: appUrl(oldPassword), database: DATABASE, maxPoolSize: POOL });
    await store.connect();
  });

  after(async () => {
    await store?.close();
    await root?.close();
    await ferretdb?.destroy();
  });

  test('the pool is opened whole at the start, before any load asks for it', async () => {
    await waitFor(() => store.stats().open === POOL, `the pool to hold its ${POOL} connections`, 5_000);
  });

  test('after the change, bursts of requests are all served on the connections already logged in', async (t) => {
    await root.db(DATABASE).command({ updateUser: USER, pwd: newPassword });
    const refused = new MongoStore({ url: appUrl(oldPassword), database: DATABASE, maxPoolSize: 1 });
    try {
      await assert.rejects(refused.connect(), (error) => refused.classify(error) === 'credentials');
    } finally {
      await refused.close();
    }

    const outcomes: PromiseSettledResult<unknown>[] = [];
    for (let round = 0; round < 5; round++) {
      const burst = Array.from({ length: BURST }, (_, index) =>
        index % 4 === 0 ? store.addMessage(`burst ${round} ${index}`, new Date()) : store.listMessages({ limit: 20 }),
      );
      outcomes.push(...(await Promise.allSettled(burst)));
    }
    const failed = outcomes.filter((outcome) => outcome.status === 'rejected');
    assert.deepEqual(
      failed.map((outcome) => String((outcome as PromiseRejectedResult).reason)),
      [],
      'no request failed after the password changed',
    );
    assert.equal(store.stats().open, POOL, 'the pool neither grew nor lost a connection');
    t.diagnostic(`checked: a new login with the old password refused; ${outcomes.length} requests, 0 failed`);
  });
});
