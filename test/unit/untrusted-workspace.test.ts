// Issue 26, item 3: the extension declares what it does in Restricted Mode, and a workspace's own settings cannot
// pick the model, the device, the secrets opt-in, the cache cap or automatic refresh there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  capabilities?: { untrustedWorkspaces?: { supported: unknown; description?: string; restrictedConfigurations?: string[] } };
  contributes: { configuration: { properties: Record<string, unknown> } };
};

test('Restricted Mode: limited support, with the settings a workspace must not choose restricted', () => {
  const u = pkg.capabilities?.untrustedWorkspaces;
  assert.ok(u, 'package.json declares capabilities.untrustedWorkspaces');
  assert.equal(u.supported, 'limited');
  assert.ok(u.description && u.description.length > 40);
  const restricted = u.restrictedConfigurations ?? [];
  for (const key of [
    'kvzipCode.model',
    'kvzipCode.device',
    'kvzipCode.includeSecrets',
    'kvzipCode.cacheSizeCapMB',
    'kvzipCode.autoRefresh',
  ]) {
    assert.ok(restricted.includes(key), `${key} is restricted`);
  }
  for (const key of restricted) assert.ok(key in pkg.contributes.configuration.properties, `${key} is a contributed setting`);
});
