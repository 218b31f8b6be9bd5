/**
 * Autoregressive generation from a causal model spec. With the cache, the prompt runs once
 * through the incrementalized graph (passes/incremental.ts), filling a cache of key and
 * value spike levels, and every new token runs through the graph for one position. Without
 * it, every step recomputes the whole prefix. Both give the same logits bit for bit (the
 * property test holds them to it): per-position work is identical, and masked attention
 * terms contribute exact zeros.
 *
 * By default the graphs run optimized (passes/pass.ts) on the optimized executor: one
 * executor per number of new positions, planned once for the model's context (the nodes
 * whose axis grows with the positions held at full length, run at the current one), so a
 * decoding step allocates no tensor memory and the weights are packed once; the key/value
 * caches are runtime/planned-cache.ts: int8 levels in the WebAssembly module's memory with
 * room reserved in blocks up to `maxContext`, appended in place and read in place by the
 * decoding attention (optimized/decode-attention.ts rowsTimesCache). `optimize:
 * false` runs the reference interpreter (its caches are runtime/spike-cache.ts); both give
 * the same logits bit for bit (test/generate.test.ts).
 */
import { type Compiled, compileEntry, type ArgValue } from "../compile.js";
import { type Tensor, i32 } from "../engine/tensor.js";
import { UserError } from "../io/errors.js";
import { incrementalize, NotIncremental, type IncrementalGraph } from "../passes/incremental.js";
import { ReferenceInterpreter, type SequenceState } from "../reference/interpreter.js";
import { OptimizedExecutor, type ExecutorOptions } from "../optimized/executor.js";
import { optimize } from "../passes/pass.js";
import { ParamStore } from "../runtime/params.js";
import type { PlannedSequence } from "../runtime/planned-cache.js";
import type { CacheContents } from "../runtime/spike-cache.js";
import { dimValue } from "../types/dims.js";

export interface GeneratorOptions {
  readonly file: string;
  readonly entry: string;
  readonly args?: Readonly<Record<string, ArgValue>>;
  readonly weights?: ReadonlyMap<string, Tensor>;
  readonly weightsSource?: string;
  readonly seed?: number;
  readonly cache?: boolean;
  /** Longest sequence the model takes (its position table); checked before running. */
  readonly maxContext?: number;
  /** Run on the optimized executor (default) or the reference interpreter (false). */
  readonly optimize?: boolean;
  /**
   * Positions the optimized executor's key/value caches grow by (default 64; they reserve room
   * up to `maxContext` in such blocks): tests make it small to cross growth boundaries often.
   */
  readonly cacheBlock?: number;
  /** Optimized executor options (threads, kernel backends); tests force each kernel. */
  readonly executor?: Pick<ExecutorOptions, "threads" | "backend" | "variant" | "neurons">;
}

/** An optimized executor for one graph, and the positions it was planned for. */
interface Planned {
  readonly exec: OptimizedExecutor;
  readonly capacity: number;
}

/**
 * What the key/value cache holds now, measured on its storage: bytes are the byte lengths of
 * the typed arrays kept between calls (runtime/spike-cache.ts), divided by the tokens fed.
 */
export interface CacheStats {
  /** Positions held (the tokens fed so far). */
  readonly tokens: number;
  /** Bytes held per token: int8 codes for spikes (plus their amplitudes, if scaled), float32 otherwise. */
  readonly bytesPerToken: number;
  /** The same contents kept as float32. */
  readonly float32BytesPerToken: number;
  readonly sites: readonly { readonly description: string; readonly storage: string; readonly bytesPerToken: number }[];
}

export class Generator {
  private params: ParamStore | undefined;
  private readonly graphs = new Map<number, { compiled: Compiled; inc?: IncrementalGraph }>();
  private sequence: SequenceState = { offset: 0, caches: new Map() };
  private planned: PlannedSequence;
  /** Optimized: the executor of each number of new positions (cached decoding) kept for reuse. */
  private readonly executors = new Map<number, Planned>();
  private tokens: number[] = [];
  readonly cached: boolean;
  readonly optimized: boolean;
  private idsName = "ids";
  private readonly oneToken = i32([1, 1]);
  private readonly oneTokenInput = new Map([[this.idsName, this.oneToken as Tensor]]);

