import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where scripts/toolchain.sh leaves its binaries: $TWO_TIER_TOOLCHAIN/bin (default ~/.cache/two-tier-toolchain/bin). */
export const TOOLCHAIN_ROOT = process.env.TWO_TIER_TOOLCHAIN ?? join(homedir(), '.cache', 'two-tier-toolchain');
export const TOOLCHAIN_BIN = join(TOOLCHAIN_ROOT, 'bin');

const REQUIRED = [
  'pulumi',
  'pulumi-language-nodejs',
  'pulumi-resource-kubernetes',
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubectl',
  'kwok',
  'kwokctl',
] as const;

export type Tool = (typeof REQUIRED)[number];

/** The path of each tool; throws one line naming what is missing and how to build it. */
export function toolchain(): Record<Tool, string> {
  const missing = REQUIRED.filter((tool) => !existsSync(join(TOOLCHAIN_BIN, tool)));
  if (missing.length > 0) {
    throw new Error(`the toolchain in ${TOOLCHAIN_BIN} lacks ${missing.join(', ')}: run scripts/toolchain.sh first`);
  }
  return Object.fromEntries(REQUIRED.map((tool) => [tool, join(TOOLCHAIN_BIN, tool)])) as Record<Tool, string>;
}

/** The Kubernetes release of the built kube-apiserver, e.g. v1.36.3. */
export function kubernetesVersion(apiserver: string): string {
  const printed = execFileSync(apiserver, ['--version'], { encoding: 'utf8' });
  const version = /v\d+\.\d+\.\d+/.exec(printed)?.[0];
  if (!version) throw new Error(`kube-apiserver --version printed no version: ${printed.trim()}`);
  return version;
}
