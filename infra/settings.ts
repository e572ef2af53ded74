import * as pulumi from '@pulumi/pulumi';

/** A config value outside its allowed set: one line at preview that names the key and the choices. */
export function oneOf<T extends string>(key: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new pulumi.RunError(
    `config two-tier:${key} must be one of ${allowed.join(', ')}; it is "${value}" (set it with: pulumi config set ${key} <value>)`,
  );
}

/** A whole number config value within bounds. */
export function between(key: string, value: number, min: number, max: number): number {
  if (Number.isInteger(value) && value >= min && value <= max) return value;
  throw new pulumi.RunError(`config two-tier:${key} must be a whole number from ${min} to ${max}; it is ${value}`);
}
