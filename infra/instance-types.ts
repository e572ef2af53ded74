/**
 * The EC2 instance types a node group can use: size, the VPC CNI's pod limit, and the On-Demand Linux
 * price in ap-south-1 (Mumbai). Prices: AWS public price list for ap-south-1, as of 2026-11-01; check
 * https://aws.amazon.com/ec2/pricing/on-demand/ before relying on them.
 */
export interface InstanceType {
  vcpu: number;
  memoryMiB: number;
  /** Pods per node the VPC CNI allows: ENIs x (IPv4 addresses per ENI - 1) + 2. */
  maxPods: number;
  hourlyUsd: number;
}

export const INSTANCE_TYPES: Record<string, InstanceType> = {
  't3.nano': { vcpu: 2, memoryMiB: 512, maxPods: 4, hourlyUsd: 0.0056 },
  't3.micro': { vcpu: 2, memoryMiB: 1024, maxPods: 4, hourlyUsd: 0.0112 },
  't3.small': { vcpu: 2, memoryMiB: 2048, maxPods: 11, hourlyUsd: 0.0224 },
  't3.medium': { vcpu: 2, memoryMiB: 4096, maxPods: 17, hourlyUsd: 0.0448 },
  't3.large': { vcpu: 2, memoryMiB: 8192, maxPods: 35, hourlyUsd: 0.0896 },
  't3.xlarge': { vcpu: 4, memoryMiB: 16384, maxPods: 58, hourlyUsd: 0.1792 },
  't3.2xlarge': { vcpu: 8, memoryMiB: 32768, maxPods: 58, hourlyUsd: 0.3584 },
  'm5.large': { vcpu: 2, memoryMiB: 8192, maxPods: 29, hourlyUsd: 0.101 },
  'm5.xlarge': { vcpu: 4, memoryMiB: 16384, maxPods: 58, hourlyUsd: 0.202 },
  'm5.2xlarge': { vcpu: 8, memoryMiB: 32768, maxPods: 58, hourlyUsd: 0.404 },
  'm5.4xlarge': { vcpu: 16, memoryMiB: 65536, maxPods: 234, hourlyUsd: 0.808 },
};

export function instanceType(name: string): InstanceType {
  const found = INSTANCE_TYPES[name];
  if (!found) {
    throw new Error(
      `instance type ${name} is not in the table of infra/instance-types.ts (${Object.keys(INSTANCE_TYPES).join(', ')})`,
    );
  }
  return found;
}

/** T-family types run on CPU credits: a baseline share of each core, with bursts above it. */
export function isBurstable(name: string): boolean {
  return /^t\d[a-z]*\./.test(name);
}
