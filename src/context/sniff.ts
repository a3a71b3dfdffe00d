// Text or binary, by content: extensions lie, and a text file with a few bad bytes is still worth reading.
import { isUtf8 } from 'node:buffer';

const SNIFF_BYTES = 8192;
/** Share of bad characters (invalid UTF-8, control codes) in the sniffed head above which a file is binary. */
const BINARY_RATIO = 0.1;

export type Decoded = { binary: true; detail: string } | { binary: false; text: string; invalid: number };

const decoder = new TextDecoder('utf-8', { fatal: false });

function isControl(c: number): boolean {
  // Tab, LF, VT, FF, CR and ESC (ANSI colours in logs) occur in text.
  return c < 0x20 && c !== 9 && c !== 10 && c !== 11 && c !== 12 && c !== 13 && c !== 27;
}

export function decode(bytes: Uint8Array): Decoded {
  const head = bytes.subarray(0, SNIFF_BYTES);
  if (head.includes(0)) return { binary: true, detail: 'NUL byte in the first 8 KiB' };
  const valid = isUtf8(bytes);
  // Trim a multi-byte character the sniff window cut in half, so it does not count as invalid.
  let cut = head.length;
  if (head.length < bytes.length) {
    let back = 0;
    while (back < 3 && cut > 0 && (head[cut - 1]! & 0xc0) === 0x80) (cut--, back++);
    if (cut > 0 && head[cut - 1]! >= 0xc0) cut--;
  }
  const headText = valid ? '' : decoder.decode(head.subarray(0, cut));
  let bad = 0;
  let controls = 0;
  for (let i = 0; i < head.length; i++) if (isControl(head[i]!)) controls++;
  for (let i = 0; i < headText.length; i++) if (headText.charCodeAt(i) === 0xfffd) bad++;
  const chars = valid ? head.length : Math.max(1, headText.length);
  if ((bad + controls) / Math.max(1, chars) > BINARY_RATIO) {
    return { binary: true, detail: `${bad} invalid UTF-8 and ${controls} control characters in the first 8 KiB` };
  }
  const text = decoder.decode(bytes);
  let invalid = 0;
  if (!valid) for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 0xfffd) invalid++;
  return { binary: false, text, invalid };
}
