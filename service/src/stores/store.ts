import type { DbEngine } from '../config';

export interface Message {
  id: string;
  message: string;
  createdAt: string;
}

export type JsonObject = { [key: string]: unknown };

export interface StoredDocument extends JsonObject {
  id: string;
}

/** A page request: at most `limit` items older than the item `before`, newest first. */
export interface PageQuery {
  limit: number;
  before?: string;
}

export interface Page<T> {
  items: T[];
  /** Whether items older than the last one exist. */
  hasMore: boolean;
}

export interface PoolStats {
  /** Open connections to the database (idle or busy). */
  open: number;
  /** Connections waiting in the pool for work. */
  idle: number;
  /** Operations waiting for a connection. */
  queued: number;
}

/** A client's `Idempotency-Key` and a digest of the request it came with. */
export interface IdempotencyKey {
  key: string;
  fingerprint: string;
}

/** How long a store remembers an idempotency key. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/** The times every engine stores: MySQL's DATETIME range (MongoDB's is wider). */
export const STORABLE_TIMES = { from: new Date('1000-01-01T00:00:00.000Z'), to: new Date('9999-12-31T23:59:59.999Z') };

const code = (character: string) => character.charCodeAt(0);
const [ZERO, HYPHEN, COLON, DOT, T, Z] = [code('0'), code('-'), code(':'), code('.'), code('T'), code('Z')];
/** The character code of n's digit at `place` (1, 10, 100 or 1000). */
const digit = (n: number, place: number) => ZERO + (Math.floor(n / place) % 10);

/**
 * `date.toISOString()`, for the times the stores keep (years 1000 to 9999, STORABLE_TIMES); every store
 * writes its times with it. Every row of a page is formatted, and on Node.js 26 the builtin took about
 * 1.4 us a call: a page of 50 messages spent a fifth of the service's CPU in it (docs/performance.md).
 * The string is made by one call with its 24 character codes, so it is flat: a template literal's is a
 * chain of concatenations, which JSON.stringify writes off its fast path (a page of 50 took 2.5 times as
 * long to serialize). Any other year, and an invalid date, go to the builtin (which throws on the latter).
 */
export function isoTime(date: Date): string {
  const year = date.getUTCFullYear();
  if (!(year >= 1000 && year <= 9999)) return date.toISOString();
  const month = date.getUTCMonth() + 1;
  const day = date.getUTCDate();
  const hours = date.getUTCHours();
  const minutes = date.getUTCMinutes();
  const seconds = date.getUTCSeconds();
  const ms = date.getUTCMilliseconds();
  // biome-ignore format: one line per field of the ISO form
  return String.fromCharCode(
    digit(year, 1000), digit(year, 100), digit(year, 10), digit(year, 1), HYPHEN,
    digit(month, 10), digit(month, 1), HYPHEN,
    digit(day, 10), digit(day, 1), T,
    digit(hours, 10), digit(hours, 1), COLON,
    digit(minutes, 10), digit(minutes, 1), COLON,
    digit(seconds, 10), digit(seconds, 1), DOT,
    digit(ms, 100), digit(ms, 10), digit(ms, 1), Z,
  );
}

/** The start of the idempotency keys the service makes itself (the engine switch's copy); clients may not use it. */
export const RESERVED_KEY_PREFIX = 'transfer:';

/** Why the database failed, in the words the service shows users and logs. */
export type Failure = 'credentials' | 'timeout' | 'unavailable';

/** What the routes need from a database; every adapter implements it and passes one contract suite. */
export interface Store {
  readonly engine: DbEngine;
  /** One attempt to reach the database and create what is missing (tables, indexes). */
  connect(): Promise<void>;
  ping(): Promise<void>;
  /** Whether `id` has this engine's id form, so a malformed cursor is a client error. */
  isValidId(id: string): boolean;
  /** With `idempotency`, a repeat of the same key and request returns the first message and stores nothing. */
  addMessage(message: string, createdAt: Date, idempotency?: IdempotencyKey): Promise<Message>;
  listMessages(query: PageQuery): Promise<Page<Message>>;
  addDocument(document: JsonObject, idempotency?: IdempotencyKey): Promise<StoredDocument>;
  listDocuments(query: PageQuery): Promise<Page<StoredDocument>>;
  /** Forgets at most `limit` idempotency keys that expired before `now`, oldest first; returns how many. */
  purgeExpiredKeys(now: Date, limit: number): Promise<number>;
  /** Which kind of failure a driver error is. */
  classify(error: unknown): Failure;
  /** When the driver or server refused the data itself (not the database failing): the problem in words. */
  refusal(error: unknown): string | undefined;
  /** The user the service logs in as, for messages about refused credentials. */
  readonly user?: string;
  stats(): PoolStats;
  close(): Promise<void>;
}

const FAILURE_MESSAGES: Record<Exclude<Failure, 'credentials'>, string> = {
  timeout:
    'the database did not answer in time; a write may have been applied, so retry it with the same Idempotency-Key',
  unavailable: 'the database is unavailable; try again shortly',
};

