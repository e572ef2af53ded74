import { after, describe, test } from 'node:test';
import { runStoreContract } from './support/store-contract';
import { describeMongo, stopFerretdb, storeFixtures, unavailable } from './support/stores';

describe('MongoDB store', { skip: unavailable('mongodb') }, () => {
  test('which MongoDB these tests run on', (t) => t.diagnostic(describeMongo()));

  runStoreContract('mongodb', storeFixtures.mongodb);
});

after(stopFerretdb);
