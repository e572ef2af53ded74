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

/** What the routes need from a database; every adapter implements it and passes one contract suite. */
export interface Store {
  readonly engine: DbEngine;
  /** One attempt to reach the database and create what is missing (tables, indexes). */
  connect(): Promise<void>;
  ping(): Promise<void>;
  /** Whether `id` has this engine's id form, so a malformed cursor is a client error. */
  isValidId(id: string): boolean;
  addMessage(message: string, createdAt: Date): Promise<Message>;
  listMessages(query: PageQuery): Promise<Page<Message>>;
  addDocument(document: JsonObject): Promise<StoredDocument>;
  listDocuments(query: PageQuery): Promise<Page<StoredDocument>>;
  stats(): PoolStats;
  close(): Promise<void>;
}

/** The database did not answer; the request may be retried once it is back. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
  constructor(options?: ErrorOptions) {
    super('the database is unavailable; try again shortly', options);
  }
}

/** Splits the `limit + 1` rows a store fetched into a page and whether more exist. */
export function toPage<T>(rows: T[], limit: number): Page<T> {
  return { items: rows.slice(0, limit), hasMore: rows.length > limit };
}

/** Decimal ids of auto-increment tables (MySQL, memory): 1 to 2^64 - 1. */
export function isDecimalId(id: string): boolean {
  return /^[1-9][0-9]{0,19}$/.test(id) && BigInt(id) <= 0xffff_ffff_ffff_ffffn;
}