/** What an operator does about a failure that does not pass by itself; `/ready` says it. */
const FAILURE_ACTIONS: Partial<Record<Failure, string>> = {
  credentials:
    "the password in the Secret is not the one in the database: change it in the database first, then pulumi config set --secret dbPassword and pulumi up (README, Upgrades); right after a first up, the database pod's log says whether its first boot was interrupted (it then starts over by itself)",
};

/** The database did not answer or refused the service; the request may be retried once it is back. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
  /** What to do about it, when waiting is not enough. */
  readonly action: string | undefined;
  constructor(
    readonly failure: Failure = 'unavailable',
    /** The user refused, for the cluster's eyes (the log, the metrics port); the message, which clients see, does not name it. */
    readonly user?: string,
    options?: ErrorOptions,
  ) {
    super(
      failure === 'credentials' ? "the database refused the service's credentials" : FAILURE_MESSAGES[failure],
      options,
    );
    this.action = FAILURE_ACTIONS[failure];
  }
}

/** The Idempotency-Key was first used with another request. */
export class IdempotencyConflictError extends Error {
  override name = 'IdempotencyConflictError';
  readonly statusCode = 422;
  constructor() {
    super('this Idempotency-Key was already used with a different request; use a new key for a new request');
  }
}

/** Items a store reads per query while filling a page: the default page in one query, big pages in a few. */
const BATCH = 64;
/** A page stops growing past this many bytes of JSON; its Link header carries the rest. */
export const PAGE_BYTES = 1024 * 1024;

/** One read of a page's items: newest first, at most `count`. */
export interface Batch<T> {
  rows: T[];
  /** Rows within `count` were left unread because the bytes were spent: older items exist. */
  cut: boolean;
}

/**
 * Reads at most `count` items older than `before`, newest first, and no more bytes (as stored) than `budget`
 * and one item: the first item is read whatever its size, each next one only while the budget lasts.
 */
export type BatchFetch<T> = (before: string | undefined, count: number, budget: number) => Promise<Batch<T>>;

/**
 * Fills a page newest first from `fetch`, bounded by the query's count and by `PAGE_BYTES`: of JSON as
 * measured by `sizeOf` in the page, and of stored bytes in what the store reads for it.
 */
export async function readPage<T extends { id: string }>(
  fetch: BatchFetch<T>,
  { limit, before }: PageQuery,
  sizeOf: (item: T) => number,
): Promise<Page<T>> {
  let items: T[] = [];
  let bytes = 0;
  let cursor = before;
  for (;;) {
    const count = Math.min(limit + 1 - items.length, BATCH);
    const { rows, cut } = await fetch(cursor, count, PAGE_BYTES - bytes);
    // The rows that fit the page; the first is taken whatever its size.
    let taken = 0;
    while (taken < rows.length && items.length + taken < limit) {
      const size = sizeOf(rows[taken] as T);
      if (items.length + taken > 0 && bytes + size > PAGE_BYTES) break;
      bytes += size;
      taken++;
    }
    const fitting = taken === rows.length ? rows : rows.slice(0, taken);
    items = items.length === 0 ? fitting : items.concat(fitting);
    if (taken < rows.length || cut) return { items, hasMore: true };
    if (rows.length < count) return { items, hasMore: false };
    cursor = (rows[rows.length - 1] as T).id;
  }
}

/** Rows in `rows` (newest first) up to the budget: the first whatever its size, each next one while the bytes before it are under `budget`. */
export function withinBudget<T>(rows: T[], budget: number, storedSize: (row: T) => number): Batch<T> {
  let bytes = 0;
  let kept = 0;
  while (kept < rows.length && (kept === 0 || bytes < budget)) bytes += storedSize(rows[kept++] as T);
  return { rows: kept === rows.length ? rows : rows.slice(0, kept), cut: kept < rows.length };
}

/** A message's JSON size, without serialising it: the text may be escaped, the rest is short. */
export const messageSize = (message: Message): number => message.message.length * 2 + 96;
export const documentSize = (document: StoredDocument): number => JSON.stringify(document).length;

/**
 * Each engine's ids: auto-increment tables (MySQL, memory) count in decimal from 1, up to 19 digits (all
 * within BIGINT UNSIGNED); MongoDB's ObjectId is 24 hex digits. The stores take exactly these as cursors,
 * and the OpenAPI document says so.
 */
export const ID_PATTERNS: Record<DbEngine, string> = {
  mysql: '^[1-9][0-9]{0,18}$',
  memory: '^[1-9][0-9]{0,18}$',
  mongodb: '^[0-9a-f]{24}$',
};
const ID_FORMS = Object.fromEntries(
  Object.entries(ID_PATTERNS).map(([engine, pattern]) => [engine, new RegExp(pattern)]),
) as Record<DbEngine, RegExp>;

export function hasIdForm(engine: DbEngine, id: string): boolean {
  return ID_FORMS[engine].test(id);
}
