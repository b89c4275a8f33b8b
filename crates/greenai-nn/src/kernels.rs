//! CPU kernels: matrix products through `matrixmultiply` (runtime-detected AVX/FMA), im2col for
//! convolutions, and the element-wise pieces. Every function works on plain row-major slices.

/// Panics unless `a` (`m × k`), `b` (`k × n`) and `c` (`m × n`) hold every element their strides
/// reach: the bounds a GEMM's unchecked accesses rely on.
pub fn check_gemm_operands(
    m: usize,
    k: usize,
    n: usize,
    a: &(&[f32], isize, isize),
    b: &(&[f32], isize, isize),
    c: &(&mut [f32], isize, isize),
) {
    let extent = |rows: usize, cols: usize, rs: isize, cs: isize| {
        if rows == 0 || cols == 0 {
            0
        } else {
            (rows as isize - 1) * rs + (cols as isize - 1) * cs + 1
        }
    };
    assert!(
        a.0.len() as isize >= extent(m, k, a.1, a.2),
        "gemm: a is too short"
    );
    assert!(
        b.0.len() as isize >= extent(k, n, b.1, b.2),
        "gemm: b is too short"
    );
    assert!(
        c.0.len() as isize >= extent(m, n, c.1, c.2),
        "gemm: c is too short"
    );
}

/// `c[m×n] = a[m×k] · b[k×n] + beta · c`, with each matrix given as `(slice, row stride, column
/// stride)`, so transposes cost nothing.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    m: usize,
    k: usize,
    n: usize,
    a: (&[f32], isize, isize),
    b: (&[f32], isize, isize),
    beta: f32,
    c: (&mut [f32], isize, isize),
) {
    check_gemm_operands(m, k, n, &a, &b, &c);
    // SAFETY: the asserts above keep every access inside the slices; c does not alias a or b
    // (it is borrowed mutably).
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.0.as_ptr(),
            a.1,
            a.2,
            b.0.as_ptr(),
            b.1,
            b.2,
            beta,
            c.0.as_mut_ptr(),
            c.1,
            c.2,
        );
    }
}

/// Sets this thread's floating-point unit to flush denormal results to zero and to read denormal
/// inputs as zero (MXCSR's FTZ and DAZ bits on x86-64; nothing elsewhere). Late in training a
/// confident softmax yields probabilities below 1e-38 and their products run through the GEMMs at
/// a hundred times the cost of normal numbers; values that small change no weight.
pub fn flush_denormals() {
    #[cfg(target_arch = "x86_64")]
    {
        let mut csr: u32 = 0;
        // SAFETY: stmxcsr and ldmxcsr read and write this thread's MXCSR through a valid pointer
        // to a local; setting FTZ (bit 15) and DAZ (bit 6) only changes how denormals round.
        unsafe {
            std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack));
            csr |= (1 << 15) | (1 << 6);
            std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack));
        }
    }
}

/// A row-major `rows × cols` matrix, as gemm wants it.
pub fn rm(s: &[f32], cols: usize) -> (&[f32], isize, isize) {
    (s, cols as isize, 1)
}

/// The transpose of a row-major `rows × cols` matrix.
pub fn tr(s: &[f32], cols: usize) -> (&[f32], isize, isize) {
    (s, 1, cols as isize)
}

pub fn rm_mut(s: &mut [f32], cols: usize) -> (&mut [f32], isize, isize) {
    (s, cols as isize, 1)
}

/// Shape of a 2-D convolution over one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    pub cin: usize,
    pub h: usize,
    pub w: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
}

impl ConvShape {
    pub fn out_h(&self) -> usize {
        (self.h + 2 * self.pad - self.k) / self.stride + 1
    }
    pub fn out_w(&self) -> usize {
        (self.w + 2 * self.pad - self.k) / self.stride + 1
    }
    /// Rows of the im2col matrix: `cin × k × k`.
    pub fn patch(&self) -> usize {
        self.cin * self.k * self.k
    }
}

