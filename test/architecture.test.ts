/**
 * The architecture invariants of ARCHITECTURE.md that can be read off the source: who imports
 * whom, who talks to the terminal, and that nothing reaches outside the repository.
 *
 * Sources are parsed (TypeScript's parser), not grepped: imports are import/export
 * declarations, `import()` calls and `require()` calls; terminal writes are uses of
 * `process.stdout`, `process.stderr`, `process.stdin` and `console`. Each rule quotes the
 * sentence of ARCHITECTURE.md it enforces, and the first test checks the quotes are still
 * there, so the document and this test change together.
 */
import { builtinModules } from "node:module";
import * as fs from "node:fs";
import * as path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { REPO } from "./helpers.js";

/** The folders of the product and its tests (node_modules and dot-folders skipped). */
const FOLDERS = ["grammar", "interpreter", "stdlib", "models", "tools", "test", "examples"];
const SCRIPT = /\.(ts|mts|cts|js|mjs|cjs)$/;
/** Text files that can name a path: code, specs, fixtures, scripts. Data (safetensors, tsv, json) is left out. */
const TEXT = /\.(ts|mts|cts|js|mjs|cjs|spk|sh)$/;

function walk(dir: string, out: string[] = []): string[] {
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name === "node_modules" || e.name.startsWith(".")) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.isFile()) out.push(p);
  }
  return out;
}

const FILES = FOLDERS.flatMap((f) => walk(path.join(REPO, f))).map((f) => path.relative(REPO, f).split(path.sep).join("/"));

interface Source {
  readonly file: string; // repo-relative, "/"-separated
  readonly imports: readonly { readonly spec: string; readonly line: number }[];
  readonly terminal: readonly { readonly what: string; readonly line: number }[];
  readonly strings: readonly { readonly text: string; readonly line: number }[];
}

function read(file: string, text = fs.readFileSync(path.join(REPO, file), "utf8")): Source {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, /\.(js|mjs|cjs)$/.test(file) ? ts.ScriptKind.JS : ts.ScriptKind.TS);
  const line = (n: ts.Node) => sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
  const imports: { spec: string; line: number }[] = [];
  const terminal: { what: string; line: number }[] = [];
  const strings: { text: string; line: number }[] = [];
  const visit = (n: ts.Node): void => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) {
      imports.push({ spec: n.moduleSpecifier.text, line: line(n) });
    } else if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference) && ts.isStringLiteral(n.moduleReference.expression)) {
      imports.push({ spec: n.moduleReference.expression.text, line: line(n) });
    } else if (ts.isCallExpression(n) && (n.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(n.expression) && n.expression.text === "require"))) {
      const arg = n.arguments[0];
      if (arg && ts.isStringLiteralLike(arg)) imports.push({ spec: arg.text, line: line(n) });
    } else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal)) {
      imports.push({ spec: n.argument.literal.text, line: line(n) });
    }
    // process.stdout / process["stderr"] / process.stdin, and console in any use
    if ((ts.isPropertyAccessExpression(n) || ts.isElementAccessExpression(n)) && ts.isIdentifier(n.expression) && n.expression.text === "process") {
      const name = ts.isPropertyAccessExpression(n) ? n.name.text : ts.isStringLiteralLike(n.argumentExpression) ? n.argumentExpression.text : "";
      if (name === "stdout" || name === "stderr" || name === "stdin") terminal.push({ what: `process.${name}`, line: line(n) });
    }
    if (ts.isIdentifier(n) && n.text === "console" && !isPropertyName(n)) terminal.push({ what: "console", line: line(n) });
    if (ts.isStringLiteralLike(n)) strings.push({ text: n.text, line: line(n) });
    else if (ts.isTemplateExpression(n)) {
      strings.push({ text: n.head.text, line: line(n) });
      for (const span of n.templateSpans) strings.push({ text: span.literal.text, line: line(span) });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return { file, imports, terminal, strings };
}

function isPropertyName(n: ts.Identifier): boolean {
  const p = n.parent;
  return (ts.isPropertyAccessExpression(p) && p.name === n) || ((ts.isPropertyAssignment(p) || ts.isPropertySignature(p) || ts.isPropertyDeclaration(p) || ts.isMethodDeclaration(p)) && p.name === n);
}

const SOURCES = FILES.filter((f) => SCRIPT.test(f)).map((f) => read(f));
const BY_FILE = new Map(SOURCES.map((s) => [s.file, s]));

