//! Every kernel against the portable reference, exactly.

use super::*;
use crate::rng::SplitMix64;

/// Every kernel this CPU runs, the portable one included: all are tested on any machine that
/// has them, whichever is the default.
fn kernels() -> Vec<Kernel> {
    let ks: Vec<Kernel> = Kernel::ALL.into_iter().filter(|k| k.available()).collect();
    assert!(ks.contains(&Kernel::Portable));
    ks
}

/// The products where `vpmaddubsw` would saturate (two products of 255 and ±127 add to ±64,770,
/// past i16) are exact in every kernel, with sums at the limit of a long row.
#[test]
fn kernels_do_not_saturate() {
    for (m, n, k) in [(16, 7, 64), (33, 13, 1000), (5, 1, 4)] {
        for sign in [127i8, -127] {
            let w = vec![sign; m * k];
            let x = vec![255u8; n * k4(k)];
            let pw = PackedWeights::pack(&w, m, k);
            let want = 255 * sign as i32 * k as i32;
            for kern in kernels() {
                let mut c = vec![7; n * pw.m16()];
                gemm_packed(kern, &pw, n, &x, &mut c);
                for j in 0..n {
                    assert!(
                        c[j * pw.m16()..j * pw.m16() + m].iter().all(|&v| v == want),
                        "{kern:?} {m}×{n}×{k} sign {sign}"
                    );
                }
            }
        }
    }
}

/// The 256-bit VNNI source, compiled for AVX-512 VNNI with VL (the EVEX form of AVX-VNNI's
/// instruction), equals the reference wherever this CPU runs it: the AVX-VNNI kernel is the same
/// source with the VEX intrinsic, and only CPUs with AVX-VNNI run that one.
#[cfg(target_arch = "x86_64")]
#[test]
fn vnni256_source_equals_the_reference() {
    let has = std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("avx512vnni")
        && std::arch::is_x86_feature_detected!("avx512vl");
    if !has {
        eprintln!("skipped: this CPU has no AVX-512 VNNI with VL");
        return;
    }
    let mut rng = SplitMix64::new(13);
    for (m, n, segs, seg, rs, ss) in [
        (6, 29, 5, 5, 1, 32),
        (16, 40, 3, 3, 1, 30),
        (64, 37, 3, 96, 32, 512),
        (70, 23, 2, 9, 6, 50),
        (10, 15, 1, 84, 84, 0),
    ] {
        let k = segs * seg;
        let w: Vec<i8> = (0..m * k)
            .map(|_| ((rng.next_f32() * 255.0) as i32 - 127) as i8)
            .collect();
        let pw = PackedWeights::pack_segments(&w, m, k, segs);
        let len = (n - 1) * rs + (segs - 1) * ss + pw.seg_quads() * 4;
        let x: Vec<u8> = (0..len).map(|_| (rng.next_f32() * 256.0) as u8).collect();
        let rows = Rows {
            n,
            row_stride: rs,
            seg_stride: ss,
        };
        let mut want = vec![7; n * pw.m16()];
        gemm_rows(Kernel::Portable, &pw, &x, rows, &mut want);
        let mut got = vec![7; n * pw.m16()];
        // SAFETY: the features were detected; x and got are the sizes gemm_rows checks for.
        unsafe { vnni256::evex::gemm(&pw, &x, rows, &mut got) };
        assert_eq!(got, want, "m {m} n {n} {segs}×{seg}");
    }
}

/// A kernel is forced by name, and one this CPU lacks, or a name of none, is refused in a line.
#[test]
fn kernels_are_chosen_by_name() {
    for k in Kernel::ALL {
        match Kernel::from_name(k.name()) {
            Ok(got) => assert!(got == k && k.available()),
            Err(e) => assert!(!k.available() && e.contains("cannot run"), "{e}"),
        }
    }
    let e = Kernel::from_name("sse9").unwrap_err();
    assert!(e.contains("avx2") && !e.contains('\n'), "{e}");
    assert_eq!(Kernel::from_name("portable"), Ok(Kernel::Portable));
}