/// Unfolds one `cin × h × w` image into `cols[(c, ky, kx), (oy, ox)]`, zero outside the image.
/// Each output row is a zero prefix, a copied (stride 1) or gathered run, and a zero suffix: no
/// test per element.
pub fn im2col(x: &[f32], s: ConvShape, cols: &mut [f32]) {
    let (oh, ow) = (s.out_h(), s.out_w());
    let mut row = 0;
    for c in 0..s.cin {
        let plane = &x[c * s.h * s.w..(c + 1) * s.h * s.w];
        for ky in 0..s.k {
            for kx in 0..s.k {
                let dst = &mut cols[row * oh * ow..(row + 1) * oh * ow];
                let (lo, hi) = valid_range(kx, s.pad, s.stride, s.w, ow);
                for oy in 0..oh {
                    let iy = (oy * s.stride + ky) as isize - s.pad as isize;
                    let line = &mut dst[oy * ow..(oy + 1) * ow];
                    if iy < 0 || iy >= s.h as isize || lo >= hi {
                        line.fill(0.0);
                        continue;
                    }
                    let src = &plane[iy as usize * s.w..(iy as usize + 1) * s.w];
                    line[..lo].fill(0.0);
                    line[hi..].fill(0.0);
                    let first = lo * s.stride + kx - s.pad;
                    if s.stride == 1 {
                        line[lo..hi].copy_from_slice(&src[first..first + (hi - lo)]);
                    } else {
                        for (d, v) in line[lo..hi]
                            .iter_mut()
                            .zip(src[first..].iter().step_by(s.stride))
                        {
                            *d = *v;
                        }
                    }
                }
                row += 1;
            }
        }
    }
}

/// Folds `cols` (as [`im2col`] lays it out) back onto a `cin × h × w` image, adding every tap
/// into `dx`: the adjoint of [`im2col`].
pub fn col2im_add(cols: &[f32], s: ConvShape, dx: &mut [f32]) {
    let (oh, ow) = (s.out_h(), s.out_w());
    let mut row = 0;
    for c in 0..s.cin {
        let plane = &mut dx[c * s.h * s.w..(c + 1) * s.h * s.w];
        for ky in 0..s.k {
            for kx in 0..s.k {
                let src = &cols[row * oh * ow..(row + 1) * oh * ow];
                let (lo, hi) = valid_range(kx, s.pad, s.stride, s.w, ow);
                for oy in 0..oh {
                    let iy = (oy * s.stride + ky) as isize - s.pad as isize;
                    if iy < 0 || iy >= s.h as isize {
                        continue;
                    }
                    let line = &mut plane[iy as usize * s.w..(iy as usize + 1) * s.w];
                    if lo >= hi {
                        continue;
                    }
                    let first = lo * s.stride + kx - s.pad;
                    let from = &src[oy * ow + lo..oy * ow + hi];
                    if s.stride == 1 {
                        for (d, v) in line[first..first + (hi - lo)].iter_mut().zip(from) {
                            *d += v;
                        }
                    } else {
                        for (d, v) in line[first..].iter_mut().step_by(s.stride).zip(from) {
                            *d += v;
                        }
                    }
                }
                row += 1;
            }
        }
    }
}

/// The output columns `lo..hi` whose input column `ox·stride + kx − pad` lies inside `0..w`.
#[inline]
pub fn valid_range(kx: usize, pad: usize, stride: usize, w: usize, ow: usize) -> (usize, usize) {
    let lo = if kx >= pad {
        0
    } else {
        (pad - kx).div_ceil(stride)
    };
    // ox·stride + kx − pad ≤ w − 1  ⇔  ox ≤ (w − 1 + pad − kx) / stride
    let hi = if w + pad > kx {
        ((w - 1 + pad - kx) / stride + 1).min(ow)
    } else {
        0
    };
    (lo.min(hi), hi)
}

/// Copies a `h × w` plane into `xp`, a `(h + 2·pad) × (w + 2·pad)` plane with a zero border, so
/// that the depthwise kernels below run without a bounds test per tap.
pub fn pad_plane(x: &[f32], s: ConvShape, xp: &mut Vec<f32>) {
    let wp = s.w + 2 * s.pad;
    xp.clear();
    xp.resize((s.h + 2 * s.pad) * wp, 0.0);
    for (y, row) in x.chunks_exact(s.w).enumerate() {
        let o = (y + s.pad) * wp + s.pad;
        xp[o..o + s.w].copy_from_slice(row);
    }
}

