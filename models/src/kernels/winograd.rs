//! 3×3 convolutions with stride 1 and padding 1 (every resnet and upsample convolution of the
//! UNet and the VAE) by Winograd's F(2×2, 3×3): each 2×2 block of output comes from the 4×4
//! block of input around it through 16 products per channel pair instead of 36. The matrix
//! products, nearly all of a convolution's time, shrink by 2.25×; the transforms into and out
//! of the 4×4 domain are additions and halvings, so the result stays within rounding of the
//! direct convolution.
//!
//! Per slice of tile rows: the input becomes `V[c_in][16][tiles]`, the weight (once per call)
//! `U[c_out][16][c_in]`, then for each of the 16 positions `M = U · V` (one matrix product
//! each), and `M[c_out][16][tiles]` goes back to 2×2 output blocks plus the bias.

use rayon::prelude::*;

/// Floats per transformed buffer (input or products) for one slice of tile rows: 16 MB.
const SLICE_FLOATS: usize = 4 << 20;
/// The 4×4 positions of the transformed domain.
const POSITIONS: usize = 16;

/// A 3×3, stride 1, padding 1 convolution's sizes: the output is as large as the input.
#[derive(Clone, Copy, Debug)]
pub struct Planes {
    pub batch: usize,
    pub c_in: usize,
    pub c_out: usize,
    pub height: usize,
    pub width: usize,
}

impl Planes {
    fn tiles_across(&self) -> usize {
        self.width.div_ceil(2)
    }

    fn tile_rows(&self) -> usize {
        self.height.div_ceil(2)
    }

    fn plane(&self) -> usize {
        self.height * self.width
    }
}

/// `input` `[batch, c_in, h, w]`, `weight` `[c_out, c_in, 3, 3]`, `out` `[batch, c_out, h, w]`.
/// The images of the batch share each slice's matrix products, as more columns.
pub fn convolve(input: &[f32], weight: &[f32], bias: &[f32], out: &mut [f32], p: Planes) {
    let u = transform_weight(weight, p);
    let across = p.tiles_across();
    let rows_per_slice = (SLICE_FLOATS / (POSITIONS * p.c_in.max(p.c_out) * across * p.batch))
        .clamp(1, p.tile_rows());
    let mut v = vec![0f32; p.c_in * POSITIONS * p.batch * rows_per_slice * across];
    let mut m = vec![0f32; p.c_out * POSITIONS * p.batch * rows_per_slice * across];
    let threads = rayon::current_num_threads();
    for first in (0..p.tile_rows()).step_by(rows_per_slice) {
        let rows = rows_per_slice.min(p.tile_rows() - first);
        let per_image = rows * across;
        let tiles = p.batch * per_image;
        let slice = Slice { first, rows, tiles };
        let v = &mut v[..p.c_in * POSITIONS * tiles];
        let m = &mut m[..p.c_out * POSITIONS * tiles];
        v.par_chunks_mut(POSITIONS * tiles)
            .enumerate()
            .for_each(|(channel, v)| {
                for item in 0..p.batch {
                    let plane = &input[(item * p.c_in + channel) * p.plane()..][..p.plane()];
                    transform_input(plane, v, item * per_image, slice, p);
                }
            });
        for position in 0..POSITIONS {
            // m[:, position, :] (c_out × tiles) = u[:, position, :] (c_out × c_in)
            //   · v[:, position, :] (c_in × tiles).
            // SAFETY: c_out rows of `tiles` floats from position·tiles with row stride
            // 16·tiles lie inside `m`, c_in such rows inside `v`, and c_out rows of c_in
            // floats from position·c_in with row stride 16·c_in inside `u`.
            unsafe {
                gemm::gemm(
                    p.c_out,
                    tiles,
                    p.c_in,
                    m[position * tiles..].as_mut_ptr(),
                    1,
                    (POSITIONS * tiles) as isize,
                    false,
                    u[position * p.c_in..].as_ptr(),
                    1,
                    (POSITIONS * p.c_in) as isize,
                    v[position * tiles..].as_ptr(),
                    1,
                    (POSITIONS * tiles) as isize,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::Rayon(threads),
                );
            }
        }
        out.par_chunks_mut(p.plane())
            .enumerate()
            .for_each(|(index, plane)| {
                let (item, channel) = (index / p.c_out, index % p.c_out);
                let m = &m[channel * POSITIONS * tiles..][..POSITIONS * tiles];
                transform_output(m, plane, bias[channel], item * per_image, slice, p);
            });
    }
}

