/**
 * WAT of the elementwise vector machine: one exported function, `vec_run`, that runs a small
 * straight-line program of f32x4 elementwise ops over chunks of elements and a range of time
 * steps. It is how neuron steps (interpreter/optimized/neuron-wasm.ts) run in WebAssembly
 * SIMD: a program is data, so the one function in the kernel module serves every neuron body,
 * and the worker threads (which instantiate the same module) run it too, on their own chunks.
 *
 * Layout: elements are processed in chunks of CH (a multiple of 16); every operand is an
 * address computed per (chunk c, step t) as
 *     base + t * tStride + c * cStride (+ the calling thread's scratch base when flagged)
 * so an operand is a per-thread scratch register (CH floats, both strides 0), a row of an
 * input [T, np] (tStride np*4, cStride CH*4), a state [np] (tStride 0), an output, or, for
 * `splat`, one float of the per-step scalar table. Row lengths np are padded to a multiple
 * of 16, so every loop runs whole vectors (the padding lanes compute garbage nobody reads).
 * Loop order: chunk outer, step inner — one chunk's registers and states stay in L1 for all
 * steps.
 *
 * Instruction = 16 i32 words (64 bytes): [op, dBase, dT, dC, aBase, aT, aC, bBase, bT, bC,
 * dScr, aScr, bScr, once, -, -]. `once`: run only for the first (chunk, step) of a call (a
 * constant's splat: registers persist across a thread's chunks).
 *
 * Every op is exact in the engine's sense (compute in double, round to float32 once), so a
 * program gives the bits the scalar JavaScript of scalar-code.ts gives:
 *   - add/sub/mul/div/sqrt: IEEE float32 ops equal double-then-fround for float32 inputs
 *     (double has more than 2*24+2 bits); WebAssembly keeps subnormals (no flush to zero).
 *   - min/max: f32x4.min/max propagate NaN and order -0 < +0, exactly Math.min/Math.max.
 *   - at_least a > b ? a : b: a compare and a bit select (NaN selects b).
 *   - round: f32x4.nearest is IEEE roundToIntegralTiesToEven, keeping the sign of zero
 *     (nearest(-0.4) = -0) and NaN/±Infinity, as roundHalfEven.
 *   - sign (x > 0) - (x < 0), heaviside x >= 0 ? 1 : 0, relu x <= 0 ? 0 : x: compare masks
 *     and-ed with constants (sign(±0) = +0, sign(NaN) = 0, heaviside(NaN) = 0, relu(-0) = +0).
 *   - canon: x + 0 (a float level store: -0 becomes +0).
 *   - i8: int8 level store, 16 lanes at a time: truncate (levels are integers), NaN lanes
 *     become NAN_LEVEL (-128), then narrow. The callers only use it for levels in [-127, 127].
 * No branch depends on a value: the dispatch is per (op, chunk, step), the loops are
 * straight SIMD.
 */

export const VEC_OPS = {
  copy: 0, add: 1, sub: 2, mul: 3, div: 4, min: 5, max: 6, at_least: 7, neg: 8, abs: 9, round: 10,
  sign: 11, heaviside: 12, relu: 13, sqrt: 14, splat: 15, i8: 16, canon: 17,
} as const;
export type VecOp = keyof typeof VEC_OPS;

/** Elements per chunk (the vector machine's register size). */
export const VEC_CHUNK = 256;

/** Words per instruction. */
export const VEC_INSTR_WORDS = 16;

