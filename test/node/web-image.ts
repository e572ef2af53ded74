import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sourceHash } from '../../infra/image';
import { NODE_IMAGES } from './real-node';

const run = promisify(execFile);

/** The sources whose content names the image, as the program's own local build names it (index.ts). */
const HOST_CA = '/etc/ssl/certs/ca-certificates.crt';
const SOURCES = ['package.json', 'package-lock.json', 'tsconfig.json', 'service'];

/** buildah on the image cache's own storage (scripts/node-images.sh uses the same), never /var/lib/containers. */
export function buildah(args: string[]) {
  const store = join(NODE_IMAGES, 'buildah');
  return run(
    'buildah',
    ['--root', join(store, 'root'), '--runroot', join(store, 'run'), '--storage-driver', 'overlay', ...args],
    { maxBuffer: 64 * 1024 * 1024 },
  );
}

/**
 * The web image, built by buildah from the checkout's own service/Dockerfile with NODE_IMAGE pointed at
 * the locally built Node.js base: the Dockerfile's real `npm ci` and `npm run build` run inside the
 * build. Returns its reference (named by the sources' hash, as the program's local build) and a
 * docker-archive of it for the node to import.
 */
export async function buildWebImage(
  checkout: string,
  nodeImage: string,
  folder: string,
): Promise<{ ref: string; archive: string }> {
  const ref = `localhost/two-tier/web:${sourceHash({ context: checkout, sources: SOURCES })}`;
  await buildah([
    'build',
    '--quiet',
    '--isolation=chroot',
    '--pull=never',
    '--layers=false',
    `--build-arg=NODE_IMAGE=${nodeImage}`,
    // The build's npm trusts what this machine trusts (scripts/node-images.sh mounts the same).
    ...(existsSync(HOST_CA) ? [`--volume=${HOST_CA}:${HOST_CA}:ro`] : []),
    `--file=${join(checkout, 'service', 'Dockerfile')}`,
    `--tag=${ref}`,
    checkout,
  ]).catch((error: { stderr?: string; message: string }) => {
    throw new Error(`buildah could not build service/Dockerfile: ${(error.stderr ?? error.message).slice(-3000)}`);
  });
  const archive = join(folder, 'web-image.tar');
  await rm(archive, { force: true });
  await buildah(['push', '--quiet', ref, `docker-archive:${archive}:${ref}`]);
  return { ref, archive };
}