/// Depthwise convolution of one channel plane: `out[oy, ox] = Σ w[ky, kx] · x[iy, ix]` over the
/// `k × k` taps, zero padding, overwriting `out`. A direct kernel over a padded copy (`xp` is
/// scratch): im2col would copy nine times the plane to do the same work. Stride 1 vectorises
/// along the row; 3×3 taps are unrolled.
pub fn depthwise_plane(x: &[f32], w: &[f32], s: ConvShape, out: &mut [f32], xp: &mut Vec<f32>) {
    let (oh, ow) = (s.out_h(), s.out_w());
    pad_plane(x, s, xp);
    let wp = s.w + 2 * s.pad;
    let st = s.stride;
    if s.k == 3 {
        let t: [f32; 9] = w[..9].try_into().expect("3×3 taps");
        for oy in 0..oh {
            let base = oy * st * wp;
            let r0 = &xp[base..base + wp];
            let r1 = &xp[base + wp..base + 2 * wp];
            let r2 = &xp[base + 2 * wp..base + 3 * wp];
            let dst = &mut out[oy * ow..(oy + 1) * ow];
            if st == 1 {
                for (ox, d) in dst.iter_mut().enumerate() {
                    *d = t[0] * r0[ox]
                        + t[1] * r0[ox + 1]
                        + t[2] * r0[ox + 2]
                        + t[3] * r1[ox]
                        + t[4] * r1[ox + 1]
                        + t[5] * r1[ox + 2]
                        + t[6] * r2[ox]
                        + t[7] * r2[ox + 1]
                        + t[8] * r2[ox + 2];
                }
            } else {
                for (ox, d) in dst.iter_mut().enumerate() {
                    let i = ox * st;
                    *d = t[0] * r0[i]
                        + t[1] * r0[i + 1]
                        + t[2] * r0[i + 2]
                        + t[3] * r1[i]
                        + t[4] * r1[i + 1]
                        + t[5] * r1[i + 2]
                        + t[6] * r2[i]
                        + t[7] * r2[i + 1]
                        + t[8] * r2[i + 2];
                }
            }
        }
        return;
    }
    out[..oh * ow].fill(0.0);
    for oy in 0..oh {
        let dst = &mut out[oy * ow..(oy + 1) * ow];
        for ky in 0..s.k {
            let row = &xp[(oy * st + ky) * wp..(oy * st + ky + 1) * wp];
            for kx in 0..s.k {
                let wt = w[ky * s.k + kx];
                for (ox, d) in dst.iter_mut().enumerate() {
                    *d += wt * row[ox * st + kx];
                }
            }
        }
    }
}

