import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { FIRST_BOOT_DONE_SCRIPT, FIRST_BOOT_STATE, firstBootDone, firstBootGuard } from '../first-boot';
import {
  objectMetadata,
  objectOptions,
  restrictedContainer,
  restrictedPod,
  type TierObjects,
  tierLabels,
} from '../labels';
import { type DbEngine, ENGINES } from './engines';

/** The database pod's scheduling priority; the web pods keep the default, 0. */
const DATABASE_PRIORITY = 1000;

export interface DatabaseStatefulSetArgs {
  /** The engine the pod runs. */
  readonly engine: DbEngine;
  /** The image to run. */
  readonly image: string;
  /** The container's requests and limits. */
  readonly resources: k8s.types.input.core.v1.ResourceRequirements;
  /** The Secret the engine's variables read the passwords from. */
  readonly secretName: pulumi.Input<string>;
  /** The claim of the data volume. */
  readonly claimName: pulumi.Input<string>;
  /** The headless Service that governs the StatefulSet. */
  readonly headlessServiceName: pulumi.Input<string>;
  /** What must exist first and be deleted last (the storage add-ons). */
  readonly dependsOn?: pulumi.Resource[];
}

/**
 * The one database pod: its StatefulSet, the engine's init scripts and its scheduling priority. The pod
 * starts through the first-boot guard, and its probes ask the server without any credential.
 */
export function databaseStatefulSet(tier: TierObjects, args: DatabaseStatefulSetArgs): k8s.apps.v1.StatefulSet {
  const labels = tierLabels('database');
  const spec = ENGINES[args.engine];
  // Named after the engine like the StatefulSet that mounts it: one shared across a switch would be
  // replaced (its data is immutable to the provider), and the old engine's StatefulSet deleted with it first.
  const initScripts = new k8s.core.v1.ConfigMap(
    `${tier.name}-${args.engine}-init`,
    {
      metadata: objectMetadata(tier, `${args.engine}-init`),
      data: { ...spec.initScripts, [FIRST_BOOT_DONE_SCRIPT]: firstBootDone() },
    },
    objectOptions(tier),
  );
  // Cluster-wide, so named after the namespace: above the web tier's 0, it may take a web pod's place.
  const priority = new k8s.scheduling.v1.PriorityClass(
    `${tier.name}-priority`,
    {
      metadata: { name: pulumi.interpolate`${tier.namespace}-database`, labels },
      value: DATABASE_PRIORITY,
      globalDefault: false,
      preemptionPolicy: 'PreemptLowerPriority',
      description: 'The database pod: placed before the web pods, on the node in the zone of its volume',
    },
    objectOptions(tier),
  );
  const probe = (periodSeconds: number, failureThreshold: number) => ({
    ...spec.probe(spec.port),
    periodSeconds,
    timeoutSeconds: 10,
    failureThreshold,
  });
  return new k8s.apps.v1.StatefulSet(
    `${tier.name}-${args.engine}-statefulset`,
    {
      metadata: objectMetadata(tier, args.engine),
      spec: {
        serviceName: args.headlessServiceName,
        replicas: 1,
        // OrderedReady never replaces a pod that is not Ready, so a corrected `up` could not roll a broken one.
        podManagementPolicy: 'Parallel',
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            automountServiceAccountToken: false,
            priorityClassName: priority.metadata.name,
            securityContext: restrictedPod(spec.uid),
            terminationGracePeriodSeconds: 60,
            containers: [
              {
                name: args.engine,
                image: args.image,
                imagePullPolicy: 'IfNotPresent',
                command: ['bash', '-c', firstBootGuard(spec.dataPath), 'first-boot-guard'],
                args: ['docker-entrypoint.sh', ...spec.args],
                env: spec.env(args.secretName),
                ports: [{ name: args.engine, containerPort: spec.port }],
                // First boot initialises the data directory: up to 5 minutes before liveness applies.
                startupProbe: probe(5, 60),
                // Out of the Service after 30 s without an answer; restarted only after 2 minutes.
                readinessProbe: probe(10, 3),
                livenessProbe: probe(20, 6),
                resources: args.resources,
                securityContext: restrictedContainer,
                volumeMounts: [
                  // A subdirectory: a fresh ext4 volume holds lost+found, which MySQL refuses to initialise over.
                  { name: 'data', mountPath: spec.dataPath, subPath: 'data' },
                  { name: 'data', mountPath: FIRST_BOOT_STATE, subPath: 'two-tier' },
                  ...spec.scratch.map((mountPath, index) => ({ name: `scratch-${index}`, mountPath })),
                  { name: 'init', mountPath: '/docker-entrypoint-initdb.d', readOnly: true },
                ],
              },
            ],
            volumes: [
              { name: 'data', persistentVolumeClaim: { claimName: args.claimName } },
              ...spec.scratch.map((_, index) => ({ name: `scratch-${index}`, emptyDir: {} })),
              { name: 'init', configMap: { name: initScripts.metadata.name } },
            ],
          },
        },
      },
    },
    { ...objectOptions(tier), dependsOn: args.dependsOn },
  );
}
