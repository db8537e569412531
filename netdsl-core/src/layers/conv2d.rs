//! Two-dimensional convolution over channels-last images.

#[cfg(all(feature = "alloc", not(feature = "std")))]
use crate::alloc_prelude::*;

use core::fmt;
use core::marker::PhantomData;

use rand::Rng;

use super::flat::FlatParameters;
use crate::activation::{Activation, Keep, Kept};
use crate::init::Initializer;
use crate::kernels::{self, Gather, Isa, Offsets, Plane, Precision, Product};
use crate::layer::{Layer, TensorVisitor, TensorVisitorMut};
#[cfg(feature = "onnx")]
use crate::onnx;
use crate::regularizer::{Regularizer, Regularizers};
use crate::shape::{Image, ImageShape, Kernel, KernelShape, Padding, PaddingShape};

/// 2-D convolution: `y[oy][ox][f] = f(b[f] + Σ_{ky,kx,c} x[oy·S + ky - PT][ox·S + kx - PL][c] · W[ky][kx][c][f])`.
///
/// Backward, from `dz = dL/dz`: `dW = colᵀ · dz`, `db = Σ_{batch,oy,ox} dz`, `dx = col2im(dz · Wᵀ)`,
/// where row `(b, oy, ox)` of `col` is the `K × K × C` patch the output `(oy, ox)` of sample `b`
/// sees.
///
/// The type is `Conv2d<Image<H, W, C, IN>, Kernel<F, K, S>, Padding<PT, PL>, Image<OH, OW, F, OUT>,
/// A>` (see [`crate::shape`]): an `H × W × C` image, stored channels-last as a flat row (element
/// `(y, x, c)` at `(y · W + x) · C + c`, so `IN = H · W · C`), is convolved with `F` filters of
/// `K × K`, stride `S`, into an `OH × OW × F` image, channels-last too (`OUT = OH · OW · F`). Pixels outside the
/// image read as zero: `PT` rows of padding on top and `PL` columns on the left, and on the
/// bottom and right whatever `OH` and `OW` need. Keras' `padding="valid"` is `PT = PL = 0`,
/// `OH = (H - K) / S + 1`; `padding="same"` is `OH = ⌈H / S⌉` and
/// `PT = max((OH - 1) · S + K - H, 0) / 2` (the odd pixel of padding goes to the bottom), and
/// likewise for columns. `network!` computes all of these; a hand-written type must state them,
/// and a layer whose sizes disagree does not compile.
///
/// Weights are stored `W[ky][kx][c][f]`, Keras' `(K, K, C, F)` kernel layout; PyTorch's
/// `Conv2d.weight` is `(F, C, K, K)` and must be permuted when imported. The activation applies
/// to each sample's whole output row, as [`Activation::backprop_batch`] undoes it: elementwise
/// activations act per value, but a softmax would span every pixel and channel.
///
/// Both `col` products run on `Gather`, which reads each patch in place from the image through
/// two offset tables (the window of each output pixel, the tap within a window) instead of
/// writing the patch matrix out: for LeNet-5's first layer that matrix would be 25 times the
/// image, and writing it cost more than the products. A padded layer first copies the batch
/// into a zero-bordered image in its [`Layer::Tape`], so no window needs clipping; `dx` goes
/// through `dz · Wᵀ` one sample at a time, with `Wᵀ` and the sample's patches in the tape.
/// A layer with one input channel, stride 1 and fewer than 16 filters (the first layer on grey
/// images) runs its forward pass and weight gradient on `Plane` instead, output pixels across
/// the vector lanes, as its few filters would leave most lanes of a `Gather` idle.
///
/// ```
/// use netdsl_core::activation::Linear;
/// use netdsl_core::layer::Layer;
/// use netdsl_core::layers::Conv2d;
/// use netdsl_core::shape::{Image, Kernel, Padding};
///
/// // A 3×3 single-channel image, one 2×2 filter, stride 1, 'valid' padding: 2×2 outputs.
/// type Conv = Conv2d<Image<3, 3, 1, 9>, Kernel<1, 2, 1>, Padding<0, 0>, Image<2, 2, 1, 4>, Linear>;
/// let layer = Conv::from_parameters(vec![1.0, 2.0, 3.0, 4.0], Some(vec![0.5]));
/// let x = [[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]];
/// let mut y = [[0.0; 4]; 1];
/// layer.forward(&x, &mut y, &mut layer.new_tape::<1>());
/// // Top left: 1·1 + 2·2 + 3·4 + 4·5 + 0.5.
/// assert_eq!(y, [[37.5, 47.5, 67.5, 77.5]]);
/// ```
///
/// Sizes that disagree are rejected when the layer is built:
///
/// ```compile_fail
/// use netdsl_core::activation::Linear;
/// use netdsl_core::layers::Conv2d;
/// use netdsl_core::shape::{Image, Kernel, Padding};
///
/// // The output holds 2 · 2 · 1 = 4 values, not 5.
/// type Conv = Conv2d<Image<3, 3, 1, 9>, Kernel<1, 2, 1>, Padding<0, 0>, Image<2, 2, 1, 5>, Linear>;
/// let layer = Conv::from_parameters(vec![1.0; 4], None);
/// ```
pub struct Conv2d<I, K, P, O, A> {
    /// `W[ky][kx][c][f]` (`K · K · C · F` values) and the bias (`F` values).
    params: FlatParameters,
    /// The shapes and the activation are types only.
    types: PhantomData<(I, K, P, O, A)>,
}

