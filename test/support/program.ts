import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface RecordedResource {
  type: string;
  name: string;
  urn: string;
  parent: string;
  provider: string;
  custom: boolean;
  protect: boolean;
  retainOnDelete: boolean;
  ignoreChanges: string[];
  /** The customTimeouts delete option, when set. */
  deleteTimeout: string;
  dependencies: string[];
  /** The names and parents this resource was known by before (`aliases`). */
  aliases: Array<{ name?: string; parentUrn?: string; urn?: string }>;
  // biome-ignore lint/suspicious/noExplicitAny: resource inputs are whatever the program passed.
  inputs: Record<string, any>;
}

export interface ProgramRun {
  resources: RecordedResource[];
  outputs: Record<string, { value: unknown; secret: boolean }>;
  errors: string[];
  /** What the program logged (`pulumi.log`), one message a line as the mocked runtime prints them. */
  log: string;
}

/** Runs the real index.ts under Pulumi's mocks with a stack's own config file, in a process of its own. */
export async function runProgram(
  stack: 'dev' | 'eks',
  overrides: Record<string, unknown> = {},
  secretKeys: string[] = [],
  env: Record<string, string> = {},
): Promise<ProgramRun> {
  const folder = await mkdtemp(join(tmpdir(), 'two-tier-program-'));
  const result = join(folder, 'result.json');
  try {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', join(__dirname, 'program-child.ts')], {
      env: {
        ...process.env,
        ...env,
        PROGRAM_STACK: stack,
        PROGRAM_CONFIG: JSON.stringify(overrides),
        PROGRAM_SECRET_KEYS: JSON.stringify(secretKeys),
        PROGRAM_RESULT: result,
      },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { ...(JSON.parse(await readFile(result, 'utf8')) as Omit<ProgramRun, 'log'>), log: stdout };
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/** The resources of one type; with `name`, exactly the one of that name. */
export function ofType(run: ProgramRun, type: string): RecordedResource[] {
  return run.resources.filter((resource) => resource.type === type);
}

export function one(run: ProgramRun, type: string, name?: string): RecordedResource {
  const found = ofType(run, type).filter((resource) => name === undefined || resource.name === name);
  if (found.length !== 1) {
    throw new Error(`expected one ${type}${name ? ` named ${name}` : ''}, found ${found.length}`);
  }
  return found[0] as RecordedResource;
}
