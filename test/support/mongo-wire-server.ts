import { createServer, type Server, type Socket } from 'node:net';
import { BSON, type Document, Long, ObjectId } from 'bson';

/**
 * A small in-process server that speaks MongoDB's wire protocol to the real driver, for machines with
 * no mongod. It implements what the MongoStore uses and nothing more:
 * - the handshake (legacy OP_QUERY `hello`, answered with OP_REPLY) and every later command as OP_MSG;
 * - hello/isMaster, ping, buildInfo, endSessions, createIndexes (recorded, not enforced), insert,
 *   find (equality and $eq/$lt/$lte/$gt/$gte filters, sort, limit; the whole result in the first
 *   batch), drop and dropDatabase.
 * Anything else is answered with MongoDB's own CommandNotFound error, so a store that starts to rely
 * on more fails loudly here instead of passing by accident. No auth, no transactions, no getMore.
 */
export class MongoWireServer {
  private readonly server: Server = createServer((socket) => this.serve(socket));
  private readonly sockets = new Set<Socket>();
  private readonly databases = new Map<string, Map<string, Document[]>>();
  private connectionIds = 0;

  /** Listens on a free loopback port and returns a connection string for it. */
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as { port: number };
    return `mongodb://127.0.0.1:${port}/?directConnection=true`;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The documents of one collection as stored, for tests that check what reached the database. */
  collection(database: string, name: string): Document[] {
    return this.databases.get(database)?.get(name) ?? [];
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    const connectionId = ++this.connectionIds;
    let pending = Buffer.alloc(0);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= pending.readInt32LE(0)) {
        const length = pending.readInt32LE(0);
        const reply = this.handle(pending.subarray(0, length), connectionId);
        pending = pending.subarray(length);
        if (reply) socket.write(reply);
      }
    });
  }

  private handle(message: Buffer, connectionId: number): Buffer | undefined {
    const requestId = message.readInt32LE(4);
    const opCode = message.readInt32LE(12);
    if (opCode === OP_QUERY) {
      const { command, database } = readQuery(message);
      return opReply(requestId, this.run(command, database, connectionId));
    }
    if (opCode === OP_MSG) {
      const flags = message.readUInt32LE(16);
      const command = readMsgSections(message, flags);
      const reply = this.run(command, String(command.$db ?? 'admin'), connectionId);
      return flags & MORE_TO_COME ? undefined : opMsg(requestId, reply);
    }
    throw new Error(`opcode ${opCode} is not implemented by this test server`);
  }

  private run(command: Document, database: string, connectionId: number): Document {
    const name = Object.keys(command)[0] ?? '';
    try {
      return { ...this.dispatch(name, command, database, connectionId), ok: 1 };
    } catch (error) {
      const [code, codeName] = error instanceof CommandNotFound ? [59, 'CommandNotFound'] : [2, 'BadValue'];
      return { ok: 0, errmsg: (error as Error).message, code, codeName };
    }
  }

  private dispatch(name: string, command: Document, database: string, connectionId: number): Document {
    switch (name) {
      case 'hello':
      case 'isMaster':
      case 'ismaster':
        return {
          helloOk: true,
          isWritablePrimary: true,
          ismaster: true,
          maxBsonObjectSize: 16 * 1024 * 1024,
          maxMessageSizeBytes: 48_000_000,
          maxWriteBatchSize: 100_000,
          localTime: new Date(),
          logicalSessionTimeoutMinutes: 30,
          connectionId,
          minWireVersion: 0,
          maxWireVersion: 25,
          readOnly: false,
        };
      case 'ping':
      case 'endSessions':
        return {};
      case 'buildInfo':
      case 'buildinfo':
        return { version: '8.0.0', versionArray: [8, 0, 0, 0] };
      case 'createIndexes':
        this.documents(database, command.createIndexes);
        return { numIndexesBefore: 1, numIndexesAfter: 1 + command.indexes.length };
      case 'insert': {
        const target = this.documents(database, command.insert);
        for (const document of command.documents as Document[]) {
          target.push({ _id: new ObjectId(), ...document });
        }
        return { n: command.documents.length };
      }
      case 'find': {
        const found = this.documents(database, command.find).filter((doc) => matches(doc, command.filter ?? {}));
        if (command.sort) found.sort(comparator(command.sort));
        const limit = Math.abs(Number(command.limit ?? 0));
        return {
          cursor: {
            firstBatch: limit ? found.slice(0, limit) : found,
            id: Long.ZERO,
            ns: `${database}.${command.find}`,
          },
        };
      }
      case 'drop':
        this.databases.get(database)?.delete(command.drop);
        return {};
      case 'dropDatabase':
        this.databases.delete(database);
        return {};
      default:
        return commandNotFound(name);
    }
  }

  private documents(database: string, collection: string): Document[] {
    const collections = this.databases.get(database) ?? new Map<string, Document[]>();
    this.databases.set(database, collections);
    const documents = collections.get(collection) ?? [];
    collections.set(collection, documents);
    return documents;
  }
}