  constructor(readonly options: GeneratorOptions) {
    this.cached = options.cache ?? true;
    this.optimized = options.optimize ?? true;
    this.planned = this.newSequence();
  }

  /** The optimized executor's caches: room reserved in blocks up to the model's context. */
  private newSequence(): PlannedSequence {
    return { offset: 0, caches: new Map(), limit: this.options.maxContext, block: this.options.cacheBlock };
  }

  get length(): number {
    return this.tokens.length;
  }

  /** The parameters (with the amplitudes calibrated on the first prompt). */
  get parameters(): ParamStore {
    if (!this.params) throw new Error("internal: no parameters before the first feed");
    return this.params;
  }

  private graphFor(n: number): { compiled: Compiled; inc?: IncrementalGraph } {
    const hit = this.graphs.get(n);
    if (hit) return hit;
    const ids = i32([1, n]);
    const compiled = compileEntry({ file: this.options.file, entry: this.options.entry, args: this.options.args, inputs: new Map([[this.idsName, ids]]) });
    const out = compiled.graph.nodes.find((x) => x.id === compiled.graph.output)!;
    if (out.type.timed || out.type.shape.length !== 3 || dimValue(out.type.shape[1]!) !== n)
      throw new UserError(`\`${this.options.entry}\` must map ids [B, L] to logits [B, L, vocab] to generate; it returns ${out.type.shape.length} axes`);
    let inc: IncrementalGraph | undefined;
    if (this.cached) {
      try {
        inc = incrementalize(compiled.graph, this.idsName);
      } catch (e) {
        if (e instanceof NotIncremental) throw new UserError(`\`${this.options.entry}\` cannot be decoded incrementally: ${e.message}; use --no-cache`);
        throw e;
      }
    }
    this.params ??= ParamStore.create(compiled.graph.params, this.options.weights, { seed: this.options.seed ?? 0, source: this.options.weightsSource });
    const r = { compiled, inc };
    this.graphs.set(n, r);
    return r;
  }

  /** Feeds tokens (the prompt, or one sampled token) and returns the logits after the last one. */
  feed(tokens: readonly number[]): Float32Array {
    if (tokens.length === 0) throw new UserError("the prompt is empty: give at least one token");
    const max = this.options.maxContext;
    if (max !== undefined && this.tokens.length + tokens.length > max)
      throw new UserError(`the sequence would be ${this.tokens.length + tokens.length} tokens, longer than the model's context of ${max}`);
    let logits: Tensor;
    if (this.cached && this.optimized) {
      // A decoding step reuses its one-token input (it allocates nothing but the logits it returns).
      this.oneToken.data[0] = tokens[0]!;
      const inputs = tokens.length === 1 ? this.oneTokenInput : new Map([[this.idsName, i32([1, tokens.length], tokens)]]);
      const exec = this.decoderFor(tokens.length);
      try {
        logits = exec.run(inputs, { sequence: this.planned }).output;
      } finally {
        // The few-rows kernel's copies of the weights are what the decoding steps read next.
        if (this.executors.get(tokens.length)?.exec !== exec) exec.release({ keepRowsWeights: true });
      }
      this.planned.offset += tokens.length;
    } else if (this.cached) {
      const { inc } = this.graphFor(tokens.length);
      const ids = i32([1, tokens.length], tokens);
      logits = new ReferenceInterpreter(inc!.graph, this.params!).run(new Map([[this.idsName, ids]]), { sequence: this.sequence }).output;
      this.sequence.offset += tokens.length;
    } else if (this.optimized) {
      // The whole prefix, on an executor planned for its length (used once, then released).
      const all = [...this.tokens, ...tokens];
      const { compiled } = this.graphFor(all.length);
      const exec = new OptimizedExecutor(optimize(compiled.graph).graph, this.params!, this.options.executor);
      try {
        logits = exec.run(new Map([[this.idsName, i32([1, all.length], all)]])).output;
      } finally {
        exec.release({ keepRowsWeights: true });
      }
    } else {
      const all = [...this.tokens, ...tokens];
      const { compiled } = this.graphFor(all.length);
      logits = new ReferenceInterpreter(compiled.graph, this.params!).run(new Map([[this.idsName, i32([1, all.length], all)]])).output;
    }
    this.tokens.push(...tokens);
    const V = logits.shape[2]!;
    const rows = logits.shape[1]!;
    return Float32Array.from(logits.data.subarray((rows - 1) * V, rows * V));
  }

