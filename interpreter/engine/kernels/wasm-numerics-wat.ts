/**
 * WebAssembly text of the float kernels around the spike accumulates — GELU, softmax rows and
 * LayerNorm rows — with exactly the reference engine's arithmetic (engine/numerics.ts,
 * engine/fast/rows.ts), so they give the same float32 bits as the JavaScript they replace:
 *
 *  - `$exp` is fdlibm's __ieee754_exp (Sun Microsystems 1993) as V8 ships it
 *    (src/base/ieee754.cc, which also returns the correctly rounded e for exp(1)): V8's
 *    Math.exp is that function, so a faithful port gives Math.exp's double for every input.
 *    Each step is the same IEEE double operation in the same order (no FMA exists in wasm).
 *  - `$erf` is engine/numerics.ts `erf` (fdlibm s_erf.c) step by step, with its constants
 *    (ERF_CONSTANTS) written as exact hexadecimal float literals, and `$exp` where it calls
 *    Math.exp.
 *  - float32 arithmetic: f32.add/sub/mul/div of float32 operands are the IEEE float32
 *    operations, which is what `Math.fround(a op b)` computes in JavaScript; f32.demote_f64 is
 *    round-to-nearest-even like Math.fround. Math.max is f32.max (NaN wins, +0 over -0).
 *
 * The property tests (test/engine.wasm-numerics.test.ts) hold `exp` to Math.exp and the row
 * kernels to the JavaScript ones, bit for bit, including -0, subnormals, NaN and ±Infinity.
 */
import { ERF_CONSTANTS as E } from "../numerics.js";

/** A WAT float literal for exactly the double `v` (hexadecimal, so no decimal parsing is involved). */
export function f64Literal(v: number): string {
  if (Number.isNaN(v)) return "nan";
  if (v === Infinity) return "inf";
  if (v === -Infinity) return "-inf";
  if (v === 0) return Object.is(v, -0) ? "-0x0p+0" : "0x0p+0";
  const b = new DataView(new ArrayBuffer(8));
  b.setFloat64(0, v);
  const hi = b.getUint32(0);
  const lo = b.getUint32(4);
  const sign = hi >>> 31 ? "-" : "";
  const exp = (hi >>> 20) & 0x7ff;
  const mant = ((hi & 0xfffff).toString(16).padStart(5, "0") + lo.toString(16).padStart(8, "0"));
  return exp === 0 ? `${sign}0x0.${mant}p-1022` : `${sign}0x1.${mant}p${exp - 1023}`;
}

const c = (v: number) => `(f64.const ${f64Literal(v)})`;
const get = (x: string) => `(local.get $${x})`;
const add = (a: string, b: string) => `(f64.add ${a} ${b})`;
const sub = (a: string, b: string) => `(f64.sub ${a} ${b})`;
const mul = (a: string, b: string) => `(f64.mul ${a} ${b})`;
const div = (a: string, b: string) => `(f64.div ${a} ${b})`;
/** k0 + v*(k1 + v*(k2 + ...)), Horner's rule exactly as written in numerics.ts. */
const horner = (v: string, ks: readonly number[]): string =>
  ks.length === 1 ? c(ks[0]!) : add(c(ks[0]!), mul(v, horner(v, ks.slice(1))));

// __ieee754_exp's constants (the decimals of fdlibm e_exp.c / V8 ieee754.cc)
const O_THRESHOLD = 7.09782712893383973096e2;
const U_THRESHOLD = -7.45133219101941108420e2;
const LN2HI = 6.93147180369123816490e-1;
const LN2LO = 1.90821492927058770002e-10;
const INVLN2 = 1.44269504088896338700;
const P = [1.66666666666666019037e-1, -2.77777777770155933842e-3, 6.61375632143793436117e-5, -1.65339022054652515390e-6, 4.13813679705723846039e-8];
const EULER = 2.718281828459045;
const TWOM1000 = 9.33263618503218878990e-302;
const TWO1023 = 8.988465674311579539e307;

/** Smallest |x| that fdlibm's exp reduces (high word > 0x3FD62E42): the double 0x3FD62E43_00000000. */
const EXP_REDUCE_MIN = 0.3465735912322998;

