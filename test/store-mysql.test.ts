import { runStoreContract } from './support/store-contract';
import { storeFixtures } from './support/stores';

runStoreContract('mysql', storeFixtures.mysql);