const OP_REPLY = 1;
const OP_QUERY = 2004;
const OP_MSG = 2013;
const CHECKSUM_PRESENT = 1;
const MORE_TO_COME = 2;

class CommandNotFound extends Error {}

function commandNotFound(name: string): never {
  throw new CommandNotFound(`no such command: '${name}' (not implemented by the test server)`);
}

function readCString(buffer: Buffer, offset: number): [string, number] {
  const end = buffer.indexOf(0, offset);
  return [buffer.toString('utf8', offset, end), end + 1];
}

function readDocument(buffer: Buffer, offset: number): [Document, number] {
  const size = buffer.readInt32LE(offset);
  return [BSON.deserialize(buffer.subarray(offset, offset + size)), offset + size];
}

function readQuery(message: Buffer): { command: Document; database: string } {
  const [collection, afterName] = readCString(message, 20);
  const [command] = readDocument(message, afterName + 8);
  return { command, database: collection.split('.')[0] ?? 'admin' };
}

function readMsgSections(message: Buffer, flags: number): Document {
  const end = message.length - (flags & CHECKSUM_PRESENT ? 4 : 0);
  let offset = 20;
  let body: Document = {};
  const sequences: Document = {};
  while (offset < end) {
    const kind = message.readUInt8(offset++);
    if (kind === 0) {
      [body, offset] = readDocument(message, offset);
    } else {
      const sectionEnd = offset + message.readInt32LE(offset);
      const [identifier, start] = readCString(message, offset + 4);
      let cursor = start;
      const documents: Document[] = [];
      while (cursor < sectionEnd) {
        let document: Document;
        [document, cursor] = readDocument(message, cursor);
        documents.push(document);
      }
      sequences[identifier] = documents;
      offset = sectionEnd;
    }
  }
  return { ...body, ...sequences };
}

function header(length: number, responseTo: number, opCode: number): Buffer {
  const buffer = Buffer.alloc(16);
  buffer.writeInt32LE(length, 0);
  buffer.writeInt32LE(0, 4);
  buffer.writeInt32LE(responseTo, 8);
  buffer.writeInt32LE(opCode, 12);
  return buffer;
}

function opReply(responseTo: number, document: Document): Buffer {
  const body = Buffer.from(BSON.serialize(document));
  const fields = Buffer.alloc(20);
  fields.writeInt32LE(1, 16);
  return Buffer.concat([header(16 + 20 + body.length, responseTo, OP_REPLY), fields, body]);
}

function opMsg(responseTo: number, document: Document): Buffer {
  const body = Buffer.from(BSON.serialize(document));
  const flagsAndKind = Buffer.alloc(5);
  return Buffer.concat([header(16 + 5 + body.length, responseTo, OP_MSG), flagsAndKind, body]);
}

type Comparable = number | string | bigint;

function comparable(value: unknown): Comparable | undefined {
  if (value instanceof ObjectId) return value.toHexString();
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'bigint') return value;
  return undefined;
}

function compare(a: unknown, b: unknown): number {
  const left = comparable(a);
  const right = comparable(b);
  if (left === undefined || right === undefined)
    throw new Error('the test server compares only ids, dates, numbers and strings');
  return left < right ? -1 : left > right ? 1 : 0;
}

const OPERATORS: Record<string, (actual: unknown, expected: unknown) => boolean> = {
  $eq: (actual, expected) => compare(actual, expected) === 0,
  $lt: (actual, expected) => compare(actual, expected) < 0,
  $lte: (actual, expected) => compare(actual, expected) <= 0,
  $gt: (actual, expected) => compare(actual, expected) > 0,
  $gte: (actual, expected) => compare(actual, expected) >= 0,
};

function matches(document: Document, filter: Document): boolean {
  return Object.entries(filter).every(([field, condition]) => {
    const actual = document[field];
    const isOperatorObject =
      condition !== null &&
      typeof condition === 'object' &&
      !(condition instanceof ObjectId) &&
      !(condition instanceof Date);
    if (!isOperatorObject) return actual !== undefined && compare(actual, condition) === 0;
    return Object.entries(condition as Document).every(([operator, expected]) => {
      const test = OPERATORS[operator];
      if (!test) throw new Error(`filter operator ${operator} is not implemented by the test server`);
      return actual !== undefined && test(actual, expected);
    });
  });
}

function comparator(sort: Document): (a: Document, b: Document) => number {
  return (a, b) => {
    for (const [field, direction] of Object.entries(sort)) {
      const order = compare(a[field], b[field]) * Number(direction);
      if (order !== 0) return order;
    }
    return 0;
  };
}
