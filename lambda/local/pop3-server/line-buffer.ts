// Complete command lines out of a byte stream that may be split anywhere or carry several lines.
const LF = 0x0a;
const CR = 0x0d;

export class LineBuffer {
  private data: Buffer = Buffer.alloc(0);
  private ended = false;
  private wake: (() => void) | undefined;

  push(chunk: Buffer): void {
    this.data = this.data.length === 0 ? chunk : Buffer.concat([this.data, chunk]);
    this.notify();
  }

  end(): void {
    this.ended = true;
    this.notify();
  }

  discard(): void {
    this.data = Buffer.alloc(0);
  }

  /** The next line without its CRLF (a bare LF is tolerated), or null at end of input. */
  async next(): Promise<Buffer | null> {
    for (;;) {
      const lf = this.data.indexOf(LF);
      if (lf !== -1) {
        const end = lf > 0 && this.data[lf - 1] === CR ? lf - 1 : lf;
        const line = Buffer.from(this.data.subarray(0, end));
        this.data = this.data.subarray(lf + 1);
        return line;
      }
      if (this.ended) return null;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