// f64x2 helpers: every lane does the scalar operation of the same name
const vc = (v: number) => `(v128.const f64x2 ${f64Literal(v)} ${f64Literal(v)})`;
const vadd = (a: string, b: string) => `(f64x2.add ${a} ${b})`;
const vsub = (a: string, b: string) => `(f64x2.sub ${a} ${b})`;
const vmul = (a: string, b: string) => `(f64x2.mul ${a} ${b})`;
const vdiv = (a: string, b: string) => `(f64x2.div ${a} ${b})`;
/** a where the mask's lanes are all ones, else b. */
const vsel = (a: string, b: string, m: string) => `(v128.bitselect ${a} ${b} ${m})`;
/**
 * Horner's rule with per-lane coefficients: where mask m is set the coefficients `ks1`, else
 * `ks2`; the shorter list is padded with zeros at the top, which changes no bit where it is
 * used: k + v*0 = k for the finite, non-negative v these polynomials see.
 */
function hornerSel(v: string, ks1: readonly number[], ks2: readonly number[], m: string): string {
  const n = Math.max(ks1.length, ks2.length);
  const coef = (i: number) => {
    const a = ks1[i] ?? 0;
    const b = ks2[i] ?? 0;
    return a === b ? vc(a) : vsel(vc(a), vc(b), m);
  };
  let e = coef(n - 1);
  for (let i = n - 2; i >= 0; i--) e = vadd(coef(i), vmul(v, e));
  return e;
}

/**
 * Branch-free f64x2 forms of `$exp` and `$erf`-based GELU: every lane computes every case and
 * keeps its own by mask, with the scalar functions' operations in the same order, so each lane
 * gets the scalar result. Two rewrites are exact: (x*c)/(2 - c) = -((x*c)/(c - 2)) (IEEE
 * division and subtraction are sign-symmetric), and division by a power of two is
 * multiplication by its inverse. `$exp_v` holds for |x| < 708 (k >= -1021, no overflow),
 * which covers the two exponentials of erf's third interval; `$gelu_v` takes doubles that
 * are float32 values, where fdlibm erf's subnormal case (|x| < 2^-1015) cannot occur.
 */
