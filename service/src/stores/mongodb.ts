import {
  BSON,
  type Collection,
  type Document,
  MongoClient,
  MongoOperationTimeoutError,
  MongoServerError,
  ObjectId,
} from 'mongodb';
import { MAX_BODY_KIB, MAX_MESSAGE_LENGTH } from '../schemas';
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

export interface MongoStoreOptions {
  url: string;
  database: string;
  /** Connections the driver opens at the start and keeps (the pool has a fixed size). */
  maxPoolSize?: number;
}

interface MessageDocument {
  _id: ObjectId;
  message: string;
  createdAt: Date;
}

interface KeyDocument {
  _id: string;
  fingerprint: string;
  /** Chosen before the item is written, so a retry after a lost answer writes the same item. */
  itemId: ObjectId;
  expiresAt: Date;
}

/**
 * Deadlines, within the 5 s a request may take: finding the server, waiting for a pooled connection,
 * and a connection that stops answering (it is closed, never reused); the server gives up on its own
 * after `maxTimeMS`, so a timed-out operation usually was not applied.
 */
const SELECTION_MS = 1_000;
const CHECKOUT_MS = 1_000;
const SOCKET_MS = 2_500;
const SERVER_MS = { maxTimeMS: 2_000 };
/** The readiness probe's whole budget. */
const PING_MS = 1_500;
const DUPLICATE_KEY = 11000;
const AUTHENTICATION_FAILED = 18;
const MAX_TIME_EXPIRED = 50;
/** The largest item each collection holds, in BSON bytes: a message of 4-byte characters, a whole body. */
const LARGEST_MESSAGE = MAX_MESSAGE_LENGTH * 4 + 64;
const LARGEST_DOCUMENT = MAX_BODY_KIB * 1024;
/** The server's codes for a document it will not store: a bad value, a document too large. */
const REFUSED_DOCUMENT = new Set([2, 10334, 17419, 17420]);
const TIMED_OUT = new Set(['MongoOperationTimeoutError', 'MongoNetworkTimeoutError', 'MongoWaitQueueTimeoutError']);

const toMessage = (row: MessageDocument): Message => ({
  id: row._id.toHexString(),
  message: row.message,
  createdAt: isoTime(row.createdAt),
});
const toDocument = ({ _id, ...fields }: Document): StoredDocument => ({
  ...fields,
  id: (_id as ObjectId).toHexString(),
});

/** An error and the errors it was caused by, outermost first. */
function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let next = error; next != null && !chain.includes(next); next = (next as Error).cause) chain.push(next);
  return chain;
}

export class MongoStore implements Store {
  readonly engine = 'mongodb' as const;
  readonly user: string | undefined;
  private readonly client: MongoClient;
  private readonly messages: Collection<MessageDocument>;
  private readonly documents: Collection<Document>;
  private readonly keys: Collection<KeyDocument>;
  private readonly connections = { open: 0, checkedOut: 0, queued: 0 };

  constructor(options: MongoStoreOptions) {
    this.user = decodeURIComponent(new URL(options.url).username) || undefined;
    const poolSize = options.maxPoolSize ?? 10;
    this.client = new MongoClient(options.url, {
      maxPoolSize: poolSize,
      // Every connection is opened and logged in at the start and kept: the pool never grows under a
      // burst. A login the database refuses (its password changed before the web pods rolled) makes
      // the driver clear the whole pool, so a pool that grew while the password was changing would
      // fail every request of its pod until the pod was replaced.
      minPoolSize: poolSize,
      // A dead database is a fast error, not the driver's 30 s default wait.
      serverSelectionTimeoutMS: SELECTION_MS,
      connectTimeoutMS: 2_000,
      waitQueueTimeoutMS: CHECKOUT_MS,
      socketTimeoutMS: SOCKET_MS,
      // A write is answered only once it is in the journal: a standalone server otherwise journals every
      // 100 ms, and a crash loses writes already answered 201.
      writeConcern: { w: 1, journal: true },
      appName: 'two-tier',
    });
    this.trackPool();
    const db = this.client.db(options.database);
    this.messages = db.collection<MessageDocument>('messages');
    this.documents = db.collection('documents');
    this.keys = db.collection<KeyDocument>('idempotency_keys');
  }

  async connect(): Promise<void> {
    await this.client.connect();
    await this.messages.createIndex({ createdAt: -1 });
    // Not a TTL index: the FerretDB 1.x stand-in does not implement expireAfterSeconds; the service sweeps.
    await this.keys.createIndex({ expiresAt: 1 });
  }

