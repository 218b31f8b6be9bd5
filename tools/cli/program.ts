/**
 * The `spikelm` command line's interface: each command lives in commands/; this file only
 * declares them (commander) and routes errors through report-errors. Run by main.ts (through
 * tsx) and by the bundle (bundle.mjs), which calls `runCli` from a cached script.
 */
import { Command } from "commander";
import { checkCommand } from "./commands/check.js";
import { classifyCommand } from "./commands/classify.js";
import { fillMaskCommand } from "./commands/fill-mask.js";
import { fmtCommand } from "./commands/fmt.js";
import { lspCommand } from "./commands/lsp.js";
import { modelsCommand } from "./commands/models.js";
import { reportCommand, runAndReport } from "./commands/report.js";
import { explainCommand } from "./commands/explain.js";
import { gradCommand } from "./commands/grad.js";
import { exportCommand } from "./commands/export.js";
import { generateCommand } from "./commands/generate.js";
import { encodeCommand } from "./commands/encode.js";
import { collectRecord } from "./commands/record.js";
import { runCommand } from "./commands/run.js";
import { startCommand } from "./commands/start.js";
import { trainCommand } from "./commands/train.js";
import { evalCommand } from "./commands/eval.js";
import { verifyCommand } from "./commands/verify.js";
import { checkOutputPaths } from "./output-paths.js";
import { guarded, reportError } from "./report-errors.js";
import { startKernels } from "./timings.js";