/** Where a relative import lands, repo-relative ("/"-separated); undefined for a package. */
function target(from: string, spec: string): string | undefined {
  if (!spec.startsWith(".")) return undefined;
  return path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
}

/** The package a bare specifier names (`node:fs` → `node:fs`, `@a/b/c` → `@a/b`, `x/y` → `x`). */
function packageOf(spec: string): string {
  const parts = spec.split("/");
  return spec.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

const inside = (file: string, folder: string) => file.startsWith(`${folder}/`);

interface Rule {
  readonly name: string;
  /** The sentence of ARCHITECTURE.md the rule enforces (white space folded). */
  readonly doc: string;
  /** Violations as `file:line what`. */
  readonly check: () => string[];
}

/** The imports of files in `folder` that land (repo-relative) where `forbidden` says, as `file:line imports spec`. */
function relativeImports(folder: string, forbidden: (target: string) => boolean): string[] {
  return SOURCES.filter((s) => inside(s.file, folder)).flatMap((s) =>
    s.imports.flatMap((i) => {
      const t = target(s.file, i.spec);
      return t !== undefined && forbidden(t) ? [`${s.file}:${i.line} imports ${i.spec}`] : [];
    }),
  );
}

/** Packages that speak to the terminal, the editor (LSP) or JSON-RPC. */
const TOOLS_ONLY_PACKAGES = /^(vscode-languageserver.*|vscode-languageclient|vscode-jsonrpc|vscode|commander|cli-progress|node:tty|tty|node:readline|readline)$/;

/** The product outside tools/ (tests talk to the terminal and the LSP to test tools/). */
const isProductOutsideTools = (f: string) => ["grammar", "interpreter", "stdlib", "models"].some((d) => inside(f, d));

/** The design folder beside the checkout, which a clone does not have (built from parts so that a
 * plain text search for it finds only real uses, not this rule and its samples). */
const SHARED = ["..", "shared"].join("/");

/** Node's built-in modules by their bare names too (`fs` as well as `node:fs`). */
const NODE_BUILTINS = new Set(builtinModules);

const RULES: readonly Rule[] = [
  {
    name: "grammar/ imports nothing outside grammar/",
    doc: "the grammar knows nothing of the interpreter; nothing in `grammar/` imports from outside it.",
    check: () => relativeImports("grammar", (t) => !inside(t, "grammar")),
  },
  {
    name: "interpreter/engine/ imports nothing from grammar/, checker/, ir/ or reference/",
    doc: "kernels know nothing of the language: `engine/` imports nothing from `grammar/`, `checker/`, `ir/` or `reference/`.",
    check: () => relativeImports("interpreter/engine", (t) => ["grammar", "interpreter/checker", "interpreter/ir", "interpreter/reference"].some((d) => inside(t, d))),
  },
  {
    name: "within interpreter/, only platform/node.ts imports Node built-ins",
    doc: "within `interpreter/`, only `platform/node.ts` imports Node built-ins (`node:*`).",
    check: () =>
      SOURCES.filter((s) => inside(s.file, "interpreter") && s.file !== "interpreter/platform/node.ts").flatMap((s) =>
        s.imports.filter((i) => i.spec.startsWith("node:") || NODE_BUILTINS.has(i.spec)).map((i) => `${s.file}:${i.line} imports ${i.spec}`),
      ),
  },
  {
    name: "only tools/ imports terminal, LSP and JSON-RPC packages",
    doc: "only `tools/` knows about the terminal, LSP and JSON-RPC.",
    check: () =>
      SOURCES.filter((s) => isProductOutsideTools(s.file)).flatMap((s) =>
        s.imports.filter((i) => target(s.file, i.spec) === undefined && TOOLS_ONLY_PACKAGES.test(packageOf(i.spec))).map((i) => `${s.file}:${i.line} imports ${i.spec}`),
      ),
  },
  {
    name: "within tools/, only tools/lsp/ imports vscode-languageserver*",
    doc: "Within `tools/`, only `lsp/` imports the language server library (`vscode-languageserver*`).",
    check: () =>
      SOURCES.filter((s) => !inside(s.file, "tools/lsp") && !inside(s.file, "test")).flatMap((s) =>
        s.imports.filter((i) => target(s.file, i.spec) === undefined && packageOf(i.spec).startsWith("vscode-languageserver")).map((i) => `${s.file}:${i.line} imports ${i.spec}`),
      ),
  },
  {
    name: "only tools/ writes to the terminal (process.stdout/stderr/stdin, console)",
    doc: "only `tools/` knows about the terminal, LSP and JSON-RPC.",
    check: () => SOURCES.filter((s) => isProductOutsideTools(s.file)).flatMap((s) => s.terminal.map((t) => `${s.file}:${t.line} uses ${t.what}`)),
  },
  {
    name: "no code, test or fixture names a path outside the repository",
    doc: `the repository is self-contained: no code, test or fixture names a path outside it (\`${SHARED}\`, an absolute path).`,
    // (this file is left out: its own samples below name such paths)
    check: () => FILES.filter((f) => TEXT.test(f) && f !== "test/architecture.test.ts").flatMap((f) => outsidePaths(f)),
  },
];

const inRepo = (p: string) => p === REPO || p.startsWith(REPO + path.sep);

/** Absolute paths that name the machine, not a project: system programs and devices, placeholders. */
const SYSTEM_PATH = /^\/(usr\/bin|bin|dev|proc|path\/to)\//;

/**
 * The strings of a file that leave the repository: string literals of code, quoted strings of
 * specs (their import paths) and shell scripts.
 */
function outsidePaths(file: string, text = fs.readFileSync(path.join(REPO, file), "utf8")): string[] {
  const strings = SCRIPT.test(file)
    ? (BY_FILE.get(file) ?? read(file, text)).strings
    : text.split("\n").flatMap((l, i) => [...l.matchAll(/"([^"\n]*)"|'([^'\n]*)'/g)].map((m) => ({ text: m[1] ?? m[2] ?? "", line: i + 1 })));
  return strings.flatMap(({ text, line }) => {
    const where = `${file}:${line} ${JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}...` : text)}`;
    if (/(^|[\\/])\.\.[\\/]shared([\\/]|$)/.test(text)) return [`${where} names ${SHARED}`];
    const abs = /^\/[A-Za-z0-9_.~-]+\/[^\s"'`]*/.exec(text)?.[0];
    if (abs !== undefined && !SYSTEM_PATH.test(abs) && !inRepo(abs)) return [`${where} is an absolute path outside the repository`];
    if (/^\.\.?\//.test(text) && !inRepo(path.resolve(REPO, path.dirname(file), text))) return [`${where} leaves the repository`];
    return [];
  });
}

