// A one-line progress bar on stderr for long work (evaluation, training, batch jobs). Draws only
// on a TTY unless forced, so --json output and logs stay clean.
export class Progress {
  private done = 0;
  private readonly start = performance.now();
  private lastDraw = 0;

  constructor(private readonly label: string, private readonly total: number,
              private readonly enabled: boolean = Boolean(process.stderr.isTTY)) {}

  tick(detail = ''): void {
    this.done++;
    if (!this.enabled) return;
    const now = performance.now();
    if (now - this.lastDraw < 100 && this.done < this.total) return;  // at most 10 redraws a second
    this.lastDraw = now;
    const width = 24;
    const filled = this.total > 0 ? Math.round((width * this.done) / this.total) : 0;
    const rate = this.done / Math.max((now - this.start) / 1000, 1e-9);
    const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
    process.stderr.write(`\r${this.label} [${bar}] ${this.done}/${this.total} ${rate.toFixed(1)}/s ${detail}`.slice(0, 200).padEnd(80));
  }

  /** A line of its own (e.g. a failure) above the bar; the bar is redrawn on the next tick. */
  log(line: string): void {
    process.stderr.write(this.enabled ? `\r${line.padEnd(80)}\n` : `${line}\n`);
    this.lastDraw = 0;
  }

  finish(): void {
    if (this.enabled) process.stderr.write('\n');
  }
}
