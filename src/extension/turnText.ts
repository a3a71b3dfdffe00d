// What a turn shows besides the model's text: the question with its selection as a `file:1-2` chip, and which of the
// answer's file references are files of the workspace (the only ones drawn as links).
import * as vscode from 'vscode';
import type { Quote } from '../engine/protocol.ts';
import { quoteLabel } from '../engine/attach.ts';
import type { Turn } from '../webview/messages.ts';
import { resolveContextPath, workspaceLinks } from './links.ts';
import { contextFolders } from './settings.ts';

/** The open folders as the context names them (a folder's name in front of its paths when there are several). */
function folders(): { name: string; path: string }[] {
  return contextFolders((vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file'));
}

/**
 * The user's turn: a selection shows as its `file:1-2` chip, not as its text (checkedQuote says whether the chip is a
 * link). A file's whole text goes only when the cache lacks it, and the answer's header says so; a quote with no file
 * shows its text.
 */
export function questionTurn(question: string, quote: Quote | undefined): Pick<Turn, 'question' | 'quote'> {
  if (!quote) return { question };
  if (quote.path && quote.lines)
    return { question, quote: { label: quoteLabel({ path: quote.path, lines: quote.lines }), path: quote.path, line: quote.lines[0] } };
  if (quote.path) return { question };
  return { question: `${question}\n\n\`\`\`${quote.language ?? ''}\n${quote.text}\n\`\`\`` };
}

/** The chip, a link only when its path is a file of the workspace (an untitled editor's selection is not). */
export async function checkedQuote(quote: NonNullable<Turn['quote']>): Promise<NonNullable<Turn['quote']>> {
  return quote.path && (await resolveContextPath(folders(), quote.path)) ? quote : { label: quote.label };
}

/** The answer's file references that are workspace files. */
export function answerLinks(answer: string): Promise<string[]> {
  return answer ? workspaceLinks(answer, folders()) : Promise.resolve([]);
}
