// Rotary embedding frequencies, with the scaling schemes Hugging Face applies (linear, llama3, yarn).
// Both the ONNX graphs and the TypeScript reference take their frequencies from here.
import type { ModelSpec } from './config.ts';

export interface Rope {
  invFreq: Float32Array;
  /** Multiplies cos and sin (yarn's attention factor); 1 elsewhere. */
  scale: number;
}

export function ropeFrequencies(spec: ModelSpec): Rope {
  const dim = spec.headDim;
  const half = dim / 2;
  const base = spec.ropeTheta;
  const plain = new Float32Array(half);
  for (let i = 0; i < half; i++) plain[i] = 1 / Math.pow(base, (2 * i) / dim);
  const s = spec.ropeScaling;
  switch (s.type) {
    case 'none':
      return { invFreq: plain, scale: 1 };
    case 'linear':
      return { invFreq: plain.map((f) => f / s.factor), scale: 1 };
    case 'llama3': {
      const lowWavelen = s.originalMaxPositions / s.lowFreqFactor;
      const highWavelen = s.originalMaxPositions / s.highFreqFactor;
      const out = plain.map((f) => {
        const wavelen = (2 * Math.PI) / f;
        if (wavelen < highWavelen) return f;
        if (wavelen > lowWavelen) return f / s.factor;
        const smooth = (s.originalMaxPositions / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
        return (1 - smooth) * (f / s.factor) + smooth * f;
      });
      return { invFreq: out, scale: 1 };
    }
    case 'yarn': {
      const correctionDim = (rotations: number) =>
        (dim * Math.log(s.originalMaxPositions / (rotations * 2 * Math.PI))) / (2 * Math.log(base));
      const low = Math.max(Math.floor(correctionDim(s.betaFast)), 0);
      let high = Math.min(Math.ceil(correctionDim(s.betaSlow)), dim - 1);
      if (low === high) high += 0.001;
      const out = new Float32Array(half);
      for (let i = 0; i < half; i++) {
        const ramp = Math.min(Math.max((i - low) / (high - low), 0), 1);
        const extrapolationFactor = 1 - ramp;
        out[i] = (plain[i] / s.factor) * (1 - extrapolationFactor) + plain[i] * extrapolationFactor;
      }
      return { invFreq: out, scale: s.attentionFactor };
    }
  }
}
