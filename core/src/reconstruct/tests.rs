//! The methods together through `prune_matrix`: masks, exact counts, errors, and SparseGPT's
//! reconstruction against the methods that do not update weights.

use faer::Mat;
use ndarray::Array2;

use super::*;
use crate::runtime::SplitMix64;

/// Roughly normal values (a sum of uniforms), repeatable.
pub(super) fn normal(rng: &mut SplitMix64) -> f32 {
    (0..4).map(|_| rng.unit()).sum::<f32>() - 2.0
}

/// `rows` input vectors of `columns` correlated features (a random mix of fewer sources).
pub(super) fn correlated_inputs(rng: &mut SplitMix64, rows: usize, columns: usize) -> Array2<f32> {
    let sources = columns / 2 + 1;
    let mix = Array2::from_shape_fn((sources, columns), |_| normal(rng));
    let z = Array2::from_shape_fn((rows, sources), |_| normal(rng));
    let noise = Array2::from_shape_fn((rows, columns), |_| 0.1 * normal(rng));
    // Features of very different scales, as real layers' inputs are.
    let scale = Array2::from_shape_fn((1, columns), |(_, j)| 0.2 + (j % 5) as f32);
    (z.dot(&mix) + noise) * scale
}

fn stats_of(x: &Array2<f32>) -> InputStats {
    let mut stats = InputStats::new(x.ncols());
    stats.add(x.view());
    stats
}

/// ‖X (W − Ŵ)ᵀ‖²: how much the layer's outputs moved on the inputs.
fn output_error(x: &Array2<f32>, before: &Array2<f32>, after: &Array2<f32>) -> f64 {
    let diff = (before - after).mapv(|v| v as f64);
    let x = x.mapv(|v| v as f64);
    x.dot(&diff.t()).iter().map(|v| v * v).sum()
}

fn pruned(
    method: Method,
    w: &Array2<f32>,
    stats: &InputStats,
    sparsity: f64,
    pattern: Pattern,
) -> (Array2<f32>, MatrixReport) {
    let mut out = w.clone();
    let report = prune_matrix(
        method,
        &mut out,
        Some(stats),
        sparsity,
        pattern,
        &SparseGptSettings {
            block: 8,
            ..Default::default()
        },
    )
    .unwrap();
    (out, report)
}

#[test]
fn sparsegpt_reconstructs_better_than_magnitude_and_wanda() {
    let mut rng = SplitMix64(11);
    let x = correlated_inputs(&mut rng, 200, 32);
    let w = Array2::from_shape_fn((12, 32), |_| normal(&mut rng));
    let stats = stats_of(&x);
    for pattern in [Pattern::Unstructured, Pattern::NofM { n: 2, m: 4 }] {
        let error = |method| output_error(&x, &w, &pruned(method, &w, &stats, 0.5, pattern).0);
        let (magnitude, wanda, sparsegpt) = (
            error(Method::Magnitude),
            error(Method::Wanda),
            error(Method::SparseGpt),
        );
        assert!(
            sparsegpt < 0.7 * magnitude.min(wanda),
            "{}: sparsegpt {sparsegpt}, magnitude {magnitude}, wanda {wanda}",
            pattern.name()
        );
    }
}

#[test]
fn every_method_prunes_the_exact_count() {
    let mut rng = SplitMix64(3);
    let x = correlated_inputs(&mut rng, 50, 13);
    let w = Array2::from_shape_fn((7, 13), |_| normal(&mut rng));
    let stats = stats_of(&x);
    for method in Method::ALL {
        for sparsity in [0.0, 0.37, 0.5, 0.9, 1.0] {
            let (out, report) = pruned(method, &w, &stats, sparsity, Pattern::Unstructured);
            let zeros = out.iter().filter(|v| **v == 0.0).count();
            assert_eq!(
                zeros,
                magnitude::pruned_count(sparsity, 91),
                "{} at {sparsity}",
                method.name()
            );
            assert_eq!(report.sparsity, zeros as f64 / 91.0);
        }
    }
}

