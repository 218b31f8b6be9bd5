// The installed `spikelm` command's fast start: the CLI and its sources as one JavaScript
// file, so a one-shot command does not pay tsx's per-module resolve-and-transpile of ~170
// TypeScript modules (1.7 s wall for `spikelm models` through tsx, 0.35 s from the bundle:
// `npm run bench -- --group startup`). The bundle is a CommonJS script, not an ES module,
// so that code-cache.mjs can compile it with vm.Script from V8's code cache; its first line
// is `// spikelm-bundle <sha1 of the rest>`, which names the build a cache file is for.
//
// Plain JavaScript because it runs before any TypeScript loader. The bundle is a cache, not
// a source: it lives under node_modules/.cache/spikelm/, is rebuilt (esbuild, which tsx
// already depends on) whenever it is missing or any repository file it was built from is
// newer, and any failure (no esbuild, a read-only install) falls back to tsx, so a clean
// clone and an edited tree both run the current sources.
import * as fs from "node:fs";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const OUT_DIR = path.join(ROOT, "node_modules", ".cache", "spikelm");
const BUNDLE = path.join(OUT_DIR, "cli.cjs");
/** The repository files (relative to ROOT) the bundle was built from, and the lock file. */
const INPUTS = path.join(OUT_DIR, "cli.inputs.json");
const ENTRY = path.join(ROOT, "tools", "cli", "program.ts");
// Loaded at run time, not bundled: prettier and wabt find their own files (plugins, the
// wasm binary) next to themselves; onnxruntime-node is a native module.
const EXTERNAL = ["prettier", "prettier/*", "wabt", "onnxruntime-node"];

/**
 * The bundle's path when it is at least as new as every file it was built from, the package
 * files (dependencies, the `#platform` import map) and this builder.
 */
export function freshBundle() {
  try {
    const built = fs.statSync(BUNDLE).mtimeMs;
    const inputs = JSON.parse(fs.readFileSync(INPUTS, "utf8"));
    for (const rel of [...inputs, "package.json", "package-lock.json", "tools/cli/bundle.mjs"]) {
      if (fs.statSync(path.join(ROOT, rel)).mtimeMs > built) return undefined;
    }
    return BUNDLE;
  } catch {
    return undefined;
  }
}

/**
 * `import.meta.url` of a repository module, as seen from the bundle: modules find their
 * neighbours through it (registry.ts its models, program.ts the stdlib, the LSP its worker),
 * so each keeps its own URL, relative to wherever the bundle is (`__spikelmBundleUrl`, which
 * code-cache.mjs passes in: a script has no import.meta).
 */
function ownUrlPlugin() {
  return {
    name: "own-import-meta-url",
    setup(build) {
      build.onLoad({ filter: /\.(ts|mjs)$/ }, async (args) => {
        if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
        const text = await fs.promises.readFile(args.path, "utf8");
        const rel = path.relative(OUT_DIR, args.path).split(path.sep).join("/");
        const contents = text.replaceAll("import.meta.url", `new URL(${JSON.stringify(rel)}, __spikelmBundleUrl).href`);
        return { contents, loader: args.path.endsWith(".ts") ? "ts" : "js" };
      });
    },
  };
}

/** Builds the bundle (written whole, then renamed: concurrent builds never see half a file); older builds' code caches are removed. */
export async function buildBundle() {
  const esbuild = await import("esbuild");
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const tmp = `${BUNDLE}.${process.pid}.tmp`;
  const tmpInputs = `${INPUTS}.${process.pid}.tmp`;
  try {
    return await build(esbuild, tmp, tmpInputs);
  } finally {
    for (const f of [tmp, tmpInputs]) fs.rmSync(f, { force: true });
  }
}

async function build(esbuild, tmp, tmpInputs) {
  const result = await esbuild.build({
    entryPoints: [ENTRY],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    // import() of a package becomes require(): a script compiled from V8's code cache loses
    // its dynamic-import callback in Node 20 (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING), and
    // the packages loaded this way (prettier, wabt) all have CommonJS entry points.
    supported: { "dynamic-import": false },
    outfile: tmp,
    external: EXTERNAL,
    plugins: [ownUrlPlugin()],
    metafile: true,
    logLevel: "silent",
    write: false,
  });
  // A dependency's own import.meta would be empty in a script: no bundle rather than a broken one (then: tsx).
  const meta = result.warnings.find((w) => /import\.meta/.test(w.text));
  if (meta) throw new Error(`bundle: ${meta.text}`);
  const code = result.outputFiles[0].contents;
  const build = createHash("sha1").update(code).digest("hex");
  fs.writeFileSync(tmp, Buffer.concat([Buffer.from(`// spikelm-bundle ${build}\n`), code]));
  const inputs = Object.keys(result.metafile.inputs)
    .map((p) => path.relative(ROOT, path.resolve(p)).split(path.sep).join("/"))
    .filter((p) => !p.startsWith("node_modules/") && !p.startsWith(".."));
  fs.writeFileSync(tmpInputs, JSON.stringify(inputs));
  fs.renameSync(tmpInputs, INPUTS);
  fs.renameSync(tmp, BUNDLE);
  for (const f of fs.readdirSync(OUT_DIR)) if (/^cli\.(cjs|mjs)\..*v8cache$|^cli\.mjs$/.test(f)) fs.rmSync(path.join(OUT_DIR, f), { force: true });
  return BUNDLE;
}

/** The bundle, rebuilt if stale; undefined when it cannot be built here (then: tsx). */
export async function ensureBundle() {
  const fresh = freshBundle();
  if (fresh) return fresh;
  try {
    return await buildBundle();
  } catch {
    return undefined;
  }
}

