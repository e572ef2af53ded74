import { CONTROLLER_REPLICAS, CONTROLLER_RESOURCES } from './eks/load-balancer-controller';
import { POD_IDENTITY_AGENT } from './eks/pod-identity';
import { INSTANCE_TYPES, type InstanceType, instanceType } from './instance-types';

/** CPU in millicores, memory in MiB. */
export interface Requests {
  cpuMilli: number;
  memoryMiB: number;
}

interface PodGroup extends Requests {
  name: string;
  count: number;
  /** Prefers the nodes other than the database's (a node affinity), trying that one last. */
  offDataNode?: boolean;
}

/**
 * What EKS runs besides the workload, with the requests of the add-on versions current in 2026
 * (`kubectl describe nodes` shows them): per node, aws-node, kube-proxy, ebs-csi-node and the Pod Identity
 * agent (host network, but a pod slot; its chart sets no requests); once per cluster, two coredns, two
 * ebs-csi-controller and two metrics-server replicas, and the AWS Load Balancer Controller as its chart is given.
 */
const EKS_DAEMONSETS: PodGroup[] = [
  { name: 'aws-node', count: 1, cpuMilli: 25, memoryMiB: 0 },
  { name: 'kube-proxy', count: 1, cpuMilli: 100, memoryMiB: 0 },
  { name: 'ebs-csi-node', count: 1, cpuMilli: 30, memoryMiB: 120 },
  { name: POD_IDENTITY_AGENT.name, count: POD_IDENTITY_AGENT.podsPerNode, cpuMilli: 0, memoryMiB: 0 },
];
const EKS_CLUSTER_PODS: PodGroup[] = [
  { name: 'coredns', count: 2, cpuMilli: 100, memoryMiB: 70 },
  { name: 'ebs-csi-controller', count: 2, cpuMilli: 60, memoryMiB: 240 },
  { name: 'metrics-server', count: 2, cpuMilli: 100, memoryMiB: 200 },
  {
    name: 'aws-load-balancer-controller',
    count: CONTROLLER_REPLICAS,
    ...parseRequests(CONTROLLER_RESOURCES.requests),
    offDataNode: true,
  },
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
  /**
   * The data node's type; undefined picks the smallest of instanceType's family, from instanceType up, that
   * holds both engines' database pods beside the add-on pods there.
   */
  dataInstanceType?: string;
  /** Nodes in all; the first is the data node group's one node, in the zone of the database's volume. */
  nodeCount: number;
  /** The web tier at its autoscaler's maximum; one more pod is added for the rolling update's surge. */
  webMaxReplicas: number;
  web: Requests;
  database: Requests;
}

export interface CapacityReport {
  fits: boolean;
  /** One line for the preview: what is counted against what the nodes offer. */
  summary: string;
  /** One message: what does not fit, by how much, and what to change. Empty when it fits. */
  message: string;
  needed: Requests & { pods: number };
  offered: Requests & { pods: number };
  /** The data node's type: as given, or the one picked. */
  dataInstanceType: string;
}

const mib = (value: number) => (value >= 1024 ? `${(value / 1024).toFixed(2)} GiB` : `${Math.round(value)} MiB`);

const DATABASE = 'database';
/** During an engine switch: the old engine's pod, which the new engine's web pods copy from, runs beside the new one. */
const SWITCH_DATABASE = 'database of the other engine';

/**
 * Whether the workload can be scheduled, placed in the order the cluster places it: the add-ons first
 * (they run before the workload, at a priority nothing here preempts), then the database on the one
 * node in its volume's zone (its PriorityClass puts it ahead of any web pod there), then, as during an
 * engine switch, the other engine's database on that node too (every engine's disk is in that zone, and
 * the two share one PriorityClass, so neither preempts the other), then the web pods.
 */
