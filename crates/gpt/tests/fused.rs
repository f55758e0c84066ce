#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests may fail loudly
//! The fused CPU kernels (causal attention, LayerNorm, bias add, cross-entropy) against candle's differentiable
//! composite ops and against finite differences: values and gradients.

use candle_core::{Device, Tensor, Var};
use candle_nn::Module;
use candlecast_gpt::{
    add_rows, causal_attention, causal_attention_composite, cross_entropy, layer_norm_composite,
    soft_cross_entropy, SoftTargets,
};
use candlecast_gpt::{LayerNorm, Linear, Rng};
use std::sync::Arc;

fn randn(rng: &mut Rng, shape: &[usize], std: f64) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| (rng.normal() * std) as f32).collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

fn flat(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    flat(a)
        .iter()
        .zip(flat(b))
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The gradients of `sum(out * w)`: a loss that weighs every output differently.
fn grads_of(out: &Tensor, w: &Tensor) -> candle_core::backprop::GradStore {
    (out * w).unwrap().sum_all().unwrap().backward().unwrap()
}

/// `sum(out * w)` in f64 on the host: the scalar loss of the finite differences.
fn weighted_sum(out: &Tensor, w: &Tensor) -> f64 {
    flat(out)
        .iter()
        .zip(flat(w))
        .map(|(&o, w)| o as f64 * w as f64)
        .sum()
}

/// (B, H, T, past + T, hd): a full pass, a prefill after a cached past, one token
/// after a past, one token alone, and more query rows than one block (64) of the op;
/// decode steps whose head size the row kernels take (a multiple of 8), the heads in
/// a pipeline: 4 and 3 heads, odd and even key counts.
const ATTENTION_SHAPES: [[usize; 5]; 8] = [
    [2, 3, 6, 6, 4],
    [2, 2, 4, 9, 8],
    [1, 2, 1, 5, 4],
    [1, 1, 1, 1, 2],
    [2, 2, 70, 75, 3],
    [3, 4, 1, 9, 8],
    [2, 3, 1, 12, 32],
    [1, 2, 1, 1, 16],
];

/// q, k, v as the model makes them: heads split off a `(B, T, H * hd)` projection by
/// a transpose, so the op reads them through strides.
fn heads(rng: &mut Rng, b: usize, h: usize, t: usize, hd: usize) -> Var {
    Var::from_tensor(&randn(rng, &[b, t, h, hd], 1.0)).unwrap()
}

fn split(x: &Var) -> Tensor {
    x.as_tensor().transpose(1, 2).unwrap()
}

#[test]
fn causal_attention_matches_the_composite_ops_values_and_gradients() {
    let mut rng = Rng::new(11);
    for [b, h, t, s, hd] in ATTENTION_SHAPES {
        let scale = 1.0 / (hd as f64).sqrt();
        let (q, k, v) = (
            heads(&mut rng, b, h, t, hd),
            heads(&mut rng, b, h, s, hd),
            heads(&mut rng, b, h, s, hd),
        );
        let w = randn(&mut rng, &[b, h, t, hd], 1.0);
        let fused = causal_attention(&split(&q), &split(&k), &split(&v), scale).unwrap();
        let reference =
            causal_attention_composite(&split(&q), &split(&k), &split(&v), scale).unwrap();
        let shape = [b, h, t, s, hd];
        assert!(max_abs_diff(&fused, &reference) < 1e-5, "values {shape:?}");
        let loss = |y: &Tensor| (y * &w).unwrap().sum_all().unwrap();
        let g_fused = loss(&fused).backward().unwrap();
        let g_ref = loss(&reference).backward().unwrap();
        for (name, x) in [("q", &q), ("k", &k), ("v", &v)] {
            let (gf, gr) = (g_fused.get(x).unwrap(), g_ref.get(x).unwrap());
            assert!(max_abs_diff(gf, gr) < 1e-5, "gradient of {name} {shape:?}");
        }
    }
}

#[test]
fn causal_attention_reads_a_cache_buffer_through_its_strides() {
    // Keys and values as a grown cache holds them: the first `s` positions of a
    // (B, H, capacity, hd) buffer.
    let mut rng = Rng::new(13);
    // A prefill of 3 tokens, and a decode step (the row kernels' path).
    for (b, h, t, s, hd, capacity) in [(2, 2, 3, 7, 4, 10), (2, 4, 1, 11, 32, 16)] {
        let q = randn(&mut rng, &[b, h, t, hd], 1.0);
        let kb = randn(&mut rng, &[b, h, capacity, hd], 1.0);
        let vb = randn(&mut rng, &[b, h, capacity, hd], 1.0);
        let (k, v) = (kb.narrow(2, 0, s).unwrap(), vb.narrow(2, 0, s).unwrap());
        let fused = causal_attention(&q, &k, &v, 0.5).unwrap();
        let reference = causal_attention_composite(&q, &k, &v, 0.5).unwrap();
        assert!(max_abs_diff(&fused, &reference) < 1e-5, "t = {t}");
        let too_few_keys = causal_attention(&q, &k.narrow(2, 0, t - 1).unwrap(), &v, 0.5);
        assert!(too_few_keys.is_err());
    }
}

#[test]
fn causal_attention_gradient_matches_finite_differences() {
    let mut rng = Rng::new(12);
    let (b, h, t, s, hd) = (1, 2, 3, 5, 2);
    let scale = 0.7;
    let shapes = [[b, h, t, hd], [b, h, s, hd], [b, h, s, hd]];
    let x0: Vec<Vec<f32>> = shapes
        .iter()
        .map(|sh| flat(&randn(&mut rng, sh, 1.0)))
        .collect();
    let w = randn(&mut rng, &[b, h, t, hd], 1.0);
    let tensor =
        |v: &[f32], sh: &[usize; 4]| Tensor::from_vec(v.to_vec(), sh, &Device::Cpu).unwrap();
    let vars: Vec<Var> = x0
        .iter()
        .zip(&shapes)
        .map(|(v, sh)| Var::from_tensor(&tensor(v, sh)).unwrap())
        .collect();
    let out = causal_attention(&vars[0], &vars[1], &vars[2], scale).unwrap();
    let grads = grads_of(&out, &w);
    let loss_at = |which: usize, v: Vec<f32>| {
        let mut args: Vec<Tensor> = x0
            .iter()
            .zip(&shapes)
            .map(|(x, sh)| tensor(x, sh))
            .collect();
        args[which] = tensor(&v, &shapes[which]);
        weighted_sum(
            &causal_attention(&args[0], &args[1], &args[2], scale).unwrap(),
            &w,
        )
    };
    let h_step = 1e-2f32;
    for which in 0..3 {
        let analytic = flat(grads.get(&vars[which]).unwrap());
        for i in 0..x0[which].len() {
            let (mut plus, mut minus) = (x0[which].clone(), x0[which].clone());
            plus[i] += h_step;
            minus[i] -= h_step;
            let numeric = (loss_at(which, plus) - loss_at(which, minus)) / (2.0 * h_step as f64);
            let err = (numeric - analytic[i] as f64).abs();
            assert!(
                err < 1e-3,
                "input {which} element {i}: analytic {} numeric {numeric}",
                analytic[i]
            );
        }
    }
}

fn layer_norm(d: usize, weight: &Var, bias: &Var) -> LayerNorm {
    let mut map = std::collections::HashMap::new();
    map.insert("weight".to_string(), weight.as_tensor().clone());
    map.insert("bias".to_string(), bias.as_tensor().clone());
    let vb = candle_nn::VarBuilder::from_tensors(map, candle_core::DType::F32, &Device::Cpu);
    LayerNorm::new(d, 1e-5, vb).unwrap()
}

#[test]
fn layer_norm_matches_the_composite_ops_values_and_gradients() {
    let mut rng = Rng::new(13);
    for (shape, transposed) in [
        (vec![3, 5, 16], false),
        (vec![4, 8], false),
        (vec![6, 3, 8], true),
    ] {
        let d = *shape.last().unwrap();
        // Off-centre, scaled inputs, as residual streams are.
        let x = Var::from_tensor(&(randn(&mut rng, &shape, 2.0) + 0.7).unwrap()).unwrap();
        let g = Var::from_tensor(&(randn(&mut rng, &[d], 0.3) + 1.0).unwrap()).unwrap();
        let b = Var::from_tensor(&randn(&mut rng, &[d], 0.3)).unwrap();
        // A transposed (non-contiguous) view of x, normalised over its last dimension.
        let input = if transposed {
            x.as_tensor().transpose(0, 1).unwrap()
        } else {
            x.as_tensor().clone()
        };
        let w = randn(&mut rng, input.dims(), 1.0);
        let fused = layer_norm(d, &g, &b).forward(&input).unwrap();
        let reference = layer_norm_composite(&input, g.as_tensor(), b.as_tensor(), 1e-5).unwrap();
        assert!(max_abs_diff(&fused, &reference) < 1e-5, "values {shape:?}");
        let gf = grads_of(&fused, &w);
        let gr = grads_of(&reference, &w);
        for (name, v) in [("x", &x), ("gain", &g), ("bias", &b)] {
            let diff = max_abs_diff(gf.get(v).unwrap(), gr.get(v).unwrap());
            assert!(diff < 1e-4, "{name} gradient {shape:?}: {diff}");
        }
    }
}

#[test]
fn layer_norm_gradient_matches_finite_differences() {
    let mut rng = Rng::new(14);
    let (shape, d) = ([3usize, 6], 6);
    let x0 = flat(&randn(&mut rng, &shape, 1.5));
    let g0 = flat(&(randn(&mut rng, &[d], 0.3) + 1.0).unwrap());
    let b0 = flat(&randn(&mut rng, &[d], 0.3));
    let w = randn(&mut rng, &shape, 1.0);
    let var = |v: &[f32], s: &[usize]| Var::from_vec(v.to_vec(), s, &Device::Cpu).unwrap();
    let (x, g, b) = (var(&x0, &shape), var(&g0, &[d]), var(&b0, &[d]));
    let out = layer_norm(d, &g, &b).forward(x.as_tensor()).unwrap();
    let grads = grads_of(&out, &w);
    let loss_at = |x: &[f32], g: &[f32], b: &[f32]| {
        let ln = layer_norm(d, &var(g, &[d]), &var(b, &[d]));
        weighted_sum(&ln.forward(&var(x, &shape)).unwrap(), &w)
    };
    let h = 1e-2f32;
    for (which, base, v) in [(0, &x0, &x), (1, &g0, &g), (2, &b0, &b)] {
        let analytic = flat(grads.get(v).unwrap());
        for i in 0..base.len() {
            let (mut plus, mut minus) = (base.clone(), base.clone());
            plus[i] += h;
            minus[i] -= h;
            let at = |p: &Vec<f32>| match which {
                0 => loss_at(p, &g0, &b0),
                1 => loss_at(&x0, p, &b0),
                _ => loss_at(&x0, &g0, p),
            };
            let numeric = (at(&plus) - at(&minus)) / (2.0 * h as f64);
            let err = (numeric - analytic[i] as f64).abs();
            assert!(
                err < 2e-3,
                "tensor {which} element {i}: analytic {} numeric {numeric}",
                analytic[i]
            );
        }
    }
}

#[test]
fn linear_matches_the_composite_ops_values_and_gradients() {
    let mut rng = Rng::new(16);
    // (input shape, out): a batch of sequences, a plain matrix, one row; with and
    // without bias, with and without the fused ReLU.
    for (xs, out) in [(vec![3, 5, 7], 6), (vec![70, 9], 4), (vec![1, 3], 2)] {
        for (bias, relu) in [(true, false), (true, true), (false, false), (false, true)] {
            let inp = xs[xs.len() - 1];
            let x = Var::from_tensor(&randn(&mut rng, &xs, 1.0)).unwrap();
            let wt = Var::from_tensor(&randn(&mut rng, &[out, inp], 0.5)).unwrap();
            let b = Var::from_tensor(&randn(&mut rng, &[out], 0.5)).unwrap();
            let lin = Linear::new(wt.as_tensor().clone(), bias.then(|| b.as_tensor().clone()));
            let fused = match relu {
                true => lin.forward_relu(x.as_tensor()).unwrap(),
                false => lin.forward(x.as_tensor()).unwrap(),
            };
            let mut reference = x
                .as_tensor()
                .broadcast_matmul(&wt.as_tensor().t().unwrap())
                .unwrap();
            if bias {
                reference = reference.broadcast_add(b.as_tensor()).unwrap();
            }
            if relu {
                reference = reference.relu().unwrap();
            }
            let case = format!("{xs:?} -> {out}, bias {bias}, relu {relu}");
            assert!(max_abs_diff(&fused, &reference) < 1e-5, "values {case}");
            let w = randn(&mut rng, reference.dims(), 1.0);
            let gf = grads_of(&fused, &w);
            let gr = grads_of(&reference, &w);
            let vars: &[&Var] = if bias { &[&x, &wt, &b] } else { &[&x, &wt] };
            for v in vars {
                let diff = max_abs_diff(gf.get(v).unwrap(), gr.get(v).unwrap());
                assert!(diff < 1e-4, "gradients {case}: {diff}");
            }
        }
    }
    let lin = Linear::new(randn(&mut rng, &[2, 3], 1.0), None);
    assert!(lin.forward(&randn(&mut rng, &[4, 5], 1.0)).is_err());
}

/// Nothing tracked (a loaded model decoding): the packed-weight kernel. Same values as
/// candle's ops; a row's output does not depend on the rows beside it; and a tracked
/// input through the same layer afterwards still gets its gradient.
#[test]
fn linear_without_gradients_matches_and_is_independent_of_the_batch() {
    let mut rng = Rng::new(17);
    for (xs, out) in [
        (vec![3, 5, 7], 6),
        (vec![64, 1, 128], 384),
        (vec![13, 40], 33),
    ] {
        for (bias, relu) in [(true, false), (true, true), (false, false)] {
            let inp = xs[xs.len() - 1];
            let x = randn(&mut rng, &xs, 1.0);
            let wt = randn(&mut rng, &[out, inp], 0.5);
            let b = randn(&mut rng, &[out], 0.5);
            let lin = Linear::new(wt.clone(), bias.then(|| b.clone()));
            let run = |x: &Tensor| match relu {
                true => lin.forward_relu(x).unwrap(),
                false => lin.forward(x).unwrap(),
            };
            let y = run(&x);
            let mut reference = x.broadcast_matmul(&wt.t().unwrap()).unwrap();
            if bias {
                reference = reference.broadcast_add(&b).unwrap();
            }
            if relu {
                reference = reference.relu().unwrap();
            }
            let case = format!("{xs:?} -> {out}, bias {bias}, relu {relu}");
            assert_eq!(y.dims(), reference.dims(), "{case}");
            assert!(max_abs_diff(&y, &reference) < 1e-4, "values {case}");
            // The last row alone gives the same bits as inside the batch.
            let n = xs[0];
            let last = run(&x.narrow(0, n - 1, 1).unwrap());
            assert_eq!(flat(&last), flat(&y.narrow(0, n - 1, 1).unwrap()), "{case}");
        }
    }
    let wt = randn(&mut rng, &[4, 3], 0.5);
    let lin = Linear::new(wt.clone(), None);
    lin.forward(&randn(&mut rng, &[2, 3], 1.0)).unwrap();
    let x = Var::from_tensor(&randn(&mut rng, &[2, 3], 1.0)).unwrap();
    let grads = lin
        .forward(x.as_tensor())
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let want = wt
        .sum(0)
        .unwrap()
        .unsqueeze(0)
        .unwrap()
        .repeat((2, 1))
        .unwrap();
    assert!(max_abs_diff(grads.get(&x).unwrap(), &want) < 1e-5);
}

#[test]
fn add_rows_matches_broadcast_add_values_and_gradients() {
    let mut rng = Rng::new(15);
    for (xs, rs) in [
        (vec![70, 9], vec![9]),
        (vec![3, 5, 4], vec![5, 4]),
        (vec![2, 3], vec![2, 3]),
    ] {
        let x = Var::from_tensor(&randn(&mut rng, &xs, 1.0)).unwrap();
        let r = Var::from_tensor(&randn(&mut rng, &rs, 1.0)).unwrap();
        let w = randn(&mut rng, &xs, 1.0);
        let fused = add_rows(x.as_tensor(), r.as_tensor()).unwrap();
        let reference = x.as_tensor().broadcast_add(r.as_tensor()).unwrap();
        assert_eq!(flat(&fused), flat(&reference), "{xs:?} + {rs:?}");
        let gf = grads_of(&fused, &w);
        let gr = grads_of(&reference, &w);
        for v in [&x, &r] {
            let diff = max_abs_diff(gf.get(v).unwrap(), gr.get(v).unwrap());
            assert!(diff < 1e-5, "{xs:?} + {rs:?}: {diff}");
        }
    }
}

#[test]
fn cross_entropy_matches_candle_nn_values_and_gradients() {
    let mut rng = Rng::new(16);
    for (n, v) in [(70, 11), (3, 1024), (1, 2)] {
        let x = Var::from_tensor(&randn(&mut rng, &[n, v], 3.0)).unwrap();
        let t: Vec<u32> = (0..n).map(|_| rng.below(v) as u32).collect();
        let t = Tensor::from_vec(t, n, &Device::Cpu).unwrap();
        let fused = cross_entropy(x.as_tensor(), &t).unwrap();
        let reference = candle_nn::loss::cross_entropy(x.as_tensor(), &t).unwrap();
        let (f, r) = (
            fused.to_scalar::<f32>().unwrap(),
            reference.to_scalar::<f32>().unwrap(),
        );
        assert!(
            (f - r).abs() < 1e-5 * r.abs().max(1.0),
            "{n}x{v}: {f} vs {r}"
        );
        // Scaled, as the loss is when something downstream multiplies it.
        let gf = (fused * 3.0).unwrap().backward().unwrap();
        let gr = (reference * 3.0).unwrap().backward().unwrap();
        let diff = max_abs_diff(gf.get(&x).unwrap(), gr.get(&x).unwrap());
        assert!(diff < 1e-6, "{n}x{v}: {diff}");
    }
    // A target outside the vocabulary is an error, not a panic.
    let x = randn(&mut rng, &[2, 4], 1.0);
    let t = Tensor::new(&[1u32, 4], &Device::Cpu).unwrap();
    assert!(cross_entropy(&x, &t).is_err());
}

/// Rows spreading each class over itself and up to two neighbours, like the
/// tokenizer's HL-Gauss rows (edges renormalised).
fn neighbour_rows(v: usize) -> Vec<Vec<(u32, f32)>> {
    (0..v)
        .map(|c| {
            let ks: Vec<usize> = (c.saturating_sub(2)..=(c + 2).min(v - 1)).collect();
            let w: Vec<f32> = ks
                .iter()
                .map(|&k| (-((k as f32 - c as f32).powi(2)) / 1.125).exp())
                .collect();
            let sum: f32 = w.iter().sum();
            ks.iter()
                .zip(&w)
                .map(|(&k, &w)| (k as u32, w / sum))
                .collect()
        })
        .collect()
}

#[test]
fn soft_cross_entropy_matches_the_composite_and_one_hot_rows_match_cross_entropy() {
    let mut rng = Rng::new(17);
    for (n, v) in [(70, 11), (3, 1026), (1, 2)] {
        let soft = Arc::new(SoftTargets::new(neighbour_rows(v)).unwrap());
        let x = Var::from_tensor(&randn(&mut rng, &[n, v], 3.0)).unwrap();
        let t: Vec<u32> = (0..n).map(|_| rng.below(v) as u32).collect();
        let t = Tensor::from_vec(t, n, &Device::Cpu).unwrap();
        // The composite path (f64 logits are not fused) is -mean(sum(q * log_softmax)).
        let x64 =
            Var::from_tensor(&x.as_tensor().to_dtype(candle_core::DType::F64).unwrap()).unwrap();
        let fused = soft_cross_entropy(x.as_tensor(), &t, &soft).unwrap();
        let composite = soft_cross_entropy(x64.as_tensor(), &t, &soft).unwrap();
        let (f, c) = (
            fused.to_scalar::<f32>().unwrap(),
            composite.to_scalar::<f64>().unwrap() as f32,
        );
        assert!(
            (f - c).abs() < 1e-5 * c.abs().max(1.0),
            "{n}x{v}: {f} vs {c}"
        );
        let gf = (fused * 3.0).unwrap().backward().unwrap();
        let gc = (composite * 3.0).unwrap().backward().unwrap();
        let gc = gc
            .get(&x64)
            .unwrap()
            .to_dtype(candle_core::DType::F32)
            .unwrap();
        let diff = max_abs_diff(gf.get(&x).unwrap(), &gc);
        assert!(diff < 1e-6, "{n}x{v}: {diff}");
        // Smoothing changes the loss (a near miss is no longer all wrong)...
        let hard = cross_entropy(x.as_tensor(), &t)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!((hard - f).abs() > 1e-3, "{n}x{v}: {hard} vs {f}");
        // ... and one-hot rows are the plain cross-entropy.
        let one_hot =
            Arc::new(SoftTargets::new((0..v as u32).map(|c| vec![(c, 1.0)]).collect()).unwrap());
        let same = soft_cross_entropy(x.as_tensor(), &t, &one_hot).unwrap();
        assert!((same.to_scalar::<f32>().unwrap() - hard).abs() < 1e-6);
    }
    // Rows that are not distributions, and targets for another vocabulary, are errors.
    assert!(SoftTargets::new(vec![vec![(0, 0.5)], vec![(1, 1.0)]]).is_err());
    assert!(SoftTargets::new(vec![vec![(2, 1.0)], vec![(1, 1.0)]]).is_err());
    let soft = Arc::new(SoftTargets::new(neighbour_rows(4)).unwrap());
    let x = randn(&mut rng, &[2, 5], 1.0);
    let t = Tensor::new(&[1u32, 2], &Device::Cpu).unwrap();
    assert!(soft_cross_entropy(&x, &t, &soft).is_err());
}
