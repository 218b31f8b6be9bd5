/**
 * The playground page: the editor (page/editor.ts) on the language server in one worker, the run
 * panel on the optimized executor in another, the examples and models menu, and the state in
 * the URL fragment (page/url-state.ts) so that a link reproduces a spec and a run.
 */
import { formatDocument } from "@codemirror/lsp-client";
import type { CatalogExample, CatalogModel, CatalogSuccess, EntryInfo, PlaygroundDiagnostic, RunRequest } from "../protocol.js";
import { USER_ROOT } from "../protocol.js";
import { Editors, createLspClient, labelOf } from "./editor.js";
import { loadSpkLanguage } from "./grammar.js";
import { renderResults } from "./results.js";
import { decodeState, encodeState, type InputChoice, type PageState } from "./url-state.js";
import { lspWorkerTransport, RunWorkerClient } from "./workers.js";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

const lspWorker = new Worker(new URL("../workers/lsp-worker.ts", import.meta.url), { type: "module", name: "spikelm-lsp" });
const runner = new RunWorkerClient(() => new Worker(new URL("../workers/run-worker.ts", import.meta.url), { type: "module", name: "spikelm-run" }));
const client = createLspClient().connect(lspWorkerTransport(lspWorker));

const status = (id: string, text: string, error = false) => {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle("error", error);
};

client.initializing.then(
  () => status("lsp-status", "language server ready (in a worker)"),
  (e: unknown) => status("lsp-status", `the language server did not start: ${String(e)}`, true),
);

let catalog: CatalogSuccess | undefined;
/** The shipped text of the document, when it is a shipped file (to tell an edit from the original). */
let shippedText: string | undefined;
let model: string | undefined;
let entries: readonly EntryInfo[] = [];

const editors = new Editors(
  client,
  $("editors"),
  $("tabs"),
  () => {
    scheduleEntries();
    scheduleUrl();
  },
  async (uri) => {
    const r = await runner.request({ type: "file", uri });
    return r.ok ? r.text : undefined;
  },
  () => $<HTMLFormElement>("run-form").requestSubmit(),
);

loadSpkLanguage().then(
  (lang) => editors.setLanguage(lang),
  (e: unknown) => status("lsp-status", `highlighting unavailable: ${String(e)}`, true),
);

// ---------------------------------------------------------------------------------------------
// The run form

function currentText(): string {
  return editors.main?.state.doc.toString() ?? "";
}

/** The shipped input file the current example offers (models/tiny/prompt.json), if any. */
let inputFile: string | undefined;

/** `B=1 L=8` → {B: 1, L: 8}; pairs that do not parse are left out. */
function sizesOf(text: string): Record<string, number> {
  return Object.fromEntries([...text.matchAll(/([A-Za-z_]\w*)\s*=\s*(\d+)/g)].map((m) => [m[1]!, Number(m[2])] as const).filter(([, n]) => n > 0));
}

function inputChoice(): InputChoice {
  const kind = (document.querySelector('input[name="input"]:checked') as HTMLInputElement | null)?.value;
  if (kind === "text") return { kind: "text", text: $<HTMLTextAreaElement>("input-text").value };
  if (kind === "file" && inputFile) return { kind: "file", uri: inputFile };
  const sizes = sizesOf($<HTMLInputElement>("input-sizes").value);
  return { kind: "random", seed: intOf($<HTMLInputElement>("input-seed").value) ?? 1, ...(Object.keys(sizes).length ? { sizes } : {}) };
}

const intOf = (v: string) => (/^\d+$/.test(v.trim()) ? Number(v) : undefined);

function argValues(): Record<string, number | boolean> {
  const args: Record<string, number | boolean> = {};
  for (const el of $("args").querySelectorAll<HTMLInputElement>("input[data-arg]")) {
    const v = el.value.trim();
    if (v === "") continue;
    if (v === "true" || v === "false") args[el.dataset.arg!] = v === "true";
    else if (Number.isFinite(Number(v))) args[el.dataset.arg!] = Number(v);
  }
  return args;
}

