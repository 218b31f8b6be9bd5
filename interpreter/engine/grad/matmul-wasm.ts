/**
 * The matmul backward's two sums on WebAssembly SIMD (f64x2), the same bits as the
 * JavaScript loops of ./matmul.ts: every product and sum in double (separate mul and add,
 * no fused multiply-add), each output's terms added in the same order. A lane of a vector
 * holds one output, never a partial sum, so vectorising changes no rounding:
 *
 * - `grad_a`: ga[m, k..k+8) += Σ_n g[m, n] · bT[n, k..k+8), n ascending (b transposed to
 *   [N, K] when copied in, so neighbouring k are adjacent);
 * - `acc_rows`: gb[k, n..n+8) += Σ_j v_j · g[row_j, n..n+8) over the nonzero rows j of
 *   column k, in ascending m (the row list is built in JavaScript).
 *
 * Operands are copied into the module's own memory (float32), the sums kept there in
 * float64 and rounded to float32 once when copied out. `initGradKernels()` compiles it
 * (async, once); until then, or without SIMD, ./matmul.ts uses its JavaScript loops.
 */
const WAT = `(module
  (memory (export "mem") 1)
  ;; ga (f64 [M, K]) += g (f32 [M, N]) · bT (f32 [N, K]); all offsets in bytes
  (func (export "grad_a") (param $g i32) (param $bT i32) (param $ga i32) (param $M i32) (param $K i32) (param $N i32)
    (local $m i32) (local $k i32) (local $n i32) (local $gRow i32) (local $bp i32) (local $o i32)
    (local $x v128) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $s f64)
    (local.set $m (i32.const 0))
    (block $mdone (loop $mloop
      (br_if $mdone (i32.ge_u (local.get $m) (local.get $M)))
      (local.set $gRow (i32.add (local.get $g) (i32.shl (i32.mul (local.get $m) (local.get $N)) (i32.const 2))))
      (local.set $k (i32.const 0))
      ;; 8 outputs at a time
      (block $k8done (loop $k8loop
        (br_if $k8done (i32.gt_u (i32.add (local.get $k) (i32.const 8)) (local.get $K)))
        (local.set $a0 (v128.const i64x2 0 0)) (local.set $a1 (v128.const i64x2 0 0))
        (local.set $a2 (v128.const i64x2 0 0)) (local.set $a3 (v128.const i64x2 0 0))
        (local.set $bp (i32.add (local.get $bT) (i32.shl (local.get $k) (i32.const 2))))
        (local.set $n (i32.const 0))
        (block $ndone (loop $nloop
          (br_if $ndone (i32.ge_u (local.get $n) (local.get $N)))
          (local.set $x (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $gRow) (i32.shl (local.get $n) (i32.const 2)))))))
          (local.set $a0 (f64x2.add (local.get $a0) (f64x2.mul (local.get $x) (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $bp))))))
          (local.set $a1 (f64x2.add (local.get $a1) (f64x2.mul (local.get $x) (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (local.get $bp))))))
          (local.set $a2 (f64x2.add (local.get $a2) (f64x2.mul (local.get $x) (f64x2.promote_low_f32x4 (v128.load64_zero offset=16 (local.get $bp))))))
          (local.set $a3 (f64x2.add (local.get $a3) (f64x2.mul (local.get $x) (f64x2.promote_low_f32x4 (v128.load64_zero offset=24 (local.get $bp))))))
          (local.set $bp (i32.add (local.get $bp) (i32.shl (local.get $K) (i32.const 2))))
          (local.set $n (i32.add (local.get $n) (i32.const 1)))
          (br $nloop)))
        (local.set $o (i32.add (local.get $ga) (i32.shl (i32.add (i32.mul (local.get $m) (local.get $K)) (local.get $k)) (i32.const 3))))
        (v128.store (local.get $o) (f64x2.add (v128.load (local.get $o)) (local.get $a0)))
        (v128.store offset=16 (local.get $o) (f64x2.add (v128.load offset=16 (local.get $o)) (local.get $a1)))
        (v128.store offset=32 (local.get $o) (f64x2.add (v128.load offset=32 (local.get $o)) (local.get $a2)))
        (v128.store offset=48 (local.get $o) (f64x2.add (v128.load offset=48 (local.get $o)) (local.get $a3)))
        (local.set $k (i32.add (local.get $k) (i32.const 8)))
        (br $k8loop)))
      ;; the remaining outputs one at a time
      (block $k1done (loop $k1loop
        (br_if $k1done (i32.ge_u (local.get $k) (local.get $K)))
        (local.set $s (f64.const 0))
        (local.set $bp (i32.add (local.get $bT) (i32.shl (local.get $k) (i32.const 2))))
        (local.set $n (i32.const 0))
        (block $n1done (loop $n1loop
          (br_if $n1done (i32.ge_u (local.get $n) (local.get $N)))
          (local.set $s (f64.add (local.get $s) (f64.mul
            (f64.promote_f32 (f32.load (i32.add (local.get $gRow) (i32.shl (local.get $n) (i32.const 2)))))
            (f64.promote_f32 (f32.load (local.get $bp))))))
          (local.set $bp (i32.add (local.get $bp) (i32.shl (local.get $K) (i32.const 2))))
          (local.set $n (i32.add (local.get $n) (i32.const 1)))
          (br $n1loop)))
        (local.set $o (i32.add (local.get $ga) (i32.shl (i32.add (i32.mul (local.get $m) (local.get $K)) (local.get $k)) (i32.const 3))))
        (f64.store (local.get $o) (f64.add (f64.load (local.get $o)) (local.get $s)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $k1loop)))
      (local.set $m (i32.add (local.get $m) (i32.const 1)))
      (br $mloop)))
  )
  ;; gb (f64 [N], one row) += Σ_j v_j · g[row_j] (f32 [N]); list: cnt × (i32 row offset, pad, f64 v)
  (func (export "acc_rows") (param $gb i32) (param $N i32) (param $list i32) (param $cnt i32)
    (local $n i32) (local $e i32) (local $end i32) (local $r i32) (local $v v128) (local $o i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $s f64)
    (local.set $end (i32.add (local.get $list) (i32.shl (local.get $cnt) (i32.const 4))))
    (local.set $n (i32.const 0))
    (block $n8done (loop $n8loop
      (br_if $n8done (i32.gt_u (i32.add (local.get $n) (i32.const 8)) (local.get $N)))
      (local.set $o (i32.add (local.get $gb) (i32.shl (local.get $n) (i32.const 3))))
      (local.set $a0 (v128.load (local.get $o))) (local.set $a1 (v128.load offset=16 (local.get $o)))
      (local.set $a2 (v128.load offset=32 (local.get $o))) (local.set $a3 (v128.load offset=48 (local.get $o)))
      (local.set $e (local.get $list))
      (block $jdone (loop $jloop
        (br_if $jdone (i32.ge_u (local.get $e) (local.get $end)))
        (local.set $r (i32.add (i32.load (local.get $e)) (i32.shl (local.get $n) (i32.const 2))))
        (local.set $v (f64x2.splat (f64.load offset=8 (local.get $e))))
        (local.set $a0 (f64x2.add (local.get $a0) (f64x2.mul (local.get $v) (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $r))))))
        (local.set $a1 (f64x2.add (local.get $a1) (f64x2.mul (local.get $v) (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (local.get $r))))))
        (local.set $a2 (f64x2.add (local.get $a2) (f64x2.mul (local.get $v) (f64x2.promote_low_f32x4 (v128.load64_zero offset=16 (local.get $r))))))
        (local.set $a3 (f64x2.add (local.get $a3) (f64x2.mul (local.get $v) (f64x2.promote_low_f32x4 (v128.load64_zero offset=24 (local.get $r))))))
        (local.set $e (i32.add (local.get $e) (i32.const 16)))
        (br $jloop)))
      (v128.store (local.get $o) (local.get $a0)) (v128.store offset=16 (local.get $o) (local.get $a1))
      (v128.store offset=32 (local.get $o) (local.get $a2)) (v128.store offset=48 (local.get $o) (local.get $a3))
      (local.set $n (i32.add (local.get $n) (i32.const 8)))
      (br $n8loop)))
    (block $n1done (loop $n1loop
      (br_if $n1done (i32.ge_u (local.get $n) (local.get $N)))
      (local.set $o (i32.add (local.get $gb) (i32.shl (local.get $n) (i32.const 3))))
      (local.set $s (f64.load (local.get $o)))
      (local.set $e (local.get $list))
      (block $j1done (loop $j1loop
        (br_if $j1done (i32.ge_u (local.get $e) (local.get $end)))
        (local.set $s (f64.add (local.get $s) (f64.mul (f64.load offset=8 (local.get $e))
          (f64.promote_f32 (f32.load (i32.add (i32.load (local.get $e)) (i32.shl (local.get $n) (i32.const 2))))))))
        (local.set $e (i32.add (local.get $e) (i32.const 16)))
        (br $j1loop)))
      (f64.store (local.get $o) (local.get $s))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $n1loop)))
  )
)`;

