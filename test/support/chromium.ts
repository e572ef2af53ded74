import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { REPO } from './server-process';

/** Debian's Chromium (never a browser download); .ci/run installs it. */
export const CHROMIUM = '/usr/bin/chromium';
/** Screenshots and other files a run leaves for people to look at. */
export const ARTIFACTS = join(REPO, 'test-results');

/** Why the browser cannot run here, or false; in CI a missing Chromium is an error, never a skip. */
export function chromiumMissing(): string | false {
  if (existsSync(CHROMIUM)) return false;
  const reason = `${CHROMIUM} is not installed (apt-get install chromium); .ci/run installs it`;
  if (process.env.CI === 'true') throw new Error(`${reason}; CI must run the browser tests`);
  return reason;
}

/** Headless Chromium with nothing of its own reaching the network: no updates, sync or background requests. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}
