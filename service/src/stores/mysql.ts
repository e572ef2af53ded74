import mysql, {
  type Pool,
  type PoolConnection,
  type PoolOptions,
  type ResultSetHeader,
  type RowDataPacket,
} from 'mysql2';
import { MAX_MESSAGE_LENGTH } from '../schemas';
import type {
  BatchFetch,
  Failure,
  IdempotencyKey,
  JsonObject,
  Message,
  Page,
  PageQuery,
  PoolStats,
  Store,
  StoredDocument,
} from './store';
import {
  documentSize,
  hasIdForm,
  IDEMPOTENCY_TTL_MS,
  IdempotencyConflictError,
  isoTime,
  messageSize,
  readPage,
} from './store';

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

/** All the statements of one operation, from asking the pool for a connection to the last answer. */
const OPERATION_MS = 4_000;
/** Waiting for a free connection from a full pool. */
const ACQUIRE_MS = 1_000;
/** The readiness probe's whole budget: a stuck database makes /ready a fast 503. */
const PING_MS = 1_500;
/** The server gives up on a locked table by itself, so a timed-out write was not applied. */
const LOCK_WAIT_SECONDS = 2;

const ER_BAD_DB_ERROR = 1049;
const ER_DUP_ENTRY = 1062;
const ER_LOCK_DEADLOCK = 1213;
/** Tries at one idempotent insert: a deadlock, or a key that expired or was rolled back meanwhile, goes again. */
const KEY_ATTEMPTS = 4;
const ACCESS_DENIED = new Set([1044, 1045, 1698]);
/** Errors about a value the server will not store, and what each means; the server's own text names its schema. */
const REFUSED_VALUE: Record<number, string> = {
  1264: 'a number is out of range',
  1292: 'a time is outside the range the database stores (1000-01-01 to 9999-12-31)',
  1300: 'a text is not valid Unicode',
  1366: 'a text is not valid Unicode',
  1406: 'a value is too long',
  3140: 'the document is not valid JSON',
};
const TIMED_OUT = new Set(['PROTOCOL_SEQUENCE_TIMEOUT', 'POOL_ACQUIRE_TIMEOUT', 'ER_LOCK_WAIT_TIMEOUT', 'ETIMEDOUT']);

