//! SparseGPT, Wanda and magnitude against an independent numpy reference written from the papers
//! (`tests/oneshot_reference.py`, which writes `core/tests/data/oneshot_reference.npz`): the
//! masks agree exactly and the weights to 1e-4 of the largest; SparseGPT also toward the dense
//! model's outputs (its inputs paired with the dense model's).

use std::fs::File;
use std::path::Path;

use ndarray::{Array1, Array2};
use ndarray_npy::NpzReader;

use super::*;

fn fixture() -> NpzReader<File> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/oneshot_reference.npz");
    NpzReader::new(File::open(&path).expect("the fixture is committed")).unwrap()
}

#[test]
fn every_method_agrees_with_the_numpy_reference() {
    let mut npz = fixture();
    let w: Array2<f32> = npz.by_name("w").unwrap();
    let x: Array2<f32> = npz.by_name("x").unwrap();
    let settings: Array1<f64> = npz.by_name("settings").unwrap();
    let (sparsity, settings) = (
        settings[0],
        SparseGptSettings {
            block: settings[1] as usize,
            damp: settings[2],
            mask_block: settings[3] as usize,
            toward_dense: false,
        },
    );
    let mut stats = InputStats::new(x.ncols());
    stats.add(x.view());
    let mut compared = 0;
    for method in Method::ALL {
        for (name, pattern) in [
            ("unstructured", Pattern::Unstructured),
            ("2_4", Pattern::NofM { n: 2, m: 4 }),
        ] {
            let expected: Array2<f64> = npz.by_name(&format!("{}_{name}", method.name())).unwrap();
            let mut got = w.clone();
            prune_matrix(method, &mut got, Some(&stats), sparsity, pattern, &settings).unwrap();
            let largest = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for ((i, j), e) in expected.indexed_iter() {
                let g = got[[i, j]] as f64;
                let what = format!("{} {name} at ({i}, {j}): {g} against {e}", method.name());
                assert_eq!(g == 0.0, *e == 0.0, "mask differs: {what}");
                assert!((g - e).abs() <= 1e-4 * largest, "weight differs: {what}");
            }
            compared += 1;
        }
    }
    assert_eq!(compared, 6);
}

#[test]
fn sparsegpt_toward_the_dense_outputs_agrees_with_the_numpy_reference() {
    let mut npz = fixture();
    let w: Array2<f32> = npz.by_name("w").unwrap();
    let x: Array2<f32> = npz.by_name("x").unwrap();
    let x_dense: Array2<f32> = npz.by_name("x_dense").unwrap();
    let settings: Array1<f64> = npz.by_name("settings").unwrap();
    let (sparsity, settings) = (
        settings[0],
        SparseGptSettings {
            block: settings[1] as usize,
            damp: settings[2],
            mask_block: settings[3] as usize,
            toward_dense: true,
        },
    );
    let mut stats = InputStats::paired(x.ncols());
    // In two parts, as batches come.
    stats.add_paired(
        x.slice(ndarray::s![..20, ..]),
        x_dense.slice(ndarray::s![..20, ..]),
    );
    stats.add_paired(
        x.slice(ndarray::s![20.., ..]),
        x_dense.slice(ndarray::s![20.., ..]),
    );
    for (name, pattern) in [
        ("unstructured", Pattern::Unstructured),
        ("2_4", Pattern::NofM { n: 2, m: 4 }),
    ] {
        let expected: Array2<f64> = npz.by_name(&format!("sparsegpt_dense_{name}")).unwrap();
        let plain: Array2<f64> = npz.by_name(&format!("sparsegpt_{name}")).unwrap();
        let mut got = w.clone();
        prune_matrix(
            Method::SparseGpt,
            &mut got,
            Some(&stats),
            sparsity,
            pattern,
            &settings,
        )
        .unwrap();
        let largest = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for ((i, j), e) in expected.indexed_iter() {
            let g = got[[i, j]] as f64;
            let what = format!("{name} at ({i}, {j}): {g} against {e}");
            assert_eq!(g == 0.0, *e == 0.0, "mask differs: {what}");
            assert!((g - e).abs() <= 1e-4 * largest, "weight differs: {what}");
        }
        // The target changed the result (else this would repeat the plain comparison).
        let moved = expected
            .iter()
            .zip(&plain)
            .filter(|(a, b)| (**a - **b).abs() > 1e-3)
            .count();
        assert!(
            moved > 10,
            "{name}: {moved} weights differ from the plain method's"
        );
    }
}

#[test]
fn the_reference_fixture_is_not_trivial() {
    // SparseGPT moved the weights it kept (else the comparison would only test masks), and the
    // methods chose different masks.
    let mut npz = fixture();
    let w: Array2<f32> = npz.by_name("w").unwrap();
    let sparsegpt: Array2<f64> = npz.by_name("sparsegpt_unstructured").unwrap();
    let wanda: Array2<f64> = npz.by_name("wanda_unstructured").unwrap();
    let moved = w
        .iter()
        .zip(&sparsegpt)
        .filter(|(a, b)| **b != 0.0 && (**a as f64 - **b).abs() > 1e-3)
        .count();
    assert!(moved > 10, "{moved} kept weights moved");
    let differ = sparsegpt
        .iter()
        .zip(&wanda)
        .filter(|(a, b)| (**a == 0.0) != (**b == 0.0))
        .count();
    assert!(differ > 0);
}