/// Parameter gradients of a [`Conv2d`] layer, laid out like its parameters: `dL/dW` as
/// `[ky][kx][c][f]`, then `dL/db`.
pub type Conv2dGrads = FlatParameters;

/// What a [`Conv2d`] keeps between the forward and backward passes of a batch, and the
/// scratch space of its backward pass: allocated once by [`Layer::new_tape`].
pub struct Conv2dTape<K = ()> {
    /// The precision of the products ([`Layer::set_precision`]).
    precision: Precision,
    /// What the activation keeps for the backward pass ([`Layer::kept`]): nothing, or the
    /// batch's pre-activations.
    kept: K,
    /// The batch with its padding, `HP × WP × C` per sample, borders zero; empty when the
    /// layer has no padding and reads its input in place.
    image: Box<[f32]>,
    /// Where each output pixel's window starts in the (padded) batch, `(b, oy, ox)` order.
    windows: Offsets,
    /// Where each tap `(ky, kx, c)` lies relative to its window's start.
    taps: Offsets,
    /// `Wᵀ`, `F × K·K·C`, for `dz · Wᵀ`.
    weights_t: Box<[f32]>,
    /// One sample's `dz · Wᵀ`: a patch gradient per output pixel.
    patch_grads: Box<[f32]>,
    /// One sample's input gradient with its padding (empty when the layer has none).
    image_grad: Box<[f32]>,
    /// The [`Plane`] weight gradient's scratch space (empty when the layer does not use it).
    plane_scratch: Box<[f32]>,
}

/// The taps `t` in `lo..hi` of a `k`-wide window at output position `o` that fall inside an
/// image of `len` pixels padded by `pad` before it: those with `0 <= o · s + t - pad < len`.
#[inline]
fn taps(o: usize, s: usize, pad: usize, k: usize, len: usize) -> (usize, usize) {
    let start = o * s;
    let lo = pad.saturating_sub(start).min(k);
    let hi = (len + pad).saturating_sub(start).min(k);
    (lo, hi.max(lo))
}

impl<I: ImageShape, K: KernelShape, P: PaddingShape, O: ImageShape, A> Conv2d<I, K, P, O, A> {
    /// The kernel's shape as Keras gives it, `[K, K, C, F]`.
    const KERNEL_SHAPE: [usize; 4] = [K::SIZE, K::SIZE, I::CHANNELS, K::FILTERS];
    /// The length of one patch, a row of the im2col matrix.
    const PATCH: usize = K::SIZE * K::SIZE * I::CHANNELS;
    /// The padded image's height: every window inside it, and the image at row `PT`.
    const HP: usize = max((O::HEIGHT - 1) * K::STRIDE + K::SIZE, P::TOP + I::HEIGHT);
    /// The padded image's width.
    const WP: usize = max((O::WIDTH - 1) * K::STRIDE + K::SIZE, P::LEFT + I::WIDTH);
    /// Whether the input must be copied into a padded image, or can be read in place.
    const PADDED: bool = Self::HP * Self::WP != I::HEIGHT * I::WIDTH;
    /// Whether the forward pass and the weight gradient put output pixels across the vector
    /// lanes ([`Plane`]): for one input channel at stride 1 with fewer filters than an AVX-512
    /// vector has lanes.
    const PLANE: bool = I::CHANNELS == 1 && K::STRIDE == 1 && K::FILTERS < 16;

    /// The geometry of the [`Plane`] kernels for a batch of `B`.
    const fn plane<const B: usize>() -> Plane {
        Plane {
            images: B,
            height: Self::HP,
            width: Self::WP,
            kernel: K::SIZE,
            filters: K::FILTERS,
            out_height: O::HEIGHT,
            out_width: O::WIDTH,
        }
    }