/// Tile rows `first..first + rows` of every image, `tiles` in all.
#[derive(Clone, Copy)]
struct Slice {
    first: usize,
    rows: usize,
    tiles: usize,
}

/// `U = G·g·Gᵀ` for every channel pair, as `[c_out][16][c_in]`.
fn transform_weight(weight: &[f32], p: Planes) -> Vec<f32> {
    let mut u = vec![0f32; p.c_out * POSITIONS * p.c_in];
    u.par_chunks_mut(POSITIONS * p.c_in)
        .zip(weight.par_chunks(p.c_in * 9))
        .for_each(|(u, kernels)| {
            for (input, g) in kernels.chunks_exact(9).enumerate() {
                // G·g: four rows of three.
                let mut gg = [[0f32; 3]; 4];
                for col in 0..3 {
                    let (a, b, c) = (g[col], g[3 + col], g[6 + col]);
                    gg[0][col] = a;
                    gg[1][col] = 0.5 * (a + b + c);
                    gg[2][col] = 0.5 * (a - b + c);
                    gg[3][col] = c;
                }
                // (G·g)·Gᵀ: four values from each row.
                for (row, [a, b, c]) in gg.into_iter().enumerate() {
                    let values = [a, 0.5 * (a + b + c), 0.5 * (a - b + c), c];
                    for (col, value) in values.into_iter().enumerate() {
                        u[(row * 4 + col) * p.c_in + input] = value;
                    }
                }
            }
        });
    u
}

/// One image's channel over a slice of tile rows: `V = Bᵀ·d·B` for each 4×4 block `d`
/// (starting one pixel up and left of its 2×2 output, zeros outside), into `v[16][tiles]`
/// from tile `offset`.
///
/// Both halves of the transform run along whole lines, so they compile to vector code: `Bᵀ·`
/// combines the four input lines under a tile row, and `·B` reads the combined lines split
/// into even and odd columns, where tile `tx` sees columns `tx` and `tx + 1` of each.
fn transform_input(plane: &[f32], v: &mut [f32], offset: usize, slice: Slice, p: Planes) {
    let across = p.tiles_across();
    let Slice { first, rows, tiles } = slice;
    // Image column x sits at x + 1: the zero padding is written out.
    let line_len = 2 * across + 2;
    let mut lines = vec![0f32; 4 * line_len];
    let mut combined = vec![0f32; line_len];
    let (mut even, mut odd) = (vec![0f32; across + 1], vec![0f32; across + 1]);
    for row in 0..rows {
        let top = 2 * (first + row) as isize - 1;
        for (i, line) in lines.chunks_exact_mut(line_len).enumerate() {
            let y = top + i as isize;
            line.fill(0.0);
            if y >= 0 && (y as usize) < p.height {
                line[1..=p.width].copy_from_slice(&plane[y as usize * p.width..][..p.width]);
            }
        }
        let (l0, rest) = lines.split_at(line_len);
        let (l1, rest) = rest.split_at(line_len);
        let (l2, l3) = rest.split_at(line_len);
        // Bᵀ's rows: (1, 0, −1, 0), (0, 1, 1, 0), (0, −1, 1, 0), (0, 1, 0, −1).
        let bt: [(&[f32], &[f32], f32); 4] = [
            (l0, l2, -1.0),
            (l1, l2, 1.0),
            (l2, l1, -1.0),
            (l1, l3, -1.0),
        ];
        for (i, (a, b, sign)) in bt.into_iter().enumerate() {
            for ((c, &a), &b) in combined.iter_mut().zip(a).zip(b) {
                *c = a + sign * b;
            }
            for ((e, o), pair) in even
                .iter_mut()
                .zip(odd.iter_mut())
                .zip(combined.chunks_exact(2))
            {
                (*e, *o) = (pair[0], pair[1]);
            }
            // ·B's columns: (a − c, b + c, c − b, b − e) of the block's columns a, b, c, e.
            let at = offset + row * across;
            let [v0, v1, v2, v3] = four_planes(v, 4 * i, tiles, at, across);
            let (a, b) = (&even[..across], &odd[..across]);
            let (c, e) = (&even[1..], &odd[1..]);
            for t in 0..across {
                v0[t] = a[t] - c[t];
                v1[t] = b[t] + c[t];
                v2[t] = c[t] - b[t];
                v3[t] = b[t] - e[t];
            }
        }
    }
}

