/**
 * A steady, bounded stream of requests against the exported url while something changes underneath
 * (an image update, a password change), counting every answer that is not a success: reads from a few
 * loops, and one write every few seconds (the service limits writes per client, and every request here
 * comes from one address).
 */
export class SteadyLoad {
  private running = true;
  private readonly loops: Promise<void>[];
  ok = 0;
  readonly failures: string[] = [];

  /** `writes: false` for reads only: a change during which a write may not be kept (an engine switch). */
  constructor(
    private readonly url: string,
    { readers = 4, writes = true, maxSeconds = 600 } = {},
  ) {
    const deadline = Date.now() + maxSeconds * 1000;
    this.loops = [
      ...Array.from({ length: readers }, () => this.loop(deadline, 20, () => this.request('GET'))),
      ...(writes ? [this.loop(deadline, 5_000, (sequence) => this.request('POST', `steady ${sequence}`))] : []),
    ];
  }

  private async loop(deadline: number, pauseMs: number, send: (sequence: number) => Promise<void>): Promise<void> {
    for (let sequence = 1; this.running && Date.now() < deadline; sequence++) {
      await send(sequence);
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }

  private async request(method: 'GET' | 'POST', message?: string): Promise<void> {
    try {
      const response = await fetch(new URL('/messages', this.url), {
        method,
        headers: message ? { 'content-type': 'application/json' } : {},
        body: message ? JSON.stringify({ message }) : undefined,
        signal: AbortSignal.timeout(10_000),
      });
      await response.arrayBuffer();
      if (response.status === (method === 'POST' ? 201 : 200)) this.ok++;
      else this.failures.push(`${method} ${response.status}`);
    } catch (error) {
      this.failures.push(`${method} ${String((error as Error).cause ?? (error as Error).message)}`);
    }
  }

  /** Stops the loops and returns what they counted. */
  async stop(): Promise<{ ok: number; failed: number; failures: string[] }> {
    this.running = false;
    await Promise.all(this.loops);
    return { ok: this.ok, failed: this.failures.length, failures: this.failures.slice(0, 10) };
  }
}
