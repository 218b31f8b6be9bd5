/**
 * Go to definition: the declaring identifier of the name under the cursor (in this file,
 * another file, or the stdlib), or the file an `import` path points at.
 */
import type { Location } from "vscode-languageserver";
import { contains, toLocation } from "./locations.js";
import { hitAt } from "./navigation.js";
import type { Analysis, Workspace } from "./workspace.js";

export function definition(ws: Workspace, a: Analysis, offset: number): Location[] {
  const imports = a.parsed.ast.imports;
  for (let i = 0; i < imports.length; i++) {
    if (!contains(imports[i]!.pathSpan, offset)) continue;
    const target = a.parsed.importTargets[i];
    return target ? [{ uri: ws.uris.toUri(target), range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } }] : [];
  }
  const hit = hitAt(a, offset);
  if (!hit) return [];
  const lines = ws.lines(hit.target.file, a.program);
  return lines ? [toLocation(ws.uris, hit.target.file, lines, hit.target.span)] : [];
}
