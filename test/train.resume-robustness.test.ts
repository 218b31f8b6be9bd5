/**
 * `spikelm train --resume` on damaged or hand-edited checkpoints, and train's numeric options
 * at their edges: every case exits 1 with one clear message naming the checkpoint (and, for
 * optimizer state, the parameter and both sizes), never a stack trace, and writes no --out.
 * Before these checks a checkpoint without `info` or with a `null` state crashed with a
 * TypeError, a negative step or a string learning rate trained on NaN, and a short or
 * missing Adam moment silently restarted that tensor's optimizer from zero.
 *
 * The command runs in-process behind the same `guarded` wrapper commander calls (one tiny
 * checkpoint is trained once, in beforeAll); loadCheckpoint itself gets a fast-check property
 * over arbitrary JSON training states.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UserError } from "../interpreter/io/errors.js";
import { readSafetensors, writeSafetensors } from "../interpreter/io/safetensors.js";
import type { F32Tensor } from "../interpreter/engine/tensor.js";
import { loadCheckpoint } from "../interpreter/train/checkpoint.js";
import { trainCommand, type TrainOptions } from "../tools/cli/commands/train.js";
import { inProcess } from "./cli-in-process.js";
import { REPO } from "./helpers.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-resume-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const at = (f: string) => path.join(tmp, f);
const STACK = /\n\s+at .+:\d+|internal error/;


const TINY: TrainOptions = {
  model: "decoder-small",
  arg: ["d=16", "ffn=32", "depth=1", "ctx=16", "heads=2"],
  task: "lm",
  data: path.join(REPO, "models/data/kjv-valid.txt"),
  steps: "2",
  batch: "2",
  seq: "16",
  quiet: true,
};
const CKPT = at("good.safetensors");

/** A copy of the good checkpoint with its header metadata edited. */
function edited(name: string, edit: (meta: Record<string, string>) => void): string {
  const { tensors, metadata } = readSafetensors(CKPT);
  const meta = { ...metadata };
  edit(meta);
  const file = at(name);
  writeSafetensors(file, tensors as Map<string, F32Tensor>, meta);
  return file;
}
const editState = (name: string, edit: (s: Record<string, unknown>) => void) =>
  edited(name, (meta) => {
    const s = JSON.parse(meta["spikelm.train"]!) as Record<string, unknown>;
    edit(s);
    meta["spikelm.train"] = JSON.stringify(s);
  });
const info = (s: Record<string, unknown>) => s.info as Record<string, Record<string, unknown>>;

beforeAll(async () => {
  const r = await inProcess(() => trainCommand(undefined, { ...TINY, out: CKPT }));
  expect(r.err).toBe("");
  expect(r.code).toBe(0);
}, 120_000);

describe("train --resume: a damaged checkpoint is a clear error, no output", () => {
  const resume = async (file: string, extra: Partial<TrainOptions> = {}) => {
    const out = at("resumed.safetensors");
    fs.rmSync(out, { force: true });
    const r = await inProcess(() => trainCommand(undefined, { ...TINY, steps: "4", resume: file, out, ...extra }));
    expect(r.err).not.toMatch(STACK);
    return { ...r, wrote: fs.existsSync(out) };
  };
  const refused = async (file: string, message: RegExp, extra: Partial<TrainOptions> = {}) => {
    const r = await resume(file, extra);
    expect(r.code, r.err).toBe(1);
    expect(r.wrote, `${file} left an output file`).toBe(false);
    expect(r.out).toBe("");
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toContain(path.basename(file));
    expect(r.err).toMatch(message);
  };

  it("the good checkpoint resumes (exit 0, output written)", async () => {
    const r = await resume(CKPT);
    expect(r.code, r.err).toBe(0);
    expect(r.wrote).toBe(true);
  }, 60_000);

  it("the training state: not an object, no info, bad step, bad rng", async () => {
    await refused(edited("null.safetensors", (m) => (m["spikelm.train"] = "null")), /training state .* damaged: expected a JSON object, found null/);
    await refused(edited("array.safetensors", (m) => (m["spikelm.train"] = "[2]")), /expected a JSON object, found \[2\]/);
    await refused(editState("info-num.safetensors", (s) => (s.info = 7)), /info must be a JSON object, found 7/);
    await refused(editState("step-neg.safetensors", (s) => (s.step = -3)), /step must be a whole number >= 0, found -3/);
    await refused(editState("step-str.safetensors", (s) => (s.step = "2")), /step must be a whole number >= 0, found "2"/);
    await refused(editState("rng.safetensors", (s) => (s.rng = ["a", 1, 2, 3])), /rng must be four unsigned 32-bit integers/);
    await refused(editState("rng-big.safetensors", (s) => (s.rng = [2 ** 32, 1, 2, 3])), /rng must be four unsigned 32-bit integers/);
    await refused(editState("tokens.safetensors", (s) => (info(s).tokens = "many" as never)), /info\.tokens must be a number >= 0/);
  }, 60_000);

  it("a checkpoint trained on other token ids (another merges file or vocab of the same size) is refused; its own tokenizer is kept", async () => {
    expect(loadCheckpoint(CKPT).state!.info.tokenizer).toBe("byte");
    await refused(editState("other-tokenizer.safetensors", (s) => (info(s).tokenizer = "bpe 256 deadbeef" as never)), /was trained with the tokenizer `bpe 256 deadbeef`, but this run tokenizes with `byte`: resume with the same merges file or vocab\.txt/);
  });

  it("a state without info resumes with the options given (it used to crash on info.config)", async () => {
    const r = await resume(editState("no-info.safetensors", (s) => delete s.info));
    expect(r.code, r.err).toBe(0);
    expect(r.wrote).toBe(true);
  }, 60_000);

  it("the stored config and shape: each value must pass its option's check", async () => {
    await refused(editState("lr.safetensors", (s) => (info(s).config!.lr = "abc")), /config\.lr must be a positive number, found "abc"/);
    await refused(editState("accum.safetensors", (s) => (info(s).config!.accum = 1e9)), /config\.accum must be a whole number from 1 to 1024, found 1000000000/);
    await refused(editState("beta.safetensors", (s) => (info(s).config!.beta2 = 1)), /config\.beta2 must be a number in \[0, 1\), found 1/);
    await refused(editState("sched.safetensors", (s) => (info(s).config!.schedule = 3)), /config\.schedule is cosine, linear or constant, found `3`/);
    await refused(editState("cfg-null.safetensors", (s) => (info(s).config = null as never)), /config must be a JSON object, found null/);
    // shape.batch is only taken when --batch is not given.
    await refused(editState("batch.safetensors", (s) => (info(s).shape = { batch: 1e9, seq: 16 })), /a micro-batch of 1,000,000,000 × 16 tokens is more than the limit of 1,048,576 \(batch and sequence length from .*batch\.safetensors where not given\)/, { batch: undefined });
    await refused(editState("batch-frac.safetensors", (s) => (info(s).shape = { batch: 1.5, seq: 16 })), /shape\.batch must be a whole number >= 1, found 1\.5/, { batch: undefined });
  }, 60_000);

  it("optimizer state: missing, the wrong size or not base64 names the parameter and both sizes", async () => {
    await refused(edited("m-short.safetensors", (m) => (m["spikelm.adam.m.head.b"] = Buffer.alloc(8).toString("base64"))), /"spikelm\.adam\.m\.head\.b" has 2 values, but parameter head\.b has 256/);
    await refused(edited("v-missing.safetensors", (m) => delete m["spikelm.adam.v.head.b"]), /no optimizer state "spikelm\.adam\.v\.head\.b" for parameter head\.b/);
    await refused(edited("b64.safetensors", (m) => (m["spikelm.adam.m.head.b"] = "!!!*")), /"spikelm\.adam\.m\.head\.b" is not a float32 array/);
  }, 60_000);
});

