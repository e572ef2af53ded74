import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Cluster, type KubeObject } from '../e2e/cluster';
import { eventually } from '../e2e/workloads';
import { freePort } from '../support/ports';
import { TOOLCHAIN_BIN } from '../support/toolchain';
import { CLUSTER_DNS_IP, coreDns, type Images, localPathStorage, metricsServer, networkPolicies } from './addons';
import { type Component, kill, Processes, statusOf } from './components';
import { cgroupProcesses, HostLedger, NODE_SYSCTLS } from './host';
import { kubeconfig, Pki } from './pki';

const run = promisify(execFile);

/** Where scripts/node-images.sh leaves its image archives and their index. */
export const NODE_IMAGES = process.env.TWO_TIER_NODE_IMAGES ?? join(homedir(), '.cache', 'two-tier-node-images');
const NODE_NAME = 'two-tier-node';
const POD_CIDR = '10.244.0.0/24';
const SERVICE_CIDR = '10.96.0.0/16';
const SERVICE_IP = '10.96.0.1';
const CGROUP = 'kubepods';
const BINARIES = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubectl',
  'kubelet',
  'kube-proxy',
] as const;
type Binary = (typeof BINARIES)[number];

/** Why a real node cannot start on this machine, or false when it can. */
export function realNodeUnavailable(): string | false {
  if (process.getuid?.() !== 0) return 'a real node needs root';
  const missing = BINARIES.filter((binary) => !existsSync(join(TOOLCHAIN_BIN, binary)));
  if (missing.length > 0) return `the toolchain lacks ${missing.join(', ')}: run scripts/toolchain.sh`;
  if (!existsSync(join(NODE_IMAGES, 'index.tsv'))) return `no images in ${NODE_IMAGES}: run scripts/node-images.sh`;
  for (const tool of ['containerd', 'ctr', 'runc', 'nft', 'openssl']) {
    if (!['/usr/bin', '/usr/sbin'].some((dir) => existsSync(join(dir, tool)))) return `${tool} is not installed`;
  }
  return false;
}

/** The images scripts/node-images.sh built: name -> reference and archive. */
export async function nodeImages(): Promise<{ refs: Images; archives: string[] }> {
  const rows = (await readFile(join(NODE_IMAGES, 'index.tsv'), 'utf8')).split('\n').filter(Boolean);
  const refs: Images = {};
  const archives: string[] = [];
  for (const row of rows) {
    const [name, ref, archive] = row.split('\t');
    refs[name] = ref;
    archives.push(archive);
  }
  return { refs, archives };
}

/**
 * A single real Kubernetes node on this machine: etcd, the API server (PodSecurity admission,
 * Node and RBAC authorization), controller-manager and scheduler; containerd and runc running real
 * containers; the kubelet; kube-proxy (iptables); a NetworkPolicy enforcer; CoreDNS, metrics-server
 * and a `standard` StorageClass as on kind. Pods and Services live on ranges that exist only in
 * this machine's own network namespaces; NodePorts answer on 127.0.0.1. `delete` stops every process
 * it started by PID and undoes every change to the host, even after a failed start.
 */
export class RealNode extends Cluster {
  private readonly processes: Processes;
  private ledger: HostLedger | undefined;
  private containerdSocket = '';
  readonly lines: string[] = [];

  private constructor(
    private readonly folder: string,
    private readonly report: (line: string) => void,
  ) {
    super(join(TOOLCHAIN_BIN, 'kubectl'), join(folder, 'admin.kubeconfig'), 'two-tier-node');
    this.processes = new Processes(folder, (line) => this.say(line));
  }

  /** Starts the node; on any failure it is taken down again before the error is thrown. */
  static async create(report: (line: string) => void = console.log): Promise<RealNode> {
    const why = realNodeUnavailable();
    if (why) throw new Error(`cannot start a real node: ${why}`);
    const node = new RealNode(await mkdtemp(join(tmpdir(), 'two-tier-node-')), report);
    // Interrupted (Ctrl-C, a CI timeout), the node still leaves the machine as it found it.
    // A Ctrl-C reaches this process twice (SIGINT from the terminal, SIGTERM from the test runner):
    // one teardown, and the signals after the first wait for it instead of ending the process.
    let interruptedBy: NodeJS.Signals | undefined;
    const interrupted = (signal: NodeJS.Signals) => {
      if (interruptedBy) return node.say(`${signal}: the node is being taken down (${interruptedBy})`);
      interruptedBy = signal;
      node.say(`${signal}: taking the node down`);
      void node.delete().finally(() => process.exit(128 + (signal === 'SIGINT' ? 2 : 15)));
    };
    // Alone: the test runner's own handlers would end the process before the node is down.
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.removeAllListeners(signal).on(signal, interrupted);
    try {
      await node.up();
      return node;
    } catch (error) {
      node.say(`start failed: ${(error as Error).message}`);
      await node.delete();
      throw error;
    }
  }

