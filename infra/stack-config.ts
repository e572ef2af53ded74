import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';

interface ProjectFile {
  config: Record<string, { type: string; default?: unknown }>;
}

/**
 * The configuration `pulumi` would hand the program for a stack: the project's typed defaults from
 * Pulumi.yaml, then Pulumi.<stack>.yaml, then `overrides` (project keys unprefixed), keyed as
 * "two-tier:key", values as strings.
 */
export function stackConfig(
  repo: string,
  stack: string,
  overrides: Record<string, unknown> = {},
  secretOverrides: string[] = [],
): { config: Record<string, string>; secretKeys: string[] } {
  const project = yaml.load(readFileSync(join(repo, 'Pulumi.yaml'), 'utf8')) as ProjectFile;
  const stackFile = readStackFile(repo, stack);
  const values: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(project.config)) {
    if (spec.default !== undefined) values[`two-tier:${key}`] = spec.default;
  }
  Object.assign(values, stackFile.config);
  for (const [key, value] of Object.entries(overrides)) values[key.includes(':') ? key : `two-tier:${key}`] = value;
  // Pulumi hands the program arrays and objects as JSON, scalars as text.
  const config = Object.fromEntries(
    Object.entries(values).map(([key, value]) => [
      key,
      typeof value === 'object' ? JSON.stringify(value) : String(value),
    ]),
  );
  return { config, secretKeys: secretOverrides.map((key) => `two-tier:${key}`) };
}

/** Every key the stack files set, to check that each is declared in Pulumi.yaml. */
export function stackFileKeys(repo: string, stack: string): string[] {
  return Object.keys(readStackFile(repo, stack).config);
}

function readStackFile(repo: string, stack: string): { config: Record<string, unknown> } {
  return yaml.load(readFileSync(join(repo, `Pulumi.${stack}.yaml`), 'utf8')) as { config: Record<string, unknown> };
}