/// Every kernel this CPU has equals a plain integer product exactly, extremes included.
#[test]
fn kernels_equal_the_reference_exactly() {
    let mut rng = SplitMix64::new(3);
    for (m, n, k) in [
        (1, 1, 1),
        (5, 7, 9),
        (16, 3, 150),
        (21, 33, 400),
        (3, 5, 1000),
        (120, 9, 400),
        (64, 71, 300),
        (48, 30, 20),
        (200, 13, 50),
        (17, 35, 8),
    ] {
        let w: Vec<i8> = (0..m * k)
            .map(|_| ((rng.next_f32() * 255.0) as i32 - 127) as i8)
            .collect();
        let kq = k4(k);
        // Padding bytes hold garbage: the zero weights must cancel them.
        let mut x: Vec<u8> = (0..n * kq)
            .map(|_| (rng.next_f32() * 256.0) as u8)
            .collect();
        let mut w = w;
        for t in 0..k {
            w[t] = -127; // extremes in the first row against the first activation row
            x[t] = 255;
        }
        let pw = PackedWeights::pack(&w, m, k);
        assert_eq!(pw.unpack(), w);
        let mut want = vec![0i32; n * pw.m16()];
        for j in 0..n {
            for o in 0..m {
                want[j * pw.m16() + o] = (0..k)
                    .map(|t| w[o * k + t] as i32 * x[j * kq + t] as i32)
                    .sum();
            }
        }
        for kern in kernels() {
            let mut c = vec![7; n * pw.m16()];
            gemm_packed(kern, &pw, n, &x, &mut c);
            assert_eq!(c, want, "{kern:?} {m}×{n}×{k}");
        }
    }
}

/// Rows in segments apart from each other (a convolution's kernel rows read in place), with
/// rows overlapping: equal to the plain product over the same bytes, every kernel.
#[test]
fn segmented_rows_equal_the_reference_exactly() {
    let mut rng = SplitMix64::new(5);
    // (m, n, segs, seg, row stride, segment stride)
    for (m, n, segs, seg, rs, ss) in [
        (6, 29, 5, 5, 1, 32),
        (16, 40, 3, 3, 1, 30),
        (64, 37, 3, 96, 32, 512),
        (70, 23, 2, 9, 6, 50),
        (33, 7, 1, 13, 16, 0),
    ] {
        let k = segs * seg;
        let w: Vec<i8> = (0..m * k)
            .map(|_| ((rng.next_f32() * 255.0) as i32 - 127) as i8)
            .collect();
        let pw = PackedWeights::pack_segments(&w, m, k, segs);
        assert_eq!(pw.unpack(), w);
        let len = (n - 1) * rs + (segs - 1) * ss + pw.seg_quads() * 4;
        let x: Vec<u8> = (0..len).map(|_| (rng.next_f32() * 256.0) as u8).collect();
        let m16 = pw.m16();
        let mut want = vec![0i32; n * m16];
        for j in 0..n {
            for o in 0..m {
                want[j * m16 + o] = (0..k)
                    .map(|t| w[o * k + t] as i32 * x[j * rs + (t / seg) * ss + t % seg] as i32)
                    .sum();
            }
        }
        let rows = Rows {
            n,
            row_stride: rs,
            seg_stride: ss,
        };
        for kern in kernels() {
            let mut c = vec![7; n * m16];
            gemm_rows(kern, &pw, &x, rows, &mut c);
            assert_eq!(c, want, "{kern:?} m {m} n {n} {segs}×{seg}");
        }
    }
}

/// The depthwise sums equal a plain loop over the same bytes, stride 1 and 2, channel counts
/// that are and are not a multiple of 16 (bytes past the channels hold garbage).
#[test]
fn depthwise_sums_equal_the_reference_exactly() {
    let mut rng = SplitMix64::new(7);
    for (cin, k, stride, hp, wp) in [(5usize, 3, 1, 7, 9), (16, 3, 2, 9, 9), (33, 5, 1, 8, 6)] {
        let c16 = cin.div_ceil(LANES) * LANES;
        let mut taps = vec![0i32; k * k * c16];
        for t in 0..k * k {
            for ch in 0..cin {
                taps[t * c16 + ch] = ((rng.next_f32() * 255.0) as i32 - 127).clamp(-127, 127);
            }
        }
        taps[0] = -127;
        let img: Vec<u8> = (0..hp * wp * cin + 16)
            .map(|_| (rng.next_f32() * 256.0) as u8)
            .collect();
        let outs = crate::graph::Shape {
            c: cin,
            h: (hp - k) / stride + 1,
            w: (wp - k) / stride + 1,
        };
        let mut acc = vec![7i32; outs.h * outs.w * c16];
        let g = DepthwiseGeometry {
            k,
            stride,
            wp,
            cin,
            outs,
        };
        depthwise_sums(&taps, &img, g, &mut acc);
        for oy in 0..outs.h {
            for ox in 0..outs.w {
                for ch in 0..cin {
                    let mut want = 0i32;
                    for ky in 0..k {
                        for kx in 0..k {
                            let at = ((oy * stride + ky) * wp + ox * stride + kx) * cin + ch;
                            want += taps[(ky * k + kx) * c16 + ch] * img[at] as i32;
                        }
                    }
                    let got = acc[(oy * outs.w + ox) * c16 + ch];
                    assert_eq!(got, want, "cin {cin} stride {stride} ({oy},{ox}) ch {ch}");
                }
            }
        }
    }
}

