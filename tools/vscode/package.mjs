#!/usr/bin/env node
/**
 * Packs the VS Code extension into `spikelm-vscode-<version>.vsix`, installable with
 * `code --install-extension spikelm-vscode-<version>.vsix`.
 *
 * A .vsix is a zip: `[Content_Types].xml`, `extension.vsixmanifest`, and the extension's
 * files under `extension/`. The runtime dependency (vscode-languageclient) is bundled as
 * `extension/node_modules/...`; it is installed into tools/vscode/node_modules from the npm
 * registry when missing.
 *
 *   node tools/vscode/package.mjs [--out DIR] [--no-deps]
 *
 *   --out DIR    where to write the .vsix (default: tools/vscode/)
 *   --no-deps    do not bundle node_modules (also SPIKELM_VSIX_NO_DEPS=1); the result then
 *                only highlights and cannot start the language server: for tests
 *
 * The zip writer below (deflate via node:zlib, CRC-32, no zip64) keeps the script free of
 * dependencies. Entries are sorted and dated 1980-01-01, so a build is reproducible.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import * as zlib from "node:zlib";

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** The extension's own files (paths relative to tools/vscode). */
const FILES = ["package.json", "extension.js", "language-configuration.json", "syntaxes/spk.tmLanguage.json", "README.md"];

function parseArgs(argv) {
  const opts = { out: HERE, deps: process.env.SPIKELM_VSIX_NO_DEPS !== "1" };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--no-deps") opts.deps = false;
    else if (a === "--out") opts.out = path.resolve(argv[++i] ?? ".");
    else if (a.startsWith("--out=")) opts.out = path.resolve(a.slice("--out=".length));
    else {
      process.stderr.write(`package.mjs: unknown argument ${a}\nusage: node tools/vscode/package.mjs [--out DIR] [--no-deps]\n`);
      process.exit(2);
    }
  }
  return opts;
}

// ---------------------------------------------------------------------------------------
// Dependencies

/** Installs the extension's dependencies into tools/vscode/node_modules when any is missing. */
function ensureDependencies(manifest) {
  const deps = Object.keys(manifest.dependencies ?? {});
  const missing = deps.filter((d) => !fs.existsSync(path.join(HERE, "node_modules", d, "package.json")));
  if (missing.length === 0) return;
  process.stderr.write(`installing ${missing.join(", ")} into tools/vscode/node_modules ...\n`);
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const r = spawnSync(npm, ["install", "--prefix", HERE, "--omit=dev", "--no-package-lock", "--no-audit", "--no-fund", "--ignore-scripts"], {
    stdio: ["ignore", "inherit", "inherit"],
    timeout: 180_000,
    shell: process.platform === "win32",
  });
  if (r.status !== 0) {
    process.stderr.write("npm install failed: run `npm install --prefix tools/vscode --omit=dev` by hand, or pass --no-deps\n");
    process.exit(1);
  }
}

/** Every file under tools/vscode/node_modules (relative paths), without npm's bookkeeping. */
function dependencyFiles() {
  const root = path.join(HERE, "node_modules");
  const out = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.name === ".bin" || e.name === ".package-lock.json" || e.name === ".cache") continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(path.relative(HERE, p).split(path.sep).join("/"));
    }
  };
  if (fs.existsSync(root)) walk(root);
  return out;
}

// ---------------------------------------------------------------------------------------
// The vsix metadata

const escapeXml = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

const MIME = {
  ".js": "application/javascript",
  ".cjs": "application/javascript",
  ".mjs": "application/javascript",
  ".json": "application/json",
  ".map": "application/json",
  ".md": "text/markdown",
  ".txt": "text/plain",
  ".ts": "text/plain",
  ".xml": "text/xml",
  ".vsixmanifest": "text/xml",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".yml": "text/yaml",
  ".yaml": "text/yaml",
};

function contentTypes(entryNames) {
  const defaults = new Map([[".vsixmanifest", "text/xml"]]);
  const overrides = [];
  for (const name of entryNames) {
    const ext = path.posix.extname(name).toLowerCase();
    if (ext) defaults.set(ext, MIME[ext] ?? "application/octet-stream");
    else overrides.push(name);
  }
  const lines = [...defaults].sort(([a], [b]) => (a < b ? -1 : 1)).map(([ext, type]) => `  <Default Extension="${escapeXml(ext)}" ContentType="${type}"/>`);
  for (const name of overrides) lines.push(`  <Override PartName="/${escapeXml(name)}" ContentType="application/octet-stream"/>`);
  return ['<?xml version="1.0" encoding="utf-8"?>', '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">', ...lines, "</Types>", ""].join("\n");
}