type Table = 'messages' | 'documents';

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
  `CREATE TABLE IF NOT EXISTS idempotency_keys (
     idempotency_key VARCHAR(255) NOT NULL PRIMARY KEY,
     fingerprint CHAR(64) NOT NULL,
     item_id BIGINT UNSIGNED NOT NULL,
     expires_at DATETIME(3) NOT NULL,
     KEY expiry (expires_at)
   ) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
];

/** Each table's statements, written once: operations reuse the same text, which mysql2 prepares once per connection. */
function statements(table: Table, selected: string, inserted: string, stored: string) {
  // The newest rows (LIMIT first, so the window runs over those alone) up to a byte budget: the rows past
  // it never leave the server; `total` says how many the LIMIT found.
  const upToBudget = (where: string) =>
    `SELECT ${selected}, total FROM (
       SELECT ${selected}, SUM(LENGTH(${stored})) OVER (ORDER BY id DESC) - LENGTH(${stored}) AS bytes_before, COUNT(*) OVER () AS total
       FROM (SELECT ${selected} FROM ${table} ${where} ORDER BY id DESC LIMIT ?) AS newest
     ) AS sized WHERE bytes_before < ? ORDER BY id DESC`;
  const plain = (where: string) => `SELECT ${selected} FROM ${table} ${where} ORDER BY id DESC LIMIT ?`;
  return {
    insert: `INSERT INTO ${table} (${inserted}) VALUES (?, ?)`,
    byId: `SELECT ${selected} FROM ${table} WHERE id = ?`,
    newest: { windowed: upToBudget(''), plain: plain('') },
    olderThan: { windowed: upToBudget('WHERE id < ?'), plain: plain('WHERE id < ?') },
  };
}

/**
 * The most bytes one row can store, as far as the service lets it be written: a message is at most
 * MAX_MESSAGE_LENGTH UTF-16 units, each at most 3 bytes of UTF-8. A batch whose rows cannot together
 * exceed its budget is read without the window (which cost MariaDB about 0.6 ms a read, a page of 50
 * messages five times the plain query); a document has no such bound short of its column's.
 */
const MAX_ROW_BYTES: Record<Table, number> = { messages: 3 * MAX_MESSAGE_LENGTH, documents: Number.POSITIVE_INFINITY };

const STATEMENTS: Record<Table, ReturnType<typeof statements>> = {
  messages: statements('messages', 'id, message, created_at', 'message, created_at', 'message'),
  documents: statements('documents', 'id, body', 'body, created_at', 'body'),
};

/**
 * Statements each connection keeps prepared. The store runs a fixed set of 17 (six per table, five for
 * idempotency keys); mysql2's default is 16,000, and its cache allocates four arrays of that length per
 * connection up front: 5 MiB of a pod's heap for a pool of 10 (docs/performance.md).
 */
export const PREPARED_STATEMENTS = 32;

interface ItemRow extends RowDataPacket {
  id: string;
  /** Rows the page's LIMIT found, of which those within the byte budget were sent. */
  total?: string;
  message?: string;
  created_at?: Date;
  body?: string;
}

interface KeyRow extends RowDataPacket {
  fingerprint: string;
  item_id: string;
  expires_at: Date;
}

const toMessage = (row: ItemRow): Message => ({
  id: String(row.id),
  message: row.message as string,
  createdAt: isoTime(row.created_at as Date),
});
const toDocument = (row: ItemRow): StoredDocument => ({
  ...(JSON.parse(row.body as string) as JsonObject),
  id: String(row.id),
});

export class MysqlStore implements Store {
  readonly engine = 'mysql' as const;
  readonly user: string;
  private readonly pool: Pool;
  private readonly size: number;
  private toppingUp = false;

  constructor(private readonly options: MysqlStoreOptions) {
    this.user = options.user;
    this.size = options.connectionLimit ?? 10;
    this.pool = mysql.createPool({
      ...connectionOptions(options),
      database: options.database,
      connectionLimit: this.size,
      maxPreparedStatements: PREPARED_STATEMENTS,
      maxIdle: this.size,
      queueLimit: options.queueLimit ?? 200,
      waitForConnections: true,
      enableKeepAlive: true,
      keepAliveInitialDelay: 10_000,
    });
    this.pool.on('connection', (connection) => {
      connection.query(
        `SET SESSION lock_wait_timeout = ${LOCK_WAIT_SECONDS}, innodb_lock_wait_timeout = ${LOCK_WAIT_SECONDS}`,
        () => {},
      );
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
    await this.openPool();
  }

  /**
   * Opens every pooled connection before the service calls itself connected (and so Ready). A pod
   * started by the autoscaler under load otherwise logs in once per concurrent first request, on a CPU
   * shared with the other new pods; its first page reads then waited past their one-second turn and were
   * 503s. The pool keeps them: its idle limit is its size.
   */
  private async openPool(): Promise<void> {
    const failure = (await this.openConnections(this.size)).find((result) => result.status === 'rejected');
    if (failure) throw failure.reason;
  }

  /**
   * Takes `count` connections from the pool at once and gives each back: the pool hands out its idle ones
   * first and opens a new one for each of the rest.
   */
  private openConnections(count: number): Promise<PromiseSettledResult<void>[]> {
    return Promise.allSettled(
      Array.from({ length: count }, () => this.acquire(OPERATION_MS).then((connection) => connection.release())),
    );
  }

  async ping(): Promise<void> {
    await this.withConnection(PING_MS, (run) => run('SELECT 1'));
    this.topUp();
  }

  /**
   * A database that restarted took the pool's connections with it, and a pool refills only as requests
   * ask: the next burst would wait for logins again. The readiness probe's ping opens the missing ones
   * in the background, so the probe itself never waits for them.
   */
  private topUp(): void {
    const { open, idle } = this.stats();
    if (open >= this.size || this.toppingUp) return;
    this.toppingUp = true;
    // The idle ones are taken too, so that every missing one is opened.
    void this.openConnections(this.size - open + idle).finally(() => {
      this.toppingUp = false;
    });
  }

  isValidId(id: string): boolean {
    return hasIdForm(this.engine, id);
  }

  classify(error: unknown): Failure {
    const { errno, code } = error as { errno?: number; code?: string };
    if (errno !== undefined && ACCESS_DENIED.has(errno)) return 'credentials';
    if (code !== undefined && TIMED_OUT.has(code)) return 'timeout';
    return 'unavailable';
  }

  refusal(error: unknown): string | undefined {
    const problem = REFUSED_VALUE[(error as { errno?: number }).errno ?? 0];
    return problem && `the database refused the data: ${problem}`;
  }

  async addMessage(message: string, createdAt: Date, idempotency?: IdempotencyKey): Promise<Message> {
    const id = await this.insert('messages', [message, createdAt], idempotency);
    if (id.replayed) return toMessage(await this.byId('messages', id.value));
    return { id: id.value, message, createdAt: isoTime(createdAt) };
  }

  listMessages(query: PageQuery): Promise<Page<Message>> {
    return readPage(this.newestFirst('messages', toMessage), query, messageSize);
  }

  async addDocument(document: JsonObject, idempotency?: IdempotencyKey): Promise<StoredDocument> {
    const id = await this.insert('documents', [JSON.stringify(document), new Date()], idempotency);
    if (id.replayed) return toDocument(await this.byId('documents', id.value));
    return { ...document, id: id.value };
  }

  listDocuments(query: PageQuery): Promise<Page<StoredDocument>> {
    return readPage(this.newestFirst('documents', toDocument), query, documentSize);
  }

  async purgeExpiredKeys(now: Date, limit: number): Promise<number> {
    // Bounded and by the expiry index, so a large backlog never holds locks for long.
    const { affectedRows } = await this.withConnection(OPERATION_MS, (run) =>
      run<ResultSetHeader>('DELETE FROM idempotency_keys WHERE expires_at < ? ORDER BY expires_at LIMIT ?', [
        now,
        String(limit),
      ]),
    );
    return affectedRows;
  }

  stats(): PoolStats {
    // mysql2 keeps no public counters; these are the pool's own lists.
    const internals = this.pool as unknown as {
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

  /**
   * Ends the pool. A connection still logging in (a retry against a database that refuses the password,
   * say) ends with that login's error, which mysql2 hands to the pool's callback: the pool is closed all
   * the same, and a shutdown does not fail on it.
   */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.pool.end(() => resolve()));
  }

  /**
   * Inserts a row; with an idempotency key, the key and the row are committed together, and a key
   * seen before gives back the id of its first row instead.
   */
  private insert(
    table: Table,
    values: unknown[],
    idempotency: IdempotencyKey | undefined,
  ): Promise<{ value: string; replayed: boolean }> {
    const sql = STATEMENTS[table].insert;
    return this.withConnection(OPERATION_MS, async (run) => {
      if (!idempotency) return { value: String((await run<ResultSetHeader>(sql, values)).insertId), replayed: false };
      const { key, fingerprint } = idempotency;
      for (let attempt = 1; ; attempt++) {
        const last = attempt === KEY_ATTEMPTS;
        await run('START TRANSACTION');
        try {
          // The key first, with no read before it (a read of a missing key locks the gap, and two such locks
          // deadlock the inserts): a concurrent request with the same key waits here for this one's commit.
          await run('INSERT INTO idempotency_keys VALUES (?, ?, 0, ?)', [
            key,
            fingerprint,
            new Date(Date.now() + IDEMPOTENCY_TTL_MS),
          ]);
          const { insertId } = await run<ResultSetHeader>(sql, values);
          await run('UPDATE idempotency_keys SET item_id = ? WHERE idempotency_key = ?', [insertId, key]);
          await run('COMMIT');
          return { value: String(insertId), replayed: false };
        } catch (error) {
          // The first error is the one to report; a connection that cannot roll back is destroyed, which does.
          await run('ROLLBACK').catch(() => undefined);
          const { errno } = error as { errno?: number };
          // Requests that waited on a first one that rolled back: InnoDB ends all but one; they go again.
          if (errno === ER_LOCK_DEADLOCK && !last) continue;
          if (errno !== ER_DUP_ENTRY) throw error;
        }
        const [first] = await run<KeyRow[]>(
          'SELECT fingerprint, item_id, expires_at FROM idempotency_keys WHERE idempotency_key = ?',
          [key],
        );
        if (first && first.expires_at >= new Date()) {
          if (first.fingerprint !== fingerprint) throw new IdempotencyConflictError();
          return { value: String(first.item_id), replayed: true };
        }
        if (last) throw new Error(`idempotency key still changing after ${KEY_ATTEMPTS} attempts`);
        // Expired: the key is free again.
        if (first)
          await run('DELETE FROM idempotency_keys WHERE idempotency_key = ? AND expires_at < ?', [key, new Date()]);
      }
    });
  }

  private async byId(table: Table, id: string): Promise<ItemRow> {
    const [row] = await this.withConnection(OPERATION_MS, (run) => run<ItemRow[]>(STATEMENTS[table].byId, [id]));
    if (!row) throw new Error(`${table} row ${id} of an idempotency key is missing`);
    return row;
  }

  private newestFirst<T>(table: Table, toItem: (row: ItemRow) => T): BatchFetch<T> {
    return async (before, count, budget) => {
      // Without the window when the rows cannot exceed the budget together; LIMIT goes as a string: MySQL
      // 8's prepared statements refuse a numeric LIMIT parameter.
      const windowed = count * MAX_ROW_BYTES[table] > budget;
      const sql = STATEMENTS[table][before === undefined ? 'newest' : 'olderThan'][windowed ? 'windowed' : 'plain'];
      const values = [...(before === undefined ? [] : [before]), String(count), ...(windowed ? [budget] : [])];
      const rows = await this.withConnection(OPERATION_MS, (run) => run<ItemRow[]>(sql, values));
      return { rows: rows.map(toItem), cut: windowed && rows.length < Number(rows[0]?.total ?? 0) };
    };
  }

  private async createTables(): Promise<void> {
    await this.withConnection(OPERATION_MS * 2, async (run) => {
      for (const statement of SCHEMA) await run(statement);
    });
  }

  private async createDatabase(): Promise<void> {
    const connection = mysql.createConnection(connectionOptions(this.options)).promise();
    try {
      await connection.query(`CREATE DATABASE IF NOT EXISTS \`${this.options.database}\` CHARACTER SET utf8mb4`);
    } finally {
      await connection.end();
    }
  }

  /**
   * Runs `work` on one connection within `budgetMs`, waiting for the connection included. A statement
   * that runs out of time leaves its connection in an unknown state, so that connection is destroyed.
   */
  private async withConnection<T>(
    budgetMs: number,
    work: (run: <R>(sql: string, values?: unknown[]) => Promise<R>) => Promise<T>,
  ): Promise<T> {
    const deadline = Date.now() + budgetMs;
    const connection = await this.acquire(Math.min(ACQUIRE_MS, budgetMs));
    let broken = false;
    const run = <R>(sql: string, values?: unknown[]) =>
      new Promise<R>((resolve, reject) => {
        if (broken) return reject(new Error('the connection was given up after an error'));
        const timeout = Math.max(1, deadline - Date.now());
        let settled = false;
        const done = (error: Error | null, result: unknown) => {
          if (settled) return;
          settled = true;
          clearTimeout(late);
          if (!error) return resolve(result as R);
          if ((error as { code?: string }).code === 'PROTOCOL_SEQUENCE_TIMEOUT' || (error as { fatal?: boolean }).fatal)
            broken = true;
          reject(error);
        };
        // The one timer of a statement. mysql2's own `timeout` times the execution only, not its PREPARE on a
        // connection new to it, and answers just as this does (a PROTOCOL_SEQUENCE_TIMEOUT, the connection left
        // open): a second timer on every statement for nothing, so it is not set.
        const late = setTimeout(
          () =>
            done(
              Object.assign(new Error(`no answer within ${timeout} ms`), { code: 'PROTOCOL_SEQUENCE_TIMEOUT' }),
              null,
            ),
          timeout,
        );
        // Statements with parameters are prepared once per connection; transaction control cannot be.
        if (values) connection.execute({ sql, values }, done);
        else connection.query({ sql }, done);
      });
    try {
      return await work(run);
    } finally {
      if (broken) connection.destroy();
      else connection.release();
    }
  }

  /** A connection from the pool, or a POOL_ACQUIRE_TIMEOUT error when none frees up in time. */
  private acquire(timeoutMs: number): Promise<PoolConnection> {
    // An idle connection is handed over on the next tick: a timer for it would only cost CPU on every operation.
    if (this.stats().idle > 0) {
      return new Promise((resolve, reject) =>
        this.pool.getConnection((error, connection) => (error ? reject(error) : resolve(connection))),
      );
    }
    return new Promise((resolve, reject) => {
      let expired = false;
      const timer = setTimeout(() => {
        expired = true;
        reject(
          Object.assign(new Error(`no database connection free within ${timeoutMs} ms`), {
            code: 'POOL_ACQUIRE_TIMEOUT',
          }),
        );
      }, timeoutMs);
      this.pool.getConnection((error, connection) => {
        if (expired) return connection?.release();
        clearTimeout(timer);
        if (error) reject(error);
        else resolve(connection);
      });
    });
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
