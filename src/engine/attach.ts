// A file's current text goes with a question when the cache cannot answer for it: the file was left out of the
// context, or it changed since the build. The cached context is the truth only for what it holds, as it was.
import { createHash } from 'node:crypto';
import type { Fingerprint } from '../context/types.ts';
import type { AddedReason, AskResult, Quote } from './protocol.ts';

/** Why a quote from a file must go with the question; undefined when the cache holds that file as it is now. */
export function addedReason(fp: Fingerprint, quote: Quote & { path: string }): AddedReason | undefined {
  const cached = fp.files.find((f) => f.path === quote.path);
  if (!cached) return 'outside the context';
  if (
    cached.hash !==
    createHash('sha256')
      .update(quote.whole ?? quote.text)
      .digest('hex')
  )
    return 'changed since the build';
  // A selection is the question's subject, so it goes along even when the cache holds it unchanged.
  return quote.lines ? 'selected' : undefined;
}

export function quoteLabel(q: { path: string; lines?: [number, number] }): string {
  return q.lines ? `${q.path}:${q.lines[0]}-${q.lines[1]}` : q.path;
}

/**
 * The question and quote to fit: a quote without a path always goes; one from a file goes, named, only when the
 * cache lacks the file's current text (`added` says why).
 */
export function quoteFor(
  fp: Fingerprint,
  question: string,
  quote?: Quote,
): { question: string; quote?: Quote; added?: AskResult['added'] } {
  if (!quote?.path) return { question, quote };
  const reason = addedReason(fp, { ...quote, path: quote.path });
  if (!reason) return { question };
  return {
    question: `${question}\n\nThe current text of ${quoteLabel({ path: quote.path, lines: quote.lines })}:`,
    quote,
    added: { path: quote.path, ...(quote.lines ? { lines: quote.lines } : {}), reason },
  };
}
