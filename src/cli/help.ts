// The help texts: the list of commands, and each command's own page with one line per flag.
import { COMMANDS, flagsOf, type Command } from './commands.ts';

const TITLE = 'kvzip-code — ask questions about a repository to a local model, from a KVzip-compressed KV cache';

export function overviewHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => usageOf(c).length));
  return [
    TITLE,
    '',
    'Usage: kvzip-code COMMAND [ARGUMENTS] [FLAGS]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${usageOf(c).padEnd(width)}  ${c.summary}`),
    '',
    'Run `kvzip-code COMMAND --help` for what a command does and its flags.',
    'Progress goes to stderr; answers stream to stdout. Exit status: 0 done, 1 failed, 2 a usage error, 130 after Ctrl-C.',
  ].join('\n');
}

/** A command's page; `cacheDir` is the default cache folder on this machine, which --cache-dir's line names. */
export function commandHelp(c: Command, cacheDir: string): string {
  const rows = flagsOf(c).map(([name, f]) => {
    const left = `${'short' in f && f.short ? `-${f.short}, ` : ''}--${name}${f.value ? ` ${f.value}` : ''}`;
    const byDefault = name === 'cache-dir' ? cacheDir : (f.default ?? f.defaultText);
    return [left, `${f.help}${byDefault !== undefined ? ` (default: ${byDefault})` : ''}`] as const;
  });
  const width = Math.max(...rows.map(([left]) => left.length));
  const required = flagsOf(c).some(([name]) => name === 'model') ? ' --model MODEL' : '';
  return [
    `Usage: kvzip-code ${usageOf(c)}${required} [FLAGS]`,
    '',
    ...wrap(c.about, ABOUT_WIDTH),
    '',
    'Flags:',
    ...rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`),
  ].join('\n');
}

/** Prose wraps at this width; a flag's line does not, so that each flag is one line to grep. */
const ABOUT_WIDTH = 100;

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line];
}

function usageOf(c: Command): string {
  return [c.name, ...c.args].join(' ');
}