  /**
   * The optimized executor for `n` new positions after those cached. One token at a time is
   * planned for the model's context (or, without one, for twice the positions so far, and
   * re-planned when they no longer fit); the prompt's executor is planned for what it needs
   * and released after use.
   */
  private decoderFor(n: number): OptimizedExecutor {
    const keys = this.planned.offset + n;
    const hit = this.executors.get(n);
    if (hit && hit.capacity >= keys) return hit.exec;
    hit?.exec.release({ keepRowsWeights: true });
    this.executors.delete(n);
    const { inc } = this.graphFor(n);
    const max = this.options.maxContext;
    const capacity = n === 1 ? (max ?? Math.max(64, 2 * keys)) : keys;
    const { graph } = optimize(inc!.graph);
    const exec = new OptimizedExecutor(graph, this.params!, { ...this.options.executor, decode: { keyAxes: inc!.keyAxes, positions: n, capacity } });
    // Only the one-token executor is kept (feed releases the others after their run).
    if (n === 1) this.executors.set(n, { exec, capacity });
    return exec;
  }

  /** Restarts the sequence (the calibrated amplitudes are kept). */
  reset(): void {
    this.tokens = [];
    this.sequence = { offset: 0, caches: new Map() };
    for (const c of this.planned.caches.values()) c.release();
    this.planned = this.newSequence();
  }

  /** The caches held now, by cache_concat node (empty before the first feed, or without the cache). */
  get caches(): ReadonlyMap<number, CacheContents> {
    return this.optimized ? this.planned.caches : this.sequence.caches;
  }

  cacheStats(): CacheStats {
    const tokens = this.optimized ? this.planned.offset : this.sequence.offset;
    const inc = this.cached && tokens > 0 ? this.graphFor(1).inc : undefined;
    if (!inc) return { tokens, bytesPerToken: 0, float32BytesPerToken: 0, sites: [] };
    const byId = new Map(inc.graph.nodes.map((n) => [n.id, n]));
    let bytes = 0;
    let float = 0;
    const sites = inc.caches.map((c) => {
      const node = byId.get(c.node)!;
      const cache = this.caches.get(c.node);
      if (!cache || cache.length !== tokens) throw new Error(`internal: cache %${c.node} holds ${cache?.length ?? 0} positions, not ${tokens}`);
      bytes += cache.bytes;
      float += cache.float32Bytes;
      return { description: `${c.description} at ${node.origin ? `offset ${node.origin.span.start}` : `%${node.id}`}`, storage: cache.storage, bytesPerToken: cache.bytes / tokens };
    });
    return { tokens, bytesPerToken: bytes / tokens, float32BytesPerToken: float / tokens, sites };
  }
}

export interface SamplingOptions {
  /** 0 = greedy. */
  readonly temperature: number;
  /** Keep the k most likely tokens (0 = all). */
  readonly topK: number;
  readonly uniform: () => number;
}

/** Picks the next token: argmax at temperature 0 (lowest id on ties), else top-k sampling. */
export function sampleToken(logits: Float32Array, opts: SamplingOptions): number {
  const ids = [...logits.keys()].sort((a, b) => logits[b]! - logits[a]! || a - b);
  if (opts.temperature <= 0) return ids[0]!;
  const keep = opts.topK > 0 ? ids.slice(0, opts.topK) : ids;
  const max = logits[keep[0]!]!;
  const w = keep.map((i) => Math.exp((logits[i]! - max) / opts.temperature));
  const total = w.reduce((a, b) => a + b, 0);
  let r = opts.uniform() * total;
  for (let j = 0; j < keep.length; j++) {
    r -= w[j]!;
    if (r < 0) return keep[j]!;
  }
  return keep[keep.length - 1]!;
}