function pageState(): PageState | undefined {
  const uri = editors.mainUri;
  if (!uri) return undefined;
  const text = currentText();
  const steps = intOf($<HTMLInputElement>("steps").value);
  const entry = $<HTMLSelectElement>("entry").value || undefined;
  return {
    uri,
    ...(text !== shippedText ? { code: text } : {}),
    ...(entry ? { entry } : {}),
    args: argValues(),
    ...(steps ? { steps } : {}),
    seed: intOf($<HTMLInputElement>("seed").value) ?? 0,
    input: inputChoice(),
    ...(model ? { model } : {}),
  };
}

function renderArgs(entry: EntryInfo | undefined, values: Readonly<Record<string, number | boolean>>): void {
  const box = $("args");
  box.querySelectorAll("label").forEach((l) => l.remove());
  for (const p of entry?.params ?? []) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.dataset.arg = p.name;
    input.size = 6;
    // Empty means the declared default; a default that is not a literal (`act = SpikeLMReference()`) is kept as written.
    input.placeholder = p.required ? "required" : p.default === undefined ? "as declared" : String(p.default);
    if (values[p.name] !== undefined) input.value = String(values[p.name]);
    input.addEventListener("input", scheduleUrl);
    label.append(`${p.name} = `, input);
    box.append(label);
  }
  box.hidden = !entry || entry.params.length === 0;
}

function fillEntries(list: readonly EntryInfo[], wanted: string | undefined, values: Readonly<Record<string, number | boolean>>): void {
  entries = list;
  const select = $<HTMLSelectElement>("entry");
  const keep = wanted ?? select.value;
  select.replaceChildren(...list.map((e) => new Option(`${e.name} (${e.declKind})`, e.name)));
  const chosen = list.find((e) => e.name === keep) ?? list[list.length - 1];
  if (chosen) select.value = chosen.name;
  renderArgs(chosen, chosen?.name === keep ? values : {});
}

async function refreshEntries(wanted?: string, values: Readonly<Record<string, number | boolean>> = argValues()): Promise<void> {
  const uri = editors.mainUri;
  if (!uri) return;
  const r = await runner.request({ type: "entries", files: { [uri]: currentText() }, main: uri });
  if (r.ok) fillEntries(r.entries, wanted, values);
}

let entriesTimer: ReturnType<typeof setTimeout> | undefined;
function scheduleEntries(): void {
  clearTimeout(entriesTimer);
  entriesTimer = setTimeout(() => void refreshEntries(), 600);
}

let urlTimer: ReturnType<typeof setTimeout> | undefined;
function scheduleUrl(): void {
  clearTimeout(urlTimer);
  urlTimer = setTimeout(() => void writeUrl(), 300);
}

async function writeUrl(): Promise<void> {
  const s = pageState();
  if (s) history.replaceState(null, "", `#${await encodeState(s)}`);
}

$("entry").addEventListener("change", () => {
  renderArgs(
    entries.find((e) => e.name === $<HTMLSelectElement>("entry").value),
    {},
  );
  scheduleUrl();
});
for (const id of ["steps", "seed", "input-seed", "input-sizes", "input-text"]) $(id).addEventListener("input", scheduleUrl);
for (const r of document.querySelectorAll('input[name="input"]')) r.addEventListener("change", scheduleUrl);

$("stop").addEventListener("click", () => runner.restart("stopped: the run was cancelled (a fresh run worker is ready)"));

$("format").addEventListener("click", () => {
  const v = editors.main;
  if (v) formatDocument(v);
});

