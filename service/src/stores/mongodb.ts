import { type Collection, type Document, MongoClient, ObjectId } from 'mongodb';
import type { JsonObject, Message, Page, PageQuery, PoolStats, Store, StoredDocument } from './store';
import { toPage } from './store';

export interface MongoStoreOptions {
  url: string;
  database: string;
  /** Connections the driver may open. */
  maxPoolSize?: number;
}

interface MessageDocument {
  _id: ObjectId;
  message: string;
  createdAt: Date;
}

export class MongoStore implements Store {
  readonly engine = 'mongodb' as const;
  private readonly client: MongoClient;
  private readonly messages: Collection<MessageDocument>;
  private readonly documents: Collection<Document>;
  private readonly connections = { open: 0, checkedOut: 0, queued: 0 };

  constructor(options: MongoStoreOptions) {
    this.client = new MongoClient(options.url, {
      maxPoolSize: options.maxPoolSize ?? 10,
      // A dead database is a fast error, not the driver's 30 s default wait.
      serverSelectionTimeoutMS: 2_000,
      connectTimeoutMS: 2_000,
      socketTimeoutMS: 10_000,
      waitQueueTimeoutMS: 2_000,
      appName: 'two-tier',
    });
    this.trackPool();
    const db = this.client.db(options.database);
    this.messages = db.collection<MessageDocument>('messages');
    this.documents = db.collection('documents');
  }

  async connect(): Promise<void> {
    await this.client.connect();
    await this.messages.createIndex({ createdAt: -1 });
  }

  async ping(): Promise<void> {
    await this.client.db('admin').command({ ping: 1 }, { timeoutMS: 1_000 });
  }

  isValidId(id: string): boolean {
    return /^[0-9a-f]{24}$/.test(id);
  }

  async addMessage(message: string, createdAt: Date): Promise<Message> {
    const { insertedId } = await this.messages.insertOne({ _id: new ObjectId(), message, createdAt });
    return { id: insertedId.toHexString(), message, createdAt: createdAt.toISOString() };
  }

  async listMessages(query: PageQuery): Promise<Page<Message>> {
    const rows = await this.newestFirst(this.messages, query);
    return toPage(
      rows.map((row) => ({ id: row._id.toHexString(), message: row.message, createdAt: row.createdAt.toISOString() })),
      query.limit,
    );
  }

  async addDocument(document: JsonObject): Promise<StoredDocument> {
    const _id = new ObjectId();
    await this.documents.insertOne({ _id, ...document });
    return { ...document, id: _id.toHexString() };
  }

  async listDocuments(query: PageQuery): Promise<Page<StoredDocument>> {
    const rows = await this.newestFirst(this.documents, query);
    return toPage(
      rows.map(({ _id, ...fields }) => ({ ...fields, id: (_id as ObjectId).toHexString() })),
      query.limit,
    );
  }

  stats(): PoolStats {
    const { open, checkedOut, queued } = this.connections;
    return { open, idle: Math.max(0, open - checkedOut), queued };
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  private newestFirst<T extends Document>(collection: Collection<T>, { limit, before }: PageQuery): Promise<T[]> {
    const filter = before === undefined ? {} : { _id: { $lt: new ObjectId(before) } };
    return collection
      .find(filter as never)
      .sort({ _id: -1 })
      .limit(limit + 1)
      .toArray() as Promise<T[]>;
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
