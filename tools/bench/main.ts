/**
 * `npm run bench [-- --quick] [-- --json FILE] [-- --group NAME]`
 *
 * Imports the benchmark group modules listed in GROUP_MODULES (each registers itself via
 * tools/bench/registry.ts), runs them, prints one compact table to stdout (progress goes to
 * stderr) and optionally writes {"rows": [...]} as JSON.
 *
 * To add a group: create a module that calls registerGroup(name, async (ctx) => rows) and
 * append its import to GROUP_MODULES.
 */

import { writeFileSync } from "node:fs";
import cliProgress from "cli-progress";
import { registeredGroups, type BenchContext, type BenchRow } from "./registry.js";
import { textTable } from "./table.js";
import { shutdownKernelPool } from "../../interpreter/engine/kernels/spike-matmul.js";

/** Benchmark group modules, imported in order. Add new groups here. */
const GROUP_MODULES: (() => Promise<unknown>)[] = [() => import("./groups/kernels.js"), () => import("./groups/layers.js"), () => import("./groups/interpreter.js"), () => import("./groups/lsp-latency.js"), () => import("./groups/training.js"), () => import("./groups/startup.js"), () => import("./groups/generation.js"), () => import("./groups/generation-long.js"), () => import("./groups/float-nt.js"), () => import("./groups/pytorch.js")];

interface Args {
  quick: boolean;
  json: string | null;
  groups: string[];
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { quick: false, json: null, groups: [] };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    if (x === "--quick") a.quick = true;
    else if (x === "--json") a.json = argv[++i] ?? null;
    else if (x.startsWith("--json=")) a.json = x.slice(7);
    else if (x === "--group") a.groups.push(argv[++i] ?? "");
    else if (x === "--help" || x === "-h") {
      process.stdout.write("usage: npm run bench -- [--quick] [--json FILE] [--group NAME]...\n");
      process.exit(0);
    } else throw new Error(`unknown argument ${x}`);
  }
  if (a.json === "") a.json = null;
  return a;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  for (const load of GROUP_MODULES) await load();
  const groups = registeredGroups().filter((g) => args.groups.length === 0 || args.groups.includes(g.name));
  if (groups.length === 0) throw new Error(`no benchmark group matches ${args.groups.join(", ")}`);

  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: "{bar} {value}/{total} | {group} {label}",
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 20,
      noTTYOutput: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let total = 0;
  bar.start(0, 0, { group: "", label: "" });

  const rows: (BenchRow & { group: string })[] = [];
  try {
    for (const g of groups) {
      const ctx: BenchContext = {
        quick: args.quick,
        addSteps: (n) => {
          total += n;
          bar.setTotal(total);
        },
        step: (label = "") => bar.increment(1, { group: g.name, label }),
        log: (msg) => {
          process.stderr.write(`\n${msg}\n`);
        },
      };
      bar.update({ group: g.name, label: "" });
      const got = await g.run(ctx);
      for (const r of got) rows.push({ group: g.name, ...r });
    }
  } finally {
    bar.stop();
    await shutdownKernelPool();
  }

  const header = ["group", "name", "vs", "shape", "rate", "ratio", "ms", "base ms", "GF/s", "base GF/s"];
  const num = (x: unknown) => (typeof x === "number" ? x : "");
  const table = rows.map((r) => [
    r.group,
    r.name,
    r.vs,
    r.shape ? r.shape.join("x") : "-",
    r.rate ?? "-",
    r.ratio,
    num(r["spike_ms"]),
    num(r["base_ms"]),
    num(r["spike_gflops"]),
    num(r["base_gflops"]),
  ]);
  process.stdout.write(textTable(header, table) + "\n");
  const extras = rows.filter((r) => typeof r["bytes_per_call"] === "number");
  if (extras.length) {
    const maxBytes = Math.max(...extras.map((r) => r["bytes_per_call"] as number));
    process.stdout.write(`bytes allocated per spike call (steady state, max over rows): ${maxBytes}\n`);
  }
  if (rows.some((r) => r["bit_exact_vs_dense_ref"] === false)) process.stdout.write("WARNING: bit-exactness check failed\n");
  if (args.json) {
    writeFileSync(args.json, JSON.stringify({ rows }, null, 2) + "\n");
    process.stderr.write(`wrote ${args.json}\n`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