/// The backward of [`depthwise_plane`]: adds the weight gradient into `dw` and, when given, the
/// input gradient into `dx`. `xp` and `dxp` are scratch.
#[allow(clippy::too_many_arguments)]
pub fn depthwise_plane_backward(
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    s: ConvShape,
    dw: &mut [f32],
    dx: Option<&mut [f32]>,
    xp: &mut Vec<f32>,
    dxp: &mut Vec<f32>,
) {
    let (oh, ow) = (s.out_h(), s.out_w());
    pad_plane(x, s, xp);
    let wp = s.w + 2 * s.pad;
    let st = s.stride;
    let want_dx = dx.is_some();
    if want_dx {
        dxp.clear();
        dxp.resize(xp.len(), 0.0);
    }
    let mut acc = [0.0f32; 49];
    let kk = s.k * s.k;
    debug_assert!(kk <= acc.len(), "kernels up to 7×7");
    if s.k == 3 {
        let t: [f32; 9] = w[..9].try_into().expect("3×3 taps");
        let mut a = [0.0f32; 9];
        for oy in 0..oh {
            let g = &dy[oy * ow..(oy + 1) * ow];
            let base = oy * st * wp;
            {
                let r0 = &xp[base..base + wp];
                let r1 = &xp[base + wp..base + 2 * wp];
                let r2 = &xp[base + 2 * wp..base + 3 * wp];
                if st == 1 {
                    // Nine dot products along the row: the compiler keeps them in vectors.
                    let n = ow;
                    for (j, (r, off)) in [
                        (r0, 0),
                        (r0, 1),
                        (r0, 2),
                        (r1, 0),
                        (r1, 1),
                        (r1, 2),
                        (r2, 0),
                        (r2, 1),
                        (r2, 2),
                    ]
                    .into_iter()
                    .enumerate()
                    {
                        a[j] += dot(g, &r[off..off + n]);
                    }
                } else {
                    for (ox, &gv) in g.iter().enumerate() {
                        let i = ox * st;
                        a[0] += gv * r0[i];
                        a[1] += gv * r0[i + 1];
                        a[2] += gv * r0[i + 2];
                        a[3] += gv * r1[i];
                        a[4] += gv * r1[i + 1];
                        a[5] += gv * r1[i + 2];
                        a[6] += gv * r2[i];
                        a[7] += gv * r2[i + 1];
                        a[8] += gv * r2[i + 2];
                    }
                }
            }
            if want_dx {
                for ky in 0..3 {
                    let r = base + ky * wp;
                    let drow = &mut dxp[r..r + wp];
                    let (w0, w1, w2) = (t[3 * ky], t[3 * ky + 1], t[3 * ky + 2]);
                    if st == 1 {
                        let d = &mut drow[..ow + 2];
                        for (ox, &gv) in g.iter().enumerate() {
                            d[ox] += w0 * gv;
                            d[ox + 1] += w1 * gv;
                            d[ox + 2] += w2 * gv;
                        }
                    } else {
                        for (ox, &gv) in g.iter().enumerate() {
                            let i = ox * st;
                            drow[i] += w0 * gv;
                            drow[i + 1] += w1 * gv;
                            drow[i + 2] += w2 * gv;
                        }
                    }
                }
            }
        }
        acc[..9].copy_from_slice(&a);
    } else {
        backward_general(dy, w, s, &mut acc, xp, dxp, want_dx);
    }
    for (d, a) in dw[..kk].iter_mut().zip(&acc) {
        *d += a;
    }
    if let Some(dx) = dx {
        for (y, row) in dx.chunks_exact_mut(s.w).enumerate() {
            let o = (y + s.pad) * wp + s.pad;
            for (d, v) in row.iter_mut().zip(&dxp[o..o + s.w]) {
                *d += v;
            }
        }
    }
}

fn backward_general(
    dy: &[f32],
    w: &[f32],
    s: ConvShape,
    acc: &mut [f32; 49],
    xp: &[f32],
    dxp: &mut [f32],
    want_dx: bool,
) {
    let (oh, ow) = (s.out_h(), s.out_w());
    let wp = s.w + 2 * s.pad;
    let st = s.stride;
    for oy in 0..oh {
        let g = &dy[oy * ow..(oy + 1) * ow];
        for ky in 0..s.k {
            let r = (oy * st + ky) * wp;
            let row = &xp[r..r + wp];
            for kx in 0..s.k {
                let a = &mut acc[ky * s.k + kx];
                if st == 1 {
                    *a += dot(g, &row[kx..kx + ow]);
                } else {
                    for (ox, gv) in g.iter().enumerate() {
                        *a += gv * row[ox * st + kx];
                    }
                }
                if want_dx {
                    let wt = w[ky * s.k + kx];
                    let drow = &mut dxp[r..r + wp];
                    if st == 1 {
                        for (d, gv) in drow[kx..kx + ow].iter_mut().zip(g) {
                            *d += wt * gv;
                        }
                    } else {
                        for (ox, gv) in g.iter().enumerate() {
                            drow[ox * st + kx] += wt * gv;
                        }
                    }
                }
            }
        }
    }
}