    /// Evaluated by every constructor, so that sizes which disagree fail to compile.
    const SHAPES_AGREE: () = {
        let (h, w, c) = (I::HEIGHT, I::WIDTH, I::CHANNELS);
        let (f, k, s) = (K::FILTERS, K::SIZE, K::STRIDE);
        let (oh, ow, pt, pl) = (O::HEIGHT, O::WIDTH, P::TOP, P::LEFT);
        assert!(
            h >= 1 && w >= 1 && c >= 1 && f >= 1,
            "`Conv2d`: the image and the filters need at least one pixel, channel and filter"
        );
        assert!(
            k >= 1 && s >= 1,
            "`Conv2d`: kernel size and stride must be at least 1"
        );
        assert!(I::LEN == h * w * c, "`Conv2d`: expected IN = H * W * C");
        assert!(
            O::CHANNELS == f && O::LEN == oh * ow * f,
            "`Conv2d`: expected an output of F channels, OUT = OH * OW * F"
        );
        assert!(
            oh >= 1 && ow >= 1,
            "`Conv2d`: the output needs at least one pixel"
        );
        assert!(
            pt < k && pl < k,
            "`Conv2d`: padding must be smaller than the kernel"
        );
        assert!(
            (oh - 1) * s < h + pt && (ow - 1) * s < w + pl,
            "`Conv2d`: the last window of a row or column lies wholly in the padding"
        );
    };

    /// Glorot-uniform weights (Keras' default): `W ~ U(-l, l)`, `l = √(6 / (fan_in + fan_out))`
    /// with `fan_in = K · K · C` and `fan_out = K · K · F`, and a zero bias when `bias` is true.
    pub fn glorot_uniform<R: Rng + ?Sized>(rng: &mut R, bias: bool) -> Self {
        Self::initialized(
            rng,
            Initializer::GlorotUniform,
            bias.then_some(Initializer::Zeros),
        )
    }

    /// Weights drawn by `kernel` (Keras' kernel shape, whose window multiplies both fans),
    /// then a bias of one value per filter drawn by `bias` when given: Keras'
    /// `kernel_initializer` and `bias_initializer`. With Glorot-uniform and zeros, the layer
    /// [`Conv2d::glorot_uniform`] makes, from the same draws.
    pub fn initialized<R: Rng + ?Sized>(
        rng: &mut R,
        kernel: Initializer,
        bias: Option<Initializer>,
    ) -> Self {
        let () = Self::SHAPES_AGREE;
        Isa::selected(); // see `Isa::selected`: decided before any hot path runs
        let weights = kernel.sample(&Self::KERNEL_SHAPE, rng);
        let bias = bias.map(|init| init.sample(&[K::FILTERS], rng));
        Self {
            params: FlatParameters::new(weights, bias),
            types: PhantomData,
        }
    }

    /// The layer, its kernel and bias penalized by `regularizers` (Keras' `kernel_regularizer`
    /// and `bias_regularizer`; a convolution has no recurrent kernel, and ignores that one). See
    /// [`crate::regularizer`].
    pub fn with_regularizers(mut self, regularizers: Regularizers) -> Self {
        let kernel_len = self.params.weights.len();
        self.params = self.params.regularized(
            Regularizers {
                recurrent_kernel: Regularizer::NONE,
                ..regularizers
            },
            kernel_len,
        );
        self
    }

    /// The regularizers of its kernel and bias ([`Regularizers::NONE`] unless set).
    pub fn regularizers(&self) -> &Regularizers {
        self.params.regularizers()
    }

    /// A layer with the given weights (`W[ky][kx][c][f]`, Keras' layout) and optional bias.
    ///
    /// # Panics
    ///
    /// If `weights` does not hold `K · K · C · F` values or `bias` does not hold `F`.
    pub fn from_parameters(weights: Vec<f32>, bias: Option<Vec<f32>>) -> Self {
        let () = Self::SHAPES_AGREE;
        Isa::selected(); // see `Isa::selected`: decided before any hot path runs
        let expected = Self::PATCH * K::FILTERS;
        assert_eq!(
            weights.len(),
            expected,
            "`Conv2d` weights: expected K * K * C * F = {expected} values, found {}",
            weights.len()
        );
        if let Some(bias) = &bias {
            assert_eq!(
                bias.len(),
                K::FILTERS,
                "`Conv2d` bias: expected F = {} values, found {}",
                K::FILTERS,
                bias.len()
            );
        }
        Self {
            params: FlatParameters::new(weights, bias),
            types: PhantomData,
        }
    }

    /// The weights, `W[ky][kx][c][f]` flattened: `K · K · C · F` values.
    pub fn weights(&self) -> &[f32] {
        &self.params.weights
    }

    /// The weights, mutably.
    pub fn weights_mut(&mut self) -> &mut [f32] {
        &mut self.params.weights
    }

    /// The bias, `F` values, if the layer has one.
    pub fn bias(&self) -> Option<&[f32]> {
        self.params.bias.as_deref()
    }

    /// The bias, mutably, if the layer has one.
    pub fn bias_mut(&mut self) -> Option<&mut [f32]> {
        self.params.bias.as_deref_mut()
    }

