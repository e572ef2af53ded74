/** A line of a tracked file that sets a password, secret or token to a literal value. */
export interface Finding {
  path: string;
  line: number;
  text: string;
}

const KEY = '[\\w.:-]*(?:password|passwd|secret|token|api[_-]?key)[\\w.-]*';
/** `key: value` or `KEY=value` in configuration (YAML, env files, Dockerfiles, workflows). */
const CONFIG_LINE = new RegExp(`^\\s*-?\\s*["']?${KEY}["']?\\s*[:=]\\s*(.+?)\\s*$`, 'i');
/** `key: 'literal'` or `key = "literal"` in code. */
const CODE_LITERAL = new RegExp(`["']?${KEY}["']?\\s*[:=]\\s*(["'\`])([^"'\`$]{3,})\\1`, 'i');

/** Values that are references or placeholders, not secrets. */
function isReference(value: string): boolean {
  return (
    /^["']?["']?$/.test(value) ||
    /^["']?\$[{(]/.test(value) ||
    /^(secure:|\{|\[|valueFrom|secretKeyRef|true|false|null|~|\|)/.test(value) ||
    /^(string|integer|boolean)$/.test(value) ||
    // GitHub Actions permission levels (id-token: write).
    /^(read|write|none)$/.test(value)
  );
}

const CODE_FILE = /\.(ts|js|mjs|cjs)$/;
/** Settings whose names hold a secret word but whose values are modes, not secrets: EC2's IMDSv2 switch. */
const NOT_A_SECRET = /\bhttpTokens["']?\s*:\s*["'](required|optional)["']/;

export function findLiteralSecrets(path: string, text: string): Finding[] {
  const findings: Finding[] = [];
  text.split('\n').forEach((line, index) => {
    if (/^\s*(#|\/\/|\*)/.test(line)) return;
    if (CODE_FILE.test(path)) {
      if (CODE_LITERAL.test(line.replace(NOT_A_SECRET, '')))
        findings.push({ path, line: index + 1, text: line.trim() });
      return;
    }
    const value = CONFIG_LINE.exec(line)?.[1]?.replace(/\s+#.*$/, '');
    if (value !== undefined && !isReference(value)) findings.push({ path, line: index + 1, text: line.trim() });
  });
  return findings;
}
