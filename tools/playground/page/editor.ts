/**
 * The editors: the spec being edited, plus read-only tabs for the stdlib and shipped files that
 * go to definition opens. Each editor is connected to the language server in the LSP worker
 * through @codemirror/lsp-client (diagnostics, hover, completion, signature help, go to
 * definition, formatting, rename).
 */
import { LSPClient, languageServerExtensions } from "@codemirror/lsp-client";
import { syntaxHighlighting } from "@codemirror/language";
import { lintGutter } from "@codemirror/lint";
import { Compartment, EditorState, type Extension, Prec } from "@codemirror/state";
import { EditorView, keymap } from "@codemirror/view";
import { basicSetup } from "codemirror";
import { spkHighlighter } from "./highlight.js";

/** What a tab shows: the file's URI and a short label. */
interface Tab {
  readonly uri: string;
  readonly view: EditorView;
  readonly button: HTMLButtonElement;
  readonly readOnly: boolean;
}

export const labelOf = (uri: string) => uri.replace(/^file:\/\/\/(spikelm|playground)\//, "").replace(/^stdlib\//, "std/");

export class Editors {
  private readonly tabs: Tab[] = [];
  private readonly language = new Compartment();
  private languageExtension: Extension = [];

  constructor(
    private readonly client: LSPClient,
    private readonly host: HTMLElement,
    private readonly tabBar: HTMLElement,
    /** Called on every change of the main document's text. */
    private readonly onMainChange: (text: string) => void,
    /** The text of a file the main document does not hold (a stdlib file), for go to definition. */
    private readonly fetchFile: (uri: string) => Promise<string | undefined>,
    /** Ctrl-Enter (Cmd-Enter) in any editor: run. */
    private readonly onRun: () => void,
  ) {
    // Go to definition into another file opens (or shows) a read-only tab for it.
    client.workspace.displayFile = async (uri: string) => {
      const open = this.tabs.find((t) => t.uri === uri);
      if (open) {
        this.show(open);
        return open.view;
      }
      const text = await this.fetchFile(uri);
      return text === undefined ? null : this.openTab(uri, text, true);
    };
  }

  get main(): EditorView | undefined {
    return this.tabs.find((t) => !t.readOnly)?.view;
  }

  get mainUri(): string | undefined {
    return this.tabs.find((t) => !t.readOnly)?.uri;
  }

  /** Sets the highlighting once the grammar has loaded (every open editor, and those to come). */
  setLanguage(ext: Extension): void {
    this.languageExtension = ext;
    for (const t of this.tabs) t.view.dispatch({ effects: this.language.reconfigure(ext) });
  }

  /** Replaces every tab with one editable document. */
  openMain(uri: string, text: string): EditorView {
    for (const t of this.tabs.splice(0)) {
      t.view.destroy();
      t.button.remove();
    }
    return this.openTab(uri, text, false);
  }

  private openTab(uri: string, text: string, readOnly: boolean): EditorView {
    const button = document.createElement("button");
    button.type = "button";
    button.role = "tab";
    button.textContent = readOnly ? `${labelOf(uri)} (read-only)` : labelOf(uri);
    button.title = uri;
    this.tabBar.append(button);
    const extensions: Extension[] = [
      basicSetup,
      this.language.of(this.languageExtension),
      syntaxHighlighting(spkHighlighter),
      EditorView.lineWrapping,
      Prec.high(
        keymap.of([
          {
            key: "Mod-Enter",
            run: () => {
              this.onRun();
              return true;
            },
          },
        ]),
      ),
      lintGutter(),
      this.client.plugin(uri, "spk"),
      EditorView.contentAttributes.of({ "aria-label": `${labelOf(uri)}${readOnly ? " (read-only)" : ""}` }),
    ];
    if (readOnly) extensions.push(EditorState.readOnly.of(true));
    else extensions.push(EditorView.updateListener.of((u) => u.docChanged && this.onMainChange(u.state.doc.toString())));
    const view = new EditorView({ state: EditorState.create({ doc: text, extensions }), parent: this.host });
    view.dom.dataset.uri = uri;
    const tab: Tab = { uri, view, button, readOnly };
    this.tabs.push(tab);
    button.addEventListener("click", () => this.show(tab));
    this.show(tab);
    return view;
  }

  private show(tab: Tab): void {
    for (const t of this.tabs) {
      t.view.dom.hidden = t !== tab;
      t.button.setAttribute("aria-selected", String(t === tab));
    }
    tab.view.requestMeasure();
  }

  /** Shows a file (opening a bundled one read-only) with the cursor at a 1-based line and column. */
  async reveal(uri: string, line: number, col: number): Promise<void> {
    const view = await this.client.workspace.displayFile(uri);
    if (!view) return;
    const l = view.state.doc.line(Math.min(Math.max(1, line), view.state.doc.lines));
    view.dispatch({ selection: { anchor: Math.min(l.from + Math.max(0, col - 1), l.to) }, scrollIntoView: true });
    view.focus();
  }

  /** Shows the main document's tab. */
  showMain(): void {
    const t = this.tabs.find((x) => !x.readOnly);
    if (t) this.show(t);
  }
}

/** The LSP client of the page: generous timeouts (the first check of a model takes a while on a slow machine). */
export function createLspClient(): LSPClient {
  return new LSPClient({ rootUri: "file:///playground/", timeout: 30_000, extensions: languageServerExtensions() });
}