    /// Copies each sample of `x` into the interior of its zero-bordered padded image.
    fn pad(x: &[f32], image: &mut [f32]) {
        let c = I::CHANNELS;
        let padded = image.chunks_exact_mut(Self::HP * Self::WP * c);
        for (sample, padded) in x.chunks_exact(I::LEN).zip(padded) {
            for (row, line) in sample.chunks_exact(I::WIDTH * c).enumerate() {
                let start = ((row + P::TOP) * Self::WP + P::LEFT) * c;
                padded[start..][..line.len()].copy_from_slice(line);
            }
        }
    }

    /// Adds each output pixel's patch gradient back onto the pixels its window covers in
    /// `image` (one sample, `HP × WP × C`, zeroed first). `windows` are the sample's window
    /// starts in the batch; the first, output pixel (0, 0), starts where the sample does.
    fn col2im(patch_grads: &[f32], windows: &[usize], image: &mut [f32]) {
        image.fill(0.0);
        // One sample's windows, offset into the whole batch: the first is the sample's origin.
        kernels::add_windows(
            Isa::selected(),
            patch_grads,
            windows,
            windows[0],
            K::SIZE,
            K::SIZE * I::CHANNELS,
            Self::WP * I::CHANNELS,
            image,
        );
    }
}

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}

impl<
    const H: usize,
    const W: usize,
    const C: usize,
    const F: usize,
    const K: usize,
    const S: usize,
    const PT: usize,
    const PL: usize,
    const OH: usize,
    const OW: usize,
    const IN: usize,
    const OUT: usize,
    A: Activation,