export function checkCapacity(input: CapacityInput): CapacityReport {
  const sized = { ...input, dataInstanceType: input.dataInstanceType ?? smallestDataType(input) };
  const { unplaced, needed, offered, podsPerNode, dataNodeLeft } = schedule(sized);
  const nodes =
    sized.dataInstanceType === input.instanceType
      ? `${input.nodeCount} x ${input.instanceType}`
      : `1 x ${sized.dataInstanceType} (the data node)${input.nodeCount > 1 ? ` + ${input.nodeCount - 1} x ${input.instanceType}` : ''}`;
  const systemPods = [
    ...EKS_DAEMONSETS.map((pod) => ({ ...pod, count: pod.count * input.nodeCount })),
    ...EKS_CLUSTER_PODS,
  ]
    .map((pod) => `${pod.count} ${pod.name}`)
    .join(', ');
  const summary =
    `capacity of ${nodes} (the VPC CNI allows ${podsPerNode} pods a ${input.instanceType}): ` +
    `${needed.pods} of ${offered.pods} pods, ${needed.cpuMilli}m of ${offered.cpuMilli}m CPU, ${mib(needed.memoryMiB)} of ${mib(offered.memoryMiB)} requested, ` +
    `counting the web tier at ${input.webMaxReplicas} replicas plus one rolling-update pod, both engines' databases as during an engine switch, and ${systemPods}`;
  const report = { needed, offered, summary, dataInstanceType: sized.dataInstanceType };
  if (unplaced.length === 0) return { fits: true, message: '', ...report };

  const dataNode = `the data node group's one ${sized.dataInstanceType}`;
  const left = `that node has ${dataNodeLeft.cpuMilli}m and ${mib(dataNodeLeft.memoryMiB)} left beside the daemon sets and the add-on pods there`;
  if (unplaced.some((pod) => pod.name === DATABASE)) {
    const message =
      `the database does not fit the node in its volume's zone (${dataNode}): ` +
      `it requests ${input.database.cpuMilli}m CPU and ${mib(input.database.memoryMiB)}; ${left}. ` +
      `Change one of: ${suggestions(sized, false).join('; ')}.`;
    return { fits: false, message, ...report };
  }
  if (unplaced.some((pod) => pod.name === SWITCH_DATABASE)) {
    const message =
      `an engine switch cannot be scheduled: both engines' database pods run on the node in their disks' zone ` +
      `(${dataNode}) until the web pods have copied the data, and they request ` +
      `2 x ${input.database.cpuMilli}m CPU and 2 x ${mib(input.database.memoryMiB)}; ${left}. ` +
      `Change one of: ${suggestions(sized, false).join('; ')}.`;
    return { fits: false, message, ...report };
  }

  const short = [
    needed.cpuMilli > offered.cpuMilli ? `CPU by ${needed.cpuMilli - offered.cpuMilli}m` : '',
    needed.memoryMiB > offered.memoryMiB ? `memory by ${mib(needed.memoryMiB - offered.memoryMiB)}` : '',
    needed.pods > offered.pods
      ? `pods by ${needed.pods - offered.pods} (the VPC CNI allows ${podsPerNode} a node${
          sized.dataInstanceType === input.instanceType
            ? ''
            : `, ${instanceType(sized.dataInstanceType).maxPods} on the data node`
        })`
      : '',
  ].filter(Boolean);
  const unplacedNames = [...new Set(unplaced.map((pod) => pod.name))]
    .map((name) => `${unplaced.filter((pod) => pod.name === name).length} ${name}`)
    .join(', ');
  const message =
    `the workload does not fit ${nodes}: ${unplacedNames} pod(s) cannot be scheduled. ` +
    `It requests ${needed.cpuMilli}m CPU, ${mib(needed.memoryMiB)} and ${needed.pods} pods (the web tier at ${input.webMaxReplicas} replicas plus one rolling-update pod, both engines' databases as during an engine switch, and the EKS system pods); ` +
    `the nodes offer ${offered.cpuMilli}m, ${mib(offered.memoryMiB)} and ${offered.pods} pods` +
    (short.length ? `: short of ${short.join(', ')}` : ' but not on any one node') +
    `. Change one of: ${suggestions(sized, true).join('; ')}.`;
  return { fits: false, message, ...report };
}

/** The family's types from `instanceType` up, cheapest first. */
function familyFrom(instanceTypeName: string): string[] {
  const family = instanceTypeName.split('.')[0];
  const from = instanceType(instanceTypeName);
  return Object.entries(INSTANCE_TYPES)
    .filter(([name, type]) => name.startsWith(`${family}.`) && type.hourlyUsd >= from.hourlyUsd)
    .sort(([, a], [, b]) => a.hourlyUsd - b.hourlyUsd)
    .map(([name]) => name);
}

/** The smallest data node that holds both engines' database pods; instanceType when none does (the check says so). */
function smallestDataType(input: CapacityInput): string {
  const holdsBoth = (dataInstanceType: string) =>
    !schedule({ ...input, dataInstanceType }).unplaced.some((pod) => [DATABASE, SWITCH_DATABASE].includes(pod.name));
  return familyFrom(input.instanceType).find(holdsBoth) ?? input.instanceType;
}

