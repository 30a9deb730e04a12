/**
 * Live training progress. On a TTY each run has one line redrawn in place (experiment, configuration,
 * step/total, loss, steps/s, ETA); elsewhere (CI logs, pipes) it prints plain periodic lines instead,
 * so logs stay readable and free of control characters.
 */
import type { Progress, ProgressRun } from "./types.js";

/** Where progress goes: process.stdout or anything with write (tests pass a buffer). */
export interface ProgressSink {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** override the sink's isTTY */
  tty?: boolean;
  /** milliseconds clock; injectable so tests are deterministic */
  now?: () => number;
  /** TTY: minimum time between redraws (redrawing every step would slow fast loops) */
  redrawMs?: number;
  /** plain mode: a line at each 10% of the run once at least this long after the last line… */
  plainMinMs?: number;
  /** …and a line anyway when this long has passed without one */
  plainMaxMs?: number;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

export function formatLoss(loss: number): string {
  if (Number.isNaN(loss)) return "NaN";
  if (!Number.isFinite(loss)) return loss > 0 ? "Inf" : "-Inf";
  const a = Math.abs(loss);
  return a !== 0 && (a >= 1e5 || a < 1e-3) ? loss.toExponential(3) : loss.toFixed(4);
}

function formatRate(stepsPerSecond: number): string {
  if (!Number.isFinite(stepsPerSecond)) return "? steps/s";
  return `${stepsPerSecond >= 100 ? stepsPerSecond.toFixed(0) : stepsPerSecond.toFixed(1)} steps/s`;
}

interface RunState {
  experiment: string;
  config: string;
  total: number;
  startedAt: number;
  step: number;
  loss: number;
  ended: boolean;
}

function describeRun(r: RunState, now: number, final: boolean, status?: string): string {
  const elapsed = (now - r.startedAt) / 1000;
  const rate = r.step > 0 && elapsed > 0 ? r.step / elapsed : NaN;
  const width = String(r.total).length;
  const parts = [
    `[${r.experiment}]`,
    r.config,
    `step ${String(r.step).padStart(width)}/${r.total}`,
    `loss ${Number.isNaN(r.loss) && r.step === 0 ? "-" : formatLoss(r.loss)}`,
    formatRate(rate),
  ];
  if (final) {
    parts.push(`took ${formatDuration(elapsed)}`);
    if (status) parts.push(status);
  } else {
    parts.push(`ETA ${Number.isFinite(rate) ? formatDuration((r.total - r.step) / rate) : "?"}`);
  }
  return parts.join("  ");
}

/** Redraws one line in place with \r and erase-line; `log` lines scroll above it. */
class TtyProgress implements Progress {
  private current: RunState | null = null;
  private lastDraw = -Infinity;
  private shown = false;
  constructor(
    private readonly sink: ProgressSink,
    private readonly now: () => number,
    private readonly redrawMs: number,
  ) {}

  private fit(line: string): string {
    const cols = this.sink.columns;
    // leave the last column free: writing into it makes some terminals wrap, breaking the redraw
    return cols !== undefined && cols > 1 && line.length > cols - 1 ? line.slice(0, cols - 2) + "…" : line;
  }

  private draw(r: RunState): void {
    this.sink.write(`\r\x1b[2K${this.fit(describeRun(r, this.now(), false))}`);
    this.shown = true;
    this.lastDraw = this.now();
  }

  private clear(): void {
    if (this.shown) this.sink.write("\r\x1b[2K");
    this.shown = false;
  }

  start(experiment: string, config: string, total: number): ProgressRun {
    const r: RunState = { experiment, config, total, startedAt: this.now(), step: 0, loss: NaN, ended: false };
    this.current = r;
    this.draw(r);
    return {
      update: (step, loss) => {
        if (r.ended) return;
        r.step = step;
        r.loss = loss;
        if (this.current === r && this.now() - this.lastDraw >= this.redrawMs) this.draw(r);
      },
      end: (status) => {
        if (r.ended) return;
        r.ended = true;
        if (this.current === r) {
          this.clear();
          this.current = null;
        }
        this.sink.write(this.fit(describeRun(r, this.now(), true, status)) + "\n");
      },
    };
  }

  log(message: string): void {
    this.clear();
    this.sink.write(message + "\n");
    if (this.current !== null) this.draw(this.current);
  }
}

/** Plain lines: one at each 10% (rate-limited), one after a long silence, and the end line. */
class PlainProgress implements Progress {
  constructor(
    private readonly sink: ProgressSink,
    private readonly now: () => number,
    private readonly minMs: number,
    private readonly maxMs: number,
  ) {}

  start(experiment: string, config: string, total: number): ProgressRun {
    const r: RunState = { experiment, config, total, startedAt: this.now(), step: 0, loss: NaN, ended: false };
    let lastLine = r.startedAt;
    let lastDecile = 0;
    return {
      update: (step, loss) => {
        if (r.ended) return;
        r.step = step;
        r.loss = loss;
        const t = this.now();
        const decile = total > 0 ? Math.floor((10 * step) / total) : 0;
        const due = (decile > lastDecile && t - lastLine >= this.minMs) || t - lastLine >= this.maxMs;
        if (decile > lastDecile) lastDecile = decile; // a skipped decile is not printed late
        if (due && step < total) {
          this.sink.write(describeRun(r, t, false) + "\n");
          lastLine = t;
        }
      },
      end: (status) => {
        if (r.ended) return;
        r.ended = true;
        this.sink.write(describeRun(r, this.now(), true, status) + "\n");
      },
    };
  }

  log(message: string): void {
    this.sink.write(message + "\n");
  }
}

export function createProgress(sink: ProgressSink, options: ProgressOptions = {}): Progress {
  const now = options.now ?? (() => performance.now());
  const tty = options.tty ?? sink.isTTY === true;
  return tty
    ? new TtyProgress(sink, now, options.redrawMs ?? 100)
    : new PlainProgress(sink, now, options.plainMinMs ?? 1000, options.plainMaxMs ?? 5000);
}