#[test]
fn every_method_respects_n_of_m() {
    let mut rng = SplitMix64(5);
    let x = correlated_inputs(&mut rng, 60, 24);
    let w = Array2::from_shape_fn((5, 24), |_| normal(&mut rng));
    let stats = stats_of(&x);
    for method in Method::ALL {
        for (n, m) in [(2, 4), (4, 8), (1, 3)] {
            let (out, report) = pruned(method, &w, &stats, 0.9, Pattern::NofM { n, m });
            for row in out.rows() {
                for group in row.as_slice().unwrap().chunks(m) {
                    let zeros = group.iter().filter(|v| **v == 0.0).count();
                    assert_eq!(zeros, n, "{} {n}:{m}: {group:?}", method.name());
                }
            }
            assert!((report.sparsity - n as f64 / m as f64).abs() < 1e-12);
        }
    }
}

#[test]
fn dead_inputs_are_zeroed_and_cost_nothing() {
    let mut rng = SplitMix64(8);
    let mut x = correlated_inputs(&mut rng, 40, 8);
    x.column_mut(3).fill(0.0);
    let w = Array2::from_shape_fn((4, 8), |_| 1.0 + rng.unit());
    let stats = stats_of(&x);
    let (out, report) = pruned(Method::SparseGpt, &w, &stats, 0.25, Pattern::Unstructured);
    assert_eq!(report.dead_columns, 1);
    assert!(out.column(3).iter().all(|v| *v == 0.0));
    assert!(out.iter().all(|v| v.is_finite()));
    // The dead column's four zeros count among the 25% (8 of 32).
    assert_eq!(out.iter().filter(|v| **v == 0.0).count(), 8);
}

#[test]
fn a_singular_hessian_is_retried_with_more_dampening() {
    // Two identical input columns: XᵀX is exactly singular, and no dampening was asked for.
    let x = Array2::from_shape_fn(
        (6, 3),
        |(i, j)| {
            if j == 2 { i as f32 } else { (i * i % 5) as f32 }
        },
    );
    let stats = stats_of(&x);
    let mut w = Array2::from_shape_fn((2, 3), |(i, j)| 1.0 + (i + j) as f32);
    let settings = SparseGptSettings {
        block: 2,
        damp: 0.0,
        ..SparseGptSettings::default()
    };
    let report = prune_matrix(
        Method::SparseGpt,
        &mut w,
        Some(&stats),
        0.5,
        Pattern::Unstructured,
        &settings,
    )
    .unwrap();
    assert!(report.retries >= 1, "{report:?}");
    assert!(report.damp.unwrap() > 0.0);
    assert!(w.iter().all(|v| v.is_finite()));
}

#[test]
fn a_hessian_no_dampening_can_fix_is_an_error() {
    let x = Array2::from_shape_fn(
        (4, 3),
        |(i, j)| if i == 1 && j == 2 { f32::NAN } else { 1.0 },
    );
    let stats = stats_of(&x);
    let mut w = Array2::<f32>::ones((2, 3));
    let result = prune_matrix(
        Method::SparseGpt,
        &mut w,
        Some(&stats),
        0.5,
        Pattern::Unstructured,
        &SparseGptSettings::default(),
    );
    assert_eq!(
        result,
        Err(MatrixError::Singular {
            damp: sparsegpt::MAX_DAMP
        })
    );
    assert_eq!(w, Array2::<f32>::ones((2, 3)), "left as it was");
}