const fold = (s: string) => s.replace(/\s+/g, " ");

describe("architecture", () => {
  it("reads the sources", () => {
    expect(SOURCES.length).toBeGreaterThan(100);
    expect(SOURCES.some((s) => s.file === "grammar/parse.ts")).toBe(true);
  });

  it("ARCHITECTURE.md states every rule checked here", () => {
    const doc = fold(fs.readFileSync(path.join(REPO, "ARCHITECTURE.md"), "utf8"));
    for (const rule of RULES) expect(doc.includes(fold(rule.doc)), `ARCHITECTURE.md no longer says: ${rule.doc}`).toBe(true);
  });

  for (const rule of RULES) {
    it(rule.name, () => {
      expect(rule.check()).toEqual([]);
    });
  }
});

describe("architecture rules catch what they are for", () => {
  it("sees imports in every form, and terminal uses", () => {
    const s = read(
      "interpreter/engine/x.ts",
      'import { a } from "../ir/graph.js";\nexport * from "../checker/x.js";\nconst m = await import("vscode-languageserver/node");\n' +
        'process.stderr.write("x");\nconsole.log(1);\nconst o = { console: 1 }; // console.log in a comment\n',
    );
    expect(s.imports.map((i) => `${i.line} ${target(s.file, i.spec) ?? packageOf(i.spec)}`)).toEqual(["1 interpreter/ir/graph.js", "2 interpreter/checker/x.js", "3 vscode-languageserver"]);
    expect(s.terminal.map((t) => `${t.line} ${t.what}`)).toEqual(["4 process.stderr", "5 console"]);
  });

  it("sees paths that leave the repository, in code and in specs", () => {
    const code = `const a = "${SHARED}/golden.json";\nconst b = \`/${"work"}/shared/\${x}\`;\nconst c = "/usr/bin/python3";\nconst d = "../../../../etc";\nconst e = "./fixtures/x.spk";\n`;
    expect(outsidePaths("test/x.test.ts", code).map((v) => v.split(" ")[0])).toEqual(["test/x.test.ts:1", "test/x.test.ts:2", "test/x.test.ts:4"]);
    expect(outsidePaths("test/fixtures/x.spk", `import "../${SHARED}/layers.spk"\nimport "layers.spk"\n`)).toHaveLength(1);
  });
});
