/**
 * Where things are, in both vocabularies: the core speaks absolute paths and UTF-16 offset
 * spans; LSP speaks URIs and {line, character} ranges. Every conversion goes through here.
 *
 * Files the editor has open keep the exact URI the client sent (clients differ in how they
 * percent-encode), and documents that are not files (`untitled:`) get a stable stand-in path
 * so the core can still treat them as files.
 */
import { platform } from "#platform";
import type { Location, Range } from "vscode-languageserver";
import type { LineIndex, Span } from "../../grammar/source.js";

const path = platform.path;
const UNTITLED_DIR = path.resolve("/__spikelm_untitled__");

export class Uris {
  private readonly clientUris = new Map<string, string>();

  /** The absolute path the core uses for a client URI. */
  toPath(uri: string): string {
    const p = pathOfUri(uri);
    if (!this.clientUris.has(p)) this.clientUris.set(p, uri);
    return p;
  }

  /** The URI to send the client for a core path: the one it used, or a file URL. */
  toUri(file: string): string {
    return this.clientUris.get(file) ?? platform.pathToFileURL(file);
  }
}

/** The absolute path the core uses for a client URI (a stand-in path for non-file URIs). */
export function pathOfUri(uri: string): string {
  if (uri.startsWith("file:")) {
    try {
      return path.resolve(platform.fileURLToPath(uri));
    } catch {
      return path.join(UNTITLED_DIR, encodeURIComponent(uri));
    }
  }
  return path.join(UNTITLED_DIR, `${encodeURIComponent(uri)}.spk`);
}

export function toRange(lines: LineIndex, span: Span): Range {
  return { start: lines.position(span.start), end: lines.position(span.end) };
}

export function toLocation(uris: Uris, file: string, lines: LineIndex, span: Span): Location {
  return { uri: uris.toUri(file), range: toRange(lines, span) };
}

export const contains = (span: Span, offset: number): boolean => span.start <= offset && offset <= span.end;
export const spanKey = (file: string, span: Span): string => `${file}#${span.start}:${span.end}`;
