/**
 * WebAssembly text (WAT) of the SIMD spike kernels, generated for a column-tile width TN.
 *
 * Every function works on a generic 2-D "spike operand" (rows r, reduction index k) and a
 * generic "weight operand" (k, output column c), both addressed through element strides,
 * so the same code serves `S @ W`, `Q @ Sᵀ` and `A @ S` (see spike-matmul.ts):
 *
 *   out[r, c] = Σ_{k ascending} spike[r, k] * weight[k, c]      (sequential float32)
 *
 * Data layout in the (shared) linear memory, all set up by the caller:
 *   - spike operand: int8, element (r, k) at  S + r*srs + k*scs
 *   - weight operand: f32, element (k, c) at   W + 4*(k*wrs + c*wcs)
 *   - packed weights P: per column tile t (TN columns), per k, the TN values +W[k, tile]
 *     followed by the TN values -W[k, tile] (zero padded past the last column): tile t
 *     starts at P + t*K*KS (KS = 2*TN*4 bytes per k), row k's "+" half at +k*KS, "-" half at
 *     +k*KS + TN*4. Storing -W makes the inner loop a pure load+add: the event entry already
 *     points at the right half. (A sign-xor variant with +W only halves packing traffic but
 *     measured ~12% slower accumulation at rate 0.2.)
 *   - event lists: row r's entries at L + r*K*ES (room for K entries of ES bytes), count at
 *     C + 4r. Entry = byte offset of the event's half-row inside a tile, (2k + neg)*TN*4, in
 *     ascending k — both signs in ONE list, since accumulating the "+" and "-" events
 *     separately would reorder the float sum. The optional "16" variants store entry >> 5 as
 *     u16 (halving list traffic; usable while (2K-1)*TN*4/32 < 65536) — measured no faster,
 *     so the backend uses the 32-bit lists.
 *   - output: element (r, c) at O + 4*(r*ors + c*ocs)
 *
 * Bit-exactness: each f32x4 lane is one output column, updated once per event in ascending
 * k with a single IEEE f32 add of exactly ±W[k, c] — the reference sequence of roundings.
 *
 * Code-generation notes (V8 11 / TurboFan, x64), found by reading --print-wasm-code output:
 *   - TurboFan hoists every load of a loop iteration above its adds; with more than ~7
 *     f32x4 accumulators (TN > 28) or two events per iteration, loaded values plus
 *     accumulators exceed the 15 usable xmm registers and accumulators spill to the stack.
 *     TN = 24 (6 accumulators, one event per iteration) compiles spill-free.
 *   - A pure tile base `P + t*K*KS` gets re-derived inside the event loop (two imuls and a
 *     stack reload per event); carrying it as a loop variable keeps it in a register (+15%).
 *   - Loop order is tile-outer / row-inner: one packed tile (K*KS bytes) stays in L2 while all
 *     rows stream their lists over it. Row blocking (re-reading tiles per row block so lists
 *     stay in L2) measured 15-50% slower: L3 bandwidth per core is the scarcer resource.
 */

import { numericsWat } from "./wasm-numerics-wat.js";
import { vectorVmWat, VEC_CHUNK } from "./wasm-vector-wat.js";
import { rowsWat } from "./wasm-rows-wat.js";

/** Bytes per job block of `run` (fields up to offset 96; run_batch steps through blocks this far apart). */
export const JOB_BYTES = 128;

export interface WatOptions {
  /** Columns per tile; multiple of 8. Number of f32x4 accumulators = TN / 4. */
  readonly tn: number;
  /** Also emit build_lists16/compute16 (u16 entries). Measured no faster; kept for experiments. */
  readonly list16?: boolean;
}