/// `Σ (x − mean)²` over eight lanes.
pub fn sum_sq_dev(x: &[f32], mean: f32) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = x.chunks_exact(8);
    let tail: f32 = chunks
        .remainder()
        .iter()
        .map(|v| (v - mean) * (v - mean))
        .sum();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            let d = v - mean;
            *a += d * d;
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `Σ a·b` over eight lanes (vectorised like [`sum`]).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// The sum of `x` over eight lanes, which the compiler turns into vector adds (an ordered
/// `iter().sum()` cannot be reordered, so it stays scalar).
pub fn sum(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = x.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// ReLU's backward: `grad` where the forward output was positive, else 0, without branches.
pub fn relu_backward(grad: &mut [f32], out: &[f32]) {
    for (d, a) in grad.iter_mut().zip(out) {
        *d = if *a > 0.0 { *d } else { 0.0 };
    }
}

/// `max(0, x)` in place, returning nothing: the sign of the output is the backward mask.
pub fn relu(x: &mut [f32]) {
    for v in x {
        *v = v.max(0.0);
    }
}

/// Softmax cross-entropy over `rows` of `classes` logits: returns the summed loss and writes
/// `scale · (softmax − one_hot)` into `grad`.
pub fn softmax_cross_entropy(
    logits: &[f32],
    labels: &[u8],
    classes: usize,
    scale: f32,
    grad: &mut [f32],
) -> f64 {
    let mut loss = 0.0f64;
    for (i, &y) in labels.iter().enumerate() {
        let z = &logits[i * classes..(i + 1) * classes];
        let g = &mut grad[i * classes..(i + 1) * classes];
        let max = z.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0f32;
        for (gi, &zi) in g.iter_mut().zip(z) {
            *gi = (zi - max).exp();
            sum += *gi;
        }
        loss += (sum.ln() + max - z[y as usize]) as f64;
        for (j, gi) in g.iter_mut().enumerate() {
            *gi = scale * (*gi / sum - if j == y as usize { 1.0 } else { 0.0 });
        }
    }
    loss
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemm_with_transposes_matches_loops() {
        let a: Vec<f32> = (0..6).map(|i| i as f32).collect(); // 2×3
        let b: Vec<f32> = (0..12).map(|i| (i as f32) * 0.5).collect(); // 3×4
        let mut c = vec![1.0; 8];
        gemm(2, 3, 4, rm(&a, 3), rm(&b, 4), 1.0, rm_mut(&mut c, 4));
        for i in 0..2 {
            for j in 0..4 {
                let want: f32 = 1.0 + (0..3).map(|k| a[i * 3 + k] * b[k * 4 + j]).sum::<f32>();
                assert_eq!(c[i * 4 + j], want);
            }
        }
        // aᵀ·a through a stride swap: 3×3.
        let mut d = vec![0.0; 9];
        gemm(3, 2, 3, tr(&a, 3), rm(&a, 3), 0.0, rm_mut(&mut d, 3));
        assert_eq!(d[0], 0.0 * 0.0 + 3.0 * 3.0);
        assert_eq!(d[5], 1.0 * 2.0 + 4.0 * 5.0);
    }

    #[test]
    fn im2col_pads_with_zeros() {
        let s = ConvShape {
            cin: 1,
            h: 2,
            w: 2,
            k: 3,
            stride: 1,
            pad: 1,
        };
        let x = [1.0, 2.0, 3.0, 4.0];
        let mut cols = vec![9.0; s.patch() * 4];
        im2col(&x, s, &mut cols);
        // The centre tap (ky = kx = 1) sees the image itself.
        assert_eq!(&cols[4 * 4..5 * 4], &x);
        // The top-left tap sees only x[0] at output (1, 1).
        assert_eq!(&cols[0..4], &[0.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn denormals_flush_to_zero_after_the_call() {
        let tiny = std::hint::black_box(1e-30f32);
        std::thread::spawn(move || {
            assert!(tiny * 1e-10 > 0.0, "denormal products exist by default");
            flush_denormals();
            assert_eq!(std::hint::black_box(tiny) * 1e-10, 0.0);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn lane_sum_and_relu_backward() {
        let x: Vec<f32> = (1..=21).map(|i| i as f32).collect();
        assert_eq!(sum(&x), 231.0);
        let mut g = vec![1.0, 2.0, 3.0];
        relu_backward(&mut g, &[0.5, 0.0, -1.0]);
        assert_eq!(g, [1.0, 0.0, 0.0]);
    }

    #[test]
    fn cross_entropy_of_uniform_logits_is_ln_classes() {
        let mut g = vec![0.0; 4];
        let l = softmax_cross_entropy(&[0.0; 4], &[2], 4, 1.0, &mut g);
        assert!((l - 4f64.ln()).abs() < 1e-6);
        assert!((g[2] + 0.75).abs() < 1e-6 && (g[0] - 0.25).abs() < 1e-6);
    }
}