export function vectorVmWat(ch: number): string {
  if (ch % 16 !== 0) throw new RangeError("chunk must be a multiple of 16");
  // Every loop is unrolled 4x (a chunk row is a multiple of 16 elements = 4 vectors): one
  // pointer bump and branch per 4 vectors, the offsets are immediates.
  const ld = (x: string, k: number) => `(v128.load offset=${k * 16} (local.get ${x}))`;
  const ONE = "(v128.const f32x4 1 1 1 1)";
  const MONE = "(v128.const f32x4 -1 -1 -1 -1)";
  const ZERO = "(v128.const f32x4 0 0 0 0)";
  // body expressions of the f32 ops for vector k of 4, in VEC_OPS order (splat, i8 have
  // their own loops)
  const exprs: Record<number, (k: number) => string> = {
    0: (k) => ld("$a", k),
    1: (k) => `(f32x4.add ${ld("$a", k)} ${ld("$b", k)})`,
    2: (k) => `(f32x4.sub ${ld("$a", k)} ${ld("$b", k)})`,
    3: (k) => `(f32x4.mul ${ld("$a", k)} ${ld("$b", k)})`,
    4: (k) => `(f32x4.div ${ld("$a", k)} ${ld("$b", k)})`,
    5: (k) => `(f32x4.min ${ld("$a", k)} ${ld("$b", k)})`,
    6: (k) => `(f32x4.max ${ld("$a", k)} ${ld("$b", k)})`,
    7: (k) => `(v128.bitselect (local.tee $x ${ld("$a", k)}) (local.tee $y ${ld("$b", k)}) (f32x4.gt (local.get $x) (local.get $y)))`,
    8: (k) => `(f32x4.neg ${ld("$a", k)})`,
    9: (k) => `(f32x4.abs ${ld("$a", k)})`,
    10: (k) => `(f32x4.nearest ${ld("$a", k)})`,
    11: (k) => `(v128.or (v128.and (f32x4.gt (local.tee $x ${ld("$a", k)}) ${ZERO}) ${ONE}) (v128.and (f32x4.lt (local.get $x) ${ZERO}) ${MONE}))`,
    12: (k) => `(v128.and (f32x4.ge ${ld("$a", k)} ${ZERO}) ${ONE})`,
    13: (k) => `(v128.andnot (local.tee $x ${ld("$a", k)}) (f32x4.le (local.get $x) ${ZERO}))`,
    14: (k) => `(f32x4.sqrt ${ld("$a", k)})`,
    17: (k) => `(f32x4.add ${ld("$a", k)} ${ZERO})`,
  };
  const binary = new Set([1, 2, 3, 4, 5, 6, 7]);
  const nOps = 18;
  // one loop per op: d, a, b advance 16 bytes per vector until d reaches $end
  const loops: string[] = [];
  for (let op = 0; op < nOps; op++) {
    let body: string;
    if (op === 15) {
      body = `
        (local.set $x (v128.load32_splat (local.get $a)))
        (loop $l${op}
          ${[0, 1, 2, 3].map((k) => `(v128.store offset=${k * 16} (local.get $d) (local.get $x))`).join(" ")}
          (local.set $d (i32.add (local.get $d) (i32.const 64)))
          (br_if $l${op} (i32.lt_u (local.get $d) (local.get $end))))`;
    } else if (op === 16) {
      // 16 levels per iteration; $end was computed for f32 elements, so the byte end is
      // d + (end - d) / 4
      const conv = (k: number) =>
        `(v128.bitselect (v128.const i32x4 -128 -128 -128 -128) (i32x4.trunc_sat_f32x4_s (local.tee $x (v128.load offset=${k * 16} (local.get $a)))) (f32x4.ne (local.get $x) (local.get $x)))`;
      body = `
        (local.set $end (i32.add (local.get $d) (i32.shr_u (i32.sub (local.get $end) (local.get $d)) (i32.const 2))))
        (loop $l${op}
          (v128.store (local.get $d)
            (i8x16.narrow_i16x8_s (i16x8.narrow_i32x4_s ${conv(0)} ${conv(1)}) (i16x8.narrow_i32x4_s ${conv(2)} ${conv(3)})))
          (local.set $a (i32.add (local.get $a) (i32.const 64)))
          (local.set $d (i32.add (local.get $d) (i32.const 16)))
          (br_if $l${op} (i32.lt_u (local.get $d) (local.get $end))))`;
    } else {
      body = `
        (loop $l${op}
          ${[0, 1, 2, 3].map((k) => `(v128.store offset=${k * 16} (local.get $d) ${exprs[op]!(k)})`).join("\n          ")}
          (local.set $a (i32.add (local.get $a) (i32.const 64)))
          ${binary.has(op) ? "(local.set $b (i32.add (local.get $b) (i32.const 64)))" : ""}
          (local.set $d (i32.add (local.get $d) (i32.const 64)))
          (br_if $l${op} (i32.lt_u (local.get $d) (local.get $end))))`;
    }
    loops.push(body);
  }
  // nested blocks: (block $o17 ... (block $o0 (br_table $o0 .. $o17 (op))) loop0 (br $next)) loop1 ...
  let dispatch = `(br_table ${Array.from({ length: nOps }, (_, k) => `$o${k}`).join(" ")} $next (local.get $op))`;
  for (let op = 0; op < nOps; op++) dispatch = `(block $o${op} ${dispatch})\n${loops[op]}\n        (br $next)`;
  const addr = (w: number, scrWord: number) =>
    `(i32.add (i32.add (i32.load offset=${w * 4} (local.get $ins)) (i32.mul (local.get $t) (i32.load offset=${(w + 1) * 4} (local.get $ins))))
              (i32.add (i32.mul (local.get $c) (i32.load offset=${(w + 2) * 4} (local.get $ins)))
                       (select (local.get $scr) (i32.const 0) (i32.load offset=${scrWord * 4} (local.get $ins)))))`;
  return `
  ;; ---------------------------------------------------------------- vector machine
  ;; vec_run: chunks [c0, c1) of a program of $nins instructions at $prog, for steps
  ;; [0, $tcount); $np (a multiple of 16) elements per row; $scr: this thread's registers;
  ;; $ch elements per chunk (the strides in the program were computed for it).
  (func $vec_run (export "vec_run") (param $prog i32) (param $nins i32) (param $np i32) (param $c0 i32) (param $c1 i32)
        (param $tcount i32) (param $scr i32) (param $ch i32)
    (local $c i32) (local $t i32) (local $ip i32) (local $ins i32) (local $len i32) (local $end i32)
    (local $d i32) (local $a i32) (local $b i32) (local $op i32) (local $x v128) (local $y v128)
    (local.set $c (local.get $c0))
    (block $cd (loop $cl
      (br_if $cd (i32.ge_u (local.get $c) (local.get $c1)))
      ;; bytes of f32 in this chunk: min(ch, np - c*ch) * 4 (ch <= ${ch}, a multiple of 16)
      (local.set $len (i32.sub (local.get $np) (i32.mul (local.get $c) (local.get $ch))))
      (if (i32.gt_u (local.get $len) (local.get $ch)) (then (local.set $len (local.get $ch))))
      (local.set $len (i32.shl (local.get $len) (i32.const 2)))
      (local.set $t (i32.const 0))
      (block $td (loop $tl
        (br_if $td (i32.ge_u (local.get $t) (local.get $tcount)))
        (local.set $ip (i32.const 0))
        (block $id (loop $il
          (br_if $id (i32.ge_u (local.get $ip) (local.get $nins)))
          (local.set $ins (i32.add (local.get $prog) (i32.shl (local.get $ip) (i32.const 6))))
          (local.set $op (i32.load (local.get $ins)))
          ;; a "once" instruction after the first (chunk, step) of this call: skip it
          (if (i32.and (i32.load offset=52 (local.get $ins))
                       (i32.or (i32.ne (local.get $c) (local.get $c0)) (i32.ne (local.get $t) (i32.const 0))))
            (then (local.set $op (i32.const ${nOps}))))
          (local.set $d ${addr(1, 10)})
          (local.set $a ${addr(4, 11)})
          (local.set $b ${addr(7, 12)})
          (local.set $end (i32.add (local.get $d) (local.get $len)))
          (block $next
        ${dispatch})
          (local.set $ip (i32.add (local.get $ip) (i32.const 1)))
          (br $il)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $tl)))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $cl))))
`;
}
