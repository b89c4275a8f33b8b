//! im2col and its adjoint through a precomputed map: for every element of an image's patch
//! matrix, the index of the input element it copies (or a zero slot for the padding).
//!
//! [`kernels::im2col`] copies each patch row as a zero prefix, a run and a zero suffix. That is
//! a `memcpy` for long stride-1 rows, but a strided gather costs a loop of its own for every
//! 7 or 14 outputs of a small strided convolution, about 0.9 ns an element on the 2-vCPU guests
//! of bench/NOTES.md. Through a map (built once per shape and thread, then reused for every
//! image) it is one load of the index, one of the value and one store, about 0.3 ns, whatever
//! the stride. Both give the same patches bit for bit, and [`PatchMap::col2im_add`] adds in the
//! same order as [`kernels::col2im_add`], so the sums are equal bit for bit too; tests hold the
//! row copies as the reference. [`PatchMap::pays`] says which shapes take the map.

use crate::kernels::{self, ConvShape};

/// The largest map kept, in entries (1 MiB of `u32`): larger patch matrices are copied by rows.
const MAX_ENTRIES: usize = 1 << 18;

/// Output rows shorter than this are gathered through a map even at stride 1: a row copy costs
/// as much to set up as it saves (a 12 × 12 image with 5 × 5 kernels: 0.64 ns an element by rows,
/// 0.30 through the map; 28 × 28 rows of 28: 0.19 by rows, 0.31 through the map).
const SHORT_ROW: usize = 16;

/// Where each element of one image's patch matrix comes from (see the module documentation).
#[derive(Debug, Clone)]
pub struct PatchMap {
    shape: ConvShape,
    /// Per patch element, in [`kernels::im2col`]'s order: the input index, or the image's length
    /// (the zero slot after it) for the padding.
    src: Vec<u32>,
}

impl PatchMap {
    /// Whether `s` is gathered through a map: strided or short rows, and a map of at most
    /// [`MAX_ENTRIES`].
    pub fn pays(s: ConvShape) -> bool {
        let entries = s.patch() * s.out_h() * s.out_w();
        (s.stride > 1 || s.out_w() < SHORT_ROW) && entries <= MAX_ENTRIES
    }

    pub fn new(s: ConvShape) -> PatchMap {
        let (oh, ow) = (s.out_h(), s.out_w());
        let zero = (s.cin * s.h * s.w) as u32;
        let mut src = Vec::with_capacity(s.patch() * oh * ow);
        for c in 0..s.cin {
            for ky in 0..s.k {
                for kx in 0..s.k {
                    for oy in 0..oh {
                        let iy = (oy * s.stride + ky).checked_sub(s.pad).filter(|&y| y < s.h);
                        for ox in 0..ow {
                            let ix = (ox * s.stride + kx).checked_sub(s.pad).filter(|&x| x < s.w);
                            src.push(match (iy, ix) {
                                (Some(y), Some(x)) => ((c * s.h + y) * s.w + x) as u32,
                                _ => zero,
                            });
                        }
                    }
                }
            }
        }
        PatchMap { shape: s, src }
    }

    pub fn shape(&self) -> ConvShape {
        self.shape
    }

    /// [`kernels::im2col`] of `x` into `cols`; `padded` is reusable memory (the image and its
    /// zero slot).
    pub fn im2col(&self, x: &[f32], cols: &mut [f32], padded: &mut Vec<f32>) {
        padded.clear();
        padded.extend_from_slice(x);
        padded.push(0.0);
        let padded = &padded[..];
        for (d, &i) in cols.iter_mut().zip(&self.src) {
            *d = padded[i as usize];
        }
    }

    /// [`kernels::col2im_add`]: adds `cols` back onto `dx`, in the same order; `padded` is
    /// reusable memory.
    pub fn col2im_add(&self, cols: &[f32], dx: &mut [f32], padded: &mut Vec<f32>) {
        padded.clear();
        padded.extend_from_slice(dx);
        padded.push(0.0);
        for (v, &i) in cols.iter().zip(&self.src) {
            padded[i as usize] += v;
        }
        dx.copy_from_slice(&padded[..dx.len()]);
    }
}

/// The maps of the shapes one thread has met (a network has a few convolutions).
#[derive(Debug, Default)]
pub struct PatchMaps {
    maps: Vec<PatchMap>,
    padded: Vec<f32>,
}