// The WebAssembly API as used here (the project compiles without the DOM library's types).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { exports: Record<string, unknown> };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface GradExports {
  readonly mem: WasmMemory;
  grad_a(g: number, bT: number, ga: number, M: number, K: number, N: number): void;
  acc_rows(gb: number, N: number, list: number, cnt: number): void;
}

let kernels: GradExports | undefined;
let starting: Promise<boolean> | undefined;

/** Compiles the module (once). Resolves false where WebAssembly SIMD is unavailable (the JavaScript loops are used). */
export function initGradKernels(): Promise<boolean> {
  starting ??= (async () => {
    try {
      const wabt = await (await import("wabt")).default();
      const parsed = wabt.parseWat("matmul-grad.wat", WAT, { simd: true });
      let bin: Uint8Array;
      try {
        parsed.resolveNames();
        bin = parsed.toBinary({}).buffer;
      } finally {
        parsed.destroy();
      }
      const inst = new WA.Instance(new WA.Module(bin), {});
      kernels = inst.exports as unknown as GradExports;
      return true;
    } catch {
      return false;
    }
  })();
  return starting;
}

export function gradKernelsReady(): boolean {
  return kernels !== undefined;
}

/** Bytes rounded up to 16. */
const align = (n: number) => (n + 15) & ~15;

