import * as k8s from '@pulumi/kubernetes';
import { objectMetadata, objectOptions, type TierObjects, tierLabels } from '../labels';

export interface WebScalingArgs {
  /** The Deployment the autoscaler sizes. */
  readonly deployment: k8s.apps.v1.Deployment;
  /** The autoscaler's floor. */
  readonly minReplicas: number;
  /** The autoscaler's ceiling. */
  readonly maxReplicas: number;
  /** The average CPU use the autoscaler aims for, in percent of the request. */
  readonly cpuTargetPercent: number;
}

/** How many web pods run: the autoscaler's count on CPU, and never fewer than one through a disruption. */
export function webScaling(tier: TierObjects, args: WebScalingArgs): void {
  const metadata = objectMetadata(tier, 'web');
  new k8s.autoscaling.v2.HorizontalPodAutoscaler(
    `${tier.name}-hpa`,
    {
      metadata,
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: args.deployment.metadata.name },
        minReplicas: args.minReplicas,
        maxReplicas: args.maxReplicas,
        metrics: [
          {
            type: 'Resource',
            resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: args.cpuTargetPercent } },
          },
        ],
      },
    },
    objectOptions(tier),
  );
  new k8s.policy.v1.PodDisruptionBudget(
    `${tier.name}-pdb`,
    { metadata, spec: { minAvailable: 1, selector: { matchLabels: tierLabels(tier.tier) } } },
    objectOptions(tier),
  );
}
