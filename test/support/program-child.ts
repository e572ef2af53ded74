/**
 * Runs index.ts under Pulumi's mocks in this process and writes what it registered to the file named
 * by PROGRAM_RESULT once every registration has finished. One process a run: Pulumi's runtime state is global.
 * Inputs: PROGRAM_STACK (dev | eks), PROGRAM_CONFIG (JSON of config overrides, project keys unprefixed),
 * PROGRAM_SECRET_KEYS (JSON array of override keys that are secrets).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import type { Alias } from '@pulumi/pulumi/proto/alias_pb';
import { MockMonitor } from '@pulumi/pulumi/runtime/mocks';
import * as settings from '@pulumi/pulumi/runtime/settings';
import { stackConfig } from '../../infra/stack-config';
import type { RecordedResource } from './program';
import { mockCall, mockNewResource } from './program-mocks';

const REPO = join(__dirname, '..', '..');
const stack = process.env.PROGRAM_STACK ?? 'dev';
const overrides = JSON.parse(process.env.PROGRAM_CONFIG ?? '{}') as Record<string, unknown>;
const secretOverrides = JSON.parse(process.env.PROGRAM_SECRET_KEYS ?? '[]') as string[];
const resources: RecordedResource[] = [];
const errors: string[] = [];

const mocks: pulumi.runtime.Mocks = {
  call: mockCall,
  newResource: (args) => {
    const result = mockNewResource(args);
    const inputs = args.inputs as Record<string, unknown>;
    resources.push({
      type: args.type,
      name: args.name,
      urn: '',
      parent: '',
      provider: args.provider ?? '',
      custom: args.custom ?? false,
      protect: false,
      retainOnDelete: false,
      ignoreChanges: [],
      deleteTimeout: '',
      dependencies: [],
      aliases: [],
      inputs,
    });
    return result;
  },
};

/** The mock monitor, also keeping what `MockResourceArgs` leaves out: parent, dependencies, protection. */
class RecordingMonitor extends MockMonitor {
  // biome-ignore lint/suspicious/noExplicitAny: the monitor's gRPC request and callback are untyped here.
  override async registerResource(request: any, callback: (error: any, response: any) => void) {
    await super.registerResource(request, (error, response) => {
      const record = resources.findLast((r) => r.type === request.getType() && r.name === request.getName());
      if (record && response) {
        record.urn = response.getUrn();
        record.parent = request.getParent();
        record.protect = request.getProtect() ?? false;
        record.retainOnDelete = request.getRetainondelete() ?? false;
        record.ignoreChanges = request.getIgnorechangesList();
        record.deleteTimeout = request.getCustomtimeouts()?.getDelete() ?? '';
        record.dependencies = request.getDependenciesList();
        // The mock monitor takes aliases as URNs; a monitor that takes alias specs gets those instead.
        record.aliases = [
          ...request.getAliasurnsList().map((urn: string) => ({ urn })),
          ...request.getAliasesList().map((alias: Alias) => {
            const spec = alias.getSpec();
            return spec ? { name: spec.getName(), parentUrn: spec.getParenturn() } : { urn: alias.getUrn() };
          }),
        ];
      }
      callback(error, response);
    });
  }
}

async function main(): Promise<void> {
  const { config, secretKeys } = stackConfig(REPO, stack, overrides, secretOverrides);
  await pulumi.runtime.setMocks(mocks, 'two-tier', stack, false);
  settings.setMockOptions(new RecordingMonitor(mocks), 'two-tier', stack, false);
  pulumi.runtime.setAllConfig(config, secretKeys);

  const outputs: Record<string, { value: unknown; secret: boolean }> = {};
  try {
    const program = (await import(join(REPO, 'index.ts'))) as Record<string, unknown>;
    for (const [name, exported] of Object.entries(program)) {
      if (exported === undefined) continue;
      const output = pulumi.output(exported);
      const value = await new Promise((resolve) => output.apply(resolve));
      outputs[name] = { value, secret: await pulumi.isSecret(output) };
    }
    await settings.disconnect();
  } catch (error) {
    errors.push((error as Error).message);
  }
  writeFileSync(process.env.PROGRAM_RESULT as string, JSON.stringify({ resources, outputs, errors }));
}

process.on('unhandledRejection', (error) => errors.push((error as Error).message));
main().catch((error: Error) => {
  writeFileSync(
    process.env.PROGRAM_RESULT as string,
    JSON.stringify({ resources, outputs: {}, errors: [error.message] }),
  );
});