/// Planes `first..first + 4` of a `[16][tiles]` buffer, each cut to `len` from `at`.
fn four_planes(
    v: &mut [f32],
    first: usize,
    tiles: usize,
    at: usize,
    len: usize,
) -> [&mut [f32]; 4] {
    let planes = &mut v[first * tiles..(first + 4) * tiles];
    let (p0, rest) = planes.split_at_mut(tiles);
    let (p1, rest) = rest.split_at_mut(tiles);
    let (p2, p3) = rest.split_at_mut(tiles);
    [p0, p1, p2, p3].map(|p| &mut p[at..at + len])
}

/// One image's output channel over a slice: its 2×2 blocks from the products `m[16][tiles]`
/// from tile `offset`, `Y = Aᵀ·m·A + bias`, cut at the image's edge. As in the input
/// transform, whole lines at a time.
fn transform_output(
    m: &[f32],
    plane: &mut [f32],
    bias: f32,
    offset: usize,
    slice: Slice,
    p: Planes,
) {
    let across = p.tiles_across();
    let Slice { first, rows, tiles } = slice;
    let mut columns = vec![0f32; 4 * across];
    let mut line = vec![0f32; 2 * across];
    for row in 0..rows {
        let at = offset + row * across;
        let position = |k: usize| &m[k * tiles + at..][..across];
        for i in 0..2 {
            let y = 2 * (first + row) + i;
            if y >= p.height {
                break;
            }
            // Aᵀ's rows, over the block's rows: (1, 1, 1, 0) and (0, 1, −1, −1).
            for (j, column) in columns.chunks_exact_mut(across).enumerate() {
                let (r0, r1, r2, r3) = (
                    position(j),
                    position(4 + j),
                    position(8 + j),
                    position(12 + j),
                );
                if i == 0 {
                    for (((c, a), b), d) in column.iter_mut().zip(r0).zip(r1).zip(r2) {
                        *c = a + b + d;
                    }
                } else {
                    for (((c, a), b), d) in column.iter_mut().zip(r1).zip(r2).zip(r3) {
                        *c = a - b - d;
                    }
                }
            }
            // ·A, over the block's columns: the same two rows.
            let (c0, rest) = columns.split_at(across);
            let (c1, rest) = rest.split_at(across);
            let (c2, c3) = rest.split_at(across);
            for ((((pair, a), b), c), d) in line.chunks_exact_mut(2).zip(c0).zip(c1).zip(c2).zip(c3)
            {
                pair[0] = bias + a + b + c;
                pair[1] = bias + b - c - d;
            }
            plane[y * p.width..][..p.width].copy_from_slice(&line[..p.width]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::max_abs_diff;
    use candle_core::{Device, Tensor};

    /// Against candle's direct convolution, relative to the output's size.
    fn check(batch: usize, c_in: usize, c_out: usize, height: usize, width: usize) {
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (batch, c_in, height, width), &dev).unwrap();
        let w = Tensor::randn(0f32, 1.0, (c_out, c_in, 3, 3), &dev).unwrap();
        let b = Tensor::randn(0f32, 1.0, c_out, &dev).unwrap();
        let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let mut out = vec![0f32; batch * c_out * height * width];
        let p = Planes {
            batch,
            c_in,
            c_out,
            height,
            width,
        };
        convolve(&flat(&x), &flat(&w), &flat(&b), &mut out, p);
        let ours = Tensor::from_vec(out, (batch, c_out, height, width), &dev).unwrap();
        let direct = x
            .conv2d(&w, 1, 1, 1, 1)
            .unwrap()
            .broadcast_add(&b.reshape((1, (), 1, 1)).unwrap())
            .unwrap();
        let scale = max_abs_diff(&direct, &direct.zeros_like().unwrap()).max(1.0);
        let err = max_abs_diff(&ours, &direct) / scale;
        assert!(err < 1e-5, "{p:?}: max relative error {err}");
    }

    #[test]
    fn matches_the_direct_convolution() {
        check(2, 16, 24, 9, 13); // odd sides: 2×2 blocks cut at the edge
        check(1, 32, 16, 1, 1); // one pixel: all padding but the centre
        check(1, 3, 5, 2, 7);
        check(3, 64, 128, 16, 16);
    }

    #[test]
    fn slices_large_images_by_tile_rows() {
        // 300 tile rows of 20 tiles at 64 channels, two images: several slices of
        // SLICE_FLOATS.
        check(2, 64, 32, 600, 40);
    }
}