/// Requantizing rows (16 channels a vector, the last block masked) gives exactly what
/// [`requantize_one`] gives one value at a time, for each activation.
#[test]
fn requantized_rows_equal_one_value_at_a_time() {
    use crate::graph::Act;
    let mut rng = SplitMix64::new(8);
    for m in [1usize, 3, 6, 9, 16, 20, 64] {
        let m16 = m.div_ceil(LANES) * LANES;
        let n = 13;
        let scale: Vec<f32> = (0..m).map(|_| rng.next_f32() * 1e-3).collect();
        let corr: Vec<i32> = (0..m).map(|_| (rng.next_f32() * 2000.0) as i32).collect();
        let bias: Vec<f32> = (0..m).map(|_| rng.next_f32() - 0.5).collect();
        let acc: Vec<i32> = (0..n * m16)
            .map(|_| (rng.next_f32() * 8000.0) as i32 - 3000)
            .collect();
        let next = affine_params(-1.0, 3.0);
        for act in [Act::None, Act::Relu, Act::Relu6] {
            let d = Dequant {
                scale: &scale,
                corr: &corr,
                bias: &bias,
            };
            let r = Requant::new(d, next, act);
            // The active path, and the AVX2 one wherever the CPU has it (bytes past the rows
            // must stay as they were).
            let mut outs = Vec::new();
            let mut out = vec![0u8; n * m];
            r.rows(&acc, m16, n, &mut out);
            outs.push(("active", out));
            #[cfg(target_arch = "x86_64")]
            if Kernel::Avx2.available() {
                let k = r.avx2_consts();
                let mut out = vec![0xA5u8; n * m + 9];
                // SAFETY: AVX2 is available.
                unsafe { avx2::requant_rows(&k, &acc, m16, n, &mut out) };
                assert!(
                    out[n * m..].iter().all(|&b| b == 0xA5),
                    "m {m}: wrote past the rows"
                );
                out.truncate(n * m);
                outs.push(("avx2", out));
            }
            for (path, out) in outs {
                for j in 0..n {
                    for o in 0..m {
                        let v = scale[o] * (acc[j * m16 + o] - corr[o]) as f32 + bias[o];
                        let want = requantize_one(v, r.inv, r.zero_half, r.lo, r.hi);
                        assert_eq!(out[j * m + o], want, "{path} m {m} {act:?} ({j},{o})");
                    }
                }
            }
        }
    }
}

#[test]
fn quantization_round_trips_within_half_a_step() {
    let w = [0.5f32, -1.27, 0.0, 1.0];
    let mut q = [0i8; 4];
    let s = quantize_symmetric(&w, &mut q);
    assert_eq!(q[1], -127);
    for (a, b) in w.iter().zip(q) {
        assert!((a - b as f32 * s).abs() <= s / 2.0 + 1e-7);
    }
    let (s, z) = affine_params(-1.0, 3.0);
    assert_eq!(z, 64);
    let mut out = [0u8; 4];
    quantize_slice(&[0.0, 3.0, -9.0, f32::NAN], &mut out, 1.0 / s, z);
    assert_eq!(out[0], z, "zero is exact");
    assert_eq!(out[1], 255);
    assert_eq!(out[2], 0, "clamped");
    assert_eq!(out[3], 0, "NaN goes to the bottom, never undefined");
    let mut xs: Vec<f32> = (0..37).map(|i| (i as f32 - 20.0) * 0.5).collect();
    xs[3] = f32::NAN;
    xs[33] = f32::NAN;
    assert_eq!(min_max(&xs), (-10.0, 8.0));
    assert_eq!(min_max(&xs[30..]), (5.0, 8.0), "a remainder only");
}

