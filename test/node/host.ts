import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Paths a kubelet, containerd or CNI plugin writes outside the folders it is given. */
const STRAY_PATHS = [
  '/var/lib/kubelet',
  '/var/log/containers',
  '/var/log/pods',
  '/run/containerd',
  '/run/netns',
  '/var/lib/cni',
  '/opt/containerd',
];

/** Host sysctls the node's components set (kubelet, kube-proxy) or the pod network needs. */
export const NODE_SYSCTLS: Record<string, string> = {
  'net.ipv4.ip_forward': '1',
  'net.bridge.bridge-nf-call-iptables': '1',
};

/** Sysctl families a node may change; everything else in `sysctl -a` is left out of the comparison. */
const WATCHED_SYSCTLS =
  /^(kernel\.(panic|panic_on_oops|keys\.root_max\w+)|vm\.(overcommit_memory|panic_on_oom)|net\.(ipv4\.(ip_forward|conf\.(all|default|lo)\.\w+)|bridge\.\w+|netfilter\.nf_conntrack_(max|tcp_timeout_\w+|udp_timeout\w*)|ipv6\.conf\.(all|default)\.forwarding))$/;

/**
 * What the machine looked like before the node started, and how to put it back: sysctls, the
 * netfilter ruleset, network interfaces, mounts, cgroups and the paths a node writes outside its
 * folder. Taken before anything starts; `restore` undoes each change it finds, even after a failure,
 * and reports what it undid.
 */
export class HostLedger {
  private constructor(
    private readonly sysctls: Map<string, string>,
    private readonly ruleset: string,
    private readonly links: Set<string>,
    private readonly mounts: Set<string>,
    private readonly strays: Set<string>,
    private readonly cgroupRoots: string[],
  ) {}

  static async take(cgroupName: string): Promise<HostLedger> {
    const controllers = (await readdir('/sys/fs/cgroup')).map((c) => join('/sys/fs/cgroup', c, cgroupName));
    return new HostLedger(
      await sysctls(),
      (await run('nft', ['list', 'ruleset'])).stdout,
      await links(),
      new Set(await mountPoints()),
      new Set(STRAY_PATHS.filter((path) => existsSync(path))),
      controllers.filter((path) => !existsSync(path)),
    );
  }

  /** Sets a sysctl the node needs; `restore` puts the old value back. */
  async set(name: string, value: string): Promise<void> {
    await run('sysctl', ['-q', '-w', `${name}=${value}`]);
  }

  /** Undoes what changed since `take`, in the order that lets each step succeed; returns what it did. */
  async restore(folder: string): Promise<string[]> {
    const done: string[] = [];
    const attempt = async (what: string, action: () => Promise<unknown>) => {
      try {
        await action();
        done.push(what);
      } catch (error) {
        done.push(`${what}: FAILED ${String((error as Error).message).split('\n')[0]}`);
      }
    };

    const newMounts = (await mountPoints())
      .filter((point) => !this.mounts.has(point))
      .filter((point) => point.startsWith(folder) || STRAY_PATHS.some((path) => point.startsWith(path)))
      .sort((a, b) => b.length - a.length);
    for (const point of newMounts) await attempt(`unmounted ${point}`, () => run('umount', ['-l', point]));

    const ruleset = (await run('nft', ['list', 'ruleset'])).stdout;
    if (ruleset !== this.ruleset) {
      await attempt('restored the netfilter ruleset', async () => {
        await run('nft', ['flush', 'ruleset']);
        if (this.ruleset.trim()) {
          const saved = join(folder, 'ruleset.nft');
          await writeFile(saved, this.ruleset);
          await run('nft', ['-f', saved]);
        }
      });
    }

    for (const link of await links()) {
      if (!this.links.has(link)) await attempt(`deleted interface ${link}`, () => run('ip', ['link', 'delete', link]));
    }

    for (const root of this.cgroupRoots) {
      if (existsSync(root)) await attempt(`removed cgroup ${root}`, () => removeCgroup(root));
    }

    const now = await sysctls();
    for (const [name, value] of this.sysctls) {
      if (now.get(name) !== value) {
        await attempt(`sysctl ${name} back to ${value}`, () => run('sysctl', ['-q', '-w', `${name}=${value}`]));
      }
    }

    for (const path of STRAY_PATHS) {
      if (!this.strays.has(path) && existsSync(path)) {
        await attempt(`removed ${path}`, () => rm(path, { recursive: true, force: true }));
      }
    }
    return done;
  }
}

/** Every process still in a cgroup (and its children), for the caller to end. */
export async function cgroupProcesses(root: string): Promise<number[]> {
  if (!existsSync(root)) return [];
  const pids = (await readFile(join(root, 'cgroup.procs'), 'utf8')).split('\n').filter(Boolean).map(Number);
  for (const entry of await readdir(root, { withFileTypes: true })) {
    if (entry.isDirectory()) pids.push(...(await cgroupProcesses(join(root, entry.name))));
  }
  return pids;
}

async function removeCgroup(path: string): Promise<void> {
  for (const entry of await readdir(path, { withFileTypes: true })) {
    if (entry.isDirectory()) await removeCgroup(join(path, entry.name));
  }
  await rmdir(path);
}

async function sysctls(): Promise<Map<string, string>> {
  const { stdout } = await run('sysctl', ['-a'], { maxBuffer: 16 * 1024 * 1024 }).catch(
    (error: { stdout: string }) => error, // some keys cannot be read; the rest are printed
  );
  const values = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const [name, value] = line.split(' = ');
    if (name && value !== undefined && WATCHED_SYSCTLS.test(name)) values.set(name, value);
  }
  return values;
}

async function links(): Promise<Set<string>> {
  const { stdout } = await run('ip', ['-o', 'link', 'show']);
  return new Set(stdout.split('\n').flatMap((line) => /^\d+: ([^:@]+)/.exec(line)?.[1] ?? []));
}

async function mountPoints(): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' ')[4].replace(/\\040/g, ' '));
}
