// Writes LoRA adapters for stories260K (n_embd 64, n_ff 172, 5 layers,
// 8 heads / 4 kv heads of 8, vocab 512, separate output.weight) byte by
// byte from llama.cpp's format, independently of frugal's writer:
//   keys general.architecture, general.type = "adapter",
//        adapter.type = "lora", adapter.lora.alpha (float32)
//   tensors <base>.lora_a ne = [n_in, rank], <base>.lora_b ne = [rank, n_out]
//
//   node lora_fixture.js OUT [rank=4] [seed=1] [alpha=8] [bscale=0.05]
//                            [type=f32|f16] [arch=llama] [only=attn_q,ffn_up,...]
//                            [bad=shape|missing]
// Values are uniform in (-1, 1) times 1/sqrt(n_in) for A and bscale for B
// (bscale=0 gives B = 0), from a seeded generator.
'use strict';
const fs = require('fs');

const args = Object.fromEntries(process.argv.slice(3).map((a) => a.split('=')));
const out = process.argv[2];
const rank = +(args.rank || 4), alpha = +(args.alpha ?? 8), bscale = +(args.bscale ?? 0.05);
const type = args.type || 'f32', arch = args.arch || 'llama';
let seed = +(args.seed || 1) >>> 0;
function rnd() { // mulberry32, in (-1, 1)
  seed = (seed + 0x6D2B79F5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
}
function toHalf(f) { // round to nearest even, no NaN/Inf needed here
  const b = Buffer.alloc(4); b.writeFloatLE(f); const x = b.readUInt32LE(0);
  const sign = (x >>> 16) & 0x8000, e = ((x >>> 23) & 0xff) - 127 + 15;
  let m = x & 0x7fffff;
  if (e <= 0) { // subnormal or zero
    if (e < -10) return sign;
    m |= 0x800000; const shift = 14 - e;
    let h = m >>> shift; const rem = m & ((1 << shift) - 1), half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (m >>> 13); const rem = m & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}

const E = 64, F = 172, L = 5, QD = 64, KD = 32, V = 512;
const shapes = { attn_q: [E, QD], attn_k: [E, KD], attn_v: [E, KD], attn_output: [QD, E],
                 ffn_gate: [E, F], ffn_up: [E, F], ffn_down: [F, E] };
const only = args.only ? args.only.split(',') : null;
const pairs = [];
for (let l = 0; l < L; l++)
  for (const [k, ne] of Object.entries(shapes))
    if (!only || only.includes(k)) pairs.push([`blk.${l}.${k}.weight`, ne[0], ne[1]]);
if (!only || only.includes('output')) pairs.push(['output.weight', E, V]);

const tensors = [];
for (const [name, nIn, nOut] of pairs) {
  const a = new Float32Array(rank * nIn).map(() => rnd() / Math.sqrt(nIn));
  const b = new Float32Array(nOut * rank).map(() => rnd() * bscale);
  let neA = [nIn, rank], neB = [rank, nOut];
  if (args.bad === 'shape' && name === 'blk.2.attn_v.weight') neB = [rank, nOut + 8];
  tensors.push([name + '.lora_a', neA, a]);
  if (!(args.bad === 'missing' && name === 'blk.1.ffn_up.weight'))
    tensors.push([name + '.lora_b', neB, neB[1] === nOut ? b : new Float32Array(neB[0] * neB[1])]);
}

const parts = []; let n = 0;
const push = (b) => { parts.push(b); n += b.length; };
const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); push(b); };
const u64 = (v) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); push(b); };
const str = (s) => { const b = Buffer.from(s); u64(b.length); push(b); };
const pad = () => { const k = (32 - (n % 32)) % 32; if (k) push(Buffer.alloc(k)); };
const gtype = type === 'f16' ? 1 : 0, esz = type === 'f16' ? 2 : 4;

push(Buffer.from('GGUF')); u32(3); u64(tensors.length); u64(4);
str('general.architecture'); u32(8); str(arch);
str('general.type'); u32(8); str('adapter');
str('adapter.type'); u32(8); str('lora');
str('adapter.lora.alpha'); u32(6); { const b = Buffer.alloc(4); b.writeFloatLE(alpha); push(b); }
let off = 0;
const datas = tensors.map(([, , v]) => {
  const b = Buffer.alloc(v.length * esz);
  v.forEach((x, i) => (esz === 2 ? b.writeUInt16LE(toHalf(x), 2 * i) : b.writeFloatLE(x, 4 * i)));
  return b;
});
tensors.forEach(([name, ne], i) => {
  str(name); u32(2); u64(ne[0]); u64(ne[1]); u32(gtype); u64(off);
  off += Math.ceil(datas[i].length / 32) * 32;
});
pad();
datas.forEach((d) => { push(d); pad(); });
fs.writeFileSync(out, Buffer.concat(parts));
