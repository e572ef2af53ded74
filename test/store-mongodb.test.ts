import { after, test } from 'node:test';
import { runStoreContract } from './support/store-contract';
import { describeMongo, stopMongoWireServer, storeFixtures } from './support/stores';

test('which MongoDB these tests run on', (t) => t.diagnostic(describeMongo()));

runStoreContract('mongodb', storeFixtures.mongodb);

after(stopMongoWireServer);
