/**
 * WebAssembly text (WAT) of the SIMD spike kernels, generated for a column-tile width.
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
 *     followed by the TN values -W[k, tile] (zero padded past the last column), i.e.
 *     tile t starts at P + t*K*2*TN*4 and row k's "+" half at +k*2*TN*4, "-" half at +TN*4.
 *     Storing -W lets the inner loop be a pure load+add (no sign handling): the event list
 *     entry already points at the right half.
 *   - event lists: row r's entries at L + r*K*4 (room for K entries), count at C + r*4.
 *     Entry = byte offset inside a tile = (2k + neg) * TN*4, in ascending k (both signs in
 *     one list: processing the "+" and "-" events separately would reorder the f32 sum).
 *   - output: element (r, c) at O + 4*(r*ors + c*ocs)
 *
 * Bit-exactness: each f32x4 lane is one output column, updated once per event in ascending
 * k with a single IEEE f32 add of exactly ±W[k, c] — the reference sequence of roundings.
 */

export interface WatOptions {
  /** Columns per tile; multiple of 4. Number of f32x4 accumulators = TN / 4. */
  readonly tn: number;
  /**
   * "pm": tiles hold +W and -W (entries point at the right half; inner loop = load+add).
   * "xor": tiles hold +W only; the entry's bit 31 is the sign, applied with a v128.xor.
   */
  readonly sign?: "pm" | "xor";
}