impl PatchMaps {
    /// `s`'s map, built the first time `s` is met; `None` where rows are copied instead.
    fn get(&mut self, s: ConvShape) -> Option<(&PatchMap, &mut Vec<f32>)> {
        if !PatchMap::pays(s) {
            return None;
        }
        let at = match self.maps.iter().position(|m| m.shape == s) {
            Some(at) => at,
            None => {
                self.maps.push(PatchMap::new(s));
                self.maps.len() - 1
            }
        };
        Some((&self.maps[at], &mut self.padded))
    }

    /// [`kernels::im2col`], through `s`'s map where it [pays](PatchMap::pays).
    pub fn im2col(&mut self, x: &[f32], s: ConvShape, cols: &mut [f32]) {
        match self.get(s) {
            Some((m, padded)) => m.im2col(x, cols, padded),
            None => kernels::im2col(x, s, cols),
        }
    }

    /// [`kernels::col2im_add`], through `s`'s map where it pays.
    pub fn col2im_add(&mut self, cols: &[f32], s: ConvShape, dx: &mut [f32]) {
        match self.get(s) {
            Some((m, padded)) => m.col2im_add(cols, dx, padded),
            None => kernels::col2im_add(cols, s, dx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    fn shapes() -> Vec<ConvShape> {
        let mut v = Vec::new();
        for (cin, h, w) in [(1, 28, 28), (3, 7, 9), (16, 14, 14), (2, 5, 4)] {
            for k in [1, 3, 5] {
                for stride in [1, 2, 3] {
                    for pad in [0, 1, 2] {
                        if h + 2 * pad >= k && w + 2 * pad >= k {
                            v.push(ConvShape {
                                cin,
                                h,
                                w,
                                k,
                                stride,
                                pad,
                            });
                        }
                    }
                }
            }
        }
        v
    }

    /// The map's patches and sums are the row copies' bit for bit, over strides, paddings,
    /// kernels and channels, with the same memory reused from shape to shape.
    #[test]
    fn the_map_gives_the_row_copies_patches_and_sums_bit_for_bit() {
        let mut rng = SplitMix64::new(7);
        let mut padded = Vec::new();
        for s in shapes() {
            let m = PatchMap::new(s);
            let x: Vec<f32> = (0..s.cin * s.h * s.w)
                .map(|_| rng.next_f32() - 0.5)
                .collect();
            let per = s.patch() * s.out_h() * s.out_w();
            let (mut want, mut got) = (vec![f32::NAN; per], vec![f32::NAN; per]);
            kernels::im2col(&x, s, &mut want);
            m.im2col(&x, &mut got, &mut padded);
            assert_eq!(
                want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{s:?}"
            );
            let cols: Vec<f32> = (0..per).map(|_| rng.next_f32() - 0.5).collect();
            let (mut want, mut got) = (x.clone(), x.clone());
            kernels::col2im_add(&cols, s, &mut want);
            m.col2im_add(&cols, &mut got, &mut padded);
            assert_eq!(
                want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{s:?}"
            );
        }
    }

    /// Strided and short-row shapes take a map, long stride-1 rows and huge maps do not; a
    /// thread's maps are built once per shape.
    #[test]
    fn maps_are_kept_where_they_pay_and_built_once() {
        let strided = ConvShape {
            cin: 1,
            h: 28,
            w: 28,
            k: 5,
            stride: 2,
            pad: 2,
        };
        let long_rows = ConvShape {
            stride: 1,
            pad: 0,
            ..strided
        };
        let short_rows = ConvShape {
            cin: 6,
            h: 12,
            w: 12,
            ..long_rows
        };
        let huge = ConvShape {
            cin: 64,
            h: 112,
            w: 112,
            k: 3,
            stride: 2,
            pad: 1,
        };
        assert!(PatchMap::pays(strided) && PatchMap::pays(short_rows));
        assert!(!PatchMap::pays(long_rows) && !PatchMap::pays(huge));
        let mut maps = PatchMaps::default();
        for s in [strided, long_rows, strided, short_rows, strided] {
            let per = s.patch() * s.out_h() * s.out_w();
            let mut cols = vec![0.0; per];
            maps.im2col(&vec![1.0; s.cin * s.h * s.w], s, &mut cols);
            assert!(cols.contains(&1.0));
        }
        let kept: Vec<ConvShape> = maps.maps.iter().map(PatchMap::shape).collect();
        assert_eq!(kept, [strided, short_rows]);
    }
}
