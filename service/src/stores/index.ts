import type { Config } from '../config';
import { MemoryStore } from './memory';
import { MongoStore } from './mongodb';
import { MysqlStore } from './mysql';
import type { Store } from './store';

/** Picks the adapter for `DB_ENGINE`; nothing is contacted until `connect()`. */
export function createStore(config: Config): Store {
  switch (config.DB_ENGINE) {
    case 'mysql':
      return new MysqlStore({
        host: config.MYSQL_HOST,
        port: config.MYSQL_PORT,
        user: config.MYSQL_USER,
        password: config.MYSQL_PASSWORD,
        database: config.MYSQL_DATABASE,
      });
    case 'mongodb':
      return new MongoStore({ url: config.MONGODB_URL, database: config.MONGODB_DATABASE });
    case 'memory':
      return new MemoryStore();
  }
}
