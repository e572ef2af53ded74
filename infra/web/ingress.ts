import * as k8s from '@pulumi/kubernetes';
import type * as pulumi from '@pulumi/pulumi';
import { INGRESS_CLASS, TLS_POLICY } from '../eks/load-balancer-controller';
import { objectMetadata, objectOptions, type TierObjects } from '../labels';

/** The prefix of every annotation the AWS Load Balancer Controller reads (docs/guide/ingress/annotations.md). */
const ALB = 'alb.ingress.kubernetes.io';
/**
 * The web pods' pause before SIGTERM behind the ALB: it goes on sending new requests to a target for some
 * seconds after the controller deregisters it (aws-load-balancer-controller#1719, #3270), so the pod
 * keeps serving that long before it drains.
 */
export const ALB_PRE_STOP_SECONDS = 15;
/** The service's drain after SIGTERM, at most (service/src/server.ts). */
const DRAIN_SECONDS = 10;
/**
 * How long the ALB lets a deregistered pod finish its requests: the pause and the drain, so no request
 * the pod accepted is cut; within the pods' 30 s grace period, so the target is gone before the pod is.
 */
export const DEREGISTRATION_DELAY_SECONDS = ALB_PRE_STOP_SECONDS + DRAIN_SECONDS;

export interface WebIngressArgs {
  /** The Service whose pods are the targets, by their IPs. */
  readonly serviceName: pulumi.Input<string>;
  /** With a domain: the issued certificate; port 443 serves and port 80 only redirects to it. */
  readonly certificateArn?: pulumi.Input<string>;
  /** What must outlive the Ingress: the controller, which deletes the ALB when the Ingress goes. */
  readonly dependsOn?: pulumi.Resource[];
}

/** The controller's annotations for the web tier's ALB, as strings, the form it reads them in. */
export function albAnnotations(certificateArn?: pulumi.Input<string>): Record<string, pulumi.Input<string>> {
  const common = {
    [`${ALB}/scheme`]: 'internet-facing',
    // Straight to the pods: no NodePort, and health checks reach each pod on its own.
    [`${ALB}/target-type`]: 'ip',
    [`${ALB}/healthcheck-path`]: '/ready',
    [`${ALB}/success-codes`]: '200',
    [`${ALB}/healthcheck-interval-seconds`]: '10',
    [`${ALB}/target-group-attributes`]: `deregistration_delay.timeout_seconds=${DEREGISTRATION_DELAY_SECONDS}`,
    // The ALB appends the client's address to X-Forwarded-For, the header the write limit reads.
    [`${ALB}/load-balancer-attributes`]:
      'routing.http.drop_invalid_header_fields.enabled=true,routing.http.xff_header_processing.mode=append',
  };
  if (certificateArn === undefined) return { ...common, [`${ALB}/listen-ports`]: '[{"HTTP": 80}]' };
  return {
    ...common,
    [`${ALB}/listen-ports`]: '[{"HTTP": 80}, {"HTTPS": 443}]',
    [`${ALB}/ssl-redirect`]: '443',
    [`${ALB}/certificate-arn`]: certificateArn,
    [`${ALB}/ssl-policy`]: TLS_POLICY,
  };
}

/** The web tier's Ingress of the controller's class: one ALB, every path to the web pods. */
export function webIngress(tier: TierObjects, args: WebIngressArgs): k8s.networking.v1.Ingress {
  const metadata = objectMetadata(tier, 'ingress');
  return new k8s.networking.v1.Ingress(
    `${tier.name}-ingress`,
    {
      metadata: { ...metadata, annotations: albAnnotations(args.certificateArn) },
      spec: {
        ingressClassName: INGRESS_CLASS,
        rules: [
          {
            http: {
              paths: [
                {
                  path: '/',
                  pathType: 'Prefix',
                  backend: { service: { name: args.serviceName, port: { name: 'http' } } },
                },
              ],
            },
          },
        ],
      },
    },
    // Deleted, and waited for until the controller has removed the ALB, before the controller itself goes.
    { ...objectOptions(tier), dependsOn: args.dependsOn },
  );
}