  async ping(): Promise<void> {
    const ping = this.client.db('admin').command({ ping: 1 });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new MongoOperationTimeoutError(`no answer to ping within ${PING_MS} ms`)),
        PING_MS,
      );
    });
    try {
      await Promise.race([ping, late]);
    } finally {
      clearTimeout(timer);
      ping.catch(() => undefined);
    }
  }

  isValidId(id: string): boolean {
    return hasIdForm(this.engine, id);
  }

  classify(error: unknown): Failure {
    // A refused login clears the pool, and the requests waiting on it fail with the pool's error,
    // whose cause is the refusal.
    if (causes(error).some((cause) => cause instanceof MongoServerError && cause.code === AUTHENTICATION_FAILED))
      return 'credentials';
    if (error instanceof MongoServerError && error.code === MAX_TIME_EXPIRED) return 'timeout';
    if (TIMED_OUT.has((error as Error).name)) return 'timeout';
    return 'unavailable';
  }

  refusal(error: unknown): string | undefined {
    if (error instanceof BSON.BSONError) return `the document cannot be stored as BSON: ${error.message}`;
    if (error instanceof MongoServerError && REFUSED_DOCUMENT.has(error.code as number)) {
      return `the database refused the document: ${error.errmsg ?? error.message}`;
    }
    return undefined;
  }

  async addMessage(message: string, createdAt: Date, idempotency?: IdempotencyKey): Promise<Message> {
    return toMessage(await this.insertOnce(this.messages, { message, createdAt }, idempotency));
  }

  listMessages(query: PageQuery): Promise<Page<Message>> {
    return readPage(this.newestFirst(this.messages, toMessage, LARGEST_MESSAGE), query, messageSize);
  }

  async addDocument(document: JsonObject, idempotency?: IdempotencyKey): Promise<StoredDocument> {
    const stored = await this.insertOnce(this.documents, document, idempotency);
    return idempotency ? toDocument(stored) : { ...document, id: (stored._id as ObjectId).toHexString() };
  }

  listDocuments(query: PageQuery): Promise<Page<StoredDocument>> {
    return readPage(this.newestFirst(this.documents, toDocument, LARGEST_DOCUMENT), query, documentSize);
  }

  async purgeExpiredKeys(now: Date, limit: number): Promise<number> {
    const expired = { expiresAt: { $lt: now } };
    const oldest = await this.keys
      .find(expired, SERVER_MS)
      .sort({ expiresAt: 1 })
      .limit(limit)
      .project({ _id: 1 })
      .toArray();
    if (oldest.length === 0) return 0;
    const { deletedCount } = await this.keys.deleteMany(
      { _id: { $in: oldest.map(({ _id }) => _id) }, ...expired },
      SERVER_MS,
    );
    return deletedCount;
  }

  stats(): PoolStats {
    const { open, checkedOut, queued } = this.connections;
    return { open, idle: Math.max(0, open - checkedOut), queued };
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /**
   * Inserts `fields` with a new id. With an idempotency key, the key is recorded first with the id the
   * item will have: a repeat finds the key and returns that item, writing it if the first attempt could not.
   */
  private async insertOnce<T extends Document>(
    collection: Collection<T>,
    fields: Document,
    idempotency: IdempotencyKey | undefined,
  ): Promise<T> {
    let _id = new ObjectId();
    if (idempotency) {
      const first = await this.rememberKey(idempotency, _id);
      if (first) {
        const existing = await collection.findOne({ _id: first } as never, SERVER_MS);
        if (existing) return existing as T;
        _id = first;
      }
    }
    const item = { _id, ...fields } as unknown as T;
    try {
      await collection.insertOne(item as never, SERVER_MS);
    } catch (error) {
      // The first attempt with this key wrote the item meanwhile.
      if (!(idempotency && error instanceof MongoServerError && error.code === DUPLICATE_KEY)) throw error;
      return (await collection.findOne({ _id } as never, SERVER_MS)) as T;
    }
    return item;
  }

  /** Records the key for `itemId`; when the key was recorded before, returns its item's id instead. */
  private async rememberKey({ key, fingerprint }: IdempotencyKey, itemId: ObjectId): Promise<ObjectId | undefined> {
    const now = new Date();
    await this.keys.deleteOne({ _id: key, expiresAt: { $lt: now } }, SERVER_MS);
    try {
      await this.keys.insertOne({
        _id: key,
        fingerprint,
        itemId,
        expiresAt: new Date(now.getTime() + IDEMPOTENCY_TTL_MS),
      });
      return undefined;
    } catch (error) {
      if (!(error instanceof MongoServerError && error.code === DUPLICATE_KEY)) throw error;
    }
    const first = await this.keys.findOne({ _id: key }, SERVER_MS);
    if (!first || first.fingerprint !== fingerprint) throw new IdempotencyConflictError();
    return first.itemId;
  }

  /**
   * Reads in batches no larger than the budget holds of the largest items, and stops once the budget is
   * spent, so a page of large items reads little more than its bytes.
   */
  private newestFirst<T extends Document, Item>(
    collection: Collection<T>,
    toItem: (row: T) => Item,
    largest: number,
  ): BatchFetch<Item> {
    return async (before, count, budget) => {
      const filter = before === undefined ? {} : { _id: { $lt: new ObjectId(before) } };
      const cursor = collection
        .find(filter as never, SERVER_MS)
        .sort({ _id: -1 })
        .limit(count)
        .batchSize(Math.min(count, Math.floor(Math.max(0, budget) / largest) + 1));
      const rows: Item[] = [];
      let bytes = 0;
      try {
        while (rows.length === 0 || bytes < budget) {
          const row = (await cursor.next()) as T | null;
          if (row === null) return { rows, cut: false };
          bytes += BSON.calculateObjectSize(row);
          rows.push(toItem(row));
        }
        // Spent: older items exist when the driver holds some or the server kept the cursor open.
        return { rows, cut: rows.length < count && (cursor.bufferedCount() > 0 || !(cursor.id?.isZero() ?? true)) };
      } finally {
        await cursor.close();
      }
    };
  }

  /** The driver reports its pool only through events; count them for the metrics. */
  private trackPool(): void {
    const count = this.connections;
    this.client.on('connectionCreated', () => count.open++);
    this.client.on('connectionClosed', () => (count.open = Math.max(0, count.open - 1)));
    this.client.on('connectionCheckOutStarted', () => count.queued++);
    this.client.on('connectionCheckedOut', () => {
      count.queued = Math.max(0, count.queued - 1);
      count.checkedOut++;
    });
    this.client.on('connectionCheckOutFailed', () => (count.queued = Math.max(0, count.queued - 1)));
    this.client.on('connectionCheckedIn', () => (count.checkedOut = Math.max(0, count.checkedOut - 1)));
  }
}
