// The worker thread a CPU answering session lives on (threadSession.ts has why and the other side): started ahead
// of need, it creates the session when told the graph's path and options, then runs it for each request, its
// outputs' buffers handed back without a copy.
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { ThreadReply, ThreadRequest, WireTensor } from './threadSession.ts';

const port = parentPort!;
const reply = (m: ThreadReply, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
const message = (e: unknown) => String((e as Error)?.message ?? e);

let session: ort.InferenceSession | undefined;

port.on('message', async (m: ThreadRequest) => {
  if (m.kind === 'create') {
    try {
      session = await ort.InferenceSession.create(m.path, m.options);
      reply({ kind: 'open', inputNames: [...session.inputNames], outputNames: [...session.outputNames] });
    } catch (e) {
      reply({ kind: 'failed', message: message(e) });
    }
    return;
  }
  if (m.kind === 'release') {
    await session?.release();
    session = undefined;
    reply({ kind: 'released' });
    port.close();
    return;
  }
  try {
    const feeds = Object.fromEntries(Object.entries(m.feeds).map(([name, t]) => [name, new ort.Tensor(t.type, t.data, t.dims)]));
    const out = await session!.run(feeds, m.fetches);
    const outputs: Record<string, WireTensor> = {};
    const buffers = new Set<ArrayBuffer>();
    for (const name of m.fetches) {
      const t = out[name] as ort.Tensor;
      const data = t.data as WireTensor['data'];
      outputs[name] = { type: t.type as WireTensor['type'], data, dims: t.dims };
      buffers.add(data.buffer as ArrayBuffer);
    }
    reply({ kind: 'result', id: m.id, outputs }, [...buffers]);
  } catch (e) {
    reply({ kind: 'result', id: m.id, error: message(e) });
  }
});
