/** The real node as the lifecycle uses it: started with the images the stacks deploy, and reached into from the host. */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { nodeImages, RealNode } from '../node/real-node';
import { buildWebImage } from '../node/web-image';
import type { Engine } from './database';
import { copyProject } from './project';
import { eventually, NAMESPACE, podsOf, seconds } from './workloads';

/** What the offline run deploys: the web image built here (and a second reference to it), the stand-ins. */
export interface NodeImages {
  web: string;
  webUpdate: string;
  debian: string;
  database: Record<Engine, string>;
}

/**
 * A real node, with the web image built from service/Dockerfile and imported beside the stand-ins; on
 * any failure the node is taken down again before the error is thrown.
 */
export async function startNode(): Promise<{ node: RealNode; images: NodeImages }> {
  const started = performance.now();
  const node = await RealNode.create((line) => console.log(line));
  let checkout: string | undefined;
  try {
    checkout = await copyProject();
    const { refs } = await nodeImages();
    const built = performance.now();
    const web = await buildWebImage(checkout, refs.node, checkout);
    await node.ctr(['images', 'import', web.archive]);
    console.log(`node: web image ${web.ref} built from service/Dockerfile and imported in ${seconds(built)} s`);
    const webUpdate = `${web.ref}-update`;
    await node.ctr(['images', 'tag', web.ref, webUpdate]);
    console.log(`node: ready for the stacks ${seconds(started)} s after the start`);
    return {
      node,
      images: { web: web.ref, webUpdate, debian: refs.debian, database: { mysql: refs.mysql, mongodb: refs.mongo } },
    };
  } catch (error) {
    await node.delete();
    throw error;
  } finally {
    if (checkout) await rm(checkout, { recursive: true, force: true });
  }
}

/**
 * Kills the database container half-way through its first boot, from this machine: once the data
 * directory on the volume (local-path, a folder here) holds the entrypoint's first files and before the
 * last init script has marked the first boot done. Returns how far into the first boot that was, s.
 */
export async function killFirstBoot(node: RealNode, engine: Engine): Promise<number> {
  let folder: string | undefined;
  await eventually(
    'the database claim bound to a volume',
    async () => {
      const claim = await node.get('persistentvolumeclaim', `db-${engine}-data`, NAMESPACE);
      const volume = claim?.spec.volumeName ? await node.get('persistentvolume', claim.spec.volumeName) : undefined;
      folder = volume?.spec.hostPath?.path ?? volume?.spec.local?.path;
      return folder !== undefined;
    },
    180,
  );
  const state = join(folder as string, 'two-tier');
  const [started, done, data] = [
    join(state, 'first-boot-started'),
    join(state, 'first-boot-done'),
    join(folder as string, 'data'),
  ];
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    if (existsSync(done)) throw new Error('the first boot finished before the test could interrupt it');
    if (existsSync(started) && existsSync(data) && readdirSync(data).length > 0) {
      const [pod] = await podsOf(node, 'database');
      const pid = pod && (await node.runningContainerPid(pod.metadata.name, engine));
      if (pid) {
        process.kill(pid, 'SIGKILL');
        if (existsSync(done)) throw new Error('the first boot finished before the test could interrupt it');
        return (Date.now() - statSync(started).mtimeMs) / 1000;
      }
    }
    await sleep(20);
  }
  throw new Error('no first boot to interrupt within 180 s');
}