/** `--vocab` on the commands that tokenize text for a model. */
const VOCAB_HELP = "a WordPiece vocab.txt or a byte-level BPE merges file (first line `#version`), for models that do not ship one or to replace the shipped one";

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function buildProgram(): Command {
  const program = new Command();
  program.name("spikelm").description("A spec language and interpreter for spike-driven language models (SpikeLM)").showHelpAfterError();
  // Before any command starts its work: an unwritable --out/--report/--html/--json fails now,
  // not after the run it would have recorded.
  program.hook("preAction", (_program, action) => checkOutputPaths(action.opts()));

  program
    .command("check")
    .description("check .spk files (a directory: the .spk files under it); prints file:line:col: error CODE: message, exit 1 on any error")
    .argument("<paths...>", "spec files or directories")
    .option("-q, --quiet", "print only the diagnostics")
    .action((files: string[], opts) => guarded(() => checkCommand(files, opts)));

  program
    .command("fmt")
    .description("format .spk files in place; --check lists the files that would change and exits 1 if any")
    .argument("<files...>", "spec files")
    .option("--check", "write nothing; exit 1 if a file is not formatted")
    .option("-q, --quiet", "print only the diagnostics and the files that would change")
    .action((files: string[], opts) => guarded(() => fmtCommand(files, opts)));

  program
    .command("run")
    .description("run a neuron, layer or model from a spec on tensors from files")
    .argument("<file>", "spec file")
    .requiredOption("-e, --entry <name>", "the neuron, layer or model to run")
    .option("-a, --arg <name=value>", "constructor argument (repeatable)", collect)
    .option("-w, --weights <file>", "weights (.json or .safetensors): by parameter path, or in a declared naming such as the reference checkpoint's (read off the names)")
    .option("-i, --input <file>", "input tensors (.json) by forward argument name")
    .option("-o, --out <file>", "write {output, record} as JSON (or flat tensors to a .safetensors file)")
    .option("-m, --mode <mode>", "multi (whole time axis per op) or step (streaming)", "multi")
    .option("-r, --record [path]", "bare: record every neuron's spike levels; PATH (repeatable; `blocks.*`, `blocks.0.attn`, `**`): the output of those layers and the spikes of those neurons, as record.<path> in --out", collectRecord)
    .option("--keep-amplitudes", "keep amplitudes that are exactly 1.0 in a reference-named weights file (default: calibrate them, as the reference does)")
    .option("-s, --seed <n>", "seed for weights not given", "0")
    .option("-t, --timesteps <n>", "time steps for a layer or neuron run on its own")
    .option("--no-opt", "run the reference interpreter instead of the optimized executor")
    .option("--report [file]", "also print the spike and energy report (and write it as .json or .html)")
    .action((file: string, opts) => guarded(() => (opts.report ? runAndReport(file, opts) : runCommand(file, opts))));

  program
    .command("grad")
    .description("gradient of sum(output * probe) w.r.t. every trainable parameter (and float input), under the weights file's names")
    .argument("<file>", "spec file")
    .requiredOption("-e, --entry <name>", "the neuron, layer or model")
    .option("-a, --arg <name=value>", "constructor argument (repeatable)", collect)
    .option("-w, --weights <file>", "weights (.json or .safetensors): spec paths or a declared mapping (the reference checkpoint naming)")
    .option("-i, --input <file>", "input tensors (.json) by forward argument name")
    .requiredOption("-p, --probe <file>", "a tensor shaped like the output (.json or .safetensors); all ones gives output.sum().backward()")
    .requiredOption("-o, --out <file>", "write the gradients (.safetensors or .json)")
    .option("--train-amplitudes", "also the amplitudes' LSQ gradients (the reference freezes them)")
    .option("--keep-amplitudes", "keep amplitudes that are exactly 1.0 in a reference-named weights file")
    .option("-m, --mode <mode>", "multi or step forward (identical gradients)", "multi")
    .option("-s, --seed <n>", "seed for weights not given", "0")
    .option("-t, --timesteps <n>", "time steps for a layer or neuron run on its own")
    .option("--no-opt", "forward on the reference interpreter instead of the optimized executor")
    .action((file: string, opts) => guarded(() => gradCommand(file, opts)));

  program
    .command("explain")
    .description("print the IR after elaboration and after each optimization pass")
    .argument("<file>", "spec file")
    .requiredOption("-e, --entry <name>", "the neuron, layer or model")
    .option("-a, --arg <name=value>", "constructor argument (repeatable)", collect)
    .option("-i, --input <file>", "input tensors (.json), for their shapes")
    .option("-t, --timesteps <n>", "time steps for a layer or neuron on its own")
    .option("--summary", "only the pass names and what they changed")
    .action((file: string, opts) => guarded(() => explainCommand(file, opts)));

  program
    .command("generate")
    .description("generate text from a causal model, streaming tokens, with a spike key/value cache")
    .option("--model <name|spec>", "a shipped model name or a .spk file (default: the small shipped decoder)")
    .option("-e, --entry <name>", "the model in the spec file")
    .option("-a, --arg <name=value>", "constructor argument (repeatable)", collect)
    .option("-w, --weights <file>", "weights (.json or .safetensors)")
    .option("-p, --prompt <text>", "the prompt")
    .option("-n, --max-tokens <n>", "tokens to generate", "64")
    .option("--temperature <t>", "sampling temperature (0 = greedy)", "0.8")
    .option("--top-k <k>", "sample among the k most likely tokens (0 = all)", "40")
    .option("-s, --seed <n>", "sampling seed", "0")
    .option("--no-cache", "recompute the whole prefix for every token")
    .option("--no-opt", "decode on the reference interpreter instead of the optimized executor")
    .option("--keep-amplitudes", "keep amplitudes that are exactly 1.0 in a reference-named weights file")
    .option("--vocab <file>", "a byte-level BPE merges file (first line `#version`) or a WordPiece vocab.txt, for a model that does not ship one (default: bytes)")
    .option("--report [file]", "print the energy and spike report of the generated text (and write .json / .html)")
    .action((opts) => guarded(() => generateCommand(opts)));

  const modelCommand = (name: string, description: string) =>
    program
      .command(name)
      .description(description)
      .option("--model <name|spec>", "a shipped model (see `spikelm models`) or a .spk file")
      .option("-e, --entry <name>", "the model in a .spk file")
      .option("-a, --arg <name=value>", "constructor argument (repeatable)", collect)
      .option("-w, --weights <file>", "weights (.safetensors or .json): by parameter path, or the reference code's naming with or without `bert.` (read off the names)")
      .option("--vocab <file>", VOCAB_HELP)
      .option("-s, --seed <n>", "seed for weights not given", "0")
      .option("--keep-amplitudes", "keep amplitudes that are exactly 1.0 in a reference-named weights file (default: calibrate them, as the reference does)");

  modelCommand("classify", "classify texts with a SpikeLM encoder: label and class probabilities")
    .argument("<texts...>", "texts to classify")
    .option("--report [file]", "also print the spike and energy report (and write it as .json or .html)")
    .option("--timings", "print where the wall time went on stderr (start-up, kernels, model, compile, optimize, params, forward)")
    // The WebAssembly kernels start first and are ready before the forward (otherwise it would
    // run on the JS fallback while they compile); their threads boot while the spec compiles.
    .action((texts: string[], opts) => guarded(async () => classifyCommand(texts, opts, await startKernels())));

  modelCommand("fill-mask", "predict the [MASK] tokens of a text with a SpikeLM masked-LM")
    .argument("<text...>", "text with [MASK] tokens")
    .option("-k, --top-k <k>", "predictions per mask", "5")
    .option("--report [file]", "also print the spike and energy report (and write it as .json or .html)")
    .option("--timings", "print where the wall time went on stderr (start-up, kernels, model, compile, optimize, params, forward)")
    .action((texts: string[], opts) => guarded(async () => fillMaskCommand(texts, opts, await startKernels())));

  modelCommand("encode", "hidden states of a SpikeLM encoder for texts (or token ids), and any layer's output with --record")
    .argument("[texts...]", "texts to encode (or --input)")
    .option("-i, --input <file>", "token ids instead of text: JSON with ids [B, L] (and optionally types, mask)")
    .option("-o, --out <file>", "write output (hidden states), ids, mask and record.<path> as .json or .safetensors")
    .option("-r, --record [path]", "PATH (repeatable; `blocks.*` for every layer's hidden state): record those layers' outputs and those neurons' spikes; bare: every neuron's spikes", collectRecord)
    .option("-m, --mode <mode>", "multi (whole time axis per op) or step (streaming)", "multi")
    .option("--no-opt", "run the reference interpreter instead of the optimized executor")
    .action((texts: string[], opts) => guarded(() => encodeCommand(texts, opts)));

  modelCommand("report", "firing rates, ACs, MACs and energy per layer, the dense-ANN comparison, and the spike-driven proof")
    .option("--text <text>", "input text (repeatable; default: the shipped sample)", collect)
    .option("-i, --input <file>", "input tensors (.json) by forward argument name, instead of text")
    .option("--json <file>", "write the report as JSON")
    .option("--html <file>", "write the report as a self-contained HTML page")
    .action((opts) => guarded(() => reportCommand(opts)));

  program
    .command("export")
    .description("export a spec to ONNX (inference, T unrolled) or PyTorch (nn.Modules + a DDP training script)")
    .argument("<file>", "spec file")
    .requiredOption("-e, --entry <name>", "the neuron, layer or model to export")
    .requiredOption("--to <target>", "onnx or pytorch")
    .requiredOption("-o, --out <file>", "output file (model.onnx or model.py)")
    .option("-a, --arg <name=value>", "constructor argument (repeatable)", collect)
    .option("-w, --weights <file>", "weights (.json or .safetensors) by parameter path")
    .option("-i, --input <file>", "calibration input (.json); fixes the ONNX input shapes")
    .option("-s, --seed <n>", "seed for weights not given", "0")
    .option("-t, --timesteps <n>", "time steps for a layer or neuron exported on its own")
    .option("--spikes", "ONNX: also output every neuron's spike levels (spikes/<path>)")
    .option("--names <naming>", "PyTorch: spec (spikelm's weight paths) or reference (the authors' state_dict names)", "spec")
    .action((file: string, opts) => guarded(() => exportCommand(file, opts)));

  program
    .command("train")
    .description("train a spec on a task (lm, mlm, classify): AdamW, schedule, clipping; writes a resumable safetensors checkpoint")
    .argument("[file]", "spec file (with --entry), or use --model")
    .option("--model <name|spec>", "a shipped model (see `spikelm models`) or a .spk file")
    .option("-e, --entry <name>", "the model in the spec file")
    .option("-a, --arg <name=value>", "constructor argument (repeatable)", collect)
    .option("--task <task>", "lm (causal LM), mlm (masked LM, BERT's 15% with 80/10/10) or classify (TSV: text<TAB>label)")
    .option("--data <file>", "training data: text (lm, mlm) or TSV (classify)")
    .option("--eval-data <file>", "held-out data (default: the last 5% of --data, every 10th row of a TSV)")
    .option("-w, --weights <file>", "initial weights (default: the spec's seeded initialisation)")
    .option("--vocab <file>", VOCAB_HELP)
    .option("--steps <n>", "optimizer steps")
    .option("--batch <n>", "sequences per micro-batch (default 8)")
    .option("--seq <n>", "sequence length in tokens (default 128; classify 64)")
    .option("--lr <x>", "peak learning rate (default 1e-3)")
    .option("-s, --seed <n>", "seed: initialisation, batches, masks (default 0)")
    .option("-o, --out <file>", "checkpoint (.safetensors): weights by spec path + optimizer state")
    .option("--resume <file>", "continue a checkpoint exactly where it stopped")
    .option("--train-amplitudes", "also train the spike amplitudes (LSQ gradient)")
    .option("--html <file>", "write training and evaluation curves and firing rates per layer (HTML, inline SVG)")
    .option("--log <file>", "JSONL run log: one record per step and per evaluation")
    .option("--warmup <n>", "linear warmup steps (default: min(100, steps/10))")
    .option("--schedule <kind>", "cosine, linear or constant decay after warmup (default cosine)")
    .option("--min-lr-ratio <x>", "final learning rate as a fraction of --lr (default 0.1)")
    .option("--clip <x>", "clip gradients to this global L2 norm (0: off; default 1)")
    .option("--accum <n>", "micro-batches accumulated per step (default 1)")
    .option("--weight-decay <x>", "AdamW decoupled weight decay on matrices (default 0.01)")
    .option("--eval-every <n>", "evaluate every n steps (default steps/10)")
    .option("--eval-batches <n>", "batches per evaluation during training (0: all)")
    .option("--save-every <n>", "also write the checkpoint every n steps")
    .option("--stop-after <n>", "stop after n steps of this invocation (checkpoint written; continue with --resume)")
    .option("-q, --quiet", "no progress bar or messages on stderr")
    .action((file: string | undefined, opts) => guarded(() => trainCommand(file, opts)));

  program
    .command("eval")
    .description("evaluate a model on a data file: loss, bits per byte (lm), perplexity, accuracy (classify)")
    .argument("[file]", "spec file (with --entry), or use --model")
    .option("--model <name|spec>", "a shipped model (see `spikelm models`) or a .spk file")
    .option("-e, --entry <name>", "the model in the spec file")
    .option("-a, --arg <name=value>", "constructor argument (repeatable)", collect)
    .option("--task <task>", "lm, mlm or classify")
    .option("--data <file>", "evaluation data: text (lm, mlm) or TSV (classify)")
    .option("-w, --weights <file>", "weights or a training checkpoint (default: the shipped weights)")
    .option("--vocab <file>", VOCAB_HELP)
    .option("--batch <n>", "sequences per batch (default 8)")
    .option("--seq <n>", "sequence length (default 128; classify 64)")
    .option("-s, --seed <n>", "seed for weights not given (default 0)")
    .option("--max-batches <n>", "evaluate only the first n batches (0: all)")
    .option("--unigram <file>", "also report the unigram baseline fitted on this training text (lm)")
    .option("--json <file>", "write the metrics as JSON")
    .action((file: string | undefined, opts) => guarded(() => evalCommand(file, opts)));

  program
    .command("verify")
    .description("property-based check of a spec: generated sizes, inputs, weights and amplitudes (edge values included) must give the same bits on every execution path, mode and kernel, and the same gradients; exit 1 with a shrunk counterexample and a replay file")
    .argument("<file>", "spec file")
    .requiredOption("-e, --entry <name>", "the neuron, layer or model to verify")
    .option("-a, --arg <name=value>", "constructor argument (repeatable)", collect)
    .option("--runs <n>", "generated cases", "100")
    .option("-s, --seed <n>", "fast-check seed (default: random, printed)")
    .option("--nonfinite", "also NaN and ±Infinity in inputs, weights and amplitudes")
    .option("--replay <file>", "run exactly the case in a replay file written by an earlier verify")
    .option("--case-out <file>", "where to write the replay file of a counterexample (default: ENTRY.verify-case.json)")
    .option("--json <file>", "write a summary (runs, checks, failures, seed, time, counterexample) as JSON")
    .action((file: string, opts) => guarded(() => verifyCommand(file, opts)));

  program
    .command("models")
    .description("list the shipped models")
    .action(() => guarded(() => modelsCommand()));

  program
    .command("start", { isDefault: false })
    .description("the default demonstration: TinySpikeLM on a shipped prompt")
    .action(() => guarded(() => startCommand()));

  // Not `guarded`: the server runs until the client disconnects, and owns its error handling.
  program
    .command("lsp")
    .description("run the language server (JSON-RPC over stdin/stdout)")
    .option("--stdio", "talk over stdin/stdout (the default and only transport)")
    .allowUnknownOption()
    .action(() => lspCommand());

  return program;
}

/** Runs the command line on `argv` (process.argv's layout); the exit code goes to process.exitCode. */
export async function runCli(argv: readonly string[]): Promise<void> {
  // A reader that stops early (`spikelm models | head`) closes the pipe: stop quietly, as
  // Unix tools do, instead of an unhandled EPIPE with a stack trace.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
    throw e;
  });
  try {
    await buildProgram().parseAsync([...argv]);
  } catch (e) {
    // Only the preAction hook throws here: each action reports its own errors through `guarded`.
    process.exitCode = reportError(e);
  }
}
