import { INSTANCE_TYPES, type InstanceType, instanceType } from './instance-types';

/** CPU in millicores, memory in MiB. */
export interface Requests {
  cpuMilli: number;
  memoryMiB: number;
}

interface PodGroup extends Requests {
  name: string;
  count: number;
}

/**
 * What EKS runs besides the workload, with the requests of the add-on versions current in 2026
 * (`kubectl describe nodes` shows them): per node, aws-node, kube-proxy and ebs-csi-node; once per
 * cluster, two coredns, two ebs-csi-controller and two metrics-server replicas.
 */
const EKS_DAEMONSETS: PodGroup[] = [
  { name: 'aws-node', count: 1, cpuMilli: 25, memoryMiB: 0 },
  { name: 'kube-proxy', count: 1, cpuMilli: 100, memoryMiB: 0 },
  { name: 'ebs-csi-node', count: 1, cpuMilli: 30, memoryMiB: 120 },
];
const EKS_CLUSTER_PODS: PodGroup[] = [
  { name: 'coredns', count: 2, cpuMilli: 100, memoryMiB: 70 },
  { name: 'ebs-csi-controller', count: 2, cpuMilli: 60, memoryMiB: 240 },
  { name: 'metrics-server', count: 2, cpuMilli: 100, memoryMiB: 200 },
];

/**
 * A node's allocatable resources as the EKS AMI configures the kubelet: the kernel keeps about 7% of
 * the memory, kube-reserved takes 255 MiB + 11 MiB per pod and a share of each core, and eviction
 * starts 100 MiB before the end.
 */
export function allocatable(type: InstanceType): Requests & { pods: number } {
  const cores = type.vcpu;
  const reservedCpu =
    60 + (cores > 1 ? 10 : 0) + Math.min(Math.max(cores - 2, 0), 2) * 5 + Math.max(cores - 4, 0) * 2.5;
  const memory = Math.floor(type.memoryMiB * 0.93) - (255 + 11 * type.maxPods) - 100;
  return { cpuMilli: cores * 1000 - reservedCpu, memoryMiB: memory, pods: type.maxPods };
}

export interface CapacityInput {
  instanceType: string;
  nodeCount: number;
  /** The web tier at its autoscaler's maximum; one more pod is added for the rolling update's surge. */
  webMaxReplicas: number;
  web: Requests;
  database: Requests;
}

export interface CapacityReport {
  fits: boolean;
  /** One message: what does not fit, by how much, and what to change. Empty when it fits. */
  message: string;
  needed: Requests & { pods: number };
  offered: Requests & { pods: number };
}

const mib = (value: number) => (value >= 1024 ? `${(value / 1024).toFixed(2)} GiB` : `${Math.round(value)} MiB`);

/**
 * Whether the workload can be scheduled: every pod is placed, largest first, on the nodes that are
 * left after the per-node daemon sets, alongside the cluster add-ons.
 */
export function checkCapacity(input: CapacityInput): CapacityReport {
  const { unplaced, needed, offered, podsPerNode } = schedule(input);
  if (unplaced.length === 0) return { fits: true, message: '', needed, offered };

  const short = [
    needed.cpuMilli > offered.cpuMilli ? `CPU by ${needed.cpuMilli - offered.cpuMilli}m` : '',
    needed.memoryMiB > offered.memoryMiB ? `memory by ${mib(needed.memoryMiB - offered.memoryMiB)}` : '',
    needed.pods > offered.pods
      ? `pods by ${needed.pods - offered.pods} (the VPC CNI allows ${podsPerNode} a node)`
      : '',
  ].filter(Boolean);
  const unplacedNames = [...new Set(unplaced.map((pod) => pod.name))]
    .map((name) => `${unplaced.filter((pod) => pod.name === name).length} ${name}`)
    .join(', ');
  const message =
    `the workload does not fit ${input.nodeCount} x ${input.instanceType}: ${unplacedNames} pod(s) cannot be scheduled. ` +
    `It requests ${needed.cpuMilli}m CPU, ${mib(needed.memoryMiB)} and ${needed.pods} pods (the web tier at ${input.webMaxReplicas} replicas plus one rolling-update pod, the database and the EKS system pods); ` +
    `the nodes offer ${offered.cpuMilli}m, ${mib(offered.memoryMiB)} and ${offered.pods} pods` +
    (short.length ? `: short of ${short.join(', ')}` : ' but not on any one node') +
    `. Change one of: ${suggestions(input).join('; ')}.`;
  return { fits: false, message, needed, offered };
}

