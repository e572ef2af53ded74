import { isIP } from 'node:net';
import envSchema from 'env-schema';
import { type Static, Type } from 'typebox';

const ConfigSchema = Type.Object({
  HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 5000 }),
  /** GET /metrics listens here, apart from the public port. */
  METRICS_PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 9464 }),
  DB_ENGINE: Type.Enum(['mysql', 'mongodb', 'memory'], { default: 'memory' }),
  MYSQL_HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  MYSQL_PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 3306 }),
  MYSQL_USER: Type.String({ minLength: 1, default: 'root' }),
  MYSQL_PASSWORD: Type.String({ default: '' }),
  MYSQL_DATABASE: Type.String({ pattern: '^[A-Za-z0-9_]{1,64}$', default: 'app' }),
  MONGODB_URL: Type.String({ pattern: '^mongodb(\\+srv)?://', default: 'mongodb://127.0.0.1:27017' }),
  MONGODB_DATABASE: Type.String({ pattern: '^[^/\\\\. "$]{1,63}$', default: 'app' }),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  /** Writes (POST /messages, /submit, /data) one client may make per window, in each process. */
  RATE_LIMIT_MAX: Type.Integer({ minimum: 1, maximum: 1_000_000_000, default: 30 }),
  RATE_LIMIT_WINDOW_SECONDS: Type.Integer({ minimum: 1, maximum: 86_400, default: 60 }),
  /**
   * Addresses or CIDR ranges, comma-separated, of the proxies in front of the service (a load balancer, the
   * nodes); their X-Forwarded-For names the client. Empty: the client is the TCP peer, and a client's own
   * X-Forwarded-For is never believed.
   */
  TRUSTED_PROXIES: Type.String({ default: '' }),
});

export type Config = Static<typeof ConfigSchema>;
export type DbEngine = Config['DB_ENGINE'];

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Validates the web tier's environment. `source` defaults to `process.env`; tests pass an object.
 * Unknown variables are ignored; a bad value throws one line that names the variable.
 */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  const known = Object.fromEntries(
    Object.keys(ConfigSchema.properties)
      .filter((name) => source[name] !== undefined)
      .map((name) => [name, source[name]]),
  );
  let config: Config;
  try {
    config = envSchema<Config>({ schema: structuredClone(ConfigSchema), data: known, env: false });
  } catch (error) {
    throw new ConfigError(describe(error));
  }
  if (config.METRICS_PORT === config.PORT) {
    throw new ConfigError(`invalid configuration: METRICS_PORT must differ from PORT (both are ${config.PORT})`);
  }
  const notARange = trustedProxies(config).find((range) => !isAddressRange(range));
  if (notARange !== undefined) {
    throw new ConfigError(
      `invalid configuration: TRUSTED_PROXIES must be addresses or CIDR ranges separated by commas; "${notARange}" is not one`,
    );
  }
  return config;
}

/** TRUSTED_PROXIES as a list; empty when none are trusted. */
export function trustedProxies(config: Config): string[] {
  return config.TRUSTED_PROXIES.split(',')
    .map((range) => range.trim())
    .filter(Boolean);
}

function isAddressRange(range: string): boolean {
  const [address = '', bits, ...rest] = range.split('/');
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128));
}

interface AjvError {
  instancePath: string;
  message?: string;
  params?: { allowedValues?: unknown[] };
}

function describe(error: unknown): string {
  const first = (error as { errors?: AjvError[] }).errors?.[0];
  if (!first) return `invalid configuration: ${(error as Error).message}`;
  const name = first.instancePath.replace(/^\//, '');
  const allowed = first.params?.allowedValues;
  const rule = allowed ? `must be one of ${allowed.join(', ')}` : first.message;
  return `invalid configuration: ${name} ${rule}`;
}