$("share").addEventListener("click", async () => {
  await writeUrl();
  const s = pageState();
  if (!s) return;
  // The copied link also runs on opening; the address bar's does not (a reload keeps the results away).
  const link = `${location.origin}${location.pathname}#${await encodeState({ ...s, run: true })}`;
  try {
    await navigator.clipboard.writeText(link);
    status("run-status", "link copied: it opens this spec and runs it");
  } catch {
    status("run-status", "copying was refused: the address bar has the link (add &run=1 to run on opening)");
  }
});

// ---------------------------------------------------------------------------------------------
// Running

function describeDiagnostic(d: PlaygroundDiagnostic): string {
  const where = d.uri ? `${labelOf(d.uri)}${d.line !== undefined ? `:${d.line}:${d.col ?? 1}` : ""}: ` : "";
  return `${where}${d.severity}${d.code ? ` ${d.code}` : ""}: ${d.message}`;
}

/** A run's diagnostics under the form, each a link to its place in the spec. */
function showProblems(list: readonly PlaygroundDiagnostic[]): void {
  $("run-problems").replaceChildren(
    ...list.map((d) => {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = describeDiagnostic(d);
      const { uri, line } = d;
      if (uri && line !== undefined) b.addEventListener("click", () => void editors.reveal(uri, line, d.col ?? 1));
      else b.disabled = true;
      li.append(b);
      return li;
    }),
  );
}

$("run-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const s = pageState();
  if (!s?.entry) {
    status("run-status", "this file declares nothing to run", true);
    return;
  }
  void writeUrl();
  const req: Omit<RunRequest, "id"> = {
    type: "run",
    files: { [s.uri]: currentText() },
    main: s.uri,
    entry: s.entry,
    args: s.args,
    ...(s.steps !== undefined ? { steps: s.steps } : {}),
    seed: s.seed,
    input: s.input,
    ...(s.model ? { model: s.model } : {}),
  };
  const button = $<HTMLButtonElement>("run");
  button.disabled = true;
  $("stop").hidden = false;
  status("run-status", "compiling…");
  showProblems([]);
  const r = await runner.request(req, (p) => status("run-status", `${p.phase === "compile" ? "compiling" : p.phase === "run" ? "running" : "counting"}… ${p.total > 0 ? `${p.done}/${p.total}` : ""}`));
  button.disabled = false;
  $("stop").hidden = true;
  if (!r.ok) {
    status("run-status", r.message, true);
    showProblems(r.diagnostics);
    $("results").hidden = true;
    return;
  }
  status("run-status", `done in ${(r.timings.compileMs + r.timings.runMs + r.timings.reportMs).toFixed(0)} ms`);
  renderResults(r, s.entry);
});

// ---------------------------------------------------------------------------------------------
// Examples and models

const exampleKey = (e: CatalogExample) => `example:${e.uri}`;
const modelKey = (m: CatalogModel) => `model:${m.name}`;

function fillMenu(c: CatalogSuccess): void {
  const select = $<HTMLSelectElement>("examples");
  const group = (label: string, options: HTMLOptionElement[]) => {
    const g = document.createElement("optgroup");
    g.label = label;
    g.append(...options);
    return g;
  };
  select.replaceChildren(
    new Option("choose…", ""),
    group(
      "Examples",
      c.examples.map((e) => new Option(e.path, exampleKey(e))),
    ),
    group(
      "Models",
      c.models.map((m) => new Option(`${m.name} — ${m.description}`, modelKey(m))),
    ),
  );
}

async function shippedTextOf(uri: string): Promise<string | undefined> {
  const ex = catalog?.examples.find((e) => e.uri === uri);
  if (ex) return ex.text;
  const r = await runner.request({ type: "file", uri });
  return r.ok ? r.text : undefined;
}

