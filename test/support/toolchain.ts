import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where scripts/toolchain.sh leaves its binaries: $TWO_TIER_TOOLCHAIN/bin (default ~/.cache/two-tier-toolchain/bin). */
export const TOOLCHAIN_ROOT = process.env.TWO_TIER_TOOLCHAIN ?? join(homedir(), '.cache', 'two-tier-toolchain');
export const TOOLCHAIN_BIN = join(TOOLCHAIN_ROOT, 'bin');

/**
 * What the lifecycle test runs the stack with: the CLI, its Node.js language host, its launcher of
 * dynamic providers and the Kubernetes provider.
 */
const PULUMI_TOOLS = [
  'pulumi',
  'pulumi-language-nodejs',
  'pulumi-resource-pulumi-nodejs',
  'pulumi-resource-kubernetes',
];

/** One line naming the Pulumi tools missing from the toolchain and how to build them, or false. */
export function pulumiToolsMissing(): string | false {
  const missing = PULUMI_TOOLS.filter((tool) => !existsSync(join(TOOLCHAIN_BIN, tool)));
  return (
    missing.length > 0 && `the toolchain in ${TOOLCHAIN_BIN} lacks ${missing.join(', ')}: run scripts/toolchain.sh`
  );
}
