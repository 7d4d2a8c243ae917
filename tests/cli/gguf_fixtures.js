// Writes small GGUF files for the CLI tests byte by byte, independently of
// frugal's writer (so a writer bug cannot hide a reader bug).
//   node gguf_fixtures.js lora OUT   a LoRA adapter as llama.cpp lays it out
//   node gguf_fixtures.js iq OUT     a tensor of type iq2_xxs (unsupported)
//   node gguf_fixtures.js mamba OUT  a model of an architecture frugal does not run
'use strict';
const fs = require('fs');

class W {
  constructor() { this.parts = []; this.n = 0; }
  push(b) { this.parts.push(b); this.n += b.length; }
  u32(v) { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.push(b); }
  u64(v) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.push(b); }
  f32(v) { const b = Buffer.alloc(4); b.writeFloatLE(v); this.push(b); }
  str(s) { const b = Buffer.from(s, 'utf8'); this.u64(b.length); this.push(b); }
  pad(a) { const k = (a - (this.n % a)) % a; if (k) this.push(Buffer.alloc(k)); }
  header(nt, nkv) { this.push(Buffer.from('GGUF')); this.u32(3); this.u64(nt); this.u64(nkv); }
  kvStr(k, v) { this.str(k); this.u32(8); this.str(v); }
  kvF32(k, v) { this.str(k); this.u32(6); this.f32(v); }
  kvU32(k, v) { this.str(k); this.u32(4); this.u32(v); }
  tensor(name, ne, type, off) {
    this.str(name); this.u32(ne.length); for (const d of ne) this.u64(d); this.u32(type); this.u64(off);
  }
  buf() { return Buffer.concat(this.parts); }
}

const [kind, out] = process.argv.slice(2);
const w = new W();
if (kind === 'lora') {
  // rank 4 on blk.0 attn_q (64 -> 64) and attn_v (64 -> 32), f32
  const ts = [['blk.0.attn_q.weight.lora_a', [64, 4]], ['blk.0.attn_q.weight.lora_b', [4, 64]],
              ['blk.0.attn_v.weight.lora_a', [64, 4]], ['blk.0.attn_v.weight.lora_b', [4, 32]]];
  w.header(ts.length, 4);
  w.kvStr('general.architecture', 'llama');
  w.kvStr('general.type', 'adapter');
  w.kvStr('adapter.type', 'lora');
  w.kvF32('adapter.lora.alpha', 16);
  let off = 0;
  const sizes = ts.map(([, ne]) => ne[0] * ne[1] * 4);
  ts.forEach(([name, ne], i) => { w.tensor(name, ne, 0, off); off += Math.ceil(sizes[i] / 32) * 32; });
  w.pad(32);
  sizes.forEach((s) => { w.push(Buffer.alloc(s, 1)); w.pad(32); });
} else if (kind === 'iq') {
  w.header(1, 1);
  w.kvStr('general.architecture', 'llama');
  w.tensor('token_embd.weight', [256, 1], 16 /* iq2_xxs */, 0);
  w.pad(32);
  w.push(Buffer.alloc(66));
} else if (kind === 'mamba') {
  w.header(1, 3);
  w.kvStr('general.architecture', 'mamba');
  w.kvStr('general.name', 'not a transformer');
  w.kvU32('mamba.block_count', 2);
  w.tensor('token_embd.weight', [64, 8], 0 /* f32 */, 0);
  w.pad(32);
  w.push(Buffer.alloc(64 * 8 * 4));
} else {
  console.error('usage: gguf_fixtures.js lora|iq|mamba OUT');
  process.exit(2);
}
fs.writeFileSync(out, w.buf());