export function kernelWat(opts: WatOptions): string {
  const TN = opts.tn;
  if (TN % 4 !== 0 || TN < 4) throw new RangeError("tn must be a positive multiple of 4");
  const V = TN / 4;
  const XOR = opts.sign === "xor";
  const KS = (XOR ? 1 : 2) * TN * 4; // bytes per k inside a packed tile
  const accs = Array.from({ length: V }, (_, v) => `$a${v}`);
  const declAccs = accs.map((a) => `(local ${a} v128)`).join(" ");
  const zeroAccs = accs.map((a) => `(local.set ${a} (v128.const i32x4 0 0 0 0))`).join("\n        ");
  // accumulate one event whose absolute W address is in local $e
  const addEvent = (e: string) =>
    accs
      .map((a, v) =>
        XOR
          ? `(local.set ${a} (f32x4.add (local.get ${a}) (v128.xor (local.get $m) (v128.load offset=${v * 16} align=4 (local.get ${e})))))`
          : `(local.set ${a} (f32x4.add (local.get ${a}) (v128.load offset=${v * 16} align=4 (local.get ${e}))))`,
      )
      .join("\n            ");
  // dense-ternary step: acc += W * s  (s in {-1,0,1} splatted as f32)
  const mulAdd = accs
    .map((a, v) => `(local.set ${a} (f32x4.add (local.get ${a}) (f32x4.mul (local.get $sv) (v128.load offset=${v * 16} align=4 (local.get $e)))))`)
    .join("\n          ");
  const storeFull = accs
    .map((a, v) => `(v128.store offset=${v * 16} align=4 (local.get $o) (local.get ${a}))`)
    .join("\n        ");
  // partial / strided store: spill accumulators to scratch (at address 0..TN*4 of this
  // thread's scratch slot) then copy the valid lanes with the output column stride.
  const spill = accs
    .map((a, v) => `(v128.store offset=${v * 16} align=4 (local.get $scr) (local.get ${a}))`)
    .join("\n          ");

  const scaleAccs = accs.map((a) => `(local.set ${a} (f32x4.mul (local.get ${a}) (local.get $sc)))`).join("\n          ");
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

  return `(module
  (import "env" "mem" (memory 1 32768 shared))

  ;; ---------------------------------------------------------------- event lists
  ;; build_lists: for rows [r0, r1) write the ascending event list of spike row r.
  ;; entry = k*kUnit + (neg ? negAdd : 0); returns the total number of events written.
  (func (export "build_lists") (param $S i32) (param $srs i32) (param $scs i32) (param $K i32)
        (param $r0 i32) (param $r1 i32) (param $L i32) (param $C i32) (param $kUnit i32) (param $negAdd i32)
        (result i32)
    (local $r i32) (local $src i32) (local $q i32) (local $q0 i32) (local $k i32) (local $s i32)
    (local $v v128) (local $nz i32) (local $ng i32) (local $b i32) (local $total i32) (local $k16 i32)
    (local.set $r (local.get $r0))
    (block $rd (loop $rl
      (br_if $rd (i32.ge_s (local.get $r) (local.get $r1)))
      (local.set $src (i32.add (local.get $S) (i32.mul (local.get $r) (local.get $srs))))
      (local.set $q0 (i32.add (local.get $L) (i32.shl (i32.mul (local.get $r) (local.get $K)) (i32.const 2))))
      (local.set $q (local.get $q0))
      (local.set $k (i32.const 0))
      (if (i32.eq (local.get $scs) (i32.const 1))
        (then
          ;; 16 spikes at a time: skip all-zero chunks, walk set bits otherwise
          (local.set $k16 (i32.and (local.get $K) (i32.const -16)))
          (block $cd (loop $cl
            (br_if $cd (i32.ge_s (local.get $k) (local.get $k16)))
            (local.set $v (v128.load align=1 (i32.add (local.get $src) (local.get $k))))
            (local.set $nz (i8x16.bitmask (i8x16.ne (local.get $v) (v128.const i32x4 0 0 0 0))))
            (local.set $ng (i8x16.bitmask (local.get $v)))
            (block $bd (loop $bl
              (br_if $bd (i32.eqz (local.get $nz)))
              (local.set $b (i32.ctz (local.get $nz)))
              (i32.store (local.get $q)
                (i32.add (i32.mul (i32.add (local.get $k) (local.get $b)) (local.get $kUnit))
                         (i32.mul (i32.and (i32.shr_u (local.get $ng) (local.get $b)) (i32.const 1)) (local.get $negAdd))))
              (local.set $q (i32.add (local.get $q) (i32.const 4)))
              (local.set $nz (i32.and (local.get $nz) (i32.sub (local.get $nz) (i32.const 1))))
              (br $bl)))
            (local.set $k (i32.add (local.get $k) (i32.const 16)))
            (br $cl)))))
      ;; scalar (tail or strided) part, branch-free append
      (block $kd (loop $kl
        (br_if $kd (i32.ge_s (local.get $k) (local.get $K)))
        (local.set $s (i32.load8_s (i32.add (local.get $src) (i32.mul (local.get $k) (local.get $scs)))))
        (i32.store (local.get $q)
          (i32.add (i32.mul (local.get $k) (local.get $kUnit))
                   (i32.mul (i32.shr_u (local.get $s) (i32.const 31)) (local.get $negAdd))))
        (local.set $q (i32.add (local.get $q) (i32.shl (i32.ne (local.get $s) (i32.const 0)) (i32.const 2))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $kl)))
      (i32.store (i32.add (local.get $C) (i32.shl (local.get $r) (i32.const 2)))
                 (i32.shr_u (i32.sub (local.get $q) (local.get $q0)) (i32.const 2)))
      (local.set $total (i32.add (local.get $total) (i32.shr_u (i32.sub (local.get $q) (local.get $q0)) (i32.const 2))))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rl)))
    (local.get $total))

  ;; ---------------------------------------------------------------- packing
  ;; pack: tiles [t0, t1) of the weight operand into P (layout in the header comment).
  (func (export "pack") (param $W i32) (param $wrs i32) (param $wcs i32) (param $K i32) (param $ncols i32)
        (param $t0 i32) (param $t1 i32) (param $P i32)
    (local $t i32) (local $k i32) (local $c i32) (local $c0 i32) (local $dst i32) (local $src i32)
    (local $x f32) (local $v v128) (local $full i32)
    (local.set $t (local.get $t0))
    (block $td (loop $tl
      (br_if $td (i32.ge_s (local.get $t) (local.get $t1)))
      (local.set $c0 (i32.mul (local.get $t) (i32.const ${TN})))
      (local.set $dst (i32.add (local.get $P) (i32.mul (local.get $t) (i32.mul (local.get $K) (i32.const ${KS})))))
      (local.set $full (i32.and (i32.eq (local.get $wcs) (i32.const 1))
                                (i32.ge_s (local.get $ncols) (i32.add (local.get $c0) (i32.const ${TN})))))
      (local.set $k (i32.const 0))
      (block $kd (loop $kl
        (br_if $kd (i32.ge_s (local.get $k) (local.get $K)))
        (local.set $src (i32.add (local.get $W) (i32.shl (i32.add (i32.mul (local.get $k) (local.get $wrs))
                                                                  (i32.mul (local.get $c0) (local.get $wcs))) (i32.const 2))))
        (if (local.get $full)
          (then
            (local.set $c (i32.const 0))
            (block $vd (loop $vl
              (br_if $vd (i32.ge_s (local.get $c) (i32.const ${TN * 4})))
              (local.set $v (v128.load align=4 (i32.add (local.get $src) (local.get $c))))
              (v128.store align=4 (i32.add (local.get $dst) (local.get $c)) (local.get $v))
              ${XOR ? "" : `(v128.store offset=${TN * 4} align=4 (i32.add (local.get $dst) (local.get $c)) (f32x4.neg (local.get $v)))`}
              (local.set $c (i32.add (local.get $c) (i32.const 16)))
              (br $vl))))
          (else
            (local.set $c (i32.const 0))
            (block $sd (loop $sl
              (br_if $sd (i32.ge_s (local.get $c) (i32.const ${TN})))
              (local.set $x (f32.const 0))
              (if (i32.lt_s (i32.add (local.get $c0) (local.get $c)) (local.get $ncols))
                (then (local.set $x (f32.load (i32.add (local.get $src) (i32.shl (i32.mul (local.get $c) (local.get $wcs)) (i32.const 2)))))))
              (f32.store (i32.add (local.get $dst) (i32.shl (local.get $c) (i32.const 2))) (local.get $x))
              ${XOR ? "" : `(f32.store offset=${TN * 4} (i32.add (local.get $dst) (i32.shl (local.get $c) (i32.const 2))) (f32.neg (local.get $x)))`}
              (local.set $c (i32.add (local.get $c) (i32.const 1)))
              (br $sl)))))
        (local.set $dst (i32.add (local.get $dst) (i32.const ${KS})))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $kl)))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $tl))))

  ;; pack_fast: like pack, for weight rows k in [k0, k1) of FULL tiles [t0, t1) of an
  ;; operand with unit column stride; k-outer so each weight row segment is read
  ;; sequentially (and so packing can start on the first rows while later ones are copied in).
  (func (export "pack_fast") (param $W i32) (param $wrs i32) (param $K i32) (param $k0 i32) (param $k1 i32)
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
        ${Array.from({ length: V }, (_, v) => `(local.set $v (v128.load offset=${v * 16} align=4 (local.get $src)))
        (v128.store offset=${v * 16} align=4 (local.get $dst) (local.get $v))${XOR ? "" : `
        (v128.store offset=${TN * 4 + v * 16} align=4 (local.get $dst) (f32x4.neg (local.get $v)))`}`).join("\n        ")}
        (local.set $src (i32.add (local.get $src) (i32.const ${TN * 4})))
        (local.set $dst (i32.add (local.get $dst) (local.get $tb)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $tl)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $kl))))

  ;; ---------------------------------------------------------------- event-driven kernel
  ;; compute: rows [r0, r1) x tiles [t0, t1); if $scale != 0 each row's result is multiplied
  ;; by the f32 at scale + 4r (one rounding, after the sum). $scr: TN*4 bytes of scratch.
  ;; One event per loop iteration on purpose: TurboFan hoists all loads of an iteration
  ;; above the adds, so unrolling over events (or TN > 28) spills accumulators to the stack.
  ;; Tile-outer so one packed tile (K*2*TN*4 bytes) stays in L2 while all rows stream their
  ;; event lists over it; the TN/4 = ${V} f32x4 accumulators of one (row, tile) live in registers.
  (func (export "compute") (param $L i32) (param $C i32) (param $K i32) (param $P i32)
        (param $out i32) (param $ors i32) (param $ocs i32) (param $ncols i32)
        (param $r0 i32) (param $r1 i32) (param $t0 i32) (param $t1 i32) (param $scr i32) (param $scale i32)
        (param $rb i32)
    (local $t i32) (local $r i32) (local $p i32) (local $end i32) (local $base i32)
    (local $e i32) (local $o i32) (local $c0 i32) (local $c i32) (local $nv i32) (local $sc v128) (local $m v128)
    (local $b0 i32) (local $b1 i32)
    ${declAccs}
    ;; row blocks of $rb rows: the event lists of one block stay in L2 across all tiles
    (local.set $b0 (local.get $r0))
    (block $bd (loop $bl
    (br_if $bd (i32.ge_s (local.get $b0) (local.get $r1)))
    (local.set $b1 (i32.add (local.get $b0) (local.get $rb)))
    (if (i32.gt_s (local.get $b1) (local.get $r1)) (then (local.set $b1 (local.get $r1))))
    (local.set $t (local.get $t0))
    ;; $base is advanced per tile (a loop-carried value) rather than recomputed from $t:
    ;; TurboFan otherwise re-derives the pure expression P + t*K*KS inside the event loop.
    (local.set $base (i32.add (local.get $P) (i32.mul (local.get $t0) (i32.mul (local.get $K) (i32.const ${KS})))))
    (block $td (loop $tl
      (br_if $td (i32.ge_s (local.get $t) (local.get $t1)))
      (local.set $c0 (i32.mul (local.get $t) (i32.const ${TN})))
      (local.set $r (local.get $b0))
      (block $rd (loop $rl
        (br_if $rd (i32.ge_s (local.get $r) (local.get $b1)))
        (local.set $p (i32.add (local.get $L) (i32.shl (i32.mul (local.get $r) (local.get $K)) (i32.const 2))))
        (local.set $end (i32.add (local.get $p) (i32.shl (i32.load (i32.add (local.get $C) (i32.shl (local.get $r) (i32.const 2)))) (i32.const 2))))
        ${zeroAccs}
        (block $ed1 (loop $el1
          (br_if $ed1 (i32.ge_s (local.get $p) (local.get $end)))
          ${XOR ? `(local.set $e (i32.load (local.get $p)))
          (local.set $m (v128.and (i32x4.splat (local.get $e)) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000)))
          (local.set $e (i32.add (local.get $base) (i32.and (local.get $e) (i32.const 0x7fffffff))))` : `(local.set $e (i32.add (local.get $base) (i32.load (local.get $p))))`}
            ${addEvent("$e")}
          (local.set $p (i32.add (local.get $p) (i32.const 4)))
          (br $el1)))
        ${storeBlock}
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rl)))
      (local.set $base (i32.add (local.get $base) (i32.mul (local.get $K) (i32.const ${KS}))))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $tl)))
    (local.set $b0 (local.get $b1))
    (br $bl))))

  ;; ---------------------------------------------------------------- dense-ternary kernel
  ;; dense: same contract without event lists: every k, acc += (+W[k, tile]) * f32(s).
  ;; s*w is exact (±w or ±0) and adding ±0 to an accumulator that started at +0 is the
  ;; identity, so the result equals the event-driven one (for finite weights).
  (func (export "dense") (param $S i32) (param $srs i32) (param $scs i32) (param $K i32) (param $P i32)
        (param $out i32) (param $ors i32) (param $ocs i32) (param $ncols i32)
        (param $r0 i32) (param $r1 i32) (param $t0 i32) (param $t1 i32) (param $scr i32) (param $scale i32)
    (local $t i32) (local $r i32) (local $k i32) (local $base i32) (local $src i32) (local $sv v128)
    (local $e i32) (local $o i32) (local $c0 i32) (local $c i32) (local $nv i32) (local $sc v128)
    ${declAccs}
    (local.set $t (local.get $t0))
    (block $td (loop $tl
      (br_if $td (i32.ge_s (local.get $t) (local.get $t1)))
      (local.set $c0 (i32.mul (local.get $t) (i32.const ${TN})))
      (local.set $base (i32.add (local.get $P) (i32.mul (local.get $t) (i32.mul (local.get $K) (i32.const ${KS})))))
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
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $tl))))
)
`;
}
