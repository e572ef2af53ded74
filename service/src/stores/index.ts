import type { Config } from '../config';
import type { Store } from './store';

/**
 * Picks the adapter for `DB_ENGINE`; nothing is contacted until `connect()`. Only the chosen
 * adapter's driver is loaded, which keeps the other driver's code out of the process's memory.
 */
export async function createStore(config: Config): Promise<Store> {
  switch (config.DB_ENGINE) {
    case 'mysql': {
      const { MysqlStore } = await import('./mysql.js');
      return new MysqlStore({
        host: config.MYSQL_HOST,
        port: config.MYSQL_PORT,
        user: config.MYSQL_USER,
        password: config.MYSQL_PASSWORD,
        database: config.MYSQL_DATABASE,
      });
    }
    case 'mongodb': {
      const { MongoStore } = await import('./mongodb.js');
      return new MongoStore({ url: config.MONGODB_URL, database: config.MONGODB_DATABASE });
    }
    case 'memory': {
      const { MemoryStore } = await import('./memory.js');
      return new MemoryStore();
    }
  }
}
