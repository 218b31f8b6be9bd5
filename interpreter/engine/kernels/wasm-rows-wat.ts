/**
 * WebAssembly text of the kernels for products with only a few spike rows or one query row:
 * the shape of every decoding step (one new position, T time steps), where the tile kernels
 * (wasm-kernel-wat.ts), made for many rows streaming over an L2-resident packed tile, read
 * twice the weights (their tiles hold +W and -W) from memory for four rows.
 *
 *  - `spike_rows`: out[m, c] = Σ_{k ascending} S[m, k] · W[k, c] for a few spike rows S
 *    against W [K, ld] as stored (row-major, rows padded to a multiple of 16 columns). Its
 *    events (m, k, level) are listed in ascending k, then each adds or subtracts W's row k
 *    into output row m, 16 columns at a time (a level other than ±1 adds the float32 product
 *    W · level). W is read once, row by row, only where some row spikes (the kernel is bound
 *    by memory, not arithmetic), and each output is its own sum in ascending k of exactly
 *    the reference loop's terms (IEEE a - b is a + (-b)); the zero spikes it skips would add
 *    ±0 to an accumulator that started at +0, which changes no bit (for finite weights: the
 *    caller handles the others).
 *  - `row_keys`: out[j] = Σ_{k ascending} q[k] · S[j, k] (one query row against int8 keys
 *    [L, E], `q @ Sᵀ`), four positions j at a time on the lanes: four bytes of four key rows
 *    are loaded, transposed (one shuffle) and widened to float levels per k. Batch matrices
 *    of S lie a given stride apart, so a key/value cache with room for later positions
 *    (runtime/planned-cache.ts) is read where it is stored.
 *  - `row_values`: out[n] = Σ_{k ascending} p[k] · S[k, n] (one probability row against
 *    int8 values [L, E], `p @ S`), sixteen columns at a time.
 *  In both attention kernels each term is the float32 product of the float and the float
 *  level (exact: ±x, ±0, or NaN for a non-finite x times 0), the int8 NAN_LEVEL (-128)
 *  widened to NaN, added to an accumulator starting at +0 in ascending k: the reference
 *  matmul's loop (engine/ops/matmul.ts) lane by lane, on every input. Their "_finite" twins
 *  leave out the NAN_LEVEL test, for levels `has_nan_level` found none in.
 */

/** Columns per step of `spike_rows` (W and output rows are padded to a multiple of it). */
export const ROWS_COLUMN_STEP = 16;

/**
 * Rows and columns per tile of `transpose_into` (decoder-base's first decoding step after a
 * long prompt transposes all 72 weights). Measured on the shared 2-core machine (load ~6.5,
 * one thread, median of 7 calls, 4 runs): with 64, 11.5 ms for a [3072, 768] weight, 10.1 ms
 * for [768, 3072], 0.83 ms for [768, 768]; with 16, 3.8-8.9, 1.5-2.2 and 0.35-0.48 ms (32 and
 * 8 in between). Rows 12 KB apart fall in the same cache sets: 64 of them do not stay cached.
 */
const TRANSPOSE_TILE = 16;

