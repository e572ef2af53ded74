/**
 * `npm run bench:preview`: how long `pulumi preview` of the dev stack takes on the real engine (the
 * lifecycle test's toolchain and real node), with index.ts transpiled only (as tsconfig.json's
 * noCheck has it) against type-checked by ts-node at every run (as before), alternating over several rounds;
 * each timed as the first run after an edit (ts-node's cache off); and how long the program's evaluation
 * alone takes under mocks.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { RealNode } from '../node/real-node';
import { runProgram } from '../support/program';
import { copyProject, devStack, projectConfig } from './project';

const ROUNDS = 5;
const TARGET_SECONDS = 10;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const spread = (values: number[]) => `${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)} s`;

async function timed(action: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await action();
  return (performance.now() - started) / 1000;
}

async function main(): Promise<void> {
  const cluster = await RealNode.create();
  const stateFolder = await mkdtemp(join(tmpdir(), 'two-tier-state-'));
  const checkout = await copyProject();
  try {
    // ts-node caches what it compiled (and checked) by content: timed as the first run after an edit.
    const environment = { stateFolder, kubeconfig: cluster.kubeconfig, offline: true, env: { TS_NODE_CACHE: 'false' } };
    const config = {
      dbEngine: 'mysql',
      kubeContext: cluster.context,
      webImage: 'registry.example.com/two-tier/web:1.0.0',
    };
    const secrets = { dbPassword: 'bench-password-one', dbRootPassword: 'bench-password-two' };
    const transpiled = await devStack(checkout, environment);
    await transpiled.setAllConfig(projectConfig(config, secrets));
    // Before: ts-node type-checked index.ts and everything it imports at every run.
    await writeFile(
      join(checkout, 'tsconfig.checked.json'),
      JSON.stringify({ extends: './tsconfig.json', compilerOptions: { noCheck: false } }),
    );
    const checked = await devStack(checkout, {
      ...environment,
      env: {
        ...environment.env,
        PULUMI_NODEJS_TSCONFIG_PATH: 'tsconfig.checked.json',
        PULUMI_NODEJS_TRANSPILE_ONLY: 'false',
      },
    });
    await transpiled.preview(); // warm-up: plugins installed, caches filled

    const times = { transpiled: [] as number[], checked: [] as number[], evaluation: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? (['transpiled', 'checked'] as const) : (['checked', 'transpiled'] as const);
      for (const side of order)
        times[side].push(await timed(() => (side === 'checked' ? checked : transpiled).preview()));
      times.evaluation.push(await timed(() => runProgram('dev', { ...config, ...secrets }, Object.keys(secrets))));
    }

    const fast = median(times.transpiled);
    console.log(
      `pulumi preview -s dev after an edit (ts-node's cache off), ${ROUNDS} alternating rounds, load average ${loadavg()[0]?.toFixed(1)}:`,
    );
    console.log(`  transpile only (now):      median ${fast.toFixed(1)} s (${spread(times.transpiled)})`);
    console.log(`  type-checked (before):     median ${median(times.checked).toFixed(1)} s (${spread(times.checked)})`);
    console.log(`  ratio: ${(fast / median(times.checked)).toFixed(2)}`);
    console.log(
      `  program under mocks alone: median ${median(times.evaluation).toFixed(1)} s (${spread(times.evaluation)})`,
    );
    console.log(`target: preview under ${TARGET_SECONDS} s: ${fast < TARGET_SECONDS ? 'met' : 'not met'}`);
  } finally {
    await rm(checkout, { recursive: true, force: true });
    await rm(stateFolder, { recursive: true, force: true });
    await cluster.delete();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