> Layer for Conv2d<Image<H, W, C, IN>, Kernel<F, K, S>, Padding<PT, PL>, Image<OH, OW, F, OUT>, A>
{
    type In = [f32; IN];
    type Out = [f32; OUT];
    type Activation = A;
    type Grads = Conv2dGrads;
    type Tape<const B: usize> = Conv2dTape<Kept<A, [f32; OUT], B>>;

    const KIND: &'static str = "Conv2d";

    fn new_tape<const B: usize>(&self) -> Self::Tape<B> {
        let (hp, wp) = (Self::HP, Self::WP);
        let mut windows = Vec::with_capacity(B * OH * OW);
        for b in 0..B {
            for oy in 0..OH {
                for ox in 0..OW {
                    windows.push(((b * hp + oy * S) * wp + ox * S) * C);
                }
            }
        }
        let mut taps = Vec::with_capacity(Self::PATCH);
        for ky in 0..K {
            for kx in 0..K {
                taps.extend((0..C).map(|c| (ky * wp + kx) * C + c));
            }
        }
        let padded = if Self::PADDED { hp * wp * C } else { 0 };
        Conv2dTape {
            precision: Precision::F32,
            kept: A::Keeps::new_batch(),
            image: vec![0.0; B * padded].into_boxed_slice(),
            windows: Offsets::new(windows),
            taps: Offsets::new(taps),
            weights_t: vec![0.0; F * Self::PATCH].into_boxed_slice(),
            patch_grads: vec![0.0; OH * OW * Self::PATCH].into_boxed_slice(),
            image_grad: vec![0.0; padded].into_boxed_slice(),
            plane_scratch: if Self::PLANE {
                vec![0.0; Self::plane::<B>().scratch_len()].into_boxed_slice()
            } else {
                Box::default()
            },
        }
    }

    fn set_precision<const B: usize>(&self, tape: &mut Self::Tape<B>, precision: Precision) {
        tape.precision = precision.prepared();
    }

    fn forward<const B: usize>(
        &self,
        x: &[[f32; IN]; B],
        y: &mut [[f32; OUT]; B],
        tape: &mut Self::Tape<B>,
    ) {
        let image = if Self::PADDED {
            Self::pad(x.as_flattened(), &mut tape.image);
            &tape.image
        } else {
            x.as_flattened()
        };
        if Self::PLANE {
            Self::plane::<B>().forward(
                Isa::selected(),
                image,
                &self.params.weights,
                self.params.bias.as_deref(),
                y.as_flattened_mut(),
            );
        } else {
            Gather {
                n: F,
                a: image,
                rows: &tape.windows,
                cols: &tape.taps,
                b: &self.params.weights,
                ldb: F,
                bias: self.params.bias.as_deref(),
                c: y.as_flattened_mut(),
                ldc: F,
            }
            .run_in(tape.precision);
        }
        A::apply_batch(y, &mut tape.kept);
    }

    fn kept<const B: usize>(tape: &Self::Tape<B>) -> &Kept<A, [f32; OUT], B> {
        &tape.kept
    }

    fn backward<const B: usize>(
        &self,
        x: &[[f32; IN]; B],
        dz: &[[f32; OUT]; B],
        dx: Option<&mut [[f32; IN]; B]>,
        grads: &mut Conv2dGrads,
        tape: &mut Self::Tape<B>,
    ) {
        let image = if Self::PADDED {
            &tape.image
        } else {
            x.as_flattened()
        };
        if Self::PLANE {
            Self::plane::<B>().weight_gradient(
                Isa::selected(),
                image,
                dz.as_flattened(),
                &mut grads.weights,
                &mut tape.plane_scratch,
            );
        } else {
            // dW[p][f] = Σ_r col[r][p] · dz[r][f]: colᵀ gathered with the tables' roles swapped.
            Gather {
                n: F,
                a: image,
                rows: &tape.taps,
                cols: &tape.windows,
                b: dz.as_flattened(),
                ldb: F,
                bias: None,
                c: &mut grads.weights,
                ldc: F,
            }
            .run_in(tape.precision);
        }
        if let Some(db) = grads.bias.as_deref_mut() {
            kernels::column_sums(Isa::selected(), dz.as_flattened(), F, db);
        }
        let Some(dx) = dx else { return };
        for (p, taps) in self.params.weights.chunks_exact(F).enumerate() {
            for (f, &w) in taps.iter().enumerate() {
                tape.weights_t[f * Self::PATCH + p] = w;
            }
        }
        let sample_windows = tape.windows.as_slice().chunks_exact(OH * OW);
        for ((dz, dx), windows) in dz.iter().zip(dx.iter_mut()).zip(sample_windows) {
            // dcol[r][p] = Σ_f dz[r][f] · W[p][f], one sample's worth.
            Product {
                m: OH * OW,
                n: Self::PATCH,
                k: F,
                a: dz,
                a_row: F,
                a_col: 1,
                b: &tape.weights_t,
                ldb: Self::PATCH,
                bias: None,
                c: &mut tape.patch_grads,
                ldc: Self::PATCH,
            }
            .run_in(tape.precision);
            if Self::PADDED {
                Self::col2im(&tape.patch_grads, windows, &mut tape.image_grad);
                let grad = &tape.image_grad;
                for (row, line) in dx.chunks_exact_mut(W * C).enumerate() {
                    line.copy_from_slice(&grad[((row + PT) * Self::WP + PL) * C..][..W * C]);
                }
            } else {
                Self::col2im(&tape.patch_grads, windows, dx);
            }
        }
    }

    /// The convolution computed directly, one output pixel at a time, without the tape (so
    /// without allocating).
    fn infer(&self, x: &[f32; IN], y: &mut [f32; OUT]) {
        for (p, out) in y.chunks_exact_mut(F).enumerate() {
            let (oy, ox) = (p / OW, p % OW);
            // The filters' sums in registers: `F` is a constant here.
            let mut sums = [0.0; F];
            if let Some(b) = &self.params.bias {
                sums.copy_from_slice(b);
            }
            let (ky0, ky1) = taps(oy, S, PT, K, H);
            let (kx0, kx1) = taps(ox, S, PL, K, W);
            for ky in ky0..ky1 {
                // A window's row is contiguous in the image, and so are its weights.
                let (iy, ix) = (oy * S + ky - PT, ox * S + kx0 - PL);
                let pixels = &x[(iy * W + ix) * C..][..(kx1 - kx0) * C];
                let weights = &self.params.weights[(ky * K + kx0) * C * F..][..pixels.len() * F];
                for (&v, w) in pixels.iter().zip(weights.chunks_exact(F)) {
                    for (sum, &w) in sums.iter_mut().zip(w) {
                        *sum += v * w;
                    }
                }
            }
            out.copy_from_slice(&sums);
        }
        A::apply(y);
    }

    flat_parameters!();

    /// `kernel` of shape `[K, K, C, F]` and `bias` of shape `[F]`, as in Keras.
    fn visit_tensors(&self, visit: &mut TensorVisitor<'_>) {
        visit("kernel", &Self::KERNEL_SHAPE, &self.params.weights);
        if let Some(b) = self.params.bias.as_deref() {
            visit("bias", &[F], b);
        }
    }

    /// ONNX's `Conv` (channels first, its kernel `[F, C, K, K]`) between two `Transpose`s,
    /// then the activation.
    #[cfg(feature = "onnx")]
    fn onnx(&self, graph: &mut onnx::Graph, x: onnx::Value) -> Result<onnx::Value, onnx::Error> {
        let x = graph.reshape(x, &[H, W, C]);
        let x = graph.transpose(&x, &[0, 3, 1, 2]);
        let w = &self.params.weights;
        let mut oihw = vec![0.0; F * C * K * K];
        for (i, &v) in w.iter().enumerate() {
            let (f, c, kx, ky) = (i % F, i / F % C, i / (F * C) % K, i / (F * C * K));
            oihw[((f * C + c) * K + ky) * K + kx] = v;
        }
        let kernel = graph.initializer("kernel", &[F, C, K, K], oihw);
        let bias =
            (self.params.bias.as_deref()).map(|b| graph.initializer("bias", &[F], b.to_vec()));
        let inputs: Vec<&str> = [Some(x.name.as_str()), Some(&kernel), bias.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        // The bottom and right padding: what the output's size needs beyond the top and left.
        let (bottom, right) = (
            ((OH - 1) * S + K).saturating_sub(H + PT),
            ((OW - 1) * S + K).saturating_sub(W + PL),
        );
        let pads = [PT, PL, bottom, right].map(|p| p as i64);
        let attributes = vec![
            onnx::Attribute::ints("kernel_shape", &[K as i64; 2]),
            onnx::Attribute::ints("strides", &[S as i64; 2]),
            onnx::Attribute::ints("pads", &pads),
        ];
        let z = graph.node("Conv", &inputs, attributes, vec![F, OH, OW]);
        let z = graph.transpose(&z, &[0, 2, 3, 1]);
        graph.activation(A::NAME, z)
    }

    fn visit_tensors_mut(&mut self, visit: &mut TensorVisitorMut<'_>) {
        visit("kernel", &Self::KERNEL_SHAPE, &mut self.params.weights);
        if let Some(b) = self.params.bias.as_deref_mut() {
            visit("bias", &[F], b);
        }
    }
}

impl<I, K, P, O, A> Clone for Conv2d<I, K, P, O, A> {
    fn clone(&self) -> Self {
        Self {
            params: self.params.clone(),
            types: PhantomData,
        }
    }
}

impl<I, K, P, O, A> fmt::Debug for Conv2d<I, K, P, O, A>
where
    I: Default + fmt::Debug,
    K: Default + fmt::Debug,
    P: Default + fmt::Debug,
    O: Default + fmt::Debug,
    A: Activation,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conv2d")
            .field("input", &I::default())
            .field("kernel", &K::default())
            .field("padding", &P::default())
            .field("output", &O::default())
            .field("activation", &A::NAME)
            .field("bias", &self.params.bias.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::{Linear, Relu, Sigmoid, Tanh};
    use crate::layers::gradcheck::{check_gradients, values};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// The 3×3 single-channel image through one 2×2 filter, stride 1, `valid`: 2×2 outputs.
    type Valid2x2 =
        Conv2d<Image<3, 3, 1, 9>, Kernel<1, 2, 1>, Padding<0, 0>, Image<2, 2, 1, 4>, Linear>;

    /// The 3×3 image 1..9, one channel.
    const IMAGE: [f32; 9] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
    /// One 2×2 filter: `[[1, 2], [3, 4]]`.
    fn kernel() -> Vec<f32> {
        vec![1.0, 2.0, 3.0, 4.0]
    }

    fn forward_one<L: Layer>(layer: &L, x: &L::In) -> L::Out {
        let mut y: [L::Out; 1] = bytemuck::Zeroable::zeroed();
        layer.forward(core::array::from_ref(x), &mut y, &mut layer.new_tape::<1>());
        y[0]
    }

    #[test]
    fn valid_padding_of_literal_values() {
        let l = Valid2x2::from_parameters(kernel(), Some(vec![0.5]));
        // 1·1 + 2·2 + 3·4 + 4·5 = 37, and each step right adds 10, each step down 30.
        assert_eq!(forward_one(&l, &IMAGE), [37.5, 47.5, 67.5, 77.5]);
    }

    #[test]
    fn same_padding_of_literal_values() {
        // 'same', K = 2, S = 1: OH = 3, one pixel of padding in all, PT = 0, so on the bottom.
        let l = Conv2d::<
            Image<3, 3, 1, 9>,
            Kernel<1, 2, 1>,
            Padding<0, 0>,
            Image<3, 3, 1, 9>,
            Linear,
        >::from_parameters(kernel(), None);
        #[rustfmt::skip]
        let expected = [
            37.0, 47.0, 1.0 * 3.0 + 3.0 * 6.0,
            67.0, 77.0, 1.0 * 6.0 + 3.0 * 9.0,
            1.0 * 7.0 + 2.0 * 8.0, 1.0 * 8.0 + 2.0 * 9.0, 9.0,
        ];
        assert_eq!(forward_one(&l, &IMAGE), expected);
    }

    #[test]
    fn same_padding_with_padding_on_top_of_literal_values() {
        // 'same', K = 3, S = 1: two pixels of padding, PT = PL = 1. A 3×3 box filter sums the
        // neighbourhood of each pixel.
        let l = Conv2d::<
            Image<3, 3, 1, 9>,
            Kernel<1, 3, 1>,
            Padding<1, 1>,
            Image<3, 3, 1, 9>,
            Linear,
        >::from_parameters(vec![1.0; 9], None);
        #[rustfmt::skip]
        let expected = [
            12.0, 21.0, 16.0,
            27.0, 45.0, 33.0,
            24.0, 39.0, 28.0,
        ];
        assert_eq!(forward_one(&l, &IMAGE), expected);
    }

    #[test]
    fn stride_two_of_literal_values() {
        // 'valid', S = 2: OH = (3 - 2) / 2 + 1 = 1.
        let valid = Conv2d::<
            Image<3, 3, 1, 9>,
            Kernel<1, 2, 2>,
            Padding<0, 0>,
            Image<1, 1, 1, 1>,
            Linear,
        >::from_parameters(kernel(), None);
        assert_eq!(forward_one(&valid, &IMAGE), [37.0]);
        // 'same', S = 2: OH = ⌈3 / 2⌉ = 2, padding (2 - 1)·2 + 2 - 3 = 1, PT = 0.
        let same = Conv2d::<
            Image<3, 3, 1, 9>,
            Kernel<1, 2, 2>,
            Padding<0, 0>,
            Image<2, 2, 1, 4>,
            Linear,
        >::from_parameters(kernel(), None);
        assert_eq!(forward_one(&same, &IMAGE), [37.0, 21.0, 23.0, 9.0]);
    }

    #[test]
    fn channels_and_filters_are_laid_out_as_keras_does() {
        // A 1×1 convolution is a matrix product per pixel: W[c][f] = [[1, 10], [100, 1000]].
        let l = Conv2d::<
            Image<1, 2, 2, 4>,
            Kernel<2, 1, 1>,
            Padding<0, 0>,
            Image<1, 2, 2, 4>,
            Linear,
        >::from_parameters(vec![1.0, 10.0, 100.0, 1000.0], Some(vec![0.5, -0.5]));
        // Pixels (1, 2) and (3, 4).
        let y = forward_one(&l, &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(y, [201.5, 2009.5, 403.5, 4029.5]);
    }

    #[test]
    fn same_padding_of_a_28x28_image_with_a_5x5_kernel_centres_the_window() {
        // Keras: OH = 28, padding (28 - 1) + 5 - 28 = 4, PT = PL = 2. A filter that is 1 at
        // the window's centre (ky = kx = 2) reproduces the image; one at its top-left corner
        // shifts it down and right by two pixels.
        type Same = Conv2d<
            Image<28, 28, 1, 784>,
            Kernel<2, 5, 1>,
            Padding<2, 2>,
            Image<28, 28, 2, 1568>,
            Linear,
        >;
        let mut w = vec![0.0; 25 * 2];
        w[(2 * 5 + 2) * 2] = 1.0;
        w[1] = 1.0;
        let l = Same::from_parameters(w, None);
        let x: [f32; 784] = values::<[f32; 784], 1>(5)[0];
        let y = forward_one(&l, &x);
        for oy in 0..28 {
            for ox in 0..28 {
                let p = oy * 28 + ox;
                assert_eq!(y[p * 2], x[p], "centre tap at ({oy}, {ox})");
                let shifted = if oy >= 2 && ox >= 2 {
                    x[(oy - 2) * 28 + ox - 2]
                } else {
                    0.0
                };
                assert_eq!(y[p * 2 + 1], shifted, "corner tap at ({oy}, {ox})");
            }
        }
    }

    #[test]
    fn backward_of_literal_values() {
        // 'valid' on the 3×3 image, one 2×2 filter, dz = 1 at the top-left output only: dW is
        // the top-left patch, db = 1, and dx is the filter placed at the top-left corner.
        let l = Valid2x2::from_parameters(kernel(), Some(vec![0.0]));
        let mut tape = l.new_tape::<1>();
        let mut y = [[0.0; 4]];
        l.forward(&[IMAGE], &mut y, &mut tape);
        let mut grads = l.new_grads();
        let mut dx = [[9.0; 9]];
        l.backward(
            &[IMAGE],
            &[[1.0, 0.0, 0.0, 0.0]],
            Some(&mut dx),
            &mut grads,
            &mut tape,
        );
        assert_eq!(grads.weights(), &[1.0, 2.0, 4.0, 5.0]);
        assert_eq!(grads.bias(), Some(&[1.0][..]));
        assert_eq!(dx, [[1.0, 2.0, 0.0, 3.0, 4.0, 0.0, 0.0, 0.0, 0.0]]);
    }

    #[test]
    fn glorot_uniform_uses_keras_fans_and_zeroes_the_bias() {
        let mut rng = StdRng::seed_from_u64(1);
        let l = Conv2d::<
            Image<28, 28, 1, 784>,
            Kernel<32, 5, 1>,
            Padding<2, 2>,
            Image<28, 28, 32, 25088>,
            Relu,
        >::glorot_uniform(&mut rng, true);
        let limit = (6.0_f32 / (25.0 + 25.0 * 32.0)).sqrt();
        assert!(l.weights().iter().all(|w| w.abs() <= limit));
        assert!(l.weights().iter().any(|w| w.abs() > 0.9 * limit));
        assert_eq!(l.bias(), Some(&[0.0; 32][..]));
        assert_eq!(l.parameter_count(), 25 * 32 + 32);
    }

    fn check<const IN: usize, const OUT: usize, L>(mut l: L)
    where
        L: Layer<In = [f32; IN], Out = [f32; OUT]>,
    {
        let x = values::<[f32; IN], 2>(11);
        let c = values::<[f32; OUT], 2>(12);
        let mut tape = l.new_tape::<2>();
        check_gradients(&mut l, &x, &c, &mut tape);
    }

    /// A Glorot-uniform layer of these shapes, with a bias of distinct values.
    fn random<I: ImageShape, K: KernelShape, P: PaddingShape, O: ImageShape, A>(
        seed: u64,
    ) -> Conv2d<I, K, P, O, A> {
        let mut l = Conv2d::glorot_uniform(&mut StdRng::seed_from_u64(seed), true);
        for (i, b) in l.bias_mut().unwrap().iter_mut().enumerate() {
            *b = 0.1 * i as f32 - 0.05;
        }
        l
    }

    #[test]
    #[rustfmt::skip] // one layer a line
    fn conv2d_valid_backward_matches_finite_differences() {
        check(random::<Image<4, 4, 2, 32>, Kernel<3, 3, 1>, Padding<0, 0>, Image<2, 2, 3, 12>, Sigmoid>(1));
    }

    #[test]
    #[rustfmt::skip] // one layer a line
    fn conv2d_same_backward_matches_finite_differences() {
        check(random::<Image<4, 5, 2, 40>, Kernel<3, 3, 1>, Padding<1, 1>, Image<4, 5, 3, 60>, Tanh>(2));
    }

    #[test]
    #[rustfmt::skip] // one layer a line
    fn conv2d_stride_two_backward_matches_finite_differences() {
        // 'same', K = 3, S = 2 on 5×4: OH = 3 (padding 2, PT = 1), OW = 2 (padding 1, PL = 0).
        check(random::<Image<5, 4, 2, 40>, Kernel<2, 3, 2>, Padding<1, 0>, Image<3, 2, 2, 12>, Linear>(3));
        // 'valid', K = 2, S = 2 on 5×5: OH = OW = 2, the last row and column unread.
        check(random::<Image<5, 5, 1, 25>, Kernel<2, 2, 2>, Padding<0, 0>, Image<2, 2, 2, 8>, Sigmoid>(4));
    }

    /// One channel at stride 1 takes the [`Plane`] kernels; the others the [`Gather`] ones.
    #[test]
    #[rustfmt::skip] // one layer a line
    fn conv2d_single_channel_backward_matches_finite_differences() {
        // 'valid', K = 3 on 5×6: OH = 3, OW = 4.
        check(random::<Image<5, 6, 1, 30>, Kernel<3, 3, 1>, Padding<0, 0>, Image<3, 4, 3, 36>, Sigmoid>(5));
        // 'same', K = 4 on 6×5: the odd pixel of padding at the bottom and right.
        check(random::<Image<6, 5, 1, 30>, Kernel<2, 4, 1>, Padding<1, 1>, Image<6, 5, 2, 60>, Sigmoid>(6));
    }

    #[test]
    #[rustfmt::skip] // one layer a line
    fn infer_equals_forward_on_a_batch_of_one() {
        fn compare<
            L: Layer<In = [f32; IN], Out = [f32; OUT]>,
            const IN: usize,
            const OUT: usize,
        >(
            l: L,
        ) {
            let x = values::<[f32; IN], 1>(7)[0];
            let batched = forward_one(&l, &x);
            let mut single = [0.0; OUT];
            l.infer(&x, &mut single);
            for (i, (a, b)) in batched.iter().zip(&single).enumerate() {
                assert!((a - b).abs() <= 1e-5, "output {i}: forward {a}, infer {b}");
            }
        }
        compare(random::<Image<6, 5, 3, 90>, Kernel<4, 3, 1>, Padding<1, 1>, Image<6, 5, 4, 120>, Tanh>(5));
        compare(random::<Image<6, 5, 3, 90>, Kernel<4, 3, 2>, Padding<1, 1>, Image<3, 3, 4, 36>, Relu>(6));
        compare(random::<Image<6, 5, 3, 90>, Kernel<4, 2, 2>, Padding<0, 0>, Image<3, 2, 4, 24>, Linear>(7));
    }
}
