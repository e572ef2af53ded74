import mysql, { type Pool, type PoolOptions, type ResultSetHeader, type RowDataPacket } from 'mysql2/promise';
import type { JsonObject, Message, Page, PageQuery, PoolStats, Store, StoredDocument } from './store';
import { isDecimalId, toPage } from './store';

export interface MysqlStoreOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** Connections the pool may open. */
  connectionLimit?: number;
  /** Operations that may wait for a connection before new ones are refused. */
  queueLimit?: number;
}

const QUERY_TIMEOUT_MS = 5_000;
const ER_BAD_DB_ERROR = 1049;

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS messages (
     id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
     message TEXT NOT NULL,
     created_at DATETIME(3) NOT NULL
   ) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
  // The document is kept as the JSON text it was given, so both MySQL and MariaDB return its keys in order.
  `CREATE TABLE IF NOT EXISTS documents (
     id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
     body MEDIUMTEXT NOT NULL,
     created_at DATETIME(3) NOT NULL
   ) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
];

interface MessageRow extends RowDataPacket {
  id: string;
  message: string;
  created_at: Date;
}

interface DocumentRow extends RowDataPacket {
  id: string;
  body: string;
}

export class MysqlStore implements Store {
  readonly engine = 'mysql' as const;
  private readonly pool: Pool;

  constructor(private readonly options: MysqlStoreOptions) {
    this.pool = mysql.createPool({
      ...connectionOptions(options),
      database: options.database,
      connectionLimit: options.connectionLimit ?? 10,
      maxIdle: options.connectionLimit ?? 10,
      queueLimit: options.queueLimit ?? 200,
      waitForConnections: true,
      enableKeepAlive: true,
      keepAliveInitialDelay: 10_000,
    });
  }

  async connect(): Promise<void> {
    try {
      await this.createTables();
    } catch (error) {
      if ((error as { errno?: number }).errno !== ER_BAD_DB_ERROR) throw error;
      await this.createDatabase();
      await this.createTables();
    }
  }

  async ping(): Promise<void> {
    await this.pool.query({ sql: 'SELECT 1', timeout: 1_000 });
  }

  isValidId(id: string): boolean {
    return isDecimalId(id);
  }

  async addMessage(message: string, createdAt: Date): Promise<Message> {
    const [result] = await this.pool.execute<ResultSetHeader>({
      sql: 'INSERT INTO messages (message, created_at) VALUES (?, ?)',
      values: [message, createdAt],
      timeout: QUERY_TIMEOUT_MS,
    });
    return { id: String(result.insertId), message, createdAt: createdAt.toISOString() };
  }

  async listMessages(query: PageQuery): Promise<Page<Message>> {
    const rows = await this.newestFirst<MessageRow>('id, message, created_at', 'messages', query);
    return toPage(
      rows.map((row) => ({ id: String(row.id), message: row.message, createdAt: row.created_at.toISOString() })),
      query.limit,
    );
  }

  async addDocument(document: JsonObject): Promise<StoredDocument> {
    const [result] = await this.pool.execute<ResultSetHeader>({
      sql: 'INSERT INTO documents (body, created_at) VALUES (?, ?)',
      values: [JSON.stringify(document), new Date()],
      timeout: QUERY_TIMEOUT_MS,
    });
    return { ...document, id: String(result.insertId) };
  }

  async listDocuments(query: PageQuery): Promise<Page<StoredDocument>> {
    const rows = await this.newestFirst<DocumentRow>('id, body', 'documents', query);
    return toPage(
      rows.map((row) => ({ ...(JSON.parse(row.body) as JsonObject), id: String(row.id) })),
      query.limit,
    );
  }

  stats(): PoolStats {
    // mysql2 keeps no public counters; these are the pool's own lists.
    const internals = this.pool.pool as unknown as {
      _allConnections: { length: number };
      _freeConnections: { length: number };
      _connectionQueue: { length: number };
    };
    return {
      open: internals._allConnections.length,
      idle: internals._freeConnections.length,
      queued: internals._connectionQueue.length,
    };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async newestFirst<Row extends RowDataPacket>(
    columns: string,
    table: 'messages' | 'documents',
    { limit, before }: PageQuery,
  ): Promise<Row[]> {
    // LIMIT goes as a string: MySQL 8's prepared statements refuse a numeric LIMIT parameter.
    const [rows] = await this.pool.execute<Row[]>({
      sql:
        before === undefined
          ? `SELECT ${columns} FROM ${table} ORDER BY id DESC LIMIT ?`
          : `SELECT ${columns} FROM ${table} WHERE id < ? ORDER BY id DESC LIMIT ?`,
      values: before === undefined ? [String(limit + 1)] : [before, String(limit + 1)],
      timeout: QUERY_TIMEOUT_MS,
    });
    return rows;
  }

  private async createTables(): Promise<void> {
    for (const statement of SCHEMA) await this.pool.query({ sql: statement, timeout: QUERY_TIMEOUT_MS });
  }

  private async createDatabase(): Promise<void> {
    const connection = await mysql.createConnection(connectionOptions(this.options));
    try {
      await connection.query(`CREATE DATABASE IF NOT EXISTS \`${this.options.database}\` CHARACTER SET utf8mb4`);
    } finally {
      await connection.end();
    }
  }
}

function connectionOptions(options: MysqlStoreOptions): PoolOptions {
  return {
    host: options.host,
    port: options.port,
    user: options.user,
    password: options.password,
    connectTimeout: 2_000,
    timezone: 'Z',
    supportBigNumbers: true,
    bigNumberStrings: true,
    charset: 'utf8mb4_unicode_ci',
  };
}