function simdWat(): string {
  const x = get("x");
  const expV = `
  (func $exp_v (param $x v128) (result v128)
    (local $ax v128) (local $red v128) (local $kf v128) (local $kd v128) (local $hi v128) (local $lo v128)
    (local $xr v128) (local $t v128) (local $c v128) (local $q v128) (local $r v128) (local $twopk v128)
    (local.set $ax (f64x2.abs ${x}))
    (local.set $red (f64x2.ge ${get("ax")} ${vc(EXP_REDUCE_MIN)}))
    ;; k = (int)(invln2*x + copysign(0.5, x)), forced to 0 where fdlibm does not reduce
    (local.set $kf (v128.and (i32x4.trunc_sat_f64x2_s_zero ${vadd(vmul(vc(INVLN2), x), `(v128.or ${vc(0.5)} (v128.and ${x} (v128.const i64x2 0x8000000000000000 0x8000000000000000)))`)})
                             (i8x16.shuffle 0 0 0 0 8 8 8 8 0 0 0 0 0 0 0 0 ${get("red")} ${get("red")})))
    (local.set $kd (f64x2.convert_low_i32x4_s ${get("kf")}))
    (local.set $hi ${vsub(x, vmul(get("kd"), vc(LN2HI)))})
    (local.set $lo ${vmul(get("kd"), vc(LN2LO))})
    (local.set $xr ${vsel(vsub(get("hi"), get("lo")), x, get("red"))})
    (local.set $t ${vmul(get("xr"), get("xr"))})
    (local.set $c ${vsub(get("xr"), vmul(get("t"), horner2(get("t"), P)))})
    (local.set $q ${vdiv(vmul(get("xr"), get("c")), vsub(get("c"), vc(2)))})
    (local.set $twopk (i64x2.add (i64x2.shl (i64x2.extend_low_i32x4_s ${get("kf")}) (i32.const 52)) (v128.const i64x2 0x3FF0000000000000 0x3FF0000000000000)))
    (local.set $r ${vsel(
      vmul(vsub(vc(1), vsub(vadd(get("lo"), get("q")), get("hi"))), get("twopk")),
      vsub(vc(1), vsub(get("q"), get("xr"))),
      get("red"),
    )})
    (local.set $r ${vsel(vadd(vc(1), x), get("r"), `(f64x2.lt ${get("ax")} ${vc(3.725290298461914e-9)})`)})
    ${vsel(vc(EULER), get("r"), `(f64x2.eq ${x} ${vc(1)})`)})`;

  const a = get("a");
  const geluV = `
  (func $gelu_v (param $x v128) (param $full i32) (result v128)
    (local $u v128) (local $a v128) (local $m1 v128) (local $m2 v128) (local $m3 v128) (local $v v128)
    (local $pq v128) (local $r1 v128) (local $r2 v128) (local $r3 v128) (local $s v128) (local $ma v128)
    (local $R v128) (local $S v128) (local $k v128) (local $z v128) (local $r v128)
    (local.set $u ${vdiv(x, vc(Math.SQRT2))})
    (local.set $a (f64x2.abs ${get("u")}))
    (local.set $m1 (f64x2.lt ${a} ${vc(0.84375)}))
    (local.set $m2 (f64x2.lt ${a} ${vc(1.25)}))
    (local.set $m3 (f64x2.lt ${a} ${vc(6)}))
    ;; intervals 1 and 2 share one rational form: variable a*a or a - 1, coefficients by lane
    (local.set $v ${vsel(vmul(a, a), vsub(a, vc(1)), get("m1"))})
    (local.set $pq ${vdiv(
      hornerSel(get("v"), [E.PP0, E.PP1, E.PP2, E.PP3, E.PP4], [E.PA0, E.PA1, E.PA2, E.PA3, E.PA4, E.PA5, E.PA6], get("m1")),
      hornerSel(get("v"), [1, E.QQ1, E.QQ2, E.QQ3, E.QQ4, E.QQ5], [1, E.QA1, E.QA2, E.QA3, E.QA4, E.QA5, E.QA6], get("m1")),
    )})
    (local.set $r1 ${vsel(vadd(a, vmul(vc(E.EFX), a)), vadd(a, vmul(a, get("pq"))), `(f64x2.lt ${a} ${vc(E.ERF_TINY)})`)})
    (local.set $r2 ${vadd(vc(E.ERX), get("pq"))})
    ;; interval 3 (erfc through two exponentials), only if $full and a lane is in it (without
    ;; $full, lanes of interval 3 get a placeholder: the caller recomputes them)
    (local.set $r3 ${vc(1)})
    (if (i32.and ${get("full")} (v128.any_true (v128.andnot ${get("m3")} ${get("m2")}))) (then
    (local.set $s ${vdiv(vc(1), vmul(a, a))})
    (local.set $ma (f64x2.lt ${a} ${vc(E.ERFC_SPLIT)}))
    (local.set $R ${hornerSel(get("s"), [E.RA0, E.RA1, E.RA2, E.RA3, E.RA4, E.RA5, E.RA6, E.RA7], [E.RB0, E.RB1, E.RB2, E.RB3, E.RB4, E.RB5, E.RB6], get("ma"))})
    (local.set $S ${hornerSel(get("s"), [1, E.SA1, E.SA2, E.SA3, E.SA4, E.SA5, E.SA6, E.SA7, E.SA8], [1, E.SB1, E.SB2, E.SB3, E.SB4, E.SB5, E.SB6, E.SB7], get("ma"))})
    (local.set $k ${vsel(vc(1048576), vsel(vc(524288), vc(262144), `(f64x2.lt ${a} ${vc(4)})`), `(f64x2.lt ${a} ${vc(2)})`)})
    ;; floor(a*k)/k, k a power of two: the division is the multiplication by 1/k
    (local.set $z (f64x2.mul (f64x2.floor ${vmul(a, get("k"))}) ${vdiv(vc(1), get("k"))}))
    (local.set $r3 ${vsub(vc(1), vdiv(vmul(
      `(call $exp_v ${vsub(vmul(`(f64x2.neg ${get("z")})`, get("z")), vc(0.5625))})`,
      `(call $exp_v ${vadd(vmul(vsub(get("z"), a), vadd(get("z"), a)), vdiv(get("R"), get("S")))})`), a))})))
    (local.set $r ${vsel(get("r1"), vsel(get("r2"), vsel(get("r3"), vc(1), get("m3")), get("m2")), get("m1"))})
    ;; erf = sign(u) * r; gelu = (0.5 * x) * (1 + erf)
    (local.set $r ${vsel(`(f64x2.neg ${get("r")})`, get("r"), `(f64x2.lt ${get("u")} ${vc(0)})`)})
    ${vmul(vmul(vc(0.5), x), vadd(vc(1), get("r")))})`;
  return expV + geluV;
}

