/** The stack as the lifecycle drives it: `up` that says why it failed, what it changed, what it declares. */
import assert from 'node:assert/strict';
import type { EngineEvent, Stack, UpOptions, UpResult } from '@pulumi/pulumi/automation';
import { runProgram } from '../support/program';
import type { Cluster } from './cluster';
import { reportFailure } from './namespace';
import { NAMESPACE } from './workloads';

/** `stack.up`; when it fails, the namespace's failing pods (their logs) and recent events are printed first. */
export async function upReporting(stack: Stack, cluster: Cluster, options?: UpOptions): Promise<UpResult> {
  try {
    return await stack.up(options);
  } catch (error) {
    await reportFailure(cluster, NAMESPACE, error);
    throw error;
  }
}

/**
 * What `up` may report as updated without changing anything: the stack itself, and the provider of
 * the program's dynamic resources, which the engine gives the stack's configuration, so that it is
 * updated whenever a config value changes (it holds no resource of the cluster).
 */
const BOOKKEEPING = new Set(['pulumi:pulumi:Stack', 'pulumi:providers:pulumi-nodejs']);

/** Runs `up` and lists what it changed, as "op type", leaving out what stayed the same. */
export async function upChanges(stack: Stack, cluster: Cluster): Promise<string[]> {
  const changes: string[] = [];
  const result = await upReporting(stack, cluster, {
    onEvent: (event: EngineEvent) => {
      const step = event.resOutputsEvent?.metadata;
      if (step && step.op !== 'same' && !BOOKKEEPING.has(step.type)) changes.push(`${step.op} ${step.type}`);
    },
  });
  assert.equal(result.summary.result, 'succeeded');
  return changes.sort();
}

/** The Kubernetes objects the program registers for this config, from a run under mocks. */
export async function declaredObjects(
  config: Record<string, string>,
  secrets: Record<string, string>,
): Promise<{ resource: string; name: string; namespace?: string }[]> {
  const run = await runProgram('dev', { ...config, ...secrets }, Object.keys(secrets));
  assert.deepEqual(run.errors, []);
  return run.resources
    .filter((resource) => resource.type.startsWith('kubernetes:') && resource.custom)
    .map((resource) => {
      const [, groupVersion = '', kind = ''] = resource.type.split(':');
      const [group, version] = groupVersion.split('/');
      return {
        resource: group === 'core' ? kind.toLowerCase() : `${kind.toLowerCase()}.${version}.${group}`,
        name: resource.inputs.metadata?.name,
        namespace: resource.inputs.metadata?.namespace,
      };
    });
}

/** The Pulumi diagnostic of a failed command: its error lines, not the whole log. */
export function diagnostic(error: unknown): string {
  const text = String((error as { message?: string }).message ?? error);
  const lines = text.split('\n').filter((line) => /error|violation|failed/i.test(line));
  return (lines.length > 0 ? lines : text.split('\n').slice(0, 5)).join('\n').slice(0, 4000);
}