  private say(line: string): void {
    this.lines.push(line);
    this.report(`node: ${line}`);
  }

  /** One step of the start, with its time, like kind's status lines. */
  private async action<T>(name: string, body: () => Promise<T>): Promise<T> {
    const started = performance.now();
    this.say(`${name} ...`);
    const result = await body();
    this.say(`${name}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return result;
  }

  private async up(): Promise<void> {
    const folder = this.folder;
    const bin = Object.fromEntries(BINARIES.map((b) => [b, join(TOOLCHAIN_BIN, b)])) as Record<Binary, string>;
    const images = await nodeImages();
    for (const sub of ['logs', 'pki', 'etcd', 'containerd', 'cni', 'kubelet', 'pod-logs', 'volumes']) {
      await mkdir(join(folder, sub), { recursive: true });
    }

    this.ledger = await this.action('recording the host', () => HostLedger.take(CGROUP));
    const nodeIp = await this.action('finding the node address', machineAddress);

    const ports = {
      etcd: await freePort(),
      etcdPeer: await freePort(),
      apiserver: await freePort(),
      controllerManager: await freePort(),
      scheduler: await freePort(),
      kubelet: await freePort(),
      kubeletHealth: await freePort(),
      proxyHealth: await freePort(),
      proxyMetrics: await freePort(),
    };
    const pkiFolder = join(folder, 'pki');
    const server = `https://127.0.0.1:${ports.apiserver}`;

    const files = await this.action('writing certificates and configuration', async () => {
      const pki = await Pki.create(pkiFolder);
      const issue = (file: string, commonName: string, organization?: string) =>
        pki.issue({ file, commonName, organization });
      const apiserver = await pki.issue({
        file: 'apiserver',
        commonName: 'kube-apiserver',
        ips: ['127.0.0.1', SERVICE_IP, nodeIp],
        dnsNames: [
          'kubernetes',
          'kubernetes.default',
          'kubernetes.default.svc',
          'kubernetes.default.svc.cluster.local',
        ],
      });
      const kubeletServing = await pki.issue({
        file: 'kubelet-serving',
        commonName: NODE_NAME,
        ips: [nodeIp, '127.0.0.1'],
      });
      const identities = {
        admin: await issue('admin', 'two-tier-admin', 'system:masters'),
        controllerManager: await issue('controller-manager', 'system:kube-controller-manager'),
        scheduler: await issue('scheduler', 'system:kube-scheduler'),
        kubelet: await issue('kubelet', `system:node:${NODE_NAME}`, 'system:nodes'),
        proxy: await issue('kube-proxy', 'system:kube-proxy'),
        apiserverKubeletClient: await issue(
          'apiserver-kubelet-client',
          'kube-apiserver-kubelet-client',
          'system:masters',
        ),
        frontProxy: await issue('front-proxy-client', 'front-proxy-client'),
      };
      const serviceAccount = await pki.serviceAccountKeys();
      const kubeconfigs: Record<string, string> = {};
      for (const [who, pair] of Object.entries(identities)) {
        kubeconfigs[who] = join(folder, `${who}.kubeconfig`);
        await writeFile(kubeconfigs[who], kubeconfig(server, pki.ca.cert, pair));
      }
      await writeFile(this.kubeconfig, kubeconfig(server, pki.ca.cert, identities.admin, this.context));
      return { ca: pki.ca, apiserver, kubeletServing, identities, serviceAccount, kubeconfigs };
    });
    const tls = {
      ca: await readFile(files.ca.cert),
      cert: await readFile(files.identities.admin.cert),
      key: await readFile(files.identities.admin.key),
    };

    const controlPlane: Component[] = [
      {
        name: 'etcd',
        command: bin.etcd,
        args: [
          `--data-dir=${join(folder, 'etcd')}`,
          `--listen-client-urls=http://127.0.0.1:${ports.etcd}`,
          `--advertise-client-urls=http://127.0.0.1:${ports.etcd}`,
          `--listen-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
          `--initial-advertise-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
          `--initial-cluster=default=http://127.0.0.1:${ports.etcdPeer}`,
          '--unsafe-no-fsync',
        ],
        ready: async () => (await statusOf(`http://127.0.0.1:${ports.etcd}/health`)) === 200,
        startSeconds: 30,
        stopSeconds: 10,
      },
      {
        name: 'kube-apiserver',
        command: bin['kube-apiserver'],
        args: [
          `--etcd-servers=http://127.0.0.1:${ports.etcd}`,
          `--secure-port=${ports.apiserver}`,
          `--advertise-address=${nodeIp}`,
          `--service-cluster-ip-range=${SERVICE_CIDR}`,
          `--client-ca-file=${files.ca.cert}`,
          `--tls-cert-file=${files.apiserver.cert}`,
          `--tls-private-key-file=${files.apiserver.key}`,
          `--kubelet-client-certificate=${files.identities.apiserverKubeletClient.cert}`,
          `--kubelet-client-key=${files.identities.apiserverKubeletClient.key}`,
          `--kubelet-certificate-authority=${files.ca.cert}`,
          // The node's name does not resolve on this machine; its address does.
          '--kubelet-preferred-address-types=InternalIP,Hostname',
          `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
          `--service-account-key-file=${files.serviceAccount.publicKey}`,
          `--service-account-signing-key-file=${files.serviceAccount.privateKey}`,
          '--authorization-mode=Node,RBAC',
          '--enable-admission-plugins=NodeRestriction',
          // The aggregated metrics API (metrics-server) needs the front proxy's identity.
          `--requestheader-client-ca-file=${files.ca.cert}`,
          '--requestheader-allowed-names=front-proxy-client',
          '--requestheader-username-headers=X-Remote-User',
          '--requestheader-group-headers=X-Remote-Group',
          '--requestheader-extra-headers-prefix=X-Remote-Extra-',
          `--proxy-client-cert-file=${files.identities.frontProxy.cert}`,
          `--proxy-client-key-file=${files.identities.frontProxy.key}`,
          '--enable-aggregator-routing=true',
          '--allow-privileged=true',
        ],
        ready: async () => (await statusOf(`${server}/readyz`, tls)) === 200,
        startSeconds: 90,
        // It can take a minute to exit by itself on SIGTERM; nothing is lost by a shorter wait.
        stopSeconds: 5,
      },
      controller('kube-controller-manager', files.kubeconfigs.controllerManager, ports.controllerManager, [
        `--service-account-private-key-file=${files.serviceAccount.privateKey}`,
        `--root-ca-file=${files.ca.cert}`,
        `--cluster-signing-cert-file=${files.ca.cert}`,
        `--cluster-signing-key-file=${files.ca.key}`,
        '--use-service-account-credentials=true',
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
      ]),
      controller('kube-scheduler', files.kubeconfigs.scheduler, ports.scheduler, []),
    ];
    await this.action('starting the control plane', async () => {
      for (const component of controlPlane) await this.processes.start(component);
    });

    this.containerdSocket = join(folder, 'containerd', 'containerd.sock');
    const containerdConfig = join(folder, 'containerd', 'config.toml');
    await writeFile(containerdConfig, containerdToml(folder, images.refs.pause));
    await writeFile(join(folder, 'cni', '10-two-tier.conflist'), cniConfig(folder));
    await this.action('starting containerd', () =>
      this.processes.start({
        name: 'containerd',
        command: 'containerd',
        args: ['--config', containerdConfig],
        ready: async () => (await this.ctr(['version'])).includes('Server'),
        startSeconds: 30,
        stopSeconds: 10,
        beforeStop: () => this.endContainers(),
      }),
    );
    await this.action(`importing ${images.archives.length} images`, async () => {
      for (const archive of images.archives) await this.ctr(['images', 'import', archive]);
    });

    for (const [name, value] of Object.entries(NODE_SYSCTLS)) await this.ledger.set(name, value);
    const kubeletConfig = join(folder, 'kubelet', 'config.yaml');
    await writeFile(
      kubeletConfig,
      JSON.stringify({
        apiVersion: 'kubelet.config.k8s.io/v1beta1',
        kind: 'KubeletConfiguration',
        address: nodeIp,
        port: ports.kubelet,
        readOnlyPort: 0,
        healthzBindAddress: '127.0.0.1',
        healthzPort: ports.kubeletHealth,
        authentication: {
          anonymous: { enabled: false },
          webhook: { enabled: true },
          x509: { clientCAFile: files.ca.cert },
        },
        authorization: { mode: 'Webhook' },
        tlsCertFile: files.kubeletServing.cert,
        tlsPrivateKeyFile: files.kubeletServing.key,
        containerRuntimeEndpoint: `unix://${this.containerdSocket}`,
        cgroupDriver: 'cgroupfs',
        cgroupRoot: '/',
        // This machine has cgroup v1 and swap may exist; the kubelet refuses both unless told.
        failCgroupV1: false,
        failSwapOn: false,
        seccompDefault: true,
        clusterDNS: [CLUSTER_DNS_IP],
        clusterDomain: 'cluster.local',
        resolvConf: join(folder, 'kubelet', 'resolv.conf'),
        podLogsDir: join(folder, 'pod-logs'),
        // The images cannot be pulled again: never collect them; and no eviction on a busy disk.
        imageGCHighThresholdPercent: 100,
        imageGCLowThresholdPercent: 99,
        evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
        serializeImagePulls: false,
      }),
    );
    await writeFile(join(folder, 'kubelet', 'resolv.conf'), 'nameserver 127.0.0.1\n');
    await this.action('starting the kubelet', () =>
      this.processes.start({
        name: 'kubelet',
        command: bin.kubelet,
        args: [
          `--config=${kubeletConfig}`,
          `--kubeconfig=${files.kubeconfigs.kubelet}`,
          `--root-dir=${join(folder, 'kubelet', 'root')}`,
          `--cert-dir=${join(folder, 'kubelet', 'pki')}`,
          `--node-ip=${nodeIp}`,
          `--hostname-override=${NODE_NAME}`,
        ],
        ready: async () => {
          const node = await this.get('node', NODE_NAME);
          return Boolean(
            node?.status?.conditions?.some(
              (c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True',
            ),
          );
        },
        startSeconds: 90,
        stopSeconds: 10,
      }),
    );

    const proxyConfig = join(folder, 'kube-proxy.yaml');
    await writeFile(
      proxyConfig,
      JSON.stringify({
        apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
        kind: 'KubeProxyConfiguration',
        clientConnection: { kubeconfig: files.kubeconfigs.proxy },
        mode: 'iptables',
        clusterCIDR: POD_CIDR,
        hostnameOverride: NODE_NAME,
        healthzBindAddress: `127.0.0.1:${ports.proxyHealth}`,
        metricsBindAddress: `127.0.0.1:${ports.proxyMetrics}`,
        // Leave the host's conntrack limits and timeouts as they are.
        conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
      }),
    );
    await this.action('starting kube-proxy', async () => {
      await this.processes.start({
        name: 'kube-proxy',
        command: bin['kube-proxy'],
        args: [`--config=${proxyConfig}`],
        ready: async () => (await statusOf(`http://127.0.0.1:${ports.proxyHealth}/healthz`)) === 200,
        startSeconds: 30,
        stopSeconds: 5,
      });
    });

    await this.action(
      'starting CoreDNS, metrics-server, the NetworkPolicy enforcer and the standard StorageClass',
      async () => {
        await this.apply({
          apiVersion: 'v1',
          kind: 'List',
          items: [
            ...coreDns(images.refs),
            ...metricsServer(images.refs),
            ...networkPolicies(images.refs),
            ...localPathStorage(images.refs, join(folder, 'volumes')),
          ],
        });
        for (const [namespace, name] of [
          ['kube-system', 'deployment/coredns'],
          ['kube-system', 'deployment/metrics-server'],
          ['kube-system', 'daemonset/kube-network-policies'],
          ['local-path-storage', 'deployment/local-path-provisioner'],
        ]) {
          await this.kubectl(['rollout', 'status', name, '-n', namespace, '--timeout=180s']);
        }
        await eventually(
          'the metrics API',
          async () => {
            const text = await this.kubectl(['get', '--raw', '/apis/metrics.k8s.io/v1beta1/nodes']).catch(() => '');
            return text.includes(NODE_NAME);
          },
          120,
        );
      },
    );
  }

  /** containerd's own client, on this node's socket and the Kubernetes namespace. */
  async ctr(args: string[]): Promise<string> {
    const { stdout } = await run('ctr', ['--address', this.containerdSocket, '--namespace', 'k8s.io', ...args], {
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  }

  /**
   * The host PID of a container of a pod while its task runs, found by containerd's own labels (the
   * kubelet reports the container in the pod's status only a relist later), or undefined.
   */
  async runningContainerPid(pod: string, container: string): Promise<number | undefined> {
    const ids = (
      await this.ctr([
        'containers',
        'list',
        '--quiet',
        `labels."io.kubernetes.pod.name"==${pod},labels."io.kubernetes.container.name"==${container}`,
      ])
    )
      .split('\n')
      .filter(Boolean);
    const tasks = await this.runningTasks();
    return ids.map((id) => tasks.get(id)).find((pid) => pid !== undefined);
  }

  /** The host PID of a pod's first container, as containerd reports its task. */
  async containerPid(pod: KubeObject): Promise<number> {
    const id = String(pod.status?.containerStatuses?.[0]?.containerID ?? '').replace(/^containerd:\/\//, '');
    const pid = id ? (await this.runningTasks()).get(id) : undefined;
    if (pid === undefined) throw new Error(`no running task for ${pod.metadata.name} (${id})`);
    return pid;
  }

  /** containerd's running tasks: container id to host PID. */
  private async runningTasks(): Promise<Map<string, number>> {
    const tasks = new Map<string, number>();
    for (const row of (await this.ctr(['tasks', 'list'])).split('\n')) {
      const [id, pid, status] = row.trim().split(/\s+/);
      if (id && status === 'RUNNING' && Number(pid) > 0) tasks.set(id, Number(pid));
    }
    return tasks;
  }

  /** Ends every container before containerd stops: its tasks through containerd, then whatever is left in the pods' cgroups. */
  private async endContainers(): Promise<void> {
    const tasks = (await this.ctr(['tasks', 'list', '--quiet']).catch(() => '')).split('\n').filter(Boolean);
    for (const task of tasks) await this.ctr(['tasks', 'kill', '--all', '--signal', 'SIGKILL', task]).catch(() => '');
    await sleep(500);
    for (const task of tasks) await this.ctr(['tasks', 'delete', '--force', task]).catch(() => '');
    for (const controller of ['pids', 'memory', 'cpu']) {
      for (const pid of await cgroupProcesses(join('/sys/fs/cgroup', controller, CGROUP))) kill(pid);
    }
    this.say(`ended ${tasks.length} container tasks`);
  }

  /** Stops every process the node started, by PID, and undoes every change to the host. */
  async delete(): Promise<void> {
    this.deleting ??= this.takeDown();
    return this.deleting;
  }

  private deleting: Promise<void> | undefined;

  private async takeDown(): Promise<void> {
    await this.processes.stopAll();
    // Leftover shims (they outlive containerd by design) are this node's: their sockets are in its folder.
    for (const pid of await shimsOf(this.folder)) kill(pid);
    if (this.ledger) {
      for (const line of await this.ledger.restore(this.folder)) this.say(line);
    }
    await rm(this.folder, { recursive: true, force: true });
  }
}

/** The controller-manager or the scheduler: one identity for all it does, on loopback, no leader election. */
function controller(name: Binary, identity: string, port: number, args: string[]): Component {
  return {
    name,
    command: join(TOOLCHAIN_BIN, name),
    args: [
      `--kubeconfig=${identity}`,
      `--authentication-kubeconfig=${identity}`,
      `--authorization-kubeconfig=${identity}`,
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      `--secure-port=${port}`,
      ...args,
    ],
    ready: async () => (await statusOf(`https://127.0.0.1:${port}/healthz`, {})) === 200,
    startSeconds: 60,
    stopSeconds: 5,
  };
}

/** The machine's own address: the first global IPv4 address (the node's InternalIP). */
async function machineAddress(): Promise<string> {
  const { stdout } = await run('ip', ['-4', '-o', 'addr', 'show', 'scope', 'global']);
  const address = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(stdout)?.[1];
  if (!address) throw new Error('this machine has no global IPv4 address for the node');
  return address;
}

/** containerd-shim processes whose command line names this node's folder. */
async function shimsOf(folder: string): Promise<number[]> {
  const { stdout } = await run('pgrep', ['-f', `containerd-shim.*${folder}`]).catch(() => ({ stdout: '' }));
  return stdout.split('\n').filter(Boolean).map(Number);
}

function containerdToml(folder: string, pauseImage: string): string {
  const dir = join(folder, 'containerd');
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "${dir}/containerd.sock"
[ttrpc]
  address = "${dir}/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${pauseImage}"
  # runc cannot set the sandbox's oom_score_adj below the runtime's own without CAP_SYS_RESOURCE.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${folder}/cni"
`;
}

/** A bridge on the pod range, addresses from host-local kept in the node's folder, and hostPort mapping. */
function cniConfig(folder: string): string {
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: 'two-tier',
    plugins: [
      {
        type: 'bridge',
        bridge: 'tt-cni0',
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          dataDir: join(folder, 'cni', 'ipam'),
          ranges: [[{ subnet: POD_CIDR }]],
          routes: [{ dst: '0.0.0.0/0' }],
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  });
}
