//! CPU kernels: matrix products through `matrixmultiply` (runtime-detected AVX/FMA), im2col for
//! convolutions, and the element-wise pieces. Every function works on plain row-major slices.

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
pub fn im2col(x: &[f32], s: ConvShape, cols: &mut [f32]) {
    let (oh, ow) = (s.out_h(), s.out_w());
    let mut row = 0;
    for c in 0..s.cin {
        let plane = &x[c * s.h * s.w..(c + 1) * s.h * s.w];
        for ky in 0..s.k {
            for kx in 0..s.k {
                let dst = &mut cols[row * oh * ow..(row + 1) * oh * ow];
                for oy in 0..oh {
                    let iy = (oy * s.stride + ky) as isize - s.pad as isize;
                    let line = &mut dst[oy * ow..(oy + 1) * ow];
                    if iy < 0 || iy >= s.h as isize {
                        line.fill(0.0);
                        continue;
                    }
                    let src = &plane[iy as usize * s.w..(iy as usize + 1) * s.w];
                    for (ox, d) in line.iter_mut().enumerate() {
                        let ix = (ox * s.stride + kx) as isize - s.pad as isize;
                        *d = if ix < 0 || ix >= s.w as isize {
                            0.0
                        } else {
                            src[ix as usize]
                        };
                    }
                }
                row += 1;
            }
        }
    }
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
