// The open answering session, one cache generation at a time, and the last answer's tail KV: the state that
// build and ask share inside one engine process.
import type { ProgressFn } from '../core/progress.ts';
import type { ForwardSession } from '../runtime/decoder.ts';
import { TailKv } from './conversation.ts';
import type { LoadedModel } from './model.ts';

export class Answering {
  private open?: { dir: string; session: ForwardSession };
  /** The last answer's tail KV, so a follow-up feeds only its own tokens. */
  readonly tail = new TailKv();

  /** The open session; only after `openFor`. */
  get session(): ForwardSession {
    if (!this.open) throw new Error('no answering session is open');
    return this.open.session;
  }

  /**
   * Each session holds its own copy of the weights (onnxruntime-node cannot share initializers between sessions),
   * so on a GPU only one of the dense and the answering session is open at a time: a build closes the answering
   * session, and answering closes the dense one. The CPU keeps both (RAM is larger, and reopening costs seconds).
   */
  async only(which: 'dense' | 'answering', m: LoadedModel): Promise<void> {
    if (m.device === 'cpu') return;
    if (which === 'dense') await this.close();
    else await m.releaseDense();
  }

  async close(): Promise<void> {
    const open = this.open;
    this.open = undefined;
    await open?.session.session.release();
  }

  /**
   * Opens the answering session over the generation `dir` (pinned by the caller), unless it is the open one.
   * True when it opened one.
   */
  async openFor(m: LoadedModel, dir: string, sequenceLength: number, progress?: ProgressFn): Promise<boolean> {
    if (this.open?.dir === dir) return false;
    await this.close();
    await this.only('answering', m);
    progress?.('load-cache', 0, 1);
    // The generation links the prepared weights, which may have been damaged (and prepared again) since.
    await m.checkWeights('quick');
    m.linkWeights(dir);
    this.open = { dir, session: await m.openCompressed(dir, sequenceLength) };
    progress?.('load-cache', 1, 1);
    return true;
  }

  /** Forgets everything (the cache was cleared). */
  async forget(): Promise<void> {
    await this.close();
    this.tail.forget();
  }
}
