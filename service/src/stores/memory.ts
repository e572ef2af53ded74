import type { IdempotencyKey, JsonObject, Message, Page, PageQuery, Store, StoredDocument } from './store';
import {
  documentSize,
  hasIdForm,
  IDEMPOTENCY_TTL_MS,
  IdempotencyConflictError,
  isoTime,
  messageSize,
  readPage,
  withinBudget,
} from './store';

interface RememberedKey {
  fingerprint: string;
  /** Index of the item in its list. */
  index: number;
  expiresAt: number;
}

/** The embedded store: everything lives in this process and is gone at the next start. */
export class MemoryStore implements Store {
  readonly engine = 'memory' as const;
  private readonly messages: Message[] = [];
  private readonly documents: StoredDocument[] = [];
  private readonly keys = new Map<string, RememberedKey>();

  async connect(): Promise<void> {}

  async ping(): Promise<void> {}

  isValidId(id: string): boolean {
    return hasIdForm(this.engine, id);
  }

  classify(): 'unavailable' {
    return 'unavailable';
  }

  refusal(): undefined {
    return undefined;
  }

  async addMessage(message: string, createdAt: Date, idempotency?: IdempotencyKey): Promise<Message> {
    const messages = this.messages;
    return this.once(messages, idempotency, () => ({
      id: String(messages.length + 1),
      message,
      createdAt: isoTime(createdAt),
    }));
  }

  listMessages(query: PageQuery): Promise<Page<Message>> {
    return readPage(newestFirst(this.messages, messageSize), query, messageSize);
  }

  async addDocument(document: JsonObject, idempotency?: IdempotencyKey): Promise<StoredDocument> {
    const documents = this.documents;
    return this.once(documents, idempotency, () => ({
      ...structuredClone(document),
      id: String(documents.length + 1),
    }));
  }

  listDocuments(query: PageQuery): Promise<Page<StoredDocument>> {
    return readPage(newestFirst(this.documents, documentSize), query, documentSize);
  }

  async purgeExpiredKeys(now: Date, limit: number): Promise<number> {
    let purged = 0;
    for (const [key, { expiresAt }] of this.keys) {
      if (purged === limit) break;
      if (expiresAt >= now.getTime()) continue;
      this.keys.delete(key);
      purged++;
    }
    return purged;
  }

  stats() {
    return { open: 0, idle: 0, queued: 0 };
  }

  async close(): Promise<void> {}

  /** Appends the item `make` builds, unless the key was seen: then the item it created is returned. */
  private once<T>(items: T[], idempotency: IdempotencyKey | undefined, make: () => T): T {
    const now = Date.now();
    const known = idempotency && this.keys.get(idempotency.key);
    if (idempotency && known && known.expiresAt > now) {
      if (known.fingerprint !== idempotency.fingerprint) throw new IdempotencyConflictError();
      return structuredClone(items[known.index] as T);
    }
    const item = make();
    items.push(item);
    if (idempotency) {
      const entry = {
        fingerprint: idempotency.fingerprint,
        index: items.length - 1,
        expiresAt: now + IDEMPOTENCY_TTL_MS,
      };
      this.keys.set(idempotency.key, entry);
    }
    return structuredClone(item);
  }
}

/** Items are appended with ids 1, 2, 3…, so the item with id n sits at index n - 1. */
function newestFirst<T>(items: T[], sizeOf: (item: T) => number) {
  return async (before: string | undefined, count: number, budget: number) => {
    const end = before === undefined ? items.length : Math.min(items.length, Number(before) - 1);
    const batch = withinBudget(items.slice(Math.max(0, end - count), end).reverse(), budget, sizeOf);
    return { ...batch, rows: structuredClone(batch.rows) };
  };
}
