/**
 * Shapes of request and notification parameters, checked before a handler runs: a client
 * may send anything (`textDocument: null`, a position of `-1` or `"3"`, `params: null`), and
 * a handler must neither throw on it nor act on half of it. A request with bad parameters is
 * answered with InvalidParams; a notification with bad parameters is ignored (there is no
 * one to answer) and logged.
 *
 * Only what the handlers read is checked; extra fields are allowed.
 */
import { type CodeActionParams, ErrorCodes, ResponseError } from "vscode-languageserver";

export type Check<T> = (v: unknown) => v is T;

export interface DocId {
  readonly textDocument: { readonly uri: string };
}
export interface DocPosition extends DocId {
  readonly position: { readonly line: number; readonly character: number };
}
export interface Range {
  readonly start: { readonly line: number; readonly character: number };
  readonly end: { readonly line: number; readonly character: number };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
/** LSP uses uinteger for lines and characters; anything else (NaN, -1, "3", 1.5) is refused. */
const isUint = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0x7fffffff;
const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);

const isPosition = (v: unknown): v is DocPosition["position"] => isObject(v) && isUint(v.line) && isUint(v.character);
const isRange = (v: unknown): v is Range => isObject(v) && isPosition(v.start) && isPosition(v.end);

export const isDocId: Check<DocId> = (v): v is DocId => isObject(v) && isObject(v.textDocument) && typeof v.textDocument.uri === "string";
export const isDocPosition: Check<DocPosition> = (v): v is DocPosition => isDocId(v) && isPosition((v as unknown as Record<string, unknown>).position);

export const isDidOpen = (v: unknown): v is { textDocument: { uri: string; version: number; text: string } } =>
  isDocId(v) && isInt((v.textDocument as Record<string, unknown>).version) && typeof (v.textDocument as Record<string, unknown>).text === "string";

export type ContentChange = { readonly text: string; readonly range?: Range };
export const isDidChange = (v: unknown): v is { textDocument: { uri: string; version: number }; contentChanges: ContentChange[] } =>
  isDocId(v) &&
  isInt((v.textDocument as Record<string, unknown>).version) &&
  Array.isArray((v as unknown as Record<string, unknown>).contentChanges) &&
  ((v as unknown as { contentChanges: unknown[] }).contentChanges.every((c) => isObject(c) && typeof c.text === "string" && (c.range === undefined || isRange(c.range))));

export const isWatchedFiles = (v: unknown): v is { changes: { uri: string }[] } =>
  isObject(v) && Array.isArray(v.changes) && v.changes.every((c) => isObject(c) && typeof c.uri === "string");

export const isReferences = (v: unknown): v is DocPosition & { context: { includeDeclaration: boolean } } =>
  isDocPosition(v) && isObject((v as unknown as Record<string, unknown>).context) && typeof ((v as unknown as { context: Record<string, unknown> }).context.includeDeclaration) === "boolean";

export const isRename = (v: unknown): v is DocPosition & { newName: string } => isDocPosition(v) && typeof (v as unknown as Record<string, unknown>).newName === "string";

export const isCodeAction = (v: unknown): v is CodeActionParams => {
  if (!isDocId(v) || !isRange((v as unknown as Record<string, unknown>).range)) return false;
  const context = (v as unknown as Record<string, unknown>).context;
  if (!isObject(context) || !Array.isArray(context.diagnostics)) return false;
  if (context.only !== undefined && !(Array.isArray(context.only) && context.only.every((k) => typeof k === "string"))) return false;
  return context.diagnostics.every((d) => isObject(d) && isRange(d.range) && (d.code === undefined || typeof d.code === "string" || typeof d.code === "number"));
};

/** `params` if it has the shape `check` accepts, else a thrown InvalidParams for `method`. */
export function requireParams<T>(method: string, params: unknown, check: Check<T>): T {
  if (check(params)) return params;
  throw new ResponseError(ErrorCodes.InvalidParams, `${method}: invalid parameters`);
}
