import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import * as aws from '@pulumi/aws';
import * as command from '@pulumi/command';
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';

export type ImageDestination =
  | { readonly kind: 'ecr' }
  | {
      readonly kind: 'local';
      readonly loader: 'kind' | 'minikube' | 'none';
      readonly kindClusterName: string;
      /** Changes when the local cluster is recreated, so the image is loaded into the new one. */
      readonly clusterIdentity: string;
    };

export interface WebImageArgs {
  /** The project's directory on this machine: only read, to hash the sources; never a resource input. */
  readonly projectDir: string;
  /** The build context relative to the project (the service is an npm workspace of its root), so every checkout builds the same inputs. */
  readonly context: string;
  /** The Dockerfile, relative to the context. */
  readonly dockerfile: string;
  /** Paths under the context whose content decides the local tag. */
  readonly sources: string[];
  /** Push to a new ECR repository, or keep the image local and load it into the local cluster. */
  readonly destination: ImageDestination;
  /** The repository (ECR) or image (local) name. */
  readonly repositoryName: string;
  /** The nodes' platform, e.g. linux/amd64. */
  readonly platform: string;
}

/** How many images the ECR lifecycle rule keeps. */
export const IMAGES_KEPT = 5;

/**
 * The web tier's image, built from service/Dockerfile for the nodes' platform. It is not built at preview,
 * so a pull-request preview needs no Docker daemon. On EKS it is pushed to ECR and referenced by
 * digest; locally its tag is the hash of its sources, so a code change rolls the pods.
 */
export class WebImage extends pulumi.ComponentResource {
  /** What the pods run: repository@sha256:… on ECR, name:content-hash locally. */
  public readonly ref: pulumi.Output<string>;
  /** Resources that must exist before a pod can pull the image (the load into kind or minikube). */
  public readonly ready: pulumi.Resource[] = [];

  constructor(name: string, args: WebImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super('twotier:infra:WebImage', name, {}, opts);
    // The docker provider resolves both paths against the project directory (pulumi-docker 4.0.1 and later).
    const build = {
      context: args.context,
      dockerfile: posix.join(args.context, args.dockerfile),
      platform: args.platform,
    };
    const tag = sourceHash({ context: join(args.projectDir, args.context), sources: args.sources });

    if (args.destination.kind === 'ecr') {
      const repository = new aws.ecr.Repository(
        `${name}-repo`,
        {
          name: args.repositoryName,
          // Destroy removes the repository with its images: nothing is left to bill.
          forceDelete: true,
          imageScanningConfiguration: { scanOnPush: true },
          imageTagMutability: 'MUTABLE',
          encryptionConfigurations: [{ encryptionType: 'AES256' }],
        },
        { parent: this },
      );
      new aws.ecr.LifecyclePolicy(
        `${name}-keep-last`,
        {
          repository: repository.name,
          policy: JSON.stringify({
            rules: [
              {
                rulePriority: 1,
                description: `keep the last ${IMAGES_KEPT} images`,
                selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: IMAGES_KEPT },
                action: { type: 'expire' },
              },
            ],
          }),
        },
        { parent: this },
      );
      const token = aws.ecr.getAuthorizationTokenOutput({ registryId: repository.registryId }, { parent: this });
      const image = new docker.Image(
        `${name}-image`,
        {
          imageName: pulumi.interpolate`${repository.repositoryUrl}:${tag}`,
          build,
          buildOnPreview: false,
          registry: {
            server: repository.repositoryUrl,
            username: token.userName,
            password: pulumi.secret(token.password),
          },
        },
        { parent: this },
      );
      this.ref = image.repoDigest;
    } else {
      const imageName = `${args.repositoryName}:${tag}`;
      const image = new docker.Image(
        `${name}-image`,
        { imageName, build, buildOnPreview: false, skipPush: true },
        { parent: this },
      );
      const load = loadCommand(args.destination, imageName);
      if (load) {
        this.ready.push(
          new command.local.Command(
            `${name}-load`,
            { create: load, triggers: [image.imageName, args.destination.clusterIdentity] },
            { parent: this, dependsOn: [image] },
          ),
        );
      }
      this.ref = image.imageName;
    }
    this.registerOutputs({ ref: this.ref });
  }
}

/** kind and minikube run their own container runtime: a locally built image must be loaded into it. */
function loadCommand(destination: Extract<ImageDestination, { kind: 'local' }>, image: string): string | undefined {
  switch (destination.loader) {
    case 'kind':
      return `kind load docker-image ${image} --name ${destination.kindClusterName}`;
    case 'minikube':
      return `minikube image load ${image}`;
    case 'none':
      return undefined;
  }
}

/** The first 12 hex digits of a hash over every file under `sources` (paths and contents). */
export function sourceHash({ context, sources }: Pick<WebImageArgs, 'context' | 'sources'>): string {
  const hash = createHash('sha256');
  for (const file of sources.flatMap((source) => filesUnder(join(context, source))).sort()) {
    hash.update(relative(context, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex').slice(0, 12);
}

function filesUnder(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .filter((entry) => entry !== 'node_modules' && entry !== 'dist')
    .flatMap((entry) => filesUnder(join(path, entry)));
}
