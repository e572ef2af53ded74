import type { JsonObject, Message, Page, PageQuery, Store, StoredDocument } from './store';
import { isDecimalId, toPage } from './store';

/** The embedded store: everything lives in this process and is gone at the next start. */
export class MemoryStore implements Store {
  readonly engine = 'memory' as const;
  private readonly messages: Message[] = [];
  private readonly documents: StoredDocument[] = [];

  async connect(): Promise<void> {}

  async ping(): Promise<void> {}

  isValidId(id: string): boolean {
    return isDecimalId(id);
  }

  async addMessage(message: string, createdAt: Date): Promise<Message> {
    const stored = { id: String(this.messages.length + 1), message, createdAt: createdAt.toISOString() };
    this.messages.push(stored);
    return { ...stored };
  }

  async listMessages(query: PageQuery): Promise<Page<Message>> {
    return newestFirst(this.messages, query);
  }

  async addDocument(document: JsonObject): Promise<StoredDocument> {
    const stored = { ...structuredClone(document), id: String(this.documents.length + 1) };
    this.documents.push(stored);
    return structuredClone(stored);
  }

  async listDocuments(query: PageQuery): Promise<Page<StoredDocument>> {
    return newestFirst(this.documents, query);
  }

  stats() {
    return { open: 0, idle: 0, queued: 0 };
  }

  async close(): Promise<void> {}
}

/** Items are appended with ids 1, 2, 3…, so the item with id n sits at index n - 1. */
function newestFirst<T>(items: T[], { limit, before }: PageQuery): Page<T> {
  const end = before === undefined ? items.length : Math.min(items.length, Number(before) - 1);
  const start = Math.max(0, end - limit - 1);
  return toPage(structuredClone(items.slice(start, end).reverse()), limit);
}
