/**
 * The page's state in the URL fragment, so that a link reproduces a spec and a run: which
 * document (a shipped file by URI, or the edited text, deflated and base64url-encoded), the
 * entry, its arguments, T, the weights seed, the input, the shipped model, and whether to run
 * on opening. Readable keys
 * (`#file=…&entry=TinySpikeLM&arg.d=32&T=4&seed=0&input=random&inputSeed=1`) so a link can
 * be read and edited by hand.
 */

import type { RunInput } from "../protocol.js";

/** The run's input: seeded random (with free sizes such as `L`), a text, or a shipped input file. */
export type InputChoice = RunInput;

export interface PageState {
  /** URI of the editor's document (a shipped file's bundled URI, or one under file:///playground/). */
  readonly uri: string;
  /** The document's text when it is not the shipped file as shipped. */
  readonly code?: string;
  readonly entry?: string;
  readonly args: Readonly<Record<string, number | boolean>>;
  /** Time steps; undefined: the spec's own. */
  readonly steps?: number;
  /** Seed of the weights the spec initialises. */
  readonly seed: number;
  readonly input: InputChoice;
  /** A shipped model whose weights and tokenizer the run uses. */
  readonly model?: string;
  /** Run as soon as the page opens (the links "Copy link" makes). */
  readonly run?: true;
}

async function pipeBytes(bytes: Uint8Array<ArrayBuffer>, stream: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const out = new Blob([bytes]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(out).arrayBuffer());
}

function toBase64Url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
  const s = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** Text → deflate → base64url (a spec of a few KB becomes a link of about a third of that). */
export async function packText(text: string): Promise<string> {
  return toBase64Url(await pipeBytes(new TextEncoder().encode(text), new CompressionStream("deflate")));
}

export async function unpackText(packed: string): Promise<string> {
  return new TextDecoder("utf-8", { fatal: true }).decode(await pipeBytes(fromBase64Url(packed), new DecompressionStream("deflate")));
}

/** The URL fragment (without `#`) for a state. */
export async function encodeState(s: PageState): Promise<string> {
  const p = new URLSearchParams();
  p.set("file", s.uri);
  if (s.code !== undefined) p.set("code", await packText(s.code));
  if (s.entry !== undefined) p.set("entry", s.entry);
  for (const [name, value] of Object.entries(s.args)) p.set(`arg.${name}`, String(value));
  if (s.steps !== undefined) p.set("T", String(s.steps));
  p.set("seed", String(s.seed));
  p.set("input", s.input.kind);
  if (s.input.kind === "random") {
    p.set("inputSeed", String(s.input.seed));
    for (const [dim, n] of Object.entries(s.input.sizes ?? {})) p.set(`size.${dim}`, String(n));
  } else if (s.input.kind === "text") p.set("text", s.input.text);
  else p.set("inputFile", s.input.uri);
  if (s.model !== undefined) p.set("model", s.model);
  if (s.run) p.set("run", "1");
  return p.toString();
}

/** A non-negative safe integer from a fragment value, or undefined. */
function count(v: string | null): number | undefined {
  if (v === null || !/^\d+$/.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** An argument value as `--arg` reads it: true/false, or a number. */
function argValue(v: string): number | boolean | undefined {
  if (v === "true") return true;
  if (v === "false") return false;
  const n = Number(v);
  return v.trim() !== "" && Number.isFinite(n) ? n : undefined;
}

function inputOf(p: URLSearchParams): InputChoice {
  const kind = p.get("input");
  const file = p.get("inputFile");
  if (kind === "text") return { kind: "text", text: p.get("text") ?? "" };
  if (kind === "file" && file) return { kind: "file", uri: file };
  const sizes = Object.fromEntries(
    [...p].flatMap(([key, value]) => {
      const n = key.startsWith("size.") ? count(value) : undefined;
      return n !== undefined && n > 0 ? [[key.slice(5), n] as const] : [];
    }),
  );
  return { kind: "random", seed: count(p.get("inputSeed")) ?? 1, ...(Object.keys(sizes).length ? { sizes } : {}) };
}

/**
 * The state a fragment describes, or undefined when it names no document. Values that do not
 * parse are dropped (the page falls back to its defaults for them), never guessed.
 */
export async function decodeState(fragment: string): Promise<PageState | undefined> {
  const p = new URLSearchParams(fragment.replace(/^#/, ""));
  const uri = p.get("file");
  if (!uri) return undefined;
  const packed = p.get("code");
  let code: string | undefined;
  if (packed !== null) {
    try {
      code = await unpackText(packed);
    } catch {
      code = undefined;
    }
  }
  // fromEntries: an argument named `__proto__` stays an argument.
  const args: Record<string, number | boolean> = Object.fromEntries(
    [...p].flatMap(([key, value]) => {
      const v = key.startsWith("arg.") ? argValue(value) : undefined;
      return v === undefined ? [] : [[key.slice(4), v] as const];
    }),
  );
  const steps = count(p.get("T"));
  const input = inputOf(p);
  const entry = p.get("entry") ?? undefined;
  const model = p.get("model") ?? undefined;
  return {
    uri,
    ...(code !== undefined ? { code } : {}),
    ...(entry ? { entry } : {}),
    args,
    ...(steps !== undefined && steps > 0 ? { steps } : {}),
    seed: count(p.get("seed")) ?? 0,
    input,
    ...(model ? { model } : {}),
    ...(p.get("run") === "1" ? { run: true as const } : {}),
  };
}
