/**
 * WebAssembly text of the uniform seeder: four xoshiro128** streams side by side, one per
 * i32x4 lane, each written to its own run of SEED_CHUNK floats in the scratch area. A lane is
 * one parameter's stream (engine/random.ts, module header, steps 4, 5 and 7); which tensor a
 * lane fills, and from which word, is the driver's business (seed-wasm.ts).
 *
 * The value of word r is exactly fillSeeded's `bound * (2 * (r / 2^32) - 1)` stored to a
 * Float32Array: r * 2^-31 and then - 1 are exact in float64 (r < 2^32, so the difference
 * has at most 33 significant bits), the product by the bound is the one rounded float64
 * multiply, and f32x4.demote_f64x2_zero rounds to nearest even as a Float32Array store does
 * (no flush of subnormals in WebAssembly; overflow gives ±Infinity in both). A NaN can only
 * come from a non-finite bound, which the driver leaves to JavaScript.
 *
 * Memory (one page is plenty): the four state vectors s0..s3 at 0..63 (lane k is word k of
 * each), the bounds as float64 at 64..95 (lane k at 64 + 8k), the output runs from
 * SEED_SCRATCH (lane k at SEED_SCRATCH + 4 * k * SEED_CHUNK).
 */

/** Values per lane per `fill` call at most. */
export const SEED_CHUNK = 4096;
/** Byte offset of lane 0's output run. */
export const SEED_SCRATCH = 128;
/** 64 KiB pages of memory the module needs. */
export const SEED_PAGES = Math.ceil((SEED_SCRATCH + 16 * SEED_CHUNK) / 65536);

const i32x4 = (v: number) => `(v128.const i32x4 ${v} ${v} ${v} ${v})`;
const rotl = (x: string, k: number) => `(v128.or (i32x4.shl ${x} (i32.const ${k})) (i32x4.shr_u ${x} (i32.const ${32 - k})))`;
/** float64 lanes of the unsigned words: y = r * 2^-31 - 1 (exact), times the lanes' bounds. */
const value = (words: string, bounds: string) =>
  `(f64x2.mul ${bounds} (f64x2.sub (f64x2.mul (f64x2.convert_low_i32x4_u ${words}) (v128.const f64x2 0x1p-31 0x1p-31)) (v128.const f64x2 1 1)))`;

export function seedWat(): string {
  const lane = (k: number) => `(v128.store32_lane offset=${SEED_SCRATCH + 4 * k * SEED_CHUNK} ${k} (local.get $p) (local.get $f))`;
  return `(module
  (memory (export "mem") ${SEED_PAGES})
  ;; n values (n <= ${SEED_CHUNK}) of each lane's stream into its output run; the states advance in place.
  (func (export "fill") (param $n i32)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local $b01 v128) (local $b23 v128) (local $m v128) (local $r v128) (local $t v128) (local $f v128)
    (local $p i32) (local $end i32)
    (local.set $s0 (v128.load (i32.const 0)))
    (local.set $s1 (v128.load (i32.const 16)))
    (local.set $s2 (v128.load (i32.const 32)))
    (local.set $s3 (v128.load (i32.const 48)))
    (local.set $b01 (v128.load (i32.const 64)))
    (local.set $b23 (v128.load (i32.const 80)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        ;; result = rotl(s1 * 5, 7) * 9
        (local.set $m (i32x4.mul (local.get $s1) ${i32x4(5)}))
        (local.set $r (i32x4.mul ${rotl("(local.get $m)", 7)} ${i32x4(9)}))
        ;; t = s1 << 9; s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl(s3, 11)
        (local.set $t (i32x4.shl (local.get $s1) (i32.const 9)))
        (local.set $s2 (v128.xor (local.get $s2) (local.get $s0)))
        (local.set $s3 (v128.xor (local.get $s3) (local.get $s1)))
        (local.set $s1 (v128.xor (local.get $s1) (local.get $s2)))
        (local.set $s0 (v128.xor (local.get $s0) (local.get $s3)))
        (local.set $s2 (v128.xor (local.get $s2) (local.get $t)))
        (local.set $s3 ${rotl("(local.get $s3)", 11)})
        ;; lanes 0, 1 and 2, 3 through float64, rounded to float32, back together
        (local.set $f (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
          (f32x4.demote_f64x2_zero ${value("(local.get $r)", "(local.get $b01)")})
          (f32x4.demote_f64x2_zero ${value("(i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $r) (local.get $r))", "(local.get $b23)")})))
        ${lane(0)}
        ${lane(1)}
        ${lane(2)}
        ${lane(3)}
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $next)))
    (v128.store (i32.const 0) (local.get $s0))
    (v128.store (i32.const 16) (local.get $s1))
    (v128.store (i32.const 32) (local.get $s2))
    (v128.store (i32.const 48) (local.get $s3))))
`;
}
