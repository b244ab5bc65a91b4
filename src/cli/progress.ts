/** A one-line progress display for a TTY; silent elsewhere so logs and pipes stay clean. */
export class ProgressLine {
  private total = 0;
  private done = 0;
  private label = '';
  private lastDraw = 0;
  private readonly enabled: boolean;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.enabled = stream.isTTY === true;
  }

  /** Starts counting a new phase. */
  start(label: string, total: number): void {
    this.label = label;
    this.total = total;
    this.done = 0;
    this.draw(true);
  }

  /** One more unit done. */
  tick(n = 1): void {
    this.done += n;
    this.draw(false);
  }

  /** Clears the line. */
  finish(): void {
    if (this.enabled && this.lastDraw > 0) this.stream.write('\r\x1b[2K');
  }

  private draw(force: boolean): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < 100 && this.done < this.total) return;
    this.lastDraw = now;
    const width = 24;
    const frac = this.total > 0 ? Math.min(1, this.done / this.total) : 1;
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
    this.stream.write(`\r\x1b[2K${this.label} [${bar}] ${this.done}/${this.total}`);
  }
}
