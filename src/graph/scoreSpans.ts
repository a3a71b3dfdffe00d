// The dense graph's scored keys: two runs of past positions [a0, a1) ++ [b0, b1) (the system prefix and the chunk),
// fed as `score_spans`. A run that scores nothing (prefill, decode) feeds empty runs.
import { DataType } from './onnx.ts';
import type { Net } from './net.ts';
import { names } from './names.ts';

export interface ScoreSpans {
  /** The bounds a0, a1, b0, b1, each a [1] int64 tensor. */
  at: [string, string, string, string];
  /** Scalar int64: the number of keys scored. */
  M: string;
  /** Scalar bool: this run scores. */
  active: string;
}

export function scoreSpans(n: Net): ScoreSpans {
  n.g.input(names.scoreSpans, DataType.INT64, [4]);
  const at = [0, 1, 2, 3].map((i) => n.op('Slice', [names.scoreSpans, n.i64([i]), n.i64([i + 1])])) as ScoreSpans['at'];
  const M = n.op('Squeeze', [n.op('Add', [n.op('Sub', [at[1], at[0]]), n.op('Sub', [at[3], at[2]])])]);
  return { at, M, active: n.op('Greater', [M, n.scalar(0)]) };
}