describe("loadCheckpoint on arbitrary training states", () => {
  it("returns a well-formed state or throws a UserError naming the file; nothing else", () => {
    const { tensors } = readSafetensors(CKPT);
    const file = at("prop.safetensors");
    const field = fc.oneof(fc.jsonValue(), fc.constantFrom(-1, 0.5, 2 ** 32, 2 ** 53, Number.MAX_VALUE, "1", null, [], {}));
    const state = fc.oneof(
      fc.jsonValue(),
      fc.record({ step: field, rng: fc.oneof(field, fc.array(field, { maxLength: 5 })), info: fc.oneof(field, fc.record({ tokens: field, elapsed_s: field, config: field })) }, { requiredKeys: [] }),
    );
    fc.assert(
      fc.property(state, (s) => {
        writeSafetensors(file, tensors as Map<string, F32Tensor>, { "spikelm.checkpoint": "1", "spikelm.train": JSON.stringify(s) ?? "" });
        let ck;
        try {
          ck = loadCheckpoint(file);
        } catch (e) {
          expect(e).toBeInstanceOf(UserError);
          expect((e as Error).message).toContain(file);
          return;
        }
        const st = ck.state!;
        expect(Number.isSafeInteger(st.step) && st.step >= 0).toBe(true);
        expect(st.rng.length === 4 && st.rng.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff)).toBe(true);
        expect(typeof st.info === "object" && st.info !== null && !Array.isArray(st.info)).toBe(true);
      }),
      { numRuns: 300, seed: 11 },
    );
  });
});

describe("train's numeric options", () => {
  const bad = async (extra: Partial<TrainOptions>, message: RegExp) => {
    const out = at("opt.safetensors");
    const r = await inProcess(() => trainCommand(undefined, { ...TINY, out, ...extra }));
    expect(r.code, r.err).toBe(1);
    expect(r.err).toMatch(message);
    expect(r.err).not.toMatch(STACK);
    expect(fs.existsSync(out)).toBe(false);
  };
  it("a seed or step count beyond the safe integers, a huge --accum or batch, a held-out file shorter than a window, a --log that is a folder", async () => {
    await bad({ seed: "1e300" }, /--seed expects a whole number >= 0, found `1e300`/);
    await bad({ steps: "1e20" }, /--steps expects a whole number >= 1, found `1e20`/);
    await bad({ accum: "1000000000" }, /--accum is at most 1,024, found 1000000000/);
    await bad({ batch: "1000000000" }, /a micro-batch of 1,000,000,000 × 16 tokens is more than the limit of 1,048,576: use a smaller --batch or --seq/);
    const short = at("short.txt");
    fs.writeFileSync(short, "a\n");
    await bad({ evalData: short }, /short\.txt has 2 tokens for evaluation; windows of --seq 16 need at least 17/);
    // Longer than the context and than the data: the context is the problem to name.
    await bad({ seq: "20000" }, /--seq 20000 is longer than the context of `decoder-small` \(16\)/);
    const folder = at("log-folder.jsonl");
    fs.mkdirSync(folder);
    await bad({ log: folder }, /--log .*log-folder\.jsonl: cannot write there: it is a folder/);
  }, 60_000);
});
