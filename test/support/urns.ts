/**
 * The resources a stack's state is keyed by, for each config variant: what test/urns.test.ts compares
 * with the recorded fixtures. Run this file to record them again, on purpose, from the code as it is:
 *   node --import tsx test/support/urns.ts
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ProgramRun, runProgram } from './program';
import { DEPLOY_ROLE } from './program-mocks';

/** A resource as the engine matches it against the state: its URN, and the parent it was registered under. */
export interface UrnRecord {
  urn: string;
  type: string;
  name: string;
  parent: string;
}

/** The stacks and engines whose resources differ: every branch of the cluster and database components. */
export const VARIANTS = [
  { id: 'local-mysql', stack: 'dev', config: { dbEngine: 'mysql' } },
  { id: 'local-mongodb', stack: 'dev', config: { dbEngine: 'mongodb' } },
  // Administrators besides the creator, so the access entries and their policies are among the resources.
  {
    id: 'eks-mysql',
    stack: 'eks',
    config: { dbEngine: 'mysql', clusterAdmins: [DEPLOY_ROLE, 'arn:aws:iam::123456789012:user/asha'] },
  },
  {
    id: 'eks-mongodb',
    stack: 'eks',
    config: { dbEngine: 'mongodb', clusterAdmins: [DEPLOY_ROLE, 'arn:aws:iam::123456789012:user/asha'] },
  },
] as const;

export type Variant = (typeof VARIANTS)[number];

export const fixturePath = (variant: Variant) => join(__dirname, '..', 'fixtures', `urns-${variant.id}.json`);

/** Runs the program for a variant under mocks; fails on any program error rather than record a partial list. */
export async function runVariant(variant: Variant): Promise<ProgramRun> {
  const run = await runProgram(variant.stack, variant.config);
  if (run.errors.length > 0) throw new Error(`${variant.id}: the program failed under mocks: ${run.errors.join('; ')}`);
  return run;
}

/** The run's resources in URN order. */
export function urnRecords(run: ProgramRun): UrnRecord[] {
  return run.resources
    .map(({ urn, type, name, parent }) => ({ urn, type, name, parent }))
    .sort((a, b) => a.urn.localeCompare(b.urn));
}

async function record(): Promise<void> {
  for (const variant of VARIANTS) {
    const records = urnRecords(await runVariant(variant));
    await writeFile(fixturePath(variant), `${JSON.stringify(records, null, 2)}\n`);
    console.log(`${fixturePath(variant)}: ${records.length} resources`);
  }
}

if (require.main === module) {
  record().catch((error: Error) => {
    console.error(error.message);
    process.exitCode = 1;
  });
}
