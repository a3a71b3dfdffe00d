// `npm run test:electron`: the same extension-host suite in desktop VS Code, for machines that can download it
// (@vscode/test-electron fetches VS Code; it cannot here, where `npm run test:vscode` uses code-server instead).
import { runTests } from '@vscode/test-electron';
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT, prepareProfile } from './codeServer.ts';
import { bundleSuite } from './bundle.ts';

const suite = await bundleSuite();
const profile = prepareProfile();
try {
  await runTests({
    version: '1.100.3',
    extensionDevelopmentPath: ROOT,
    extensionTestsPath: suite,
    launchArgs: [profile.workspace, '--user-data-dir', profile.userDataDir, '--disable-extensions', '--disable-workspace-trust'],
    extensionTestsEnv: { KVZIP_TEST_LOG: path.join(ROOT, 'test/.tmp/vscode/electron-results.log') },
  });
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  rmSync(profile.base, { recursive: true, force: true });
}
