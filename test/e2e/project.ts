import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type ConfigMap, LocalWorkspace, PulumiCommand, Stack } from '@pulumi/pulumi/automation';
import { TOOLCHAIN_BIN, TOOLCHAIN_ROOT } from '../support/toolchain';

const REPO = join(__dirname, '..', '..');
const KUBERNETES_PROVIDER = (
  JSON.parse(readFileSync(join(REPO, 'node_modules', '@pulumi', 'kubernetes', 'package.json'), 'utf8')) as {
    version: string;
  }
).version;

/**
 * A copy of the repository as a fresh clone would have it (the files git tracks or would track, as
 * they are in the work tree), sharing the work tree's node_modules: the program runs from a folder
 * of its own, so a path that leaks into the state shows up as a diff from another copy.
 */
export async function copyProject(): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'two-tier-checkout-'));
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
    cwd: REPO,
    encoding: 'utf8',
  })
    .split('\0')
    .filter(Boolean);
  for (const file of files) {
    await mkdir(dirname(join(folder, file)), { recursive: true });
    await copyFile(join(REPO, file), join(folder, file)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error; // deleted in the work tree, not yet in git
    });
  }
  await symlink(join(REPO, 'node_modules'), join(folder, 'node_modules'), 'dir');
  return folder;
}

export interface StackEnvironment {
  /** The file backend's folder: both copies of the project share one state. */
  readonly stateFolder: string;
  readonly kubeconfig: string;
  /** Use the toolchain's CLI and plugins only (no download); otherwise the `pulumi` on PATH. */
  readonly offline: boolean;
  /** More environment for the CLI and the program. */
  readonly env?: Record<string, string>;
}

/** The dev stack of a project copy, on a file backend. */
export async function devStack(projectFolder: string, environment: StackEnvironment): Promise<Stack> {
  const pulumiCommand = await PulumiCommand.get(environment.offline ? { root: TOOLCHAIN_ROOT } : {});
  const envVars: Record<string, string> = {
    PULUMI_BACKEND_URL: `file://${environment.stateFolder}`,
    PULUMI_CONFIG_PASSPHRASE: 'two-tier lifecycle test',
    PULUMI_SKIP_UPDATE_CHECK: 'true',
    KUBECONFIG: environment.kubeconfig,
    ...environment.env,
  };
  if (environment.offline) {
    Object.assign(envVars, {
      PULUMI_HOME: join(environment.stateFolder, '.pulumi-home'),
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: 'true',
      // The provider from the plugin cache at its exact version; the language host beside the CLI.
      PULUMI_IGNORE_AMBIENT_PLUGINS: 'true',
    });
    // Installed under its exact version, as `pulumi up` would have downloaded it.
    execFileSync(
      pulumiCommand.command,
      [
        'plugin',
        'install',
        'resource',
        'kubernetes',
        KUBERNETES_PROVIDER,
        '--file',
        join(TOOLCHAIN_BIN, 'pulumi-resource-kubernetes'),
      ],
      { env: { ...process.env, ...envVars }, stdio: 'pipe' },
    );
  }
  const workspace = await LocalWorkspace.create({ workDir: projectFolder, pulumiCommand, envVars });
  return Stack.createOrSelect('dev', workspace);
}

/** Project config keys, unprefixed, with secrets marked: what `pulumi config set [--secret]` would write. */
export function projectConfig(values: Record<string, string>, secrets: Record<string, string> = {}): ConfigMap {
  return Object.fromEntries([
    ...Object.entries(values).map(([key, value]) => [`two-tier:${key}`, { value }]),
    ...Object.entries(secrets).map(([key, value]) => [`two-tier:${key}`, { value, secret: true }]),
  ]);
}
