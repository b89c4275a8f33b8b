//! The compute seam: the kernels a model's forward and backward spend their time in, behind a
//! small trait, so that another backend (CUDA, in a later issue) can take them over without the
//! graph, the models or training changing. [`Cpu`] runs them on host slices with
//! `matrixmultiply`'s runtime-detected AVX/FMA GEMM, the direct kernels in
//! [`crate::kernels`] and im2col through [`crate::patch_map`] where a map pays. Element-wise work (BatchNorm, activations, pooling) stays in the graph: it
//! is memory-bound and a device backend would fuse it differently anyway.

use crate::kernels::{self, ConvShape};
use crate::patch_map::PatchMaps;

/// A matrix operand: `(data, row stride, column stride)`.
pub type Mat<'a> = (&'a [f32], isize, isize);
pub type MatMut<'a> = (&'a mut [f32], isize, isize);

pub trait Backend: Sync {
    /// A short name for reports (`cpu`).
    fn name(&self) -> &'static str;

    /// `c[m×n] = a[m×k] · b[k×n] + beta · c`.
    #[allow(clippy::too_many_arguments)]
    fn gemm(&self, m: usize, k: usize, n: usize, a: Mat, b: Mat, beta: f32, c: MatMut);

    /// Unfolds one image into convolution patches (see [`kernels::im2col`]).
    fn im2col(&self, x: &[f32], s: ConvShape, cols: &mut [f32], scratch: &mut Scratch);

    /// Adds patches back onto an image: the adjoint of [`Backend::im2col`].
    fn col2im_add(&self, cols: &[f32], s: ConvShape, dx: &mut [f32], scratch: &mut Scratch);

    /// One channel's depthwise convolution, overwriting `out`; `scratch` is reusable memory.
    fn depthwise(&self, x: &[f32], w: &[f32], s: ConvShape, out: &mut [f32], scratch: &mut Scratch);

    /// One channel's depthwise backward, adding into `dw` and `dx`.
    #[allow(clippy::too_many_arguments)]
    fn depthwise_backward(
        &self,
        x: &[f32],
        w: &[f32],
        dy: &[f32],
        s: ConvShape,
        dw: &mut [f32],
        dx: Option<&mut [f32]>,
        scratch: &mut Scratch,
    );
}

/// Memory a backend's kernels reuse from call to call (one per thread).
#[derive(Debug, Default)]
pub struct Scratch {
    pub a: Vec<f32>,
    pub b: Vec<f32>,
    /// The patch maps of the convolutions this thread has unfolded.
    pub maps: PatchMaps,
}

/// The CPU backend.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu;

impl Backend for Cpu {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn gemm(&self, m: usize, k: usize, n: usize, a: Mat, b: Mat, beta: f32, c: MatMut) {
        kernels::gemm(m, k, n, a, b, beta, c)
    }

    fn im2col(&self, x: &[f32], s: ConvShape, cols: &mut [f32], scratch: &mut Scratch) {
        scratch.maps.im2col(x, s, cols)
    }

    fn col2im_add(&self, cols: &[f32], s: ConvShape, dx: &mut [f32], scratch: &mut Scratch) {
        scratch.maps.col2im_add(cols, s, dx)
    }

    fn depthwise(
        &self,
        x: &[f32],
        w: &[f32],
        s: ConvShape,
        out: &mut [f32],
        scratch: &mut Scratch,
    ) {
        kernels::depthwise_plane(x, w, s, out, &mut scratch.a)
    }

    fn depthwise_backward(
        &self,
        x: &[f32],
        w: &[f32],
        dy: &[f32],
        s: ConvShape,
        dw: &mut [f32],
        dx: Option<&mut [f32]>,
        scratch: &mut Scratch,
    ) {
        kernels::depthwise_plane_backward(x, w, dy, s, dw, dx, &mut scratch.a, &mut scratch.b)
    }
}
