/**
 * The database images initialise an empty data directory on their first boot (the server's own files,
 * then the users and the init scripts) and skip all of it on any later boot. A first boot cut short
 * (the pod deleted, the node lost, the memory limit hit) leaves a data directory without the
 * application's user that no later boot repairs. Two markers on the volume, beside the data directory
 * (which must start empty), tell such a volume apart from one that finished: the guard writes the first
 * before the entrypoint starts on an empty directory, the last init script writes the second.
 */

/** Where the markers live: a subdirectory of the data volume of its own. */
export const FIRST_BOOT_STATE = '/var/lib/two-tier';

/** The init script that marks the first boot done; `zz-` sorts it after every other init script. */
export const FIRST_BOOT_DONE_SCRIPT = 'zz-first-boot-done.sh';

const quoted = (path: string) => `'${path.replaceAll("'", `'\\''`)}'`;

/**
 * Runs before the image's entrypoint (`bash -c <guard> first-boot-guard <entrypoint> <args>`): an
 * interrupted first boot never served a client (the entrypoints' temporary servers listen on no
 * network), so its data directory is emptied, said in the pod's log, and the entrypoint starts over.
 * A volume without markers (first booted before they existed) is left as it is.
 */
export function firstBootGuard(dataDir: string, stateDir = FIRST_BOOT_STATE): string {
  const data = quoted(dataDir);
  const started = quoted(`${stateDir}/first-boot-started`);
  const done = quoted(`${stateDir}/first-boot-done`);
  return [
    'set -eu',
    // One line naming the cause: without it a failed guard is an exit code 1 and a bare tool error.
    `trap 'echo "two-tier: the first-boot guard stopped (status $?) at: $BASH_COMMAND; the database was not started." >&2' ERR`,
    `if [ -e ${started} ] && [ ! -e ${done} ]; then`,
    `  echo "two-tier: the first boot of this volume was interrupted before it finished, so the database has no application user and would never get one. Nothing was ever served from it: emptying ${dataDir} and starting the first boot again. Nothing to do; if this line comes back, the lines after it say why the first boot fails." >&2`,
    `  find ${data} -mindepth 1 -delete`,
    'fi',
    `if [ -z "$(ls -A ${data})" ]; then`,
    `  rm -f ${done}`,
    `  touch ${started}`,
    'fi',
    'exec "$@"',
  ].join('\n');
}

/** The content of the last init script: the entrypoint sources it once everything before it succeeded. */
export function firstBootDone(stateDir = FIRST_BOOT_STATE): string {
  return `# Runs last on the first boot of an empty volume: the first boot is complete.\ntouch ${quoted(`${stateDir}/first-boot-done`)}\n`;
}