/** WAT of the kernels (inserted into the spike-kernel module). */
export function rowsWat(): string {
  const step = (op: "add" | "sub") => [0, 1, 2, 3]
    .map((i) => `(v128.store offset=${i * 16} (local.get $o) (f32x4.${op} (v128.load offset=${i * 16} (local.get $o)) (v128.load offset=${i * 16} (local.get $w))))`)
    .join("\n            ");
  const mulStep = [0, 1, 2, 3]
    .map((i) => `(v128.store offset=${i * 16} (local.get $o) (f32x4.add (v128.load offset=${i * 16} (local.get $o)) (f32x4.mul (v128.load offset=${i * 16} (local.get $w)) (local.get $lv))))`)
    .join("\n              ");
  // float levels of the i32x4 $i: NAN_LEVEL (-128) -> NaN
  const level = (i: string) => `(v128.bitselect (v128.const i32x4 0x7fc00000 0x7fc00000 0x7fc00000 0x7fc00000) (f32x4.convert_i32x4_s ${i}) (i32x4.eq ${i} (v128.const i32x4 -128 -128 -128 -128)))`;
  const scalarLevel = (b: string) => `(select (f32.const nan) (f32.convert_i32_s ${b}) (i32.eq ${b} (i32.const -128)))`;
  return `
  ;; ---------------------------------------------------------------- few rows, one query row
  ;; spike_rows: out[m, c] = sum over k ascending of S[m, k] * W[k, c], m < M, c in [c0, c1)
  ;; (multiples of ${ROWS_COLUMN_STEP}). S int8 [M, K], integer levels (no NAN_LEVEL); W f32 [K, ld];
  ;; out f32 [M, ld] (16-byte aligned). $ev: room for M*K events of 12 bytes: row address in
  ;; W, output row address | 1 for level -1 | 2 for another level than 1, the level.
  (func (export "spike_rows") (param $S i32) (param $M i32) (param $K i32) (param $W i32) (param $ld i32)
        (param $out i32) (param $c0 i32) (param $c1 i32) (param $ev i32)
    (local $k i32) (local $m i32) (local $s i32) (local $q i32) (local $p i32) (local $o i32) (local $w i32)
    (local $end i32) (local $len i32) (local $rowb i32) (local $f i32) (local $lv v128)
    (if (i32.ge_s (local.get $c0) (local.get $c1)) (then (return)))
    (local.set $rowb (i32.shl (local.get $ld) (i32.const 2)))
    (local.set $len (i32.shl (i32.sub (local.get $c1) (local.get $c0)) (i32.const 2)))
    ;; zero the outputs
    (local.set $m (i32.const 0))
    (block $zd (loop $zl
      (br_if $zd (i32.ge_s (local.get $m) (local.get $M)))
      (local.set $o (i32.add (i32.add (local.get $out) (i32.mul (local.get $m) (local.get $rowb))) (i32.shl (local.get $c0) (i32.const 2))))
      (local.set $end (i32.add (local.get $o) (local.get $len)))
      (loop $zi
        (v128.store (local.get $o) (v128.const i32x4 0 0 0 0))
        (local.set $o (i32.add (local.get $o) (i32.const 16)))
        (br_if $zi (i32.lt_u (local.get $o) (local.get $end))))
      (local.set $m (i32.add (local.get $m) (i32.const 1)))
      (br $zl)))
    ;; the events in ascending k
    (local.set $q (local.get $ev))
    (local.set $k (i32.const 0))
    (block $kd (loop $kl
      (br_if $kd (i32.ge_s (local.get $k) (local.get $K)))
      (local.set $m (i32.const 0))
      (block $md (loop $ml
        (br_if $md (i32.ge_s (local.get $m) (local.get $M)))
        (local.set $s (i32.load8_s (i32.add (local.get $S) (i32.add (i32.mul (local.get $m) (local.get $K)) (local.get $k)))))
        (if (local.get $s)
          (then
            (i32.store (local.get $q) (i32.add (i32.add (local.get $W) (i32.mul (local.get $k) (local.get $rowb))) (i32.shl (local.get $c0) (i32.const 2))))
            (i32.store offset=4 (local.get $q)
              (i32.or (i32.add (i32.add (local.get $out) (i32.mul (local.get $m) (local.get $rowb))) (i32.shl (local.get $c0) (i32.const 2)))
                      (select (i32.const 0) (select (i32.const 1) (i32.const 2) (i32.eq (local.get $s) (i32.const -1))) (i32.eq (local.get $s) (i32.const 1)))))
            (i32.store offset=8 (local.get $q) (local.get $s))
            (local.set $q (i32.add (local.get $q) (i32.const 12)))))
        (local.set $m (i32.add (local.get $m) (i32.const 1)))
        (br $ml)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $kl)))
    ;; each event adds or subtracts its W row into its output row
    (local.set $p (local.get $ev))
    (block $ed (loop $el
      (br_if $ed (i32.ge_u (local.get $p) (local.get $q)))
      (local.set $w (i32.load (local.get $p)))
      (local.set $o (i32.load offset=4 (local.get $p)))
      (local.set $f (i32.and (local.get $o) (i32.const 3)))
      (local.set $o (i32.xor (local.get $o) (local.get $f)))
      (local.set $end (i32.add (local.get $o) (local.get $len)))
      (if (i32.eqz (local.get $f))
        (then
          (loop $al
            ${step("add")}
            (local.set $o (i32.add (local.get $o) (i32.const 64)))
            (local.set $w (i32.add (local.get $w) (i32.const 64)))
            (br_if $al (i32.lt_u (local.get $o) (local.get $end)))))
        (else (if (i32.eq (local.get $f) (i32.const 1))
          (then
            (loop $sl
              ${step("sub")}
              (local.set $o (i32.add (local.get $o) (i32.const 64)))
              (local.set $w (i32.add (local.get $w) (i32.const 64)))
              (br_if $sl (i32.lt_u (local.get $o) (local.get $end)))))
          (else
            ;; another level: the term is the float32 product W * level, as in the reference
            (local.set $lv (f32x4.splat (f32.convert_i32_s (i32.load offset=8 (local.get $p)))))
            (loop $ml2
              ${mulStep}
              (local.set $o (i32.add (local.get $o) (i32.const 64)))
              (local.set $w (i32.add (local.get $w) (i32.const 64)))
              (br_if $ml2 (i32.lt_u (local.get $o) (local.get $end))))))))
      (local.set $p (i32.add (local.get $p) (i32.const 12)))
      (br $el))))

  ;; transpose_into: dst[k*ld + c] = src[c*K + k] for c < N, k < K (a weight [N, K] stored as
  ;; [K, ld] for spike_rows), by 4 x 4 blocks on SIMD lanes in tiles of ${TRANSPOSE_TILE} x ${TRANSPOSE_TILE} (so that a
  ;; tile's rows stay in the caches and the TLB); the edges one by one.
  (func (export "transpose_into") (param $src i32) (param $N i32) (param $K i32) (param $dst i32) (param $ld i32)
    (local $c i32) (local $k i32) (local $c4 i32) (local $k4 i32) (local $s i32) (local $d i32) (local $rowK i32) (local $rowD i32)
    (local $tc i32) (local $tk i32) (local $ce i32) (local $ke i32)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128) (local $y0 v128) (local $y1 v128) (local $y2 v128) (local $y3 v128)
    (local.set $c4 (i32.and (local.get $N) (i32.const -4)))
    (local.set $k4 (i32.and (local.get $K) (i32.const -4)))
    (local.set $rowK (i32.shl (local.get $K) (i32.const 2)))
    (local.set $rowD (i32.shl (local.get $ld) (i32.const 2)))
    (local.set $tc (i32.const 0))
    (block $tcd (loop $tcl
      (br_if $tcd (i32.ge_s (local.get $tc) (local.get $c4)))
      (local.set $ce (select (i32.add (local.get $tc) (i32.const ${TRANSPOSE_TILE})) (local.get $c4) (i32.lt_s (i32.add (local.get $tc) (i32.const ${TRANSPOSE_TILE})) (local.get $c4))))
      (local.set $tk (i32.const 0))
      (block $tkd (loop $tkl
      (br_if $tkd (i32.ge_s (local.get $tk) (local.get $k4)))
      (local.set $ke (select (i32.add (local.get $tk) (i32.const ${TRANSPOSE_TILE})) (local.get $k4) (i32.lt_s (i32.add (local.get $tk) (i32.const ${TRANSPOSE_TILE})) (local.get $k4))))
    (local.set $c (local.get $tc))
    (block $cd (loop $cl
      (br_if $cd (i32.ge_s (local.get $c) (local.get $ce)))
      (local.set $k (local.get $tk))
      (block $kd (loop $kl
        (br_if $kd (i32.ge_s (local.get $k) (local.get $ke)))
        (local.set $s (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $c) (local.get $K)) (local.get $k)) (i32.const 2))))
        (local.set $x0 (v128.load (local.get $s)))
        (local.set $x1 (v128.load (i32.add (local.get $s) (local.get $rowK))))
        (local.set $x2 (v128.load (i32.add (local.get $s) (i32.shl (local.get $rowK) (i32.const 1)))))
        (local.set $x3 (v128.load (i32.add (local.get $s) (i32.mul (local.get $rowK) (i32.const 3)))))
        ;; 4 x 4 transpose of 32-bit lanes
        (local.set $y0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $x0) (local.get $x1)))
        (local.set $y1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $x0) (local.get $x1)))
        (local.set $y2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $x2) (local.get $x3)))
        (local.set $y3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $x2) (local.get $x3)))
        (local.set $d (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $k) (local.get $ld)) (local.get $c)) (i32.const 2))))
        (v128.store (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $y0) (local.get $y2)))
        (v128.store (i32.add (local.get $d) (local.get $rowD)) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $y0) (local.get $y2)))
        (v128.store (i32.add (local.get $d) (i32.shl (local.get $rowD) (i32.const 1))) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $y1) (local.get $y3)))
        (v128.store (i32.add (local.get $d) (i32.mul (local.get $rowD) (i32.const 3))) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $y1) (local.get $y3)))
        (local.set $k (i32.add (local.get $k) (i32.const 4)))
        (br $kl)))
      (local.set $c (i32.add (local.get $c) (i32.const 4)))
      (br $cl)))
      (local.set $tk (local.get $ke))
      (br $tkl)))
      (local.set $tc (local.get $ce))
      (br $tcl)))
    ;; the last N mod 4 columns (every k), then the last K mod 4 rows (the other columns)
    (local.set $c (local.get $c4))
    (block $ed (loop $el
      (br_if $ed (i32.ge_s (local.get $c) (local.get $N)))
      (local.set $k (i32.const 0))
      (block $ekd (loop $ekl
        (br_if $ekd (i32.ge_s (local.get $k) (local.get $K)))
        (f32.store (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $k) (local.get $ld)) (local.get $c)) (i32.const 2)))
          (f32.load (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $c) (local.get $K)) (local.get $k)) (i32.const 2)))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $ekl)))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $el)))
    (local.set $c (i32.const 0))
    (block $fd (loop $fl
      (br_if $fd (i32.ge_s (local.get $c) (local.get $c4)))
      (local.set $k (local.get $k4))
      (block $fkd (loop $fkl
        (br_if $fkd (i32.ge_s (local.get $k) (local.get $K)))
        (f32.store (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $k) (local.get $ld)) (local.get $c)) (i32.const 2)))
          (f32.load (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $c) (local.get $K)) (local.get $k)) (i32.const 2)))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $fkl)))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $fl))))

  ;; has_nan_level: whether any of the n bytes at $p is NAN_LEVEL (-128), 16 at a time.
  (func (export "has_nan_level") (param $p i32) (param $n i32) (result i32)
    (local $end i32) (local $acc v128)
    (local.set $end (i32.add (local.get $p) (i32.and (local.get $n) (i32.const -16))))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $acc (v128.or (local.get $acc) (i8x16.eq (v128.load (local.get $p)) (v128.const i8x16 -128 -128 -128 -128 -128 -128 -128 -128 -128 -128 -128 -128 -128 -128 -128 -128))))
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (br $l)))
    (if (v128.any_true (local.get $acc)) (then (return (i32.const 1))))
    (local.set $end (i32.add (local.get $end) (i32.and (local.get $n) (i32.const 15))))
    (block $d2 (loop $l2
      (br_if $d2 (i32.ge_u (local.get $p) (local.get $end)))
      (if (i32.eq (i32.load8_s (local.get $p)) (i32.const -128)) (then (return (i32.const 1))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $l2)))
    (i32.const 0))

  ;; count_nonfinite: how many of the n floats at $p are NaN or ±Infinity (x - x is not 0).
  (func (export "count_nonfinite") (param $p i32) (param $n i32) (result i32)
    (local $end i32) (local $acc v128) (local $x v128) (local $r i32)
    (local.set $end (i32.add (local.get $p) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $x (v128.load (local.get $p)))
      (local.set $acc (i32x4.sub (local.get $acc) (f32x4.ne (f32x4.sub (local.get $x) (local.get $x)) (v128.const i32x4 0 0 0 0))))
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (br $l)))
    (local.set $r (i32.add (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
                           (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc)))))
    (local.set $end (i32.add (local.get $end) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 2))))
    (block $d2 (loop $l2
      (br_if $d2 (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $r (i32.add (local.get $r) (f32.ne (f32.sub (f32.load (local.get $p)) (f32.load (local.get $p))) (f32.const 0))))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (br $l2)))
    (local.get $r))

${attention("", level, scalarLevel)}
${attention("_finite", (i) => `(f32x4.convert_i32x4_s ${i})`, (b) => `(f32.convert_i32_s ${b})`)}`;
}