type Node = Requests & { pods: number };

function schedule(input: CapacityInput & { dataInstanceType: string }) {
  const perNode = allocatable(instanceType(input.instanceType));
  const perDataNode = allocatable(instanceType(input.dataInstanceType));
  const daemon = total(EKS_DAEMONSETS);
  const nodes: Node[] = Array.from({ length: input.nodeCount }, (_, index) => {
    const node = index === 0 ? perDataNode : perNode;
    return {
      cpuMilli: node.cpuMilli - daemon.cpuMilli,
      memoryMiB: node.memoryMiB - daemon.memoryMiB,
      pods: node.pods - daemon.pods,
    };
  });
  const unplaced: PodGroup[] = [];
  const place = (pod: PodGroup, candidates: Node[]) => {
    const node = candidates.find((n) => n.cpuMilli >= pod.cpuMilli && n.memoryMiB >= pod.memoryMiB && n.pods >= 1);
    if (!node) return unplaced.push(pod);
    node.cpuMilli -= pod.cpuMilli;
    node.memoryMiB -= pod.memoryMiB;
    node.pods -= 1;
  };
  // Each add-on's replicas prefer different nodes (anti-affinity): replica i tries node i first.
  for (const group of EKS_CLUSTER_PODS) {
    for (let replica = 0; replica < group.count; replica++) {
      const first = (replica + (group.offDataNode ? 1 : 0)) % nodes.length;
      place(group, [...nodes.slice(first), ...nodes.slice(0, first)]);
    }
  }
  const dataNode = nodes[0] as Node;
  const dataNodeLeft = { ...dataNode };
  const databases: PodGroup[] = [DATABASE, SWITCH_DATABASE].map((name) => ({ name, count: 1, ...input.database }));
  for (const database of databases) place(database, [dataNode]);
  const web: PodGroup = { name: 'web', count: input.webMaxReplicas + 1, ...input.web };
  for (let replica = 0; replica < web.count; replica++) place(web, nodes);

  const workload = total([...EKS_CLUSTER_PODS, web, ...databases]);
  return {
    unplaced,
    dataNodeLeft,
    podsPerNode: perNode.pods,
    needed: {
      cpuMilli: workload.cpuMilli + daemon.cpuMilli * input.nodeCount,
      memoryMiB: workload.memoryMiB + daemon.memoryMiB * input.nodeCount,
      pods: workload.pods + daemon.pods * input.nodeCount,
    },
    offered: {
      cpuMilli: perDataNode.cpuMilli + perNode.cpuMilli * (input.nodeCount - 1),
      memoryMiB: perDataNode.memoryMiB + perNode.memoryMiB * (input.nodeCount - 1),
      pods: perDataNode.pods + perNode.pods * (input.nodeCount - 1),
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

/**
 * The smallest changes that make the workload fit, one setting at a time; for the databases' node, only
 * a larger data node helps (web pods give way to them, and more nodes add none in their zone).
 */
function suggestions(input: CapacityInput & { dataInstanceType: string }, wholeWorkload: boolean): string[] {
  const fits = (change: Partial<CapacityInput>) => schedule({ ...input, ...change }).unplaced.length === 0;
  const larger = (key: 'instanceType' | 'dataInstanceType') =>
    familyFrom(input[key])
      .slice(1)
      .find((name) => fits({ [key]: name }));
  const found: string[] = [];
  for (let replicas = input.webMaxReplicas - 1; wholeWorkload && replicas >= 1; replicas--) {
    if (fits({ webMaxReplicas: replicas })) {
      found.push(`webMaxReplicas ${replicas} or fewer`);
      break;
    }
  }
  const key = wholeWorkload ? 'instanceType' : 'dataInstanceType';
  const type = larger(key);
  if (type) found.push(`${key} ${type}`);
  for (let nodeCount = input.nodeCount + 1; wholeWorkload && nodeCount <= input.nodeCount + 20; nodeCount++) {
    if (fits({ nodeCount })) {
      found.push(`nodeCount ${nodeCount}`);
      break;
    }
  }
  found.push(
    wholeWorkload
      ? 'smaller requests in infra/web-tier.ts or infra/database.ts'
      : 'smaller requests in infra/database.ts',
  );
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