function setInput(input: InputChoice, offeredFile: string | undefined): void {
  inputFile = input.kind === "file" ? input.uri : offeredFile;
  $("file-choice").hidden = inputFile === undefined;
  $("input-file").textContent = inputFile ? labelOf(inputFile) : "";
  for (const r of document.querySelectorAll<HTMLInputElement>('input[name="input"]')) r.checked = r.value === input.kind;
  $<HTMLInputElement>("input-sizes").value = Object.entries(input.kind === "random" ? (input.sizes ?? {}) : {})
    .map(([d, n]) => `${d}=${n}`)
    .join(" ");
  if (input.kind === "random") $<HTMLInputElement>("input-seed").value = String(input.seed);
  else if (input.kind === "text") $<HTMLTextAreaElement>("input-text").value = input.text;
}

/** The shipped input file an example's suggested runs use, if any. */
function offeredFileOf(uri: string): string | undefined {
  for (const r of catalog?.examples.find((e) => e.uri === uri)?.runs ?? []) if (r.input.kind === "file") return r.input.uri;
  return undefined;
}

/** Puts a state on the page: the document, the entry and its arguments, the run settings. */
async function applyState(s: PageState): Promise<void> {
  shippedText = await shippedTextOf(s.uri);
  model = s.model;
  editors.openMain(s.uri, s.code ?? shippedText ?? "");
  $<HTMLInputElement>("steps").value = s.steps !== undefined ? String(s.steps) : "";
  $<HTMLInputElement>("seed").value = String(s.seed);
  setInput(s.input, offeredFileOf(s.uri));
  await refreshEntries(s.entry, s.args);
  $("results").hidden = true;
  status("run-status", "");
  showProblems([]);
  // The menu shows what is open, when it is a shipped example or model.
  const menu = $<HTMLSelectElement>("examples");
  const key = s.model !== undefined ? `model:${s.model}` : `example:${s.uri}`;
  menu.value = [...menu.options].some((o) => o.value === key) ? key : "";
  await writeUrl();
}

function stateOfExample(e: CatalogExample): PageState {
  const run = e.runs[0];
  return { uri: e.uri, ...(run ? { entry: run.entry } : {}), args: run?.args ?? {}, seed: 0, input: run?.input ?? { kind: "random", seed: 1 }, ...(run?.model ? { model: run.model } : {}) };
}

function stateOfModel(m: CatalogModel): PageState {
  return { uri: m.uri, entry: m.entry, args: m.args, seed: 0, input: { kind: "text", text: $<HTMLTextAreaElement>("input-text").value || "The spiking model reads" }, model: m.name };
}

$("examples").addEventListener("change", async () => {
  const key = $<HTMLSelectElement>("examples").value;
  const e = catalog?.examples.find((x) => exampleKey(x) === key);
  const m = catalog?.models.find((x) => modelKey(x) === key);
  if (e) await applyState(stateOfExample(e));
  else if (m) await applyState(stateOfModel(m));
});

window.addEventListener("hashchange", async () => {
  const s = await decodeState(location.hash);
  const current = pageState();
  if (s && current && (await encodeState(s)) !== (await encodeState(current))) await applyState(s);
});

/** The example the page opens with when the URL names none: TinySpikeLM if shipped, else the first. */
function defaultState(c: CatalogSuccess): PageState {
  const tiny = c.examples.find((e) => /tiny/i.test(e.path) && e.runs.length > 0) ?? c.examples.find((e) => e.runs.length > 0) ?? c.examples[0];
  if (tiny) return stateOfExample(tiny);
  return { uri: `file://${USER_ROOT}/main.spk`, code: 'import "std/neurons"\n', args: {}, seed: 0, input: { kind: "random", seed: 1 } };
}

async function start(): Promise<void> {
  const c = await runner.request({ type: "catalog" });
  if (!c.ok) {
    status("run-status", `the run worker did not start: ${c.message}`, true);
    return;
  }
  catalog = c;
  fillMenu(c);
  const linked = await decodeState(location.hash);
  await applyState(linked ?? defaultState(c));
  document.body.dataset.ready = "true";
  if (linked?.run) $<HTMLFormElement>("run-form").requestSubmit();
}

void start();
