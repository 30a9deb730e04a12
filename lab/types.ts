/**
 * The contract between the lab's experiments (lab/experiments/*, lab/models/*) and its front end
 * (lab/cli.ts, lab/progress.ts, lab/report/*). Experiments measure and decide verdicts; the front end
 * shows progress, prints the summary and renders results.json + index.html.
 */

export type Verdict = "reproduced" | "not reproduced" | "inconclusive";

/** A chart as data; the report renders it with Vega-Lite to SVG. */
export interface ChartSpec {
  id: string;
  title: string;
  kind: "line" | "bar" | "point";
  x: { field: string; title: string; scale?: "linear" | "log" };
  y: { field: string; title: string; scale?: "linear" | "log" | "symlog" };
  /** field that splits the data into coloured series */
  series?: string;
  /** field that splits into small multiples (facet columns) */
  facet?: string;
  /** field for a shaded band (error band): rows carry `${y.field}Lo`, `${y.field}Hi` when set */
  band?: boolean;
  /**
   * field with a label for rows whose y is null ("never", "diverged"): a bar chart draws the label
   * where the bar would be, a line chart lists the missing curves under the chart
   */
  marker?: string;
  data: Record<string, number | string | null>[];
  caption?: string;
}

export interface ClaimResult {
  id: string; // "hidden-state-scale", "stable-training", … (lab/experiments/index.ts)
  title: string;
  /** a short explanation shown above the charts (plain text / simple HTML-free prose) */
  explanation: string;
  verdict: Verdict;
  /** the rule, in words, that turned the measurements into the verdict */
  rule: string;
  /** the numbers the rule looked at, by name */
  evidence: Record<string, number | string | boolean | null>;
  charts: ChartSpec[];
  /** one-line summary for the terminal table */
  summary: string;
  /** the title shortened for narrow tables (terminal, README); the full title stays in the report */
  shortTitle?: string;
  /** the deciding numbers in a few words, for the README's short table (else the summary) */
  headline?: string;
  /** "claim" (default): one of the lab's claims; "paper": a published result reproduced at small scale */
  kind?: "claim" | "paper";
  /** for a paper: authors, year and title */
  source?: string;
  /** the control the verdict had to survive, in words (shown beside the rule) */
  control?: string;
}

/** WebGPU memory-bandwidth measurement asked of a front end (see LabEnvironment.gpuBandwidth). */
export interface GpuBandwidthRequest {
  /** [rows, D] of x */
  shape: [number, number];
  /** a smaller x for software renderers, whose compute shaders run at tens of MB/s (forward only) */
  softwareShape: [number, number];
  /** timed repetitions per kernel (median taken) */
  reps: number;
}

/** One adapter's kernel times against a copy of the same bytes (lab/experiments/gpuBandwidth.ts). */
export interface GpuBandwidthResult {
  /** adapter as reported: "google swiftshader (SwiftShader driver 5.0.0)" */
  adapter: string;
  /** true for software renderers (SwiftShader, lavapipe, WARP): the CPU, labelled as such */
  cpu: boolean;
  shape: [number, number];
  /** "timestamps" (GPU timestamp queries) or "wall clock" (many dispatches in one submit) */
  timing: string;
  /** median ms: a copy kernel moving x's bytes (the reference), copyBufferToBuffer of them (shown) */
  copyMs: number;
  copyBufferMs: number;
  /**
   * median ms of each forward and each backward (from saved statistics); the backward is null on
   * software renderers, where it runs at a few MB/s and would take minutes to time
   */
  ms: { layerNormForward: number; rmsNormForward: number; layerNormBackward: number | null; rmsNormBackward: number | null };
}

/**
 * What differs between front ends (Node's CLI, the browser lab), injected by them; experiments use
 * it instead of importing anything platform-specific. Every member is optional: absent means not
 * available here, and the experiment reports that instead of failing.
 */
export interface LabEnvironment {
  /** Runs the WebGPU bandwidth measurement on the adapter(s) this front end reaches; [] when none. */
  gpuBandwidth?: (request: GpuBandwidthRequest) => Promise<{ results: GpuBandwidthResult[]; note?: string }>;
}

/** One training run, as stored in results.json `runs`. */
export interface RunRecord {
  experiment: string;
  config: Record<string, number | string | boolean>;
  seed: number;
  steps: number;
  losses: number[]; // per logged step (see logEvery)
  logEvery: number;
  diverged: boolean;
  finalLoss: number | null;
  seconds: number;
  [extra: string]: unknown;
}

/** What the CLI hands an experiment. */
export interface ExperimentContext {
  full: boolean;
  seed: number;
  corpus: string; // the training text for the language model
  corpusName: string;
  progress: Progress;
  /** record a run for results.json */
  record(run: RunRecord): void;
  /** the front end's platform services (WebGPU, …); absent members mean not available */
  env?: LabEnvironment;
}

export interface Experiment {
  id: string;
  title: string;
  run(ctx: ExperimentContext): Promise<ClaimResult> | ClaimResult;
}

/** Live progress, one line per run: experiment, configuration, step/total, loss, steps/s, ETA. */
export interface Progress {
  start(experiment: string, config: string, total: number): ProgressRun;
  /** a plain message line */
  log(message: string): void;
}

export interface ProgressRun {
  update(step: number, loss: number): void;
  end(status?: string): void;
}

export interface LabResults {
  claims: Omit<ClaimResult, "charts" | "summary" | "explanation">[] & Partial<ClaimResult>[];
  runs: RunRecord[];
  environment: Record<string, string | number | boolean>;
}