function schedule(input: CapacityInput) {
  const perNode = allocatable(instanceType(input.instanceType));
  const daemon = total(EKS_DAEMONSETS);
  const nodes = Array.from({ length: input.nodeCount }, () => ({
    cpuMilli: perNode.cpuMilli - daemon.cpuMilli,
    memoryMiB: perNode.memoryMiB - daemon.memoryMiB,
    pods: perNode.pods - daemon.pods,
  }));
  const groups: PodGroup[] = [
    ...EKS_CLUSTER_PODS,
    { name: 'web', count: input.webMaxReplicas + 1, ...input.web },
    { name: 'database', count: 1, ...input.database },
  ];
  const pods = groups
    .flatMap((group) => Array.from({ length: group.count }, () => group))
    .sort((a, b) => b.memoryMiB - a.memoryMiB);
  const unplaced = pods.filter((pod) => {
    const node = nodes.find((n) => n.cpuMilli >= pod.cpuMilli && n.memoryMiB >= pod.memoryMiB && n.pods >= 1);
    if (!node) return true;
    node.cpuMilli -= pod.cpuMilli;
    node.memoryMiB -= pod.memoryMiB;
    node.pods -= 1;
    return false;
  });
  const workload = total(groups);
  return {
    unplaced,
    podsPerNode: perNode.pods,
    needed: {
      cpuMilli: workload.cpuMilli + daemon.cpuMilli * input.nodeCount,
      memoryMiB: workload.memoryMiB + daemon.memoryMiB * input.nodeCount,
      pods: workload.pods + daemon.pods * input.nodeCount,
    },
    offered: {
      cpuMilli: perNode.cpuMilli * input.nodeCount,
      memoryMiB: perNode.memoryMiB * input.nodeCount,
      pods: perNode.pods * input.nodeCount,
    },
  };
}

function total(groups: PodGroup[]): Requests & { pods: number } {
  return groups.reduce(
    (sum, group) => ({
      cpuMilli: sum.cpuMilli + group.cpuMilli * group.count,
      memoryMiB: sum.memoryMiB + group.memoryMiB * group.count,
      pods: sum.pods + group.count,
    }),
    { cpuMilli: 0, memoryMiB: 0, pods: 0 },
  );
}

/** The smallest changes that make the workload fit, one setting at a time. */
function suggestions(input: CapacityInput): string[] {
  const fits = (change: Partial<CapacityInput>) => schedule({ ...input, ...change }).unplaced.length === 0;
  const found: string[] = [];
  for (let replicas = input.webMaxReplicas - 1; replicas >= 1; replicas--) {
    if (fits({ webMaxReplicas: replicas })) {
      found.push(`webMaxReplicas ${replicas} or fewer`);
      break;
    }
  }
  const family = input.instanceType.split('.')[0];
  const current = instanceType(input.instanceType);
  const larger = Object.entries(INSTANCE_TYPES)
    .filter(([name, type]) => name.startsWith(`${family}.`) && type.hourlyUsd > current.hourlyUsd)
    .sort(([, a], [, b]) => a.hourlyUsd - b.hourlyUsd)
    .find(([name]) => fits({ instanceType: name }));
  if (larger) found.push(`instanceType ${larger[0]}`);
  for (let nodeCount = input.nodeCount + 1; nodeCount <= input.nodeCount + 20; nodeCount++) {
    if (fits({ nodeCount })) {
      found.push(`nodeCount ${nodeCount}`);
      break;
    }
  }
  found.push('smaller requests in infra/web-tier.ts or infra/database.ts');
  return found;
}

/** "100m" → 100, "1" → 1000; "128Mi" → 128, "1Gi" → 1024. */
export function parseRequests(requests: { cpu: string; memory: string }): Requests {
  const cpu = requests.cpu.endsWith('m') ? Number(requests.cpu.slice(0, -1)) : Number(requests.cpu) * 1000;
  const memory = requests.memory.endsWith('Gi')
    ? Number(requests.memory.slice(0, -2)) * 1024
    : Number(requests.memory.replace(/Mi$/, ''));
  return { cpuMilli: cpu, memoryMiB: memory };
}
