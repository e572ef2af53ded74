import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

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
    deletionTimestamp?: string;
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
