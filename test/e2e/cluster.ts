import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { kubernetesVersion, type Tool } from '../support/toolchain';

const run = promisify(execFile);

/** A Kubernetes object as the API server returns it (only what the checks read). */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid: string;
    resourceVersion: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind: string; name: string }[];
  };
  // biome-ignore lint/suspicious/noExplicitAny: each kind has its own spec and status.
  spec?: any;
  // biome-ignore lint/suspicious/noExplicitAny: each kind has its own spec and status.
  status?: any;
  data?: Record<string, string>;
}

/** A cluster the test reaches with kubectl through a kubeconfig and context of its own. */
export class Cluster {
  constructor(
    private readonly kubectlPath: string,
    readonly kubeconfig: string,
    readonly context: string,
  ) {}

  /** Whether pods run containers here, so that the exported url answers. */
  get runsContainers(): boolean {
    return true;
  }

  async kubectl(args: string[], input?: string): Promise<string> {
    const child = run(this.kubectlPath, [`--kubeconfig=${this.kubeconfig}`, `--context=${this.context}`, ...args], {
      maxBuffer: 64 * 1024 * 1024,
    });
    if (input !== undefined) child.child.stdin?.end(input);
    return (await child).stdout;
  }

  async apply(manifest: object): Promise<void> {
    await this.kubectl(['apply', '-f', '-'], JSON.stringify(manifest));
  }

  /** One object, or undefined when the API server has none of that kind and name. */
  async get(resource: string, name: string, namespace?: string): Promise<KubeObject | undefined> {
    try {
      return JSON.parse(
        await this.kubectl(['get', resource, name, '-o', 'json', ...(namespace ? ['-n', namespace] : [])]),
      ) as KubeObject;
    } catch (error) {
      if (String((error as { stderr?: string }).stderr).includes('NotFound')) return undefined;
      throw error;
    }
  }

  async list(resource: string, namespace?: string): Promise<KubeObject[]> {
    const scope = namespace ? ['-n', namespace] : [];
    return (JSON.parse(await this.kubectl(['get', resource, '-o', 'json', ...scope])) as { items: KubeObject[] }).items;
  }
}

/**
 * A real kube-apiserver, controller-manager and scheduler on etcd, run as processes by kwokctl, with
 * nodes faked by KWOK: pods are scheduled, admitted and marked Running and Ready, but no container runs.
 */
export class KwokCluster extends Cluster {
  private constructor(
    private readonly tools: Record<Tool, string>,
    private readonly folder: string,
    readonly name: string,
    readonly version: string,
  ) {
    super(tools.kubectl, join(folder, 'kubeconfig'), `kwok-${name}`);
  }

  override get runsContainers(): boolean {
    return false;
  }

  static async create(tools: Record<Tool, string>, nodes: number): Promise<KwokCluster> {
    const folder = await mkdtemp(join(tmpdir(), 'two-tier-kwok-'));
    const cluster = new KwokCluster(tools, folder, `e2e-${process.pid}`, kubernetesVersion(tools['kube-apiserver']));
    await cluster.kwokctl([
      'create',
      'cluster',
      '--runtime=binary',
      `--kube-apiserver-binary=${tools['kube-apiserver']}`,
      `--kube-controller-manager-binary=${tools['kube-controller-manager']}`,
      `--kube-scheduler-binary=${tools['kube-scheduler']}`,
      `--kwok-controller-binary=${tools.kwok}`,
      `--etcd-binary=${tools.etcd}`,
      '--kube-authorization=true',
      '--kube-admission=true',
      `--kubeconfig=${cluster.kubeconfig}`,
      '--wait=2m',
    ]);
    await cluster.kwokctl(['scale', 'node', `--replicas=${nodes}`]);
    await cluster.kubectl(['wait', '--for=condition=Ready', 'node', '--all', '--timeout=60s']);
    return cluster;
  }

  /** Stops the cluster's processes and removes its files. */
  async delete(): Promise<void> {
    await this.kwokctl(['delete', 'cluster']).catch(() => undefined);
    await rm(this.folder, { recursive: true, force: true });
  }

  private async kwokctl(args: string[]): Promise<string> {
    const { stdout } = await run(this.tools.kwokctl, [`--name=${this.name}`, ...args], {
      env: {
        ...process.env,
        KWOK_WORKDIR: join(this.folder, 'kwok'),
        KWOK_KUBE_VERSION: this.version,
        KWOK_RUNTIME: 'binary',
      },
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  }
}
