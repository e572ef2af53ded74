import { createHash } from 'node:crypto';
import {
  IdempotencyConflictError,
  type JsonObject,
  type Message,
  type Page,
  type PageQuery,
  RESERVED_KEY_PREFIX,
  STORABLE_TIMES,
  type Store,
  type StoredDocument,
} from './stores/store';
import { documentRefusal, messageRefusal } from './validation';

/** What the first line of an export file says: its format, where it came from and how many items follow. */
export interface ExportHeader {
  format: typeof FORMAT;
  version: typeof VERSION;
  engine: string;
  exportedAt: string;
  messages: number;
  documents: number;
}

/** One stored item as it moves between stores: its id where it was read (for people) and its content. */
export type TransferItem =
  | { kind: 'message'; id: string; message: string; createdAt: string }
  | { kind: 'document'; id: string; document: JsonObject };

/** Per kind: the items written, and those the target already held. */
export interface MergeReport {
  messages: { added: number; present: number };
  documents: { added: number; present: number };
}

const FORMAT = 'two-tier-data';
const VERSION = 1;
/** Items read per page; the store caps a page's bytes itself. */
const PAGE = 500;
const WRITE_ATTEMPTS = 5;

/** Every message, then every document, each kind oldest first: the order ids were given in. */
export async function readAll(store: Store): Promise<TransferItem[]> {
  const all: TransferItem[] = [];
  for await (const item of itemsOf(store)) all.push(item);
  return all;
}

/** The same items one page at a time, so a copy holds one page of either database, never all of it. */
export async function* itemsOf(store: Store): AsyncGenerator<TransferItem> {
  yield* messagesOf((await pagesOf((query) => store.listMessages(query))).read());
  yield* documentsOf((await pagesOf((query) => store.listDocuments(query))).read());
}

/** A store's items as an export has them: counted by a first walk, then read again a page at a time. */
export interface Walk {
  messages: number;
  documents: number;
  items: AsyncIterable<TransferItem>;
}

/**
 * Counts each kind, then reads exactly the items counted: what is written in between comes after
 * them (stores append) and is left out. Should the counted items no longer all be there on the
 * second read, the walk fails rather than yield a file that contradicts its header.
 */
export async function walk(store: Store): Promise<Walk> {
  const messages = await pagesOf((query) => store.listMessages(query));
  const documents = await pagesOf((query) => store.listDocuments(query));
  async function* items(): AsyncGenerator<TransferItem> {
    yield* messagesOf(exactly(messages.read(), messages.count, 'messages'));
    yield* documentsOf(exactly(documents.read(), documents.count, 'documents'));
  }
  return { messages: messages.count, documents: documents.count, items: items() };
}

async function* messagesOf(rows: AsyncIterable<Message>): AsyncGenerator<TransferItem> {
  for await (const { id, message, createdAt } of rows) yield { kind: 'message', id, message, createdAt };
}

async function* documentsOf(rows: AsyncIterable<StoredDocument>): AsyncGenerator<TransferItem> {
  for await (const { id, ...document } of rows) yield { kind: 'document', id, document };
}

/** Pages come newest first: a first walk counts the items and notes where each page starts; `read` reads them again from the oldest. */
async function pagesOf<T extends { id: string }>(
  list: (query: PageQuery) => Promise<Page<T>>,
): Promise<{ count: number; read: () => AsyncGenerator<T> }> {
  const starts: (string | undefined)[] = [];
  let count = 0;
  let before: string | undefined;
  for (;;) {
    starts.push(before);
    const page = await list({ limit: PAGE, before });
    count += page.items.length;
    const last = page.items.at(-1);
    if (!page.hasMore || !last) break;
    before = last.id;
  }
  async function* read(): AsyncGenerator<T> {
    for (const start of starts.toReversed()) yield* (await list({ limit: PAGE, before: start })).items.reverse();
  }
  return { count, read };
}

/** The first `count` of `items`, or an error when there are fewer. */
async function* exactly<T>(items: AsyncIterable<T>, count: number, kind: string): AsyncGenerator<T> {
  let read = 0;
  if (count === 0) return;
  for await (const item of items) {
    yield item;
    if (++read === count) return;
  }
  throw new Error(`the ${kind} changed while they were read: ${read} of the ${count} counted are left; run it again`);
}

/** The export file's first line. */
function headerLine(engine: string, counts: { messages: number; documents: number }, exportedAt: Date): string {
  const header: ExportHeader = {
    format: FORMAT,
    version: VERSION,
    engine,
    exportedAt: exportedAt.toISOString(),
    ...counts,
  };
  return `${JSON.stringify(header)}\n`;
}

/** The export file a line at a time: the header, then one JSON line per item. */
export async function* exportLines(
  { messages, documents, items }: Walk,
  engine: string,
  exportedAt = new Date(),
): AsyncGenerator<string> {
  yield headerLine(engine, { messages, documents }, exportedAt);
  for await (const item of items) yield `${JSON.stringify(item)}\n`;
}

/** The export file of `items`, whole. */
export function serialize(engine: string, items: TransferItem[], exportedAt = new Date()): string {
  const messages = items.filter((item) => item.kind === 'message').length;
  const counts = { messages, documents: items.length - messages };
  return headerLine(engine, counts, exportedAt) + items.map((item) => `${JSON.stringify(item)}\n`).join('');
}