/**
 * `row_keys` and `row_values` with the float level of an int8 level given by `level` (SIMD)
 * and `scalarLevel`: NAN_LEVEL widened to NaN, or (the "_finite" pair, for levels the caller
 * found no NAN_LEVEL in) the plain conversion, two instructions fewer per four terms.
 */
function attention(sfx: string, level: (i: string) => string, scalarLevel: (b: string) => string): string {
  return `
  ;; row_keys: for b < B: out[b*L + j] = sum over k < E ascending of q[b*E + k] * level(S[b*ss + j*E + k]),
  ;; j < L ($ss: bytes from one batch matrix of S to the next, L*E when packed). Four positions
  ;; at a time (lanes = j) when E is a multiple of 4; the rest one by one.
  (func (export "row_keys${sfx}") (param $Q i32) (param $S i32) (param $ss i32) (param $out i32) (param $B i32) (param $L i32) (param $E i32)
    (local $b i32) (local $j i32) (local $k i32) (local $q i32) (local $s i32) (local $r i32) (local $j4 i32)
    (local $x v128) (local $h v128) (local $acc v128) (local $a f32)
    (local.set $j4 (select (i32.and (local.get $L) (i32.const -4)) (i32.const 0) (i32.eqz (i32.and (local.get $E) (i32.const 3)))))
    (local.set $b (i32.const 0))
    (block $bd (loop $bl
      (br_if $bd (i32.ge_s (local.get $b) (local.get $B)))
      (local.set $q (i32.add (local.get $Q) (i32.shl (i32.mul (local.get $b) (local.get $E)) (i32.const 2))))
      (local.set $j (i32.const 0))
      (block $jd (loop $jl
        (br_if $jd (i32.ge_s (local.get $j) (local.get $j4)))
        (local.set $s (i32.add (i32.add (local.get $S) (i32.mul (local.get $b) (local.get $ss))) (i32.mul (local.get $j) (local.get $E))))
        (local.set $acc (v128.const i32x4 0 0 0 0))
        (local.set $k (i32.const 0))
        (block $kd (loop $kl
          (br_if $kd (i32.ge_s (local.get $k) (local.get $E)))
          (local.set $r (i32.add (local.get $s) (local.get $k)))
          ;; bytes k..k+3 of rows j..j+3, transposed to k-major: [k: j0 j1 j2 j3] x 4
          (local.set $x (v128.load32_zero (local.get $r)))
          (local.set $r (i32.add (local.get $r) (local.get $E)))
          (local.set $x (v128.load32_lane 1 (local.get $r) (local.get $x)))
          (local.set $r (i32.add (local.get $r) (local.get $E)))
          (local.set $x (v128.load32_lane 2 (local.get $r) (local.get $x)))
          (local.set $r (i32.add (local.get $r) (local.get $E)))
          (local.set $x (v128.load32_lane 3 (local.get $r) (local.get $x)))
          (local.set $x (i8x16.shuffle 0 4 8 12 1 5 9 13 2 6 10 14 3 7 11 15 (local.get $x) (local.get $x)))
          (local.set $h (i16x8.extend_low_i8x16_s (local.get $x)))
          (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul ${level("(i32x4.extend_low_i16x8_s (local.get $h))")}
            (v128.load32_splat (i32.add (local.get $q) (i32.shl (local.get $k) (i32.const 2)))))))
          (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul ${level("(i32x4.extend_high_i16x8_s (local.get $h))")}
            (v128.load32_splat offset=4 (i32.add (local.get $q) (i32.shl (local.get $k) (i32.const 2)))))))
          (local.set $h (i16x8.extend_high_i8x16_s (local.get $x)))
          (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul ${level("(i32x4.extend_low_i16x8_s (local.get $h))")}
            (v128.load32_splat offset=8 (i32.add (local.get $q) (i32.shl (local.get $k) (i32.const 2)))))))
          (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul ${level("(i32x4.extend_high_i16x8_s (local.get $h))")}
            (v128.load32_splat offset=12 (i32.add (local.get $q) (i32.shl (local.get $k) (i32.const 2)))))))
          (local.set $k (i32.add (local.get $k) (i32.const 4)))
          (br $kl)))
        (v128.store (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (local.get $b) (local.get $L)) (local.get $j)) (i32.const 2))) (local.get $acc))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $jl)))
      ;; the remaining positions, one at a time
      (block $rd (loop $rl
        (br_if $rd (i32.ge_s (local.get $j) (local.get $L)))
        (local.set $s (i32.add (i32.add (local.get $S) (i32.mul (local.get $b) (local.get $ss))) (i32.mul (local.get $j) (local.get $E))))
        (local.set $a (f32.const 0))
        (local.set $k (i32.const 0))
        (block $kd2 (loop $kl2
          (br_if $kd2 (i32.ge_s (local.get $k) (local.get $E)))
          (local.set $r (i32.load8_s (i32.add (local.get $s) (local.get $k))))
          (local.set $a (f32.add (local.get $a) (f32.mul (f32.load (i32.add (local.get $q) (i32.shl (local.get $k) (i32.const 2)))) ${scalarLevel("(local.get $r)")})))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $kl2)))
        (f32.store (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (local.get $b) (local.get $L)) (local.get $j)) (i32.const 2))) (local.get $a))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $rl)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl))))

  ;; row_values: for b < B: out[b*E + n] = sum over k < L ascending of p[b*L + k] * level(S[b*ss + k*E + n]),
  ;; n < E ($ss as in row_keys). Sixteen columns at a time; the rest one by one.
  (func (export "row_values${sfx}") (param $P i32) (param $S i32) (param $ss i32) (param $out i32) (param $B i32) (param $L i32) (param $E i32)
    (local $b i32) (local $n i32) (local $k i32) (local $p i32) (local $s i32) (local $n16 i32) (local $r i32)
    (local $x v128) (local $h v128) (local $pk v128) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $a f32)
    (local.set $n16 (i32.and (local.get $E) (i32.const -16)))
    (local.set $b (i32.const 0))
    (block $bd (loop $bl
      (br_if $bd (i32.ge_s (local.get $b) (local.get $B)))
      (local.set $p (i32.add (local.get $P) (i32.shl (i32.mul (local.get $b) (local.get $L)) (i32.const 2))))
      (local.set $n (i32.const 0))
      (block $nd (loop $nl
        (br_if $nd (i32.ge_s (local.get $n) (local.get $n16)))
        (local.set $s (i32.add (i32.add (local.get $S) (i32.mul (local.get $b) (local.get $ss))) (local.get $n)))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0))
        (local.set $k (i32.const 0))
        (block $kd (loop $kl
          (br_if $kd (i32.ge_s (local.get $k) (local.get $L)))
          (local.set $x (v128.load (local.get $s)))
          (local.set $pk (v128.load32_splat (i32.add (local.get $p) (i32.shl (local.get $k) (i32.const 2)))))
          (local.set $h (i16x8.extend_low_i8x16_s (local.get $x)))
          (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul ${level("(i32x4.extend_low_i16x8_s (local.get $h))")} (local.get $pk))))
          (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul ${level("(i32x4.extend_high_i16x8_s (local.get $h))")} (local.get $pk))))
          (local.set $h (i16x8.extend_high_i8x16_s (local.get $x)))
          (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul ${level("(i32x4.extend_low_i16x8_s (local.get $h))")} (local.get $pk))))
          (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul ${level("(i32x4.extend_high_i16x8_s (local.get $h))")} (local.get $pk))))
          (local.set $s (i32.add (local.get $s) (local.get $E)))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $kl)))
        (local.set $r (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (local.get $b) (local.get $E)) (local.get $n)) (i32.const 2))))
        (v128.store offset=0 (local.get $r) (local.get $a0))
        (v128.store offset=16 (local.get $r) (local.get $a1))
        (v128.store offset=32 (local.get $r) (local.get $a2))
        (v128.store offset=48 (local.get $r) (local.get $a3))
        (local.set $n (i32.add (local.get $n) (i32.const 16)))
        (br $nl)))
      (block $rd (loop $rl
        (br_if $rd (i32.ge_s (local.get $n) (local.get $E)))
        (local.set $s (i32.add (i32.add (local.get $S) (i32.mul (local.get $b) (local.get $ss))) (local.get $n)))
        (local.set $a (f32.const 0))
        (local.set $k (i32.const 0))
        (block $kd2 (loop $kl2
          (br_if $kd2 (i32.ge_s (local.get $k) (local.get $L)))
          (local.set $r (i32.load8_s (local.get $s)))
          (local.set $a (f32.add (local.get $a) (f32.mul (f32.load (i32.add (local.get $p) (i32.shl (local.get $k) (i32.const 2)))) ${scalarLevel("(local.get $r)")})))
          (local.set $s (i32.add (local.get $s) (local.get $E)))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $kl2)))
        (f32.store (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (local.get $b) (local.get $E)) (local.get $n)) (i32.const 2))) (local.get $a))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $rl)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl))))
`;
}
