import * as k8s from '@pulumi/kubernetes';
import type * as pulumi from '@pulumi/pulumi';
import { allowIngress, objectMetadata, objectOptions, type TierObjects, tierLabels } from '../labels';
import type { DbEngine } from './engines';

export interface DatabaseServicesArgs {
  /** The engine: its port is named after it. */
  readonly engine: DbEngine;
  /** The engine's port. */
  readonly port: number;
  /** The ClusterIP Service's name: what the web tier connects to. */
  readonly serviceName: pulumi.Input<string>;
}

export interface DatabaseServices {
  /** The StatefulSet's governing Service: the pod's DNS name, ready or not. */
  readonly headless: k8s.core.v1.Service;
  /** The ClusterIP Service the web tier connects to. */
  readonly service: k8s.core.v1.Service;
  /** The NetworkPolicy that lets the web pods, and only them, in. */
  readonly allowWeb: k8s.networking.v1.NetworkPolicy;
}

/** How the database pod is reached, only inside the cluster, and by whom. */
export function databaseServices(tier: TierObjects, args: DatabaseServicesArgs): DatabaseServices {
  const labels = tierLabels('database');
  const ports = [{ name: args.engine, port: args.port, targetPort: args.engine }];
  const headless = new k8s.core.v1.Service(
    `${tier.name}-${args.engine}-headless`,
    {
      metadata: objectMetadata(tier, `${args.engine}-headless`),
      spec: { clusterIP: 'None', selector: labels, ports, publishNotReadyAddresses: true },
    },
    objectOptions(tier),
  );
  const service = new k8s.core.v1.Service(
    `${tier.name}-${args.engine}-service`,
    {
      metadata: { ...objectMetadata(tier, args.engine), name: args.serviceName },
      spec: { type: 'ClusterIP', selector: labels, ports },
    },
    objectOptions(tier),
  );
  // Named after the engine like the Services: an engine switch creates the new port's policy beside the old one's
  // (which goes with the old engine's tier), never changing one policy's port under the old web pods.
  const allowWeb = allowIngress(
    `${tier.name}-${args.engine}-allow-web`,
    { namespace: tier.namespace, tier: 'database', port: args.port, from: 'web' },
    objectOptions(tier),
  );
  return { headless, service, allowWeb };
}