#[test]
fn the_inverse_factor_is_the_upper_cholesky_factor_of_the_inverse() {
    let mut rng = SplitMix64(2);
    let x = correlated_inputs(&mut rng, 30, 9);
    let stats = stats_of(&x);
    let factor = sparsegpt::inverse_factor(&stats, 0.01).unwrap();
    let u = &factor.upper;
    let h = stats.hessian();
    let mean = (0..9).map(|j| h[(j, j)]).sum::<f64>() / 9.0;
    let damped = Mat::<f64>::from_fn(9, 9, |i, j| {
        h[(i, j)] + if i == j { 0.01 * mean } else { 0.0 }
    });
    // UᵀU · H = I.
    let product = u.transpose() * u * &damped;
    for i in 0..9 {
        for j in 0..9 {
            let expected = if i == j { 1.0 } else { 0.0 };
            assert!(
                (product[(i, j)] - expected).abs() < 1e-9,
                "({i}, {j}): {}",
                product[(i, j)]
            );
            if i > j {
                assert_eq!(u[(i, j)], 0.0);
            }
        }
    }
    assert_eq!(factor.retries, 0);
    assert!(factor.flops > 0.0);
}

#[test]
fn bad_requests_are_errors_not_panics() {
    let mut w = Array2::<f32>::ones((2, 6));
    let settings = SparseGptSettings::default();
    let two_four = Pattern::NofM { n: 2, m: 4 };
    assert_eq!(
        prune_matrix(
            Method::Wanda,
            &mut w,
            None,
            0.5,
            Pattern::Unstructured,
            &settings
        ),
        Err(MatrixError::NoSamples {
            method: Method::Wanda
        })
    );
    assert_eq!(
        prune_matrix(Method::Magnitude, &mut w, None, 0.5, two_four, &settings),
        Err(MatrixError::PatternMisfit {
            columns: 6,
            pattern: two_four
        })
    );
    let five = stats_of(&Array2::<f32>::ones((3, 5)));
    assert_eq!(
        prune_matrix(
            Method::SparseGpt,
            &mut w,
            Some(&five),
            0.5,
            Pattern::Unstructured,
            &settings
        ),
        Err(MatrixError::StatsShape {
            weight_columns: 6,
            stats_columns: 5
        })
    );
    let empty = InputStats::new(6);
    assert_eq!(
        prune_matrix(
            Method::SparseGpt,
            &mut w,
            Some(&empty),
            0.5,
            Pattern::Unstructured,
            &settings
        ),
        Err(MatrixError::NoSamples {
            method: Method::SparseGpt
        })
    );
    assert_eq!(w, Array2::<f32>::ones((2, 6)));
}

/// The benchmark's figure, not a check: `cargo test --release -p prunekit-core --lib
/// reconstruct::tests::sparsegpt_speed -- --ignored --nocapture`.
#[test]
#[ignore = "prints timings"]
fn sparsegpt_speed() {
    let (rows, columns) = (512, 4608);
    // An AR(1) covariance (ρ^|i−j|): positive definite, correlated, and cheap to build.
    let mut stats = InputStats::new(columns);
    stats.rows = 1000;
    stats.xtx = Mat::from_fn(columns, columns, |i, j| {
        1000.0 * 0.9f64.powi(i.abs_diff(j) as i32)
    });
    let mut rng = SplitMix64(1);
    let w = Array2::from_shape_fn((rows, columns), |_| normal(&mut rng));
    let rate = rate::matmul_rate();
    let start = std::time::Instant::now();
    let factor = sparsegpt::inverse_factor(&stats, 0.01).unwrap();
    println!(
        "factorization and inverse alone: {:.2} s, {:.1} GFLOP",
        start.elapsed().as_secs_f64(),
        factor.flops / 1e9
    );
    drop(factor);
    for pattern in [Pattern::Unstructured, Pattern::NofM { n: 2, m: 4 }] {
        let mut out = w.clone();
        let start = std::time::Instant::now();
        let report = prune_matrix(
            Method::SparseGpt,
            &mut out,
            Some(&stats),
            0.5,
            pattern,
            &SparseGptSettings::default(),
        )
        .unwrap();
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "sparsegpt {rows}×{columns} {}: {seconds:.2} s, {:.1} GFLOP, bound {:.2} s at {:.1} GFLOP/s \
             (sparsity {:.4})",
            pattern.name(),
            report.flops / 1e9,
            report.flops / rate,
            rate / 1e9,
            report.sparsity
        );
    }
}
