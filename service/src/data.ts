import { lookup } from 'node:dns/promises';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { pipeline as connect, Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import split2 from 'split2';
import { type Config, ConfigError, loadConfig } from './config';
import { MAX_BODY_KIB } from './schemas';
import { createStore } from './stores';
import type { Store } from './stores/store';
import { exportLines, itemsOf, type MergeReport, merge, readItems, TransferFileError, walk } from './transfer';

/** The longest line an import reads: twice what the HTTP API takes in one body (an item's line adds its id and kind). */
const MAX_LINE_CHARS = 2 * MAX_BODY_KIB * 1024;

const USAGE = `usage: data export FILE | data import FILE | data copy
  export  writes the messages and documents of the database DB_ENGINE names to FILE (- for standard output)
  import  adds those of FILE (- for standard input) the database does not hold yet
  copy    adds those of the database SOURCE_DB_ENGINE names (SOURCE_MYSQL_*, SOURCE_MONGODB_*), unless its host does not resolve
The database settings are the service's: DB_ENGINE, MYSQL_*, MONGODB_URL, MONGODB_DATABASE, and MONGODB_PASSWORD
for a MONGODB_URL without one.`;

export interface DataCommandIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

export interface DataCommandOptions {
  /** Resolves a host name; a name that does not exist (ENOTFOUND) means there is nothing to copy. */
  resolve?: (host: string) => Promise<unknown>;
  /** How long `copy` keeps trying to resolve the source and reach both databases (they may still be starting). */
  connectWithinMs?: number;
}

/** Runs one data command; returns the exit code. Every outcome is one line on stderr, so stdout can carry an export. */
export async function runDataCommand(
  args: string[],
  env: Record<string, string | undefined>,
  io: DataCommandIo,
  { resolve = lookup, connectWithinMs = 5 * 60_000 }: DataCommandOptions = {},
): Promise<number> {
  const say = (line: string) => io.stderr.write(`${line}\n`);
  const [command, name] = args;
  // npm runs scripts from the repository root; a relative FILE means the folder the user typed it in.
  const file = name && name !== '-' ? resolvePath(env.INIT_CWD ?? process.cwd(), name) : name;
  const stores: Store[] = [];
  const open = async (config: Config, attempt: Attempts) => {
    const store = await createStore(config);
    stores.push(store);
    await attempt(() => store.connect());
    return store;
  };
  try {
    if ((command === 'export' || command === 'import') && file && args.length === 2) {
      const config = storeConfig(env);
      if (command === 'import') {
        // The whole file is checked before the database is touched, a line at a time; then it is read
        // again to write. Standard input can be read once: its bytes are kept, outside the JavaScript heap.
        const input = file === '-' ? await bytesOf(io.stdin) : undefined;
        const read = () => readItems(linesOf(input ? Readable.from(input) : createReadStream(file)));
        for await (const _ of read());
        const store = await open(config, once);
        say(`imported into ${store.engine}: ${report(await merge(store, read()))}`);
        return 0;
      }
      const store = await open(config, once);
      const items = await walk(store);
      const lines = Readable.from(exportLines(items, store.engine));
      if (file === '-') await pipeline(lines, io.stdout, { end: false });
      else await writeWhole(file, lines);
      const to = file === '-' ? 'standard output' : file;
      say(`exported ${items.messages} messages and ${items.documents} documents from ${store.engine} to ${to}`);
      return 0;
    }
    if (command === 'copy' && args.length === 1) {
      const target = storeConfig(env);
      const source = storeConfig(env, 'SOURCE_');
      if (source.DB_ENGINE === target.DB_ENGINE) {
        throw new ConfigError('SOURCE_DB_ENGINE must be the other engine than DB_ENGINE');
      }
      const host = hostOf(source);
      const attempt = persistently(connectWithinMs);
      if (!(await attempt(() => exists(host, resolve)))) {
        say(`nothing to copy: ${host} does not resolve, so no ${source.DB_ENGINE} database is there`);
        return 0;
      }
      // The old engine goes at the end of the `up` that switched, once every new pod has copied: a pod
      // started after that (a scale-up) may find the name still there and the database gone. Each failed
      // try asks again whether the name resolves; once it does not, there is nothing to copy.
      const whileSourceExists: Attempts = (work) =>
        attempt(async () => {
          try {
            return await work();
          } catch (error) {
            if (!(await exists(host, resolve))) throw new SourceGone();
            throw error;
          }
        });
      let from: Store;
      try {
        from = await open(source, whileSourceExists);
      } catch (error) {
        if (!(error instanceof SourceGone)) throw error;
        say(`nothing to copy: ${host} no longer resolves, so the ${source.DB_ENGINE} database was removed`);
        return 0;
      }
      const into = await open(target, attempt);
      say(`copied ${from.engine} into ${into.engine}: ${report(await merge(into, itemsOf(from)))}`);
      return 0;
    }
    say(USAGE);
    return 2;
  } catch (error) {
    const known = error instanceof ConfigError || error instanceof TransferFileError;
    say(known ? (error as Error).message : `data ${command} failed: ${(error as Error).message}`);
    return 1;
  } finally {
    await Promise.allSettled(stores.map((store) => store.close()));
  }
}

/**
 * The service's configuration read from the variables that start with `prefix`, with the prefix
 * removed; the memory store is refused (it keeps nothing outside its process).
 */
export function storeConfig(env: Record<string, string | undefined>, prefix = ''): Config {
  const own = Object.fromEntries(
    Object.entries(env)
      .filter(([name]) => name.startsWith(prefix))
      .map(([name, value]) => [name.slice(prefix.length), value]),
  );
  let config: Config;
  try {
    config = loadConfig(own);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new ConfigError(error.message.replace('invalid configuration: ', `invalid configuration: ${prefix}`));
  }
  if (config.DB_ENGINE === 'memory') {
    throw new ConfigError(
      `${prefix}DB_ENGINE must be mysql or mongodb: the memory store keeps nothing to export or import`,
    );
  }
  const password = own.MONGODB_PASSWORD;
  if (config.DB_ENGINE === 'mongodb' && password) {
    const url = new URL(config.MONGODB_URL);
    url.password = encodeURIComponent(password);
    config.MONGODB_URL = url.href;
  }
  return config;
}

function hostOf(config: Config): string {
  return config.DB_ENGINE === 'mysql' ? config.MYSQL_HOST : new URL(config.MONGODB_URL).hostname;
}

/** In the stack's namespace a database Service's name resolves only while that engine is deployed. */
async function exists(host: string, resolve: (host: string) => Promise<unknown>): Promise<boolean> {
  try {
    await resolve(host);
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOTFOUND') return false;
    throw error;
  }
}

type Attempts = <T>(work: () => Promise<T>) => Promise<T>;

/** The copy's source stopped resolving while the copy waited for it: tried no more. */
class SourceGone extends Error {}

const once: Attempts = (work) => work();

/** Tries `work` until it succeeds or `withinMs` has passed, waiting 1 s, 2 s, … up to 10 s between tries. */
function persistently(withinMs: number): Attempts {
  const deadline = Date.now() + withinMs;
  return async (work) => {
    for (let wait = 1_000; ; wait = Math.min(wait * 2, 10_000)) {
      try {
        return await work();
      } catch (error) {
        if (error instanceof SourceGone || Date.now() + wait > deadline) throw error;
        await new Promise((resume) => setTimeout(resume, wait));
      }
    }
  };
}

/** A file's lines as they arrive, a few at a time; a line longer than any item's is refused, naming it. */
async function* linesOf(source: Readable): AsyncGenerator<string> {
  let split = 0;
  const lines = split2(
    (line: string) => {
      split++;
      return line;
    },
    { maxLength: MAX_LINE_CHARS },
  );
  connect(source, lines, () => {});
  try {
    yield* lines;
  } catch (error) {
    // split2's one error of its own: the line after the last it split outgrew maxLength.
    if ((error as Error).message !== 'maximum buffer reached') throw error;
    throw new TransferFileError(`line ${split + 1}: longer than ${MAX_LINE_CHARS} characters, which no item is`);
  }
}

async function bytesOf(input: Readable): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return chunks;
}

/** Writes `file` through a sibling that takes its name only once complete: a failed export leaves no file behind. */
async function writeWhole(file: string, lines: Readable): Promise<void> {
  const partial = `${file}.partial`;
  try {
    await pipeline(lines, createWriteStream(partial));
    await rename(partial, file);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}

function report({ messages, documents }: MergeReport): string {
  return `${messages.added} messages and ${documents.added} documents added, ${messages.present} and ${documents.present} already there`;
}

if (require.main === module) {
  runDataCommand(process.argv.slice(2), process.env, process).then((code) => {
    process.exitCode = code;
  });
}