function memoryFor(bytes: number): WasmMemory {
  const mem = kernels!.mem;
  const need = Math.ceil(bytes / 65536) - mem.buffer.byteLength / 65536;
  if (need > 0) mem.grow(need);
  return mem;
}

/**
 * Both gradients of a [nb, M, K] @ b [., K, N] with the batch offsets of ./matmul.ts, into
 * ga and gb (float64, which must be zero on entry). Same contract as that file's loops.
 */
export function matmulGradWasm(ad: Float32Array, bd: Float32Array, gd: Float32Array, offA: Int32Array, offB: Int32Array, nb: number, M: number, K: number, N: number, ga: Float64Array, gb: Float64Array): void {
  const ex = kernels!;
  const nB = bd.length / (K * N);
  // layout: bT per b matrix (f32), g (f32), ga (f64), gb (f64), the row list (M × 16 bytes);
  // a stays in JavaScript (its nonzeros go into the row list)
  const pB = 0;
  const pG = align(pB + bd.length * 4);
  const pGa = align(pG + gd.length * 4);
  const pGb = align(pGa + ga.length * 8);
  const pL = align(pGb + gb.length * 8);
  const mem = memoryFor(pL + M * 16);
  const buf = mem.buffer;
  const bT = new Float32Array(buf, pB, bd.length);
  for (let j = 0; j < nB; j++) {
    const base = j * K * N;
    for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) bT[base + n * K + k] = bd[base + k * N + n]!;
  }
  new Float32Array(buf, pG, gd.length).set(gd);
  const gaMem = new Float64Array(buf, pGa, ga.length);
  const gbMem = new Float64Array(buf, pGb, gb.length);
  gaMem.fill(0);
  gbMem.fill(0);
  const listI = new Int32Array(buf, pL, M * 4);
  const listF = new Float64Array(buf, pL, M * 2);
  for (let bi = 0; bi < nb; bi++) {
    const baseA = offA[bi]! * M * K;
    const baseB = offB[bi]! * K * N;
    const baseG = bi * M * N;
    ex.grad_a(pG + baseG * 4, pB + baseB * 4, pGa + baseA * 8, M, K, N);
    for (let k = 0; k < K; k++) {
      let cnt = 0;
      for (let m = 0; m < M; m++) {
        const v = ad[baseA + m * K + k]!;
        if (v === 0) continue;
        listI[cnt * 4] = pG + (baseG + m * N) * 4;
        listF[cnt * 2 + 1] = v;
        cnt++;
      }
      if (cnt > 0) ex.acc_rows(pGb + (baseB + k * N) * 8, N, pL, cnt);
    }
  }
  ga.set(gaMem);
  gb.set(gbMem);
}