function vsixManifest(m) {
  const prop = (id, value) => `      <Property Id="${id}" Value="${escapeXml(value)}" />`;
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<PackageManifest Version="2.0.0" xmlns="http://schemas.microsoft.com/developer/vsx-schema/2011" xmlns:d="http://schemas.microsoft.com/developer/vsx-schema-design/2011">',
    "  <Metadata>",
    `    <Identity Language="en-US" Id="${escapeXml(m.name)}" Version="${escapeXml(m.version)}" Publisher="${escapeXml(m.publisher)}" />`,
    `    <DisplayName>${escapeXml(m.displayName ?? m.name)}</DisplayName>`,
    `    <Description xml:space="preserve">${escapeXml(m.description ?? "")}</Description>`,
    `    <Tags>${escapeXml([...new Set([...(m.keywords ?? []), "spk"])].join(","))}</Tags>`,
    `    <Categories>${escapeXml((m.categories ?? []).join(","))}</Categories>`,
    "    <GalleryFlags>Public</GalleryFlags>",
    "    <Properties>",
    prop("Microsoft.VisualStudio.Code.Engine", m.engines?.vscode ?? "*"),
    prop("Microsoft.VisualStudio.Code.ExtensionDependencies", ""),
    prop("Microsoft.VisualStudio.Code.ExtensionPack", ""),
    prop("Microsoft.VisualStudio.Code.ExtensionKind", "workspace"),
    prop("Microsoft.VisualStudio.Code.LocalizedLanguages", ""),
    prop("Microsoft.VisualStudio.Services.GitHubFlavoredMarkdown", "true"),
    prop("Microsoft.VisualStudio.Services.Content.Pricing", "Free"),
    "    </Properties>",
    m.license ? `    <License>extension/LICENSE.txt</License>` : "",
    "  </Metadata>",
    "  <Installation>",
    '    <InstallationTarget Id="Microsoft.VisualStudio.Code"/>',
    "  </Installation>",
    "  <Dependencies/>",
    "  <Assets>",
    '    <Asset Type="Microsoft.VisualStudio.Code.Manifest" Path="extension/package.json" Addressable="true" />',
    '    <Asset Type="Microsoft.VisualStudio.Services.Content.Details" Path="extension/README.md" Addressable="true" />',
    m.license ? '    <Asset Type="Microsoft.VisualStudio.Services.Content.License" Path="extension/LICENSE.txt" Addressable="true" />' : "",
    "  </Assets>",
    "</PackageManifest>",
    "",
  ]
    .filter((l) => l !== "")
    .join("\n");
}

// ---------------------------------------------------------------------------------------
// A small zip writer

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(buf) {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const DOS_TIME = 0; // 00:00:00
const DOS_DATE = (0 << 9) | (1 << 5) | 1; // 1980-01-01

/** A zip archive of `entries` ({name, data}); deflated unless that does not make it smaller. */
export function zip(entries) {
  const locals = [];
  const central = [];
  let offset = 0;
  for (const { name, data } of entries) {
    const nameBuf = Buffer.from(name, "utf8");
    const deflated = zlib.deflateRawSync(data, { level: 9 });
    const stored = deflated.length >= data.length;
    const body = stored ? data : deflated;
    const crc = crc32(data);
    const method = stored ? 0 : 8;

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBuf.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, nameBuf, body);

    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE((3 << 8) | 20, 4); // made by: unix, 2.0
    entry.writeUInt16LE(20, 6);
    entry.writeUInt16LE(0x0800, 8);
    entry.writeUInt16LE(method, 10);
    entry.writeUInt16LE(DOS_TIME, 12);
    entry.writeUInt16LE(DOS_DATE, 14);
    entry.writeUInt32LE(crc, 16);
    entry.writeUInt32LE(body.length, 20);
    entry.writeUInt32LE(data.length, 24);
    entry.writeUInt16LE(nameBuf.length, 28);
    entry.writeUInt16LE(0, 30); // extra
    entry.writeUInt16LE(0, 32); // comment
    entry.writeUInt16LE(0, 34); // disk
    entry.writeUInt16LE(0, 36); // internal attributes
    entry.writeUInt32LE((0o100644 << 16) >>> 0, 38); // -rw-r--r--
    entry.writeUInt32LE(offset, 42);
    central.push(entry, nameBuf);

    offset += local.length + nameBuf.length + body.length;
  }
  const centralSize = central.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0, 4);
  end.writeUInt16LE(0, 6);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  end.writeUInt16LE(0, 20);
  if (entries.length > 0xffff || offset > 0xffffffff) throw new Error("too large for a zip without zip64");
  return Buffer.concat([...locals, ...central, end]);
}

// ---------------------------------------------------------------------------------------

/** Builds the .vsix and returns its path. */
export function packageExtension({ out = HERE, deps = true } = {}) {
  const manifest = JSON.parse(fs.readFileSync(path.join(HERE, "package.json"), "utf8"));
  if (deps) ensureDependencies(manifest);
  const files = [...FILES, ...(deps ? dependencyFiles() : [])];
  const entries = files.map((f) => ({ name: `extension/${f}`, data: fs.readFileSync(path.join(HERE, f)) }));
  const licenseFile = [path.join(HERE, "LICENSE"), path.resolve(HERE, "../../LICENSE")].find((f) => fs.existsSync(f));
  const license = licenseFile ? fs.readFileSync(licenseFile) : undefined;
  if (license) entries.push({ name: "extension/LICENSE.txt", data: license });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const all = [
    { name: "extension.vsixmanifest", data: Buffer.from(vsixManifest({ ...manifest, license: license ? "LICENSE.txt" : undefined })) },
    { name: "[Content_Types].xml", data: Buffer.from(contentTypes(["extension.vsixmanifest", ...entries.map((e) => e.name)])) },
    ...entries,
  ];
  fs.mkdirSync(out, { recursive: true });
  const target = path.join(out, `${manifest.name}-${manifest.version}.vsix`);
  const tmp = `${target}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, zip(all));
  fs.renameSync(tmp, target);
  return { file: target, entries: all.length };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const opts = parseArgs(process.argv.slice(2));
  const { file, entries } = packageExtension(opts);
  process.stdout.write(`${path.relative(process.cwd(), file) || file} (${entries} entries${opts.deps ? "" : ", without node_modules"})\n`);
}
