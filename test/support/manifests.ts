import type { ProgramRun, RecordedResource } from './program';

/** Kubernetes objects the program registered, as the API server would receive them (a Helm release is none). */
export function kubernetesObjects(run: ProgramRun): RecordedResource[] {
  return run.resources.filter(
    (r) => r.type.startsWith('kubernetes:') && !r.type.startsWith('kubernetes:helm.sh/') && r.custom,
  );
}

export function workloads(run: ProgramRun): RecordedResource[] {
  return run.resources.filter(
    (r) => r.type === 'kubernetes:apps/v1:Deployment' || r.type === 'kubernetes:apps/v1:StatefulSet',
  );
}

// biome-ignore lint/suspicious/noExplicitAny: container specs as the program passed them.
export type Container = Record<string, any>;

export function containers(workload: RecordedResource): Container[] {
  return workload.inputs.spec.template.spec.containers;
}

/** Whether every label of `selector` is on `labels`. */
export function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

/** The workload whose pods a Service selects. */
export function workloadOf(run: ProgramRun, service: RecordedResource): RecordedResource | undefined {
  return workloads(run).find((w) => selects(service.inputs.spec.selector, w.inputs.spec.template.metadata.labels));
}

/** Validates an object against the Kubernetes OpenAPI schema (kubernetes-models); returns the error or undefined. */
export async function schemaError(object: RecordedResource): Promise<string | undefined> {
  const { apiVersion, kind } = object.inputs as { apiVersion: string; kind: string };
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const module = (await import(`kubernetes-models/${group ? `${group}/` : ''}${version}`)) as Record<
    string,
    new (
      data: unknown,
    ) => { validate(): void }
  >;
  const Model = module[kind];
  if (!Model) return `kubernetes-models has no ${apiVersion} ${kind}`;
  try {
    new Model(object.inputs).validate();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}