/** An export file's items, each checked as the service checks what it stores; an error names the line. */
export function parse(text: string): TransferItem[] {
  const reader = fileReader();
  const lines = text.split('\n').filter((line, index, all) => line !== '' || index < all.length - 1);
  const items = lines.flatMap((line) => reader.line(line) ?? []);
  reader.end();
  return items;
}

/** The same, from a file's lines as they arrive: each item checked before it is yielded, the header's counts at the end. */
export async function* readItems(lines: AsyncIterable<string>): AsyncGenerator<TransferItem> {
  const reader = fileReader();
  for await (const line of lines) {
    const item = reader.line(line);
    if (item) yield item;
  }
  reader.end();
}

/** Checks an export file a line at a time: the header first, then each item, and at the end the header's counts. */
function fileReader() {
  let number = 0;
  let header: Partial<ExportHeader> = {};
  const counted = { messages: 0, documents: 0 };
  const line = (text: string): TransferItem | undefined => {
    number++;
    if (number === 1) {
      header = parseLine(text, 1) as Partial<ExportHeader>;
      if (header.format !== FORMAT || header.version !== VERSION) {
        throw new TransferFileError(`line 1: not a ${FORMAT} file of version ${VERSION}`);
      }
      return undefined;
    }
    const item = toItem(parseLine(text, number), number);
    counted[item.kind === 'message' ? 'messages' : 'documents']++;
    return item;
  };
  const end = () => {
    if (number === 0) line('');
    if (counted.messages !== header.messages || counted.documents !== header.documents) {
      throw new TransferFileError(
        `the file is incomplete: its header announces ${header.messages} messages and ${header.documents} documents, it holds ${counted.messages} and ${counted.documents}`,
      );
    }
  };
  return { line, end };
}

/** A file that is not an export, or an item the service would refuse to store. */
export class TransferFileError extends Error {
  override name = 'TransferFileError';
}

function parseLine(line: string, number: number): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw new TransferFileError(`line ${number}: not a JSON value`);
  }
}

function toItem(value: unknown, line: number): TransferItem {
  const fail = (problem: string): never => {
    throw new TransferFileError(`line ${line}: ${problem}`);
  };
  const item = isObject(value) ? value : fail('not a JSON object');
  const id = typeof item.id === 'string' ? item.id : fail('id must be a string');
  if (item.kind === 'message') {
    const { message, createdAt } = item;
    const refused = messageRefusal(message);
    if (refused) fail(refused);
    if (typeof createdAt !== 'string' || Number.isNaN(Date.parse(createdAt))) fail('createdAt must be a time');
    const time = new Date(createdAt as string);
    if (time.toISOString() !== createdAt) fail(`createdAt must be written as ${time.toISOString()}`);
    if (time < STORABLE_TIMES.from || time > STORABLE_TIMES.to) {
      fail(
        `createdAt must be between ${STORABLE_TIMES.from.toISOString()} and ${STORABLE_TIMES.to.toISOString()}, the times both databases store`,
      );
    }
    return { kind: 'message', id, message: message as string, createdAt: createdAt as string };
  }
  if (item.kind === 'document') {
    const document = isObject(item.document) ? item.document : fail('document must be a JSON object');
    const refused = documentRefusal(document);
    if (refused) fail(refused);
    return { kind: 'document', id, document };
  }
  return fail('kind must be "message" or "document"');
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Writes into `target` the items it does not hold yet, in their order, with their times; ids are the
 * target's own. An item counts as held when the target has one with the same content (and time, for a
 * message) that no earlier item of the same content claimed: importing a file twice, or copying back
 * what was copied, writes nothing. Each write carries an idempotency key made of the content and its
 * occurrence, so two copies running at once write an item once.
 */
export async function merge(
  target: Store,
  items: Iterable<TransferItem> | AsyncIterable<TransferItem>,
): Promise<MergeReport> {
  // What the target holds, as a digest per item: never its content.
  const held = new Map<string, number>();
  for await (const item of itemsOf(target)) held.set(identity(item), (held.get(identity(item)) ?? 0) + 1);
  const seen = new Map<string, number>();
  const report: MergeReport = { messages: { added: 0, present: 0 }, documents: { added: 0, present: 0 } };
  for await (const item of items) {
    const content = identity(item);
    const occurrence = (seen.get(content) ?? 0) + 1;
    seen.set(content, occurrence);
    const counts = item.kind === 'message' ? report.messages : report.documents;
    if (occurrence <= (held.get(content) ?? 0)) {
      counts.present++;
      continue;
    }
    const fingerprint = digest(`${content}#${occurrence}`);
    const idempotency = { key: `${RESERVED_KEY_PREFIX}${fingerprint}`, fingerprint };
    await again(() =>
      item.kind === 'message'
        ? target.addMessage(item.message, new Date(item.createdAt), idempotency)
        : target.addDocument(item.document, idempotency),
    );
    counts.added++;
  }
  return report;
}

/** Tries a write again after a failure (a database restarting under the copy); its idempotency key makes a repeat safe. */
async function again(write: () => Promise<unknown>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await write();
      return;
    } catch (error) {
      if (attempt === WRITE_ATTEMPTS || error instanceof IdempotencyConflictError) throw error;
      await new Promise((resume) => setTimeout(resume, 50 * attempt));
    }
  }
}

/** What makes two items the same item, whatever their ids. */
function identity(item: TransferItem): string {
  return digest(
    JSON.stringify(item.kind === 'message' ? [item.kind, item.message, item.createdAt] : [item.kind, item.document]),
  );
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
