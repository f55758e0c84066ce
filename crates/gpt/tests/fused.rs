#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests may fail loudly
//! The fused CPU kernels (causal softmax, LayerNorm) against candle's differentiable
//! composite ops and against finite differences: values and gradients.

use candle_core::{Device, Tensor, Var};
use candle_nn::Module;
use candlecast_gpt::{
    add_rows, causal_softmax, causal_softmax_composite, cross_entropy, layer_norm_composite,
};
use candlecast_gpt::{LayerNorm, Rng};

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

/// `sum(out * w)` in f64 on the host: the scalar loss of the finite differences.
fn weighted_sum(out: &Tensor, w: &Tensor) -> f64 {
    flat(out)
        .iter()
        .zip(flat(w))
        .map(|(&o, w)| o as f64 * w as f64)
        .sum()
}

/// (B, H, T, past + T) shapes: a full pass, a prefill after a cached past, one token.
const SOFTMAX_SHAPES: [[usize; 4]; 4] = [[2, 3, 6, 6], [2, 2, 4, 9], [1, 2, 1, 5], [1, 1, 1, 1]];

#[test]
fn causal_softmax_matches_the_composite_ops_values_and_gradients() {
    let mut rng = Rng::new(11);
    for shape in SOFTMAX_SHAPES {
        let scale = 1.0 / (8f64).sqrt();
        let x = Var::from_tensor(&randn(&mut rng, &shape, 3.0)).unwrap();
        let w = randn(&mut rng, &shape, 1.0);
        let fused = causal_softmax(x.as_tensor(), scale).unwrap();
        let reference = causal_softmax_composite(x.as_tensor(), scale).unwrap();
        assert!(max_abs_diff(&fused, &reference) < 1e-6, "values {shape:?}");
        // Masked entries are exactly 0 and rows sum to 1.
        let (t, s) = (shape[2], shape[3]);
        for (r, row) in flat(&fused).chunks(s).enumerate() {
            let visible = s - t + r % t + 1;
            assert!(
                row[visible..].iter().all(|&p| p == 0.0),
                "{shape:?} row {r}"
            );
            let sum: f32 = row.iter().sum();
            assert!((sum - 1.0).abs() < 1e-5);
        }
        let g_fused = (&fused * &w)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let g_ref = (&reference * &w)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let (gf, gr) = (g_fused.get(&x).unwrap(), g_ref.get(&x).unwrap());
        assert!(max_abs_diff(gf, gr) < 1e-6, "gradients {shape:?}");
    }
}

#[test]
fn causal_softmax_gradient_matches_finite_differences() {
    let mut rng = Rng::new(12);
    let shape = [2, 2, 4, 7];
    let scale = 0.5;
    let x0 = flat(&randn(&mut rng, &shape, 1.0));
    let w = randn(&mut rng, &shape, 1.0);
    let x = Var::from_vec(x0.clone(), &shape, &Device::Cpu).unwrap();
    let out = causal_softmax(x.as_tensor(), scale).unwrap();
    let grads = (&out * &w).unwrap().sum_all().unwrap().backward().unwrap();
    let analytic = flat(grads.get(&x).unwrap());
    let loss_at = |v: Vec<f32>| {
        let t = Tensor::from_vec(v, &shape, &Device::Cpu).unwrap();
        weighted_sum(&causal_softmax(&t, scale).unwrap(), &w)
    };
    let h = 1e-2f32;
    for i in 0..x0.len() {
        let (mut plus, mut minus) = (x0.clone(), x0.clone());
        plus[i] += h;
        minus[i] -= h;
        let numeric = (loss_at(plus) - loss_at(minus)) / (2.0 * h as f64);
        let err = (numeric - analytic[i] as f64).abs();
        assert!(
            err < 1e-3,
            "element {i}: analytic {} numeric {numeric}",
            analytic[i]
        );
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
        let gf = (&fused * &w)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let gr = (&reference * &w)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
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
    let grads = (&out * &w).unwrap().sum_all().unwrap().backward().unwrap();
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
        let gf = (&fused * &w)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let gr = (&reference * &w)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
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
