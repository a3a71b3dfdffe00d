// Entry point the extension host loads with extensionTestsPath: runs the mocha suite inside the real host.
// Results also go to KVZIP_TEST_LOG, because the host's console does not reach the runner's terminal.
import Mocha from 'mocha';
import { appendFileSync } from 'node:fs';

export async function run(): Promise<void> {
  const logFile = process.env.KVZIP_TEST_LOG;
  const out = (line: string) => {
    console.log(line);
    if (logFile) appendFileSync(logFile, line + '\n');
  };
  const mocha = new Mocha({ ui: 'tdd', timeout: 120_000, color: false, reporter: 'dot' });
  // The suites are bundled into this file: give them mocha's globals before they register.
  mocha.suite.emit('pre-require', globalThis, 'extension.test', mocha);
  // run.ts opens a multi-root workspace for the multi-root suite and a single folder for the main one.
  if (process.env.KVZIP_TEST_SUITE === 'multiroot') await import('./multiroot.test.ts');
  else await import('./extension.test.ts');
  await new Promise<void>((resolve, reject) => {
    const runner = mocha.run((failures) => {
      const passed = runner.stats?.passes ?? 0;
      out(`${passed} passed, ${failures} failed`);
      if (failures > 0) reject(new Error(`${failures} extension-host tests failed`));
      else resolve();
    });
    runner.on('pass', (t) => out(`ok - ${t.fullTitle()} (${t.duration ?? 0} ms)`));
    runner.on('fail', (t, err: Error) =>
      out(
        `not ok - ${t.fullTitle()}\n  ${String(err?.stack ?? err)
          .split('\n')
          .slice(0, 8)
          .join('\n  ')}`,
      ),
    );
  });
}
