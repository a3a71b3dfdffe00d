// Show Context as a read-only document of its own scheme, so it is never an unsaved editor that asks to be saved;
// the file paths in it are links to the workspace's files.
import * as vscode from 'vscode';
import type { ContextPreview } from '../engine/protocol.ts';
import { previewText } from '../engine/previewText.ts';
import { resolveContextPath } from './links.ts';
import { contextFolders } from './settings.ts';

export const CONTEXT_SCHEME = 'kvzip-context';

/** Where a table row of the preview names one of `paths`: after its columns, before any " — why". */
export function pathInRow(line: string, paths: ReadonlySet<string>): { start: number; path: string } | undefined {
  if (!line.startsWith('  ')) return undefined;
  const why = line.indexOf(' — ');
  const head = why < 0 ? line : line.slice(0, why);
  for (let i = head.indexOf(' ', 2); i >= 0; i = head.indexOf(' ', i + 1)) {
    const candidate = head.slice(i + 1);
    if (paths.has(candidate)) return { start: i + 1, path: candidate };
  }
  return undefined;
}

export class ContextView implements vscode.TextDocumentContentProvider, vscode.DocumentLinkProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  /** By URI: the preview's text and the files it names. */
  private readonly previews = new Map<string, { text: string; paths: Set<string> }>();
  private readonly registrations: vscode.Disposable[];

  constructor() {
    this.registrations = [
      vscode.workspace.registerTextDocumentContentProvider(CONTEXT_SCHEME, this),
      vscode.languages.registerDocumentLinkProvider({ scheme: CONTEXT_SCHEME }, this),
    ];
  }

  dispose(): void {
    for (const r of this.registrations) r.dispose();
    this.changed.dispose();
  }

  /** Opens the preview of the workspace (its tab shows it again, refreshed, when it is already open). */
  async show(preview: ContextPreview, folderName: string): Promise<vscode.TextEditor> {
    const uri = vscode.Uri.from({ scheme: CONTEXT_SCHEME, path: `/Context of ${folderName}` });
    const r = preview.report;
    const paths = new Set([...r.included.map((f) => f.path), ...r.omitted.map((o) => o.path).filter((p) => p && !p.endsWith('/'))]);
    this.previews.set(uri.toString(), { text: previewText(preview), paths });
    this.changed.fire(uri);
    const doc = await vscode.workspace.openTextDocument(uri);
    return vscode.window.showTextDocument(doc, { preview: true });
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    // A tab restored after a reload has no preview behind it until the command runs again.
    return this.previews.get(uri.toString())?.text ?? 'Run "KVzip: Show Context" to see what goes into the context.';
  }

  async provideDocumentLinks(doc: vscode.TextDocument): Promise<vscode.DocumentLink[]> {
    const p = this.previews.get(doc.uri.toString());
    if (!p) return [];
    const folders = contextFolders((vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file'));
    const rows: { line: number; start: number; path: string }[] = [];
    for (let line = 0; line < doc.lineCount; line++) {
      const at = pathInRow(doc.lineAt(line).text, p.paths);
      if (at) rows.push({ line, ...at });
    }
    // A path that is not a file of the workspace (gone since, a link out of it) is no link.
    const files = await Promise.all(rows.map((row) => resolveContextPath(folders, row.path)));
    return rows.flatMap((row, i) => {
      const file = files[i];
      if (!file) return [];
      const link = new vscode.DocumentLink(
        new vscode.Range(row.line, row.start, row.line, row.start + row.path.length),
        vscode.Uri.file(file),
      );
      link.tooltip = `Open ${row.path}`;
      return [link];
    });
  }
}