/** Horner's rule on f64x2 with constant coefficients. */
function horner2(v: string, ks: readonly number[]): string {
  return ks.length === 1 ? vc(ks[0]!) : vadd(vc(ks[0]!), vmul(v, horner2(v, ks.slice(1))));
}

export function numericsWat(): string {
  const expFn = `
  ;; fdlibm __ieee754_exp as V8 ships it (see the header).
  (func $exp (export "exp_f64") (param $x f64) (result f64)
    (local $hx i32) (local $xsb i32) (local $k i32) (local $hi f64) (local $lo f64) (local $t f64)
    (local $c f64) (local $y f64) (local $twopk f64)
    (local.set $hx (i32.wrap_i64 (i64.shr_u (i64.reinterpret_f64 ${get("x")}) (i64.const 32))))
    (local.set $xsb (i32.shr_u ${get("hx")} (i32.const 31)))
    (local.set $hx (i32.and ${get("hx")} (i32.const 0x7fffffff)))
    (if (i32.ge_u ${get("hx")} (i32.const 0x40862E42))
      (then
        (if (i32.ge_u ${get("hx")} (i32.const 0x7FF00000))
          (then
            (if (f64.ne ${get("x")} ${get("x")}) (then (return ${add(get("x"), get("x"))})))
            (return (select ${get("x")} ${c(0)} (i32.eqz ${get("xsb")})))))
        (if (f64.gt ${get("x")} ${c(O_THRESHOLD)}) (then (return ${c(Infinity)})))
        (if (f64.lt ${get("x")} ${c(U_THRESHOLD)}) (then (return ${c(0)})))))
    (if (i32.gt_u ${get("hx")} (i32.const 0x3FD62E42))
      (then
        (if (i32.lt_u ${get("hx")} (i32.const 0x3FF0A2B2))
          (then
            (if (f64.eq ${get("x")} ${c(1)}) (then (return ${c(EULER)})))
            (if ${get("xsb")}
              (then
                (local.set $hi ${sub(get("x"), c(-LN2HI))})
                (local.set $lo ${c(-LN2LO)})
                (local.set $k (i32.const -1)))
              (else
                (local.set $hi ${sub(get("x"), c(LN2HI))})
                (local.set $lo ${c(LN2LO)})
                (local.set $k (i32.const 1)))))
          (else
            (local.set $k (i32.trunc_f64_s ${add(mul(c(INVLN2), get("x")), `(select ${c(-0.5)} ${c(0.5)} ${get("xsb")})`)}))
            (local.set $t (f64.convert_i32_s ${get("k")}))
            (local.set $hi ${sub(get("x"), mul(get("t"), c(LN2HI)))})
            (local.set $lo ${mul(get("t"), c(LN2LO))})))
        (local.set $x ${sub(get("hi"), get("lo"))}))
      (else
        ;; |x| < 2^-28: fdlibm's "huge + x > one" is always true there
        (if (i32.lt_u ${get("hx")} (i32.const 0x3E300000)) (then (return ${add(c(1), get("x"))})))
        (local.set $k (i32.const 0))))
    (local.set $t ${mul(get("x"), get("x"))})
    (if (i32.ge_s ${get("k")} (i32.const -1021))
      (then (local.set $twopk (f64.reinterpret_i64 (i64.shl (i64.extend_i32_u
        (i32.add (i32.const 0x3FF00000) (i32.shl ${get("k")} (i32.const 20)))) (i64.const 32)))))
      (else (local.set $twopk (f64.reinterpret_i64 (i64.shl (i64.extend_i32_u
        (i32.add (i32.const 0x3FF00000) (i32.shl (i32.add ${get("k")} (i32.const 1000)) (i32.const 20)))) (i64.const 32))))))
    (local.set $c ${sub(get("x"), mul(get("t"), horner(get("t"), P)))})
    (if (i32.eqz ${get("k")})
      (then (return ${sub(c(1), sub(div(mul(get("x"), get("c")), sub(get("c"), c(2))), get("x")))})))
    (local.set $y ${sub(c(1), sub(sub(get("lo"), div(mul(get("x"), get("c")), sub(c(2), get("c")))), get("hi")))})
    (if (i32.ge_s ${get("k")} (i32.const -1021))
      (then
        (if (i32.eq ${get("k")} (i32.const 1024)) (then (return ${mul(mul(get("y"), c(2)), c(TWO1023))})))
        (return ${mul(get("y"), get("twopk"))})))
    ${mul(mul(get("y"), get("twopk")), c(TWOM1000))})`;

  const a = get("a");
  const erfFn = `
  ;; engine/numerics.ts erf, step by step.
  (func $erf (export "erf_f64") (param $x f64) (result f64)
    (local $a f64) (local $r f64) (local $z f64) (local $s f64) (local $p f64) (local $q f64)
    (local $R f64) (local $S f64) (local $k f64)
    (local.set $a (f64.abs ${get("x")}))
    (if (f64.lt ${a} ${c(0.84375)})
      (then
        (if (f64.lt ${a} ${c(E.ERF_TINY)})
          (then
            (if (f64.eq ${a} ${c(0)}) (then (return ${get("x")})))
            (local.set $r (select ${div(add(mul(c(8), a), mul(c(E.EFX8), a)), c(8))} ${add(a, mul(c(E.EFX), a))} (f64.lt ${a} ${c(E.ERF_SUBNORMAL)}))))
          (else
            (local.set $z ${mul(a, a)})
            (local.set $p ${horner(get("z"), [E.PP0, E.PP1, E.PP2, E.PP3, E.PP4])})
            (local.set $q ${horner(get("z"), [1, E.QQ1, E.QQ2, E.QQ3, E.QQ4, E.QQ5])})
            (local.set $r ${add(a, mul(a, div(get("p"), get("q"))))}))))
      (else
        (if (f64.lt ${a} ${c(1.25)})
          (then
            (local.set $s ${sub(a, c(1))})
            (local.set $p ${horner(get("s"), [E.PA0, E.PA1, E.PA2, E.PA3, E.PA4, E.PA5, E.PA6])})
            (local.set $q ${horner(get("s"), [1, E.QA1, E.QA2, E.QA3, E.QA4, E.QA5, E.QA6])})
            (local.set $r ${add(c(E.ERX), div(get("p"), get("q")))}))
          (else
            (if (f64.lt ${a} ${c(6)})
              (then
                (local.set $s ${div(c(1), mul(a, a))})
                (if (f64.lt ${a} ${c(E.ERFC_SPLIT)})
                  (then
                    (local.set $R ${horner(get("s"), [E.RA0, E.RA1, E.RA2, E.RA3, E.RA4, E.RA5, E.RA6, E.RA7])})
                    (local.set $S ${horner(get("s"), [1, E.SA1, E.SA2, E.SA3, E.SA4, E.SA5, E.SA6, E.SA7, E.SA8])}))
                  (else
                    (local.set $R ${horner(get("s"), [E.RB0, E.RB1, E.RB2, E.RB3, E.RB4, E.RB5, E.RB6])})
                    (local.set $S ${horner(get("s"), [1, E.SB1, E.SB2, E.SB3, E.SB4, E.SB5, E.SB6, E.SB7])})))
                (local.set $k (select ${c(1048576)} (select ${c(524288)} ${c(262144)} (f64.lt ${a} ${c(4)})) (f64.lt ${a} ${c(2)})))
                (local.set $z ${div(`(f64.floor ${mul(a, get("k"))})`, get("k"))})
                (local.set $r ${sub(c(1), div(mul(
                  `(call $exp ${sub(mul(`(f64.neg ${get("z")})`, get("z")), c(0.5625))})`,
                  `(call $exp ${add(mul(sub(get("z"), a), add(get("z"), a)), div(get("R"), get("S")))})`), a))}))
              (else
                (if (f64.ge ${a} ${c(6)}) (then (local.set $r ${c(1)})) (else (return ${get("x")})))))))))
    (select (f64.neg ${get("r")}) ${get("r")} (f64.lt ${get("x")} ${c(0)})))`;

  const f32 = (x: string) => `(f32.demote_f64 ${x})`;
  const kernels = `
  ;; gelu_f32: dst[i] = fround((0.5 * x) * (1 + erf(x / SQRT2))), x = src[i], i in [i0, i1)
  ;; (engine/numerics.ts gelu). src and dst may be the same.
  ;; Pairs on f64x2 lanes in two passes, so that the costly interval of erf (two exponentials)
  ;; runs on full pairs: pass 1 computes every pair without it and lists the elements that may
  ;; need it (|x| in [1.7677, 8.4854), a superset of 1.25 <= |x / SQRT2| < 6), leaving their
  ;; inputs in place; pass 2 computes the listed elements two at a time in full. $list: room for
  ;; i1 - i0 indices. The odd element out runs on the scalar path.
  (func (export "gelu_f32") (param $src i32) (param $dst i32) (param $i0 i32) (param $i1 i32) (param $list i32)
    (local $i i32) (local $x f64) (local $xv v128) (local $in v128) (local $cand v128) (local $ax v128)
    (local $bits i32) (local $q i32) (local $p i32) (local $j0 i32) (local $j1 i32) (local $rv v128)
    (local.set $i ${get("i0")})
    (local.set $q ${get("list")})
    (block $vd (loop $vl
      (br_if $vd (i32.gt_s (i32.add ${get("i")} (i32.const 2)) ${get("i1")}))
      (local.set $in (v128.load64_zero (i32.add ${get("src")} (i32.shl ${get("i")} (i32.const 2)))))
      (local.set $xv (f64x2.promote_low_f32x4 ${get("in")}))
      (local.set $ax (f64x2.abs ${get("xv")}))
      (local.set $cand (v128.and (f64x2.ge ${get("ax")} ${vc(1.7677)}) (f64x2.lt ${get("ax")} ${vc(8.4854)})))
      (local.set $bits (i64x2.bitmask ${get("cand")}))
      (i32.store ${get("q")} ${get("i")})
      (local.set $q (i32.add ${get("q")} (i32.shl (i32.and ${get("bits")} (i32.const 1)) (i32.const 2))))
      (i32.store ${get("q")} (i32.add ${get("i")} (i32.const 1)))
      (local.set $q (i32.add ${get("q")} (i32.shl (i32.shr_u ${get("bits")} (i32.const 1)) (i32.const 2))))
      ;; listed lanes keep their input (the destination may be the source)
      (v128.store64_lane 0 (i32.add ${get("dst")} (i32.shl ${get("i")} (i32.const 2)))
        (v128.bitselect ${get("in")} (f32x4.demote_f64x2_zero (call $gelu_v ${get("xv")} (i32.const 0)))
          (i8x16.shuffle 0 0 0 0 8 8 8 8 0 0 0 0 0 0 0 0 ${get("cand")} ${get("cand")})))
      (local.set $i (i32.add ${get("i")} (i32.const 2)))
      (br $vl)))
    ;; pass 2: the listed elements, two at a time (an odd last one paired with itself)
    (local.set $p ${get("list")})
    (block $ld (loop $ll
      (br_if $ld (i32.ge_u ${get("p")} ${get("q")}))
      (local.set $j0 (i32.load ${get("p")}))
      (local.set $j1 (select (i32.load offset=4 ${get("p")}) ${get("j0")} (i32.lt_u (i32.add ${get("p")} (i32.const 4)) ${get("q")})))
      (local.set $rv (f32x4.demote_f64x2_zero (call $gelu_v
        (f64x2.replace_lane 1
          (f64x2.splat (f64.promote_f32 (f32.load (i32.add ${get("dst")} (i32.shl ${get("j0")} (i32.const 2))))))
          (f64.promote_f32 (f32.load (i32.add ${get("dst")} (i32.shl ${get("j1")} (i32.const 2))))))
        (i32.const 1))))
      (f32.store (i32.add ${get("dst")} (i32.shl ${get("j0")} (i32.const 2))) (f32x4.extract_lane 0 ${get("rv")}))
      (f32.store (i32.add ${get("dst")} (i32.shl ${get("j1")} (i32.const 2))) (f32x4.extract_lane 1 ${get("rv")}))
      (local.set $p (i32.add ${get("p")} (i32.const 8)))
      (br $ll)))
    (block $d (loop $l
      (br_if $d (i32.ge_s ${get("i")} ${get("i1")}))
      (local.set $x (f64.promote_f32 (f32.load (i32.add ${get("src")} (i32.shl ${get("i")} (i32.const 2))))))
      (f32.store (i32.add ${get("dst")} (i32.shl ${get("i")} (i32.const 2)))
        ${f32(mul(mul(c(0.5), get("x")), add(c(1), `(call $erf ${div(get("x"), c(Math.SQRT2))})`)))})
      (local.set $i (i32.add ${get("i")} (i32.const 1)))
      (br $l))))

  ;; softmax_rows: rows [r0, r1) of n floats (engine/fast/rows.ts softmaxInto):
  ;; m = max (NaN wins); e = fround(exp(fround(x - m))); s = fround(s + e); out = fround(e / s).
  (func (export "softmax_rows") (param $src i32) (param $dst i32) (param $n i32) (param $r0 i32) (param $r1 i32)
    (local $r i32) (local $i i32) (local $b i32) (local $o i32) (local $m f32) (local $s f32) (local $e f32)
    (local $w v128) (local $ev v128) (local $mv v128)
    (local.set $r ${get("r0")})
    (block $rd (loop $rl
      (br_if $rd (i32.ge_s ${get("r")} ${get("r1")}))
      (local.set $b (i32.add ${get("src")} (i32.shl (i32.mul ${get("r")} ${get("n")}) (i32.const 2))))
      (local.set $o (i32.add ${get("dst")} (i32.shl (i32.mul ${get("r")} ${get("n")}) (i32.const 2))))
      ;; the maximum four lanes at a time: IEEE max (NaN wins, +0 over -0) gives the same value in any order
      (local.set $mv (v128.const f32x4 -inf -inf -inf -inf))
      (local.set $i (i32.const 0))
      (block $v1 (loop $vl1
        (br_if $v1 (i32.gt_s (i32.add ${get("i")} (i32.const 4)) ${get("n")}))
        (local.set $mv (f32x4.max ${get("mv")} (v128.load (i32.add ${get("b")} (i32.shl ${get("i")} (i32.const 2))))))
        (local.set $i (i32.add ${get("i")} (i32.const 4)))
        (br $vl1)))
      (local.set $m (f32.max (f32.max (f32x4.extract_lane 0 ${get("mv")}) (f32x4.extract_lane 1 ${get("mv")}))
                             (f32.max (f32x4.extract_lane 2 ${get("mv")}) (f32x4.extract_lane 3 ${get("mv")}))))
      (block $d1 (loop $l1
        (br_if $d1 (i32.ge_s ${get("i")} ${get("n")}))
        (local.set $m (f32.max ${get("m")} (f32.load (i32.add ${get("b")} (i32.shl ${get("i")} (i32.const 2))))))
        (local.set $i (i32.add ${get("i")} (i32.const 1)))
        (br $l1)))
      (local.set $s (f32.const 0))
      (local.set $i (i32.const 0))
      ;; two at a time on f64x2 lanes while both arguments are in $exp_v's range (not below
      ;; -708, not NaN); the sum still adds them one by one, in order
      (block $v2 (loop $vl2
        (br_if $v2 (i32.gt_s (i32.add ${get("i")} (i32.const 2)) ${get("n")}))
        (local.set $w (f64x2.promote_low_f32x4 (f32x4.sub (v128.load64_zero (i32.add ${get("b")} (i32.shl ${get("i")} (i32.const 2)))) (f32x4.splat ${get("m")}))))
        (if (i64x2.all_true (f64x2.gt ${get("w")} ${vc(-708)}))
          (then (local.set $ev (f32x4.demote_f64x2_zero (call $exp_v ${get("w")}))))
          (else (local.set $ev (f32x4.replace_lane 1
            (f32x4.splat ${f32(`(call $exp (f64x2.extract_lane 0 ${get("w")}))`)})
            ${f32(`(call $exp (f64x2.extract_lane 1 ${get("w")}))`)}))))
        (v128.store64_lane 0 (i32.add ${get("o")} (i32.shl ${get("i")} (i32.const 2))) ${get("ev")})
        (local.set $s (f32.add (f32.add ${get("s")} (f32x4.extract_lane 0 ${get("ev")})) (f32x4.extract_lane 1 ${get("ev")})))
        (local.set $i (i32.add ${get("i")} (i32.const 2)))
        (br $vl2)))
      (block $d2 (loop $l2
        (br_if $d2 (i32.ge_s ${get("i")} ${get("n")}))
        (local.set $e ${f32(`(call $exp (f64.promote_f32 (f32.sub (f32.load (i32.add ${get("b")} (i32.shl ${get("i")} (i32.const 2)))) ${get("m")})))`)})
        (f32.store (i32.add ${get("o")} (i32.shl ${get("i")} (i32.const 2))) ${get("e")})
        (local.set $s (f32.add ${get("s")} ${get("e")}))
        (local.set $i (i32.add ${get("i")} (i32.const 1)))
        (br $l2)))
      (local.set $i (i32.const 0))
      (block $v3 (loop $vl3
        (br_if $v3 (i32.gt_s (i32.add ${get("i")} (i32.const 4)) ${get("n")}))
        (v128.store (i32.add ${get("o")} (i32.shl ${get("i")} (i32.const 2)))
          (f32x4.div (v128.load (i32.add ${get("o")} (i32.shl ${get("i")} (i32.const 2)))) (f32x4.splat ${get("s")})))
        (local.set $i (i32.add ${get("i")} (i32.const 4)))
        (br $vl3)))
      (block $d3 (loop $l3
        (br_if $d3 (i32.ge_s ${get("i")} ${get("n")}))
        (f32.store (i32.add ${get("o")} (i32.shl ${get("i")} (i32.const 2)))
          (f32.div (f32.load (i32.add ${get("o")} (i32.shl ${get("i")} (i32.const 2)))) ${get("s")}))
        (local.set $i (i32.add ${get("i")} (i32.const 1)))
        (br $l3)))
      (local.set $r (i32.add ${get("r")} (i32.const 1)))
      (br $rl))))

  ;; layernorm_rows: rows [r0, r1) of d floats (engine/fast/rows.ts layernormInto); eps is the
  ;; f64 at $epsp. mean = fround(sum / d) with a sequential float32 sum; dev = fround(x - mean);
  ;; var = fround(sum(fround(dev^2)) / d); inv = fround(1 / sqrt(fround(var + eps)));
  ;; out = fround(fround(fround(dev * inv) * gamma) + beta).
  (func (export "layernorm_rows") (param $src i32) (param $gamma i32) (param $beta i32) (param $dst i32)
        (param $d i32) (param $epsp i32) (param $r0 i32) (param $r1 i32)
    (local $r i32) (local $i i32) (local $b i32) (local $o i32) (local $acc f32) (local $mean f32)
    (local $sq f32) (local $dv f32) (local $inv f32) (local $df f32) (local $eps f64)
    (local.set $df (f32.convert_i32_s ${get("d")}))
    (local.set $eps (f64.load ${get("epsp")}))
    (local.set $r ${get("r0")})
    (block $rd (loop $rl
      (br_if $rd (i32.ge_s ${get("r")} ${get("r1")}))
      (local.set $b (i32.add ${get("src")} (i32.shl (i32.mul ${get("r")} ${get("d")}) (i32.const 2))))
      (local.set $o (i32.add ${get("dst")} (i32.shl (i32.mul ${get("r")} ${get("d")}) (i32.const 2))))
      (local.set $acc (f32.const 0))
      (local.set $i (i32.const 0))
      (block $d1 (loop $l1
        (br_if $d1 (i32.ge_s ${get("i")} ${get("d")}))
        (local.set $acc (f32.add ${get("acc")} (f32.load (i32.add ${get("b")} (i32.shl ${get("i")} (i32.const 2))))))
        (local.set $i (i32.add ${get("i")} (i32.const 1)))
        (br $l1)))
      (local.set $mean (f32.div ${get("acc")} ${get("df")}))
      (local.set $sq (f32.const 0))
      (local.set $i (i32.const 0))
      (block $d2 (loop $l2
        (br_if $d2 (i32.ge_s ${get("i")} ${get("d")}))
        (local.set $dv (f32.sub (f32.load (i32.add ${get("b")} (i32.shl ${get("i")} (i32.const 2)))) ${get("mean")}))
        (local.set $sq (f32.add ${get("sq")} (f32.mul ${get("dv")} ${get("dv")})))
        (local.set $i (i32.add ${get("i")} (i32.const 1)))
        (br $l2)))
      (local.set $inv ${f32(div(c(1), `(f64.sqrt (f64.promote_f32 ${f32(add(`(f64.promote_f32 (f32.div ${get("sq")} ${get("df")}))`, get("eps")))}))`))})
      (local.set $i (i32.const 0))
      (block $d3 (loop $l3
        (br_if $d3 (i32.ge_s ${get("i")} ${get("d")}))
        (local.set $dv (f32.sub (f32.load (i32.add ${get("b")} (i32.shl ${get("i")} (i32.const 2)))) ${get("mean")}))
        (f32.store (i32.add ${get("o")} (i32.shl ${get("i")} (i32.const 2)))
          (f32.add (f32.mul (f32.mul ${get("dv")} ${get("inv")}) (f32.load (i32.add ${get("gamma")} (i32.shl ${get("i")} (i32.const 2)))))
                   (f32.load (i32.add ${get("beta")} (i32.shl ${get("i")} (i32.const 2))))))
        (local.set $i (i32.add ${get("i")} (i32.const 1)))
        (br $l3)))
      (local.set $r (i32.add ${get("r")} (i32.const 1)))
      (br $rl))))`;
  return expFn + erfFn + simdWat() + kernels;
}
