// The WebGPU adapter probe and the device choice it feeds, against the real Dawn binding: on this machine the
// only adapter is SwiftShader (Debian chromium's Vulkan ICD), which `webgpu` takes and `auto` must not.
import { existsSync } from 'node:fs';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { adapterName, parseProbe, probeWebGpu } from '../../src/runtime/webgpu.ts';
import { chooseDevice, weightDtype } from '../../src/runtime/session.ts';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const noSwiftShader = !existsSync(SWIFTSHADER_ICD) && `no SwiftShader ICD at ${SWIFTSHADER_ICD} (install chromium)`;

describe('WebGPU adapter', () => {
  test('SwiftShader is found, described and marked software', { skip: noSwiftShader }, () => {
    process.env.VK_ICD_FILENAMES ??= SWIFTSHADER_ICD;
    const probe = probeWebGpu();
    assert.ok(probe.adapter, `an adapter (${probe.reason})`);
    assert.equal(probe.adapter.software, true);
    assert.match(adapterName(probe.adapter), /swiftshader/i);
    assert.ok(probe.adapter.maxStorageBufferBindingSize >= 128 * 2 ** 20, 'at least the WebGPU default binding size');
    assert.ok(probe.adapter.maxBufferSize >= probe.adapter.maxStorageBufferBindingSize);

    const forced = chooseDevice('webgpu');
    assert.equal(forced.device, 'webgpu');
    assert.equal(forced.adapter?.description, probe.adapter.description);
    assert.equal(weightDtype(forced), probe.adapter.shaderF16 ? 'fp16' : 'fp32');
  });

  test(
    'auto never takes a software adapter, and says why',
    { skip: (noSwiftShader || existsSync('/proc/driver/nvidia/version')) && 'needs SwiftShader and no NVIDIA driver' },
    () => {
      process.env.VK_ICD_FILENAMES ??= SWIFTSHADER_ICD;
      const choice = chooseDevice('auto');
      assert.equal(choice.device, 'cpu');
      assert.match(choice.reason ?? '', /software adapter.*swiftshader.*auto never picks/i);
    },
  );

  test('a hardware description is not software; llvmpipe is', () => {
    const line = (device: string, description: string, fallback = false) =>
      JSON.stringify({
        info: { vendor: 'x', architecture: '', device, description, fallback },
        shaderF16: true,
        maxBufferSize: 2 ** 32,
        maxStorageBufferBindingSize: 2 ** 31,
      });
    const nvidia = parseProbe(line('NVIDIA GeForce RTX 4090', 'NVIDIA: 550.54'));
    assert.equal(nvidia.adapter?.software, false);
    assert.equal(nvidia.adapter?.shaderF16, true);
    assert.equal(weightDtype({ device: 'webgpu', adapter: nvidia.adapter }), 'fp16');
    assert.equal(parseProbe(line('llvmpipe (LLVM 15.0.6, 256 bits)', 'Mesa 22.3.6')).adapter?.software, true);
    assert.equal(parseProbe(line('Some GPU', 'driver', true)).adapter?.software, true, 'Dawn marks fallback adapters');
  });

  test('no adapter and garbage output become reasons', () => {
    assert.match(parseProbe('{"reason":"no WebGPU adapter found (x)"}').reason ?? '', /no WebGPU adapter/);
    assert.match(parseProbe('Segmentation fault').reason ?? '', /printed no description \(Segmentation fault\)/);
  });
});