export function kernelWat(opts: WatOptions): string {
  const TN = opts.tn;
  if (TN % 8 !== 0 || TN < 8) throw new RangeError("tn must be a positive multiple of 8");
  const V = TN / 4;
  const KS = 2 * TN * 4; // bytes per k inside a packed tile
  const accs = Array.from({ length: V }, (_, v) => `$a${v}`);
  const declAccs = accs.map((a) => `(local ${a} v128)`).join(" ");
  const zeroAccs = accs.map((a) => `(local.set ${a} (v128.const i32x4 0 0 0 0))`).join("\n        ");
  // accumulate one event whose absolute address is in local $e
  const addEvent = accs
    .map((a, v) => `(local.set ${a} (f32x4.add (local.get ${a}) (v128.load offset=${v * 16} align=4 (local.get $e))))`)
    .join("\n          ");
  // dense-ternary step: acc += W * s  (s in {-1,0,1} splatted as f32)
  const mulAdd = accs
    .map((a, v) => `(local.set ${a} (f32x4.add (local.get ${a}) (f32x4.mul (local.get $sv) (v128.load offset=${v * 16} align=4 (local.get $e)))))`)
    .join("\n          ");
  const storeFull = accs
    .map((a, v) => `(v128.store offset=${v * 16} align=4 (local.get $o) (local.get ${a}))`)
    .join("\n            ");
  // partial / strided store: spill the accumulators to this thread's scratch slot, then copy
  // the valid lanes with the output column stride.
  const spill = accs
    .map((a, v) => `(v128.store offset=${v * 16} align=4 (local.get $scr) (local.get ${a}))`)
    .join("\n            ");
  const scaleAccs = accs.map((a) => `(local.set ${a} (f32x4.mul (local.get ${a}) (local.get $sc)))`).join("\n            ");
  const storeBlock = `
        (if (local.get $scale)
          (then
            (local.set $sc (v128.load32_splat (i32.add (local.get $scale) (i32.shl (local.get $r) (i32.const 2)))))
            ${scaleAccs}))
        (local.set $o (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (local.get $r) (local.get $ors))
                                                                  (i32.mul (local.get $c0) (local.get $ocs))) (i32.const 2))))
        (if (i32.and (i32.eq (local.get $ocs) (i32.const 1)) (i32.ge_u (local.get $ncols) (i32.add (local.get $c0) (i32.const ${TN}))))
          (then
            ${storeFull})
          (else
            ${spill}
            (local.set $nv (i32.sub (local.get $ncols) (local.get $c0)))
            (if (i32.gt_s (local.get $nv) (i32.const ${TN})) (then (local.set $nv (i32.const ${TN}))))
            (local.set $c (i32.const 0))
            (block $sd (loop $sl
              (br_if $sd (i32.ge_s (local.get $c) (local.get $nv)))
              (f32.store (i32.add (local.get $o) (i32.shl (i32.mul (local.get $c) (local.get $ocs)) (i32.const 2)))
                         (f32.load (i32.add (local.get $scr) (i32.shl (local.get $c) (i32.const 2)))))
              (local.set $c (i32.add (local.get $c) (i32.const 1)))
              (br $sl)))))`;

  /** build_lists / compute for entry size es (2 or 4 bytes); exported with suffix sfx. */
  const listFns = (es: 2 | 4, sfx: string) => {
    const esShift = es === 2 ? 1 : 2;
    const store = es === 2 ? "i32.store16" : "i32.store";
    const entryShift = es === 2 ? 5 : 0;
    const kUnit = KS >> entryShift;
    const negAdd = (TN * 4) >> entryShift;
    const loadEntry = es === 2 ? `(i32.shl (i32.load16_u (local.get $p)) (i32.const 5))` : `(i32.load (local.get $p))`;
    return `
  ;; build_lists${sfx}: for rows [r0, r1) write the ascending event list of spike row r
  ;; (${es}-byte entries, entry = (2k + neg) * ${TN * 4} >> ${entryShift}); returns the event count.
  (func $build_lists${sfx} (export "build_lists${sfx}") (param $S i32) (param $srs i32) (param $scs i32) (param $K i32)
        (param $r0 i32) (param $r1 i32) (param $L i32) (param $C i32) (result i32)
    (local $r i32) (local $src i32) (local $q i32) (local $q0 i32) (local $k i32) (local $s i32)
    (local $v v128) (local $nz i32) (local $ng i32) (local $b i32) (local $total i32) (local $k16 i32)
    (local.set $r (local.get $r0))
    (block $rd (loop $rl
      (br_if $rd (i32.ge_s (local.get $r) (local.get $r1)))
      (local.set $src (i32.add (local.get $S) (i32.mul (local.get $r) (local.get $srs))))
      (local.set $q0 (i32.add (local.get $L) (i32.shl (i32.mul (local.get $r) (local.get $K)) (i32.const ${esShift}))))
      (local.set $q (local.get $q0))
      (local.set $k (i32.const 0))
      (if (i32.eq (local.get $scs) (i32.const 1))
        (then
          ;; 16 spikes at a time: skip all-zero chunks, walk the set bits otherwise
          (local.set $k16 (i32.and (local.get $K) (i32.const -16)))
          (block $cd (loop $cl
            (br_if $cd (i32.ge_s (local.get $k) (local.get $k16)))
            (local.set $v (v128.load align=1 (i32.add (local.get $src) (local.get $k))))
            (local.set $nz (i8x16.bitmask (i8x16.ne (local.get $v) (v128.const i32x4 0 0 0 0))))
            (local.set $ng (i8x16.bitmask (local.get $v)))
            (block $bd (loop $bl
              (br_if $bd (i32.eqz (local.get $nz)))
              (local.set $b (i32.ctz (local.get $nz)))
              (${store} (local.get $q)
                (i32.add (i32.mul (i32.add (local.get $k) (local.get $b)) (i32.const ${kUnit}))
                         (i32.mul (i32.and (i32.shr_u (local.get $ng) (local.get $b)) (i32.const 1)) (i32.const ${negAdd}))))
              (local.set $q (i32.add (local.get $q) (i32.const ${es})))
              (local.set $nz (i32.and (local.get $nz) (i32.sub (local.get $nz) (i32.const 1))))
              (br $bl)))
            (local.set $k (i32.add (local.get $k) (i32.const 16)))
            (br $cl)))))
      ;; scalar (tail or strided) part, branch-free append
      (block $kd (loop $kl
        (br_if $kd (i32.ge_s (local.get $k) (local.get $K)))
        (local.set $s (i32.load8_s (i32.add (local.get $src) (i32.mul (local.get $k) (local.get $scs)))))
        (${store} (local.get $q)
          (i32.add (i32.mul (local.get $k) (i32.const ${kUnit}))
                   (i32.mul (i32.shr_u (local.get $s) (i32.const 31)) (i32.const ${negAdd}))))
        (local.set $q (i32.add (local.get $q) (i32.mul (i32.ne (local.get $s) (i32.const 0)) (i32.const ${es}))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $kl)))
      (i32.store (i32.add (local.get $C) (i32.shl (local.get $r) (i32.const 2)))
                 (i32.shr_u (i32.sub (local.get $q) (local.get $q0)) (i32.const ${esShift})))
      (local.set $total (i32.add (local.get $total) (i32.shr_u (i32.sub (local.get $q) (local.get $q0)) (i32.const ${esShift}))))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rl)))
    (local.get $total))

  ;; compute${sfx}: rows [r0, r1) x tiles [t0, t1) of the event-driven accumulation; if
  ;; $scale != 0 each row's result is multiplied by the f32 at scale + 4r (one rounding after
  ;; the sum). $scr: TN*4 bytes of per-thread scratch for partial / strided stores.
  (func $compute${sfx} (export "compute${sfx}") (param $L i32) (param $C i32) (param $K i32) (param $P i32)
        (param $out i32) (param $ors i32) (param $ocs i32) (param $ncols i32)
        (param $r0 i32) (param $r1 i32) (param $t0 i32) (param $t1 i32) (param $scr i32) (param $scale i32)
    (local $t i32) (local $r i32) (local $p i32) (local $end i32) (local $base i32)
    (local $e i32) (local $o i32) (local $c0 i32) (local $c i32) (local $nv i32) (local $sc v128)
    ${declAccs}
    (local.set $t (local.get $t0))
    ;; loop-carried tile base (see the code-generation notes in the header)
    (local.set $base (i32.add (local.get $P) (i32.mul (local.get $t0) (i32.mul (local.get $K) (i32.const ${KS})))))
    (block $td (loop $tl
      (br_if $td (i32.ge_s (local.get $t) (local.get $t1)))
      (local.set $c0 (i32.mul (local.get $t) (i32.const ${TN})))
      (local.set $r (local.get $r0))
      (block $rd (loop $rl
        (br_if $rd (i32.ge_s (local.get $r) (local.get $r1)))
        (local.set $p (i32.add (local.get $L) (i32.shl (i32.mul (local.get $r) (local.get $K)) (i32.const ${esShift}))))
        (local.set $end (i32.add (local.get $p)
          (i32.shl (i32.load (i32.add (local.get $C) (i32.shl (local.get $r) (i32.const 2)))) (i32.const ${esShift}))))
        ${zeroAccs}
        (block $ed (loop $el
          (br_if $ed (i32.ge_s (local.get $p) (local.get $end)))
          (local.set $e (i32.add (local.get $base) ${loadEntry}))
          ${addEvent}
          (local.set $p (i32.add (local.get $p) (i32.const ${es})))
          (br $el)))
        ${storeBlock}
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rl)))
      (local.set $base (i32.add (local.get $base) (i32.mul (local.get $K) (i32.const ${KS}))))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $tl))))
`;
  };

  return `(module
  (import "env" "mem" (memory 1 32768 shared))
${opts.list16 ? listFns(2, "16") : ""}
${listFns(4, "")}
${vectorVmWat(VEC_CHUNK)}
${numericsWat()}
${rowsWat()}
  ;; ---------------------------------------------------------------- packing
  ;; pack: tiles [t0, t1) of the weight operand into P (any strides, partial tiles).
  (func $pack (export "pack") (param $W i32) (param $wrs i32) (param $wcs i32) (param $K i32) (param $ncols i32)
        (param $t0 i32) (param $t1 i32) (param $P i32)
    (local $t i32) (local $k i32) (local $c i32) (local $c0 i32) (local $dst i32) (local $src i32) (local $x f32)
    (local.set $t (local.get $t0))
    (block $td (loop $tl
      (br_if $td (i32.ge_s (local.get $t) (local.get $t1)))
      (local.set $c0 (i32.mul (local.get $t) (i32.const ${TN})))
      (local.set $dst (i32.add (local.get $P) (i32.mul (local.get $t) (i32.mul (local.get $K) (i32.const ${KS})))))
      (local.set $k (i32.const 0))
      (block $kd (loop $kl
        (br_if $kd (i32.ge_s (local.get $k) (local.get $K)))
        (local.set $src (i32.add (local.get $W) (i32.shl (i32.add (i32.mul (local.get $k) (local.get $wrs))
                                                                  (i32.mul (local.get $c0) (local.get $wcs))) (i32.const 2))))
        (local.set $c (i32.const 0))
        (block $sd (loop $sl
          (br_if $sd (i32.ge_s (local.get $c) (i32.const ${TN})))
          (local.set $x (f32.const 0))
          (if (i32.lt_s (i32.add (local.get $c0) (local.get $c)) (local.get $ncols))
            (then (local.set $x (f32.load (i32.add (local.get $src) (i32.shl (i32.mul (local.get $c) (local.get $wcs)) (i32.const 2)))))))
          (f32.store (i32.add (local.get $dst) (i32.shl (local.get $c) (i32.const 2))) (local.get $x))
          (f32.store offset=${TN * 4} (i32.add (local.get $dst) (i32.shl (local.get $c) (i32.const 2))) (f32.neg (local.get $x)))
          (local.set $c (i32.add (local.get $c) (i32.const 1)))
          (br $sl)))
        (local.set $dst (i32.add (local.get $dst) (i32.const ${KS})))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $kl)))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $tl))))

  ;; pack_fast: weight rows k in [k0, k1) of FULL tiles [t0, t1) of an operand with unit
  ;; column stride; k-outer so each weight row is read sequentially, and so packing of the
  ;; first rows can start while later rows are still being copied in.
  (func $pack_fast (export "pack_fast") (param $W i32) (param $wrs i32) (param $K i32) (param $k0 i32) (param $k1 i32)
        (param $t0 i32) (param $t1 i32) (param $P i32)
    (local $k i32) (local $t i32) (local $src i32) (local $dst i32) (local $tb i32) (local $v v128)
    (local.set $tb (i32.mul (local.get $K) (i32.const ${KS})))
    (local.set $k (local.get $k0))
    (block $kd (loop $kl
      (br_if $kd (i32.ge_s (local.get $k) (local.get $k1)))
      (local.set $src (i32.add (local.get $W) (i32.shl (i32.add (i32.mul (local.get $k) (local.get $wrs))
                                                                (i32.mul (local.get $t0) (i32.const ${TN}))) (i32.const 2))))
      (local.set $dst (i32.add (i32.add (local.get $P) (i32.mul (local.get $t0) (local.get $tb))) (i32.mul (local.get $k) (i32.const ${KS}))))
      (local.set $t (local.get $t0))
      (block $td (loop $tl
        (br_if $td (i32.ge_s (local.get $t) (local.get $t1)))
        ${Array.from(
          { length: V },
          (_, v) => `(local.set $v (v128.load offset=${v * 16} align=4 (local.get $src)))
        (v128.store offset=${v * 16} align=4 (local.get $dst) (local.get $v))
        (v128.store offset=${TN * 4 + v * 16} align=4 (local.get $dst) (f32x4.neg (local.get $v)))`,
        ).join("\n        ")}
        (local.set $src (i32.add (local.get $src) (i32.const ${TN * 4})))
        (local.set $dst (i32.add (local.get $dst) (local.get $tb)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $tl)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $kl))))

  ;; ---------------------------------------------------------------- dense-ternary kernel
  ;; dense: same contract without event lists: every k, acc += (+W[k, tile]) * f32(s).
  ;; s*w is exact (±w or ±0) and adding ±0 to an accumulator that started at +0 is the
  ;; identity, so the result equals the event-driven one (for finite weights).
  (func $dense (export "dense") (param $S i32) (param $srs i32) (param $scs i32) (param $K i32) (param $P i32)
        (param $out i32) (param $ors i32) (param $ocs i32) (param $ncols i32)
        (param $r0 i32) (param $r1 i32) (param $t0 i32) (param $t1 i32) (param $scr i32) (param $scale i32)
    (local $t i32) (local $r i32) (local $k i32) (local $base i32) (local $src i32) (local $sv v128)
    (local $e i32) (local $o i32) (local $c0 i32) (local $c i32) (local $nv i32) (local $sc v128)
    ${declAccs}
    (local.set $t (local.get $t0))
    (local.set $base (i32.add (local.get $P) (i32.mul (local.get $t0) (i32.mul (local.get $K) (i32.const ${KS})))))
    (block $td (loop $tl
      (br_if $td (i32.ge_s (local.get $t) (local.get $t1)))
      (local.set $c0 (i32.mul (local.get $t) (i32.const ${TN})))
      (local.set $r (local.get $r0))
      (block $rd (loop $rl
        (br_if $rd (i32.ge_s (local.get $r) (local.get $r1)))
        (local.set $src (i32.add (local.get $S) (i32.mul (local.get $r) (local.get $srs))))
        ${zeroAccs}
        (local.set $e (local.get $base))
        (local.set $k (i32.const 0))
        (block $kd (loop $kl
          (br_if $kd (i32.ge_s (local.get $k) (local.get $K)))
          (local.set $sv (f32x4.splat (f32.convert_i32_s (i32.load8_s (i32.add (local.get $src) (i32.mul (local.get $k) (local.get $scs)))))))
          ${mulAdd}
          (local.set $e (i32.add (local.get $e) (i32.const ${KS})))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $kl)))
        ${storeBlock}
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rl)))
      (local.set $base (i32.add (local.get $base) (i32.mul (local.get $K) (i32.const ${KS}))))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $tl))))

  ;; ---------------------------------------------------------------- driver
  ;; run: one thread's share of a whole contraction, described by the job block at $job
  ;; (field offsets below, all i32). Every thread calls run(job, its tile scratch, its store
  ;; scratch); work is claimed dynamically with atomic counters, so threads that start late
  ;; (the caller copies W in first) or run slower simply take fewer items:
  ;;   1. event lists, in chunks of listChunk rows (event variant only); then wait until all
  ;;      rows are listed (listDone == R);
  ;;   2. wait until the caller has published the weights (wReady != 0);
  ;;   3. work items w = (tile t = w / nRC, row chunk w % nRC): unless the weights are
  ;;      pre-packed (P != 0), pack tile t into this thread's L2-sized tile scratch (only when
  ;;      t changes), then accumulate the chunk's rows for tile t.
  ;; Fields: 0 listCtr  4 listDone  8 wReady  12 itemCtr  16 S  20 srs  24 scs  28 K  32 R
  ;;   36 L  40 C  44 W  48 wrs  52 wcs  56 ncols  60 P  64 out  68 ors  72 ocs  76 scale
  ;;   80 listChunk  84 nRC  88 rowsPerChunk  92 variant (0 event, 1 dense)  96 nT
  (func $run (export "run") (param $job i32) (param $tile i32) (param $scr i32) (result i32)
    (local $K i32) (local $R i32) (local $r0 i32) (local $r1 i32) (local $w i32) (local $nItems i32)
    (local $t i32) (local $lastT i32) (local $tb i32) (local $pbase i32) (local $nRC i32) (local $rpc i32)
    (local $chunk i32) (local $variant i32) (local $full i32) (local $done i32)
    (local.set $K (i32.load offset=28 (local.get $job)))
    (local.set $R (i32.load offset=32 (local.get $job)))
    (local.set $variant (i32.load offset=92 (local.get $job)))
    (local.set $nRC (i32.load offset=84 (local.get $job)))
    (local.set $rpc (i32.load offset=88 (local.get $job)))
    (local.set $tb (i32.mul (local.get $K) (i32.const ${KS})))
    (local.set $nItems (i32.mul (i32.load offset=96 (local.get $job)) (local.get $nRC)))
    (if (i32.eqz (local.get $variant))
      (then
        (local.set $chunk (i32.load offset=80 (local.get $job)))
        (block $ld (loop $ll
          (local.set $r0 (i32.atomic.rmw.add (local.get $job) (local.get $chunk)))
          (br_if $ld (i32.ge_s (local.get $r0) (local.get $R)))
          (local.set $r1 (i32.add (local.get $r0) (local.get $chunk)))
          (if (i32.gt_s (local.get $r1) (local.get $R)) (then (local.set $r1 (local.get $R))))
          (drop (call $build_lists
            (i32.load offset=16 (local.get $job)) (i32.load offset=20 (local.get $job)) (i32.load offset=24 (local.get $job))
            (local.get $K) (local.get $r0) (local.get $r1)
            (i32.load offset=36 (local.get $job)) (i32.load offset=40 (local.get $job))))
          (drop (i32.atomic.rmw.add offset=4 (local.get $job) (i32.sub (local.get $r1) (local.get $r0))))
          (br $ll)))
        ;; lists of the other threads' chunks: short, spin
        (block $wd (loop $wl
          (br_if $wd (i32.ge_s (i32.atomic.load offset=4 (local.get $job)) (local.get $R)))
          (br $wl)))))
    ;; weights published by the caller: spin (the copy-in takes ~1 ms; waking a sleeping
    ;; thread costs about as much), then sleep until notified
    (local.set $w (i32.const 0))
    (block $rd (loop $rl
      (br_if $rd (i32.ne (i32.atomic.load offset=8 (local.get $job)) (i32.const 0)))
      (local.set $w (i32.add (local.get $w) (i32.const 1)))
      (if (i32.gt_u (local.get $w) (i32.const 4000000))
        (then (drop (memory.atomic.wait32 offset=8 (local.get $job) (i32.const 0) (i64.const 1000000)))))
      (br $rl)))
    (local.set $lastT (i32.const -1))
    (block $id (loop $il
      (local.set $w (i32.atomic.rmw.add offset=12 (local.get $job) (i32.const 1)))
      (br_if $id (i32.ge_s (local.get $w) (local.get $nItems)))
      (local.set $t (i32.div_u (local.get $w) (local.get $nRC)))
      (local.set $r0 (i32.mul (i32.rem_u (local.get $w) (local.get $nRC)) (local.get $rpc)))
      (local.set $r1 (i32.add (local.get $r0) (local.get $rpc)))
      (if (i32.gt_s (local.get $r1) (local.get $R)) (then (local.set $r1 (local.get $R))))
      (if (i32.load offset=60 (local.get $job))
        (then (local.set $pbase (i32.load offset=60 (local.get $job))))
        (else
          ;; pbase is chosen so that pbase + t*tb = tile scratch (i32 arithmetic wraps)
          (local.set $pbase (i32.sub (local.get $tile) (i32.mul (local.get $t) (local.get $tb))))
          (if (i32.ne (local.get $t) (local.get $lastT))
            (then
              (local.set $full (i32.and (i32.eq (i32.load offset=52 (local.get $job)) (i32.const 1))
                (i32.ge_s (i32.load offset=56 (local.get $job)) (i32.mul (i32.add (local.get $t) (i32.const 1)) (i32.const ${TN})))))
              (if (local.get $full)
                (then (call $pack_fast (i32.load offset=44 (local.get $job)) (i32.load offset=48 (local.get $job)) (local.get $K)
                        (i32.const 0) (local.get $K) (local.get $t) (i32.add (local.get $t) (i32.const 1)) (local.get $pbase)))
                (else (call $pack (i32.load offset=44 (local.get $job)) (i32.load offset=48 (local.get $job))
                        (i32.load offset=52 (local.get $job)) (local.get $K) (i32.load offset=56 (local.get $job))
                        (local.get $t) (i32.add (local.get $t) (i32.const 1)) (local.get $pbase))))
              (local.set $lastT (local.get $t))))))
      (if (i32.eqz (local.get $variant))
        (then (call $compute (i32.load offset=36 (local.get $job)) (i32.load offset=40 (local.get $job)) (local.get $K)
                (local.get $pbase) (i32.load offset=64 (local.get $job)) (i32.load offset=68 (local.get $job))
                (i32.load offset=72 (local.get $job)) (i32.load offset=56 (local.get $job))
                (local.get $r0) (local.get $r1) (local.get $t) (i32.add (local.get $t) (i32.const 1))
                (local.get $scr) (i32.load offset=76 (local.get $job))))
        (else (call $dense (i32.load offset=16 (local.get $job)) (i32.load offset=20 (local.get $job))
                (i32.load offset=24 (local.get $job)) (local.get $K)
                (local.get $pbase) (i32.load offset=64 (local.get $job)) (i32.load offset=68 (local.get $job))
                (i32.load offset=72 (local.get $job)) (i32.load offset=56 (local.get $job))
                (local.get $r0) (local.get $r1) (local.get $t) (i32.add (local.get $t) (i32.const 1))
                (local.get $scr) (i32.load offset=76 (local.get $job)))))
      (local.set $done (i32.add (local.get $done) (i32.const 1)))
      (br $il)))
    ;; number of work items this thread did (diagnostics)
    (local.get $done))

  ;; run_batch: many small contractions (attention: one per step and head), job blocks of
  ;; ${JOB_BYTES} bytes from $jobs. Threads claim whole jobs through the counter at $ctr
  ;; and each runs its job alone with run (it lists every row itself, so it never waits for
  ;; another thread). Returns the number of jobs this thread did (diagnostics).
  (func (export "run_batch") (param $jobs i32) (param $n i32) (param $ctr i32) (param $tile i32) (param $scr i32) (result i32)
    (local $b i32) (local $done i32)
    (block $bd (loop $bl
      (local.set $b (i32.atomic.rmw.add (local.get $ctr) (i32.const 1)))
      (br_if $bd (i32.ge_s (local.get $b) (local.get $n)))
      (drop (call $run (i32.add (local.get $jobs) (i32.mul (local.get $b) (i32.const ${JOB_BYTES}))) (local.get $tile) (local.get $scr)))
      (local.set $done (i32.add (local.get $done) (i32.const 1)))
      (br $bl)))
    (local.get $done))
)
`;
}