/// Every vector helper gives the portable path's exact bits on every path this CPU runs, each
/// path forced in turn on this thread ([`Kernel::helpers_on`]): min and max, quantizing,
/// depthwise sums, dequantizing and requantizing, GELU, the text encoder's int8 linear layer,
/// and bf16/f16 rounding. (The portable path itself is checked against plain references in the
/// tests above and in each helper's module.)
#[test]
fn every_helper_path_gives_the_portable_bits() {
    use crate::graph::Act;
    let mut rng = SplitMix64::new(21);
    let mut xs: Vec<f32> = (0..1037).map(|_| (rng.next_f32() - 0.4) * 9.0).collect();
    xs[5] = f32::NAN;
    let (cin, k, stride, hp, wp) = (33usize, 3, 2, 9, 8);
    let c16 = cin.div_ceil(LANES) * LANES;
    let taps: Vec<i32> = (0..k * k * c16)
        .map(|i| {
            if i % c16 < cin {
                (rng.next_f32() * 254.0) as i32 - 127
            } else {
                0
            }
        })
        .collect();
    let img: Vec<u8> = (0..hp * wp * cin + 16)
        .map(|_| (rng.next_f32() * 256.0) as u8)
        .collect();
    let outs = crate::graph::Shape {
        c: cin,
        h: (hp - k) / stride + 1,
        w: (wp - k) / stride + 1,
    };
    let g = DepthwiseGeometry {
        k,
        stride,
        wp,
        cin,
        outs,
    };
    let (m, n) = (20usize, 11usize);
    let m16 = m.div_ceil(LANES) * LANES;
    let scale: Vec<f32> = (0..m).map(|_| rng.next_f32() * 1e-3).collect();
    let corr: Vec<i32> = (0..m).map(|_| (rng.next_f32() * 2000.0) as i32).collect();
    let bias: Vec<f32> = (0..m).map(|_| rng.next_f32() - 0.5).collect();
    let acc: Vec<i32> = (0..n * m16)
        .map(|_| (rng.next_f32() * 8000.0) as i32 - 3000)
        .collect();
    let w: Vec<f32> = (0..m * 70).map(|_| rng.next_f32() - 0.5).collect();
    let x: Vec<f32> = (0..n * 70).map(|_| (rng.next_f32() - 0.5) * 4.0).collect();
    let run = || {
        let mm = min_max(&xs);
        let mut q = vec![0u8; xs.len()];
        quantize_slice(&xs, &mut q, 7.3, 31);
        let mut dw = vec![0i32; outs.h * outs.w * c16];
        depthwise_sums(&taps, &img, g, &mut dw);
        let d = Dequant {
            scale: &scale,
            corr: &corr,
            bias: &bias,
        };
        let mut deq = vec![0.0f32; m * n];
        d.transposed(&acc, m16, n, &mut deq, n);
        let mut req = vec![0u8; n * m];
        Requant::new(d, affine_params(-1.0, 3.0), Act::Relu).rows(&acc, m16, n, &mut req);
        let mut ge: Vec<f32> = xs
            .iter()
            .map(|v| if v.is_nan() { 0.0 } else { *v })
            .collect();
        crate::text::ops::gelu(&mut ge);
        let mut lin = vec![0.0f32; n * m];
        crate::text::qlinear::QLinear::new(&w, &bias, 70, m, Kernel::Portable)
            .forward(&x, n, &mut lin);
        let mut rounded = Vec::new();
        for p in [
            crate::precision::Precision::Bf16,
            crate::precision::Precision::F16,
        ] {
            let mut v = xs.clone();
            p.round(&mut v);
            rounded.push(v);
        }
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<u32>>();
        (
            (mm.0.to_bits(), mm.1.to_bits()),
            q,
            dw,
            bits(&deq),
            req,
            bits(&ge),
            bits(&lin),
            rounded.iter().map(|v| bits(v)).collect::<Vec<_>>(),
        )
    };
    let reference = Kernel::Portable.helpers_on(run);
    for kern in kernels() {
        let got = kern.helpers_on(run);
        assert!(
            got == reference,
            "{}: a helper differs from the portable path",
            kern.name()
        );
    }
    // The forcing is this thread's and ends with the closure.
    assert_eq!(Kernel::helpers(), Kernel::active());
}
