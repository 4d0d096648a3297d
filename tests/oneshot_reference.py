"""One-shot pruning in numpy, written from the papers, as an independent reference for prunekit's
Rust implementation (core/src/reconstruct): magnitude, Wanda (Sun et al. 2023) and SparseGPT
(Frantar & Alistarh 2023), unstructured and N:M.

Conventions (the same as the Rust side): a weight W is outputs x inputs, the calibration inputs X
are rows x inputs, and SparseGPT's Hessian is H = 2/n * X^T X. A pattern is None (unstructured) or
(n, m): n zeros in every group of m consecutive columns of a row. Where the papers leave a choice
open, prunekit's is followed so that results compare exactly:

- ties between equal scores go to the earlier position (row-major), as a stable sort orders them;
- unstructured, exactly round(s * rows * cols) weights go (half to even, Python's round): Wanda
  gives row r the share round(s*cols*(r+1)) - round(s*cols*r), SparseGPT gives the block of
  columns [c0, c1) the share round(s*rows*c1) - round(s*rows*c0) (the paper's per-block quantile,
  made to add up to the exact count);
- SparseGPT's N:M mask for a group is chosen when the column walk reaches it, on the weights
  already compensated, and the block width is a multiple of m; an unstructured mask block (the
  paper's Bs, 128 by default as in the paper) likewise, and it never straddles two lazy batches.

Run as a script, it writes the small fixture core/tests/data/oneshot_reference.npz that a Rust test
compares against.
"""

import os
import sys

import numpy as np


def pruned_count(level, n):
    return min(int(round(level * n)), n)


def share(level, unit, i):
    return min(max(int(round(level * (unit * (i + 1)))) - int(round(level * (unit * i))), 0), unit)


def lowest(scores, count):
    """Positions of the `count` lowest scores, ties to the earlier position."""
    return np.argsort(scores, kind="stable")[:count]


def _n_of_m(scores, n, m):
    """Boolean mask of the n lowest of every group of m columns of each row."""
    mask = np.zeros(scores.shape, dtype=bool)
    for r in range(scores.shape[0]):
        for g in range(0, scores.shape[1], m):
            mask[r, g + lowest(scores[r, g : g + m], n)] = True
    return mask


def hessian(x):
    x = np.asarray(x, dtype=np.float64)
    return 2.0 / x.shape[0] * x.T @ x


def magnitude(w, sparsity, pattern=None):
    w = np.array(w, dtype=np.float64)
    scores = np.abs(w)
    if pattern is None:
        flat = w.reshape(-1)
        flat[lowest(scores.reshape(-1), pruned_count(sparsity, flat.size))] = 0.0
        return w
    w[_n_of_m(scores, *pattern)] = 0.0
    return w


def wanda(w, x, sparsity, pattern=None):
    """Score |W_ij| * ||x_j||_2, compared within each output row; no update."""
    w = np.array(w, dtype=np.float64)
    norms = np.sqrt((np.asarray(x, dtype=np.float64) ** 2).sum(axis=0))
    scores = np.abs(w) * norms[None, :]
    if pattern is None:
        for r in range(w.shape[0]):
            w[r, lowest(scores[r], share(sparsity, w.shape[1], r))] = 0.0
        return w
    w[_n_of_m(scores, *pattern)] = 0.0
    return w


def sparsegpt(w, x, sparsity, pattern=None, block=128, damp=0.01, mask_block=128, x_dense=None):
    """SparseGPT's column walk with the upper Cholesky factor of the dampened inverse Hessian:
    lazy batches of `block` columns (B in the paper's Algorithm 1), unstructured masks chosen per
    `mask_block` columns (its Bs) when the walk reaches them.

    With `x_dense` (the dense model's inputs to the layer, row for row beside `x`, the inputs the
    already-pruned model gives it), the walk starts from the weights that best give the dense
    outputs W x_d from x: the solution of min ||X_d W^T - X Wh^T||^2 + lambda ||Wh - W||^2 (lambda
    the dampening and the 1 put on dead inputs' diagonal), whose normal equations read
    Wh (H + lambda I) = W K + lambda W, K = 2/n X_d^T X."""
    w = np.array(w, dtype=np.float64)
    rows, cols = w.shape
    h = hessian(x)
    dead = np.diag(h) == 0
    h[dead, dead] = 1.0
    h[np.diag_indices(cols)] += damp * np.mean(np.diag(h))
    if x_dense is not None:
        xd, xp = np.asarray(x_dense, dtype=np.float64), np.asarray(x, dtype=np.float64)
        k = 2.0 / xp.shape[0] * xd.T @ xp
        regularizer = h - hessian(x)
        w = np.linalg.solve(h.T, (w @ k + w @ regularizer).T).T
    w[:, dead] = 0.0
    # H^-1 = U^T U with U upper triangular.
    hinv = np.linalg.cholesky(np.linalg.inv(h)).T
    if pattern is not None:
        block = max(block - block % pattern[1], pattern[1])
    for c0 in range(0, cols, block):
        c1 = min(c0 + block, cols)
        width = c1 - c0
        w1 = w[:, c0:c1].copy()
        q1 = np.zeros_like(w1)
        err1 = np.zeros_like(w1)
        h1 = hinv[c0:c1, c0:c1]
        mask1 = np.zeros(w1.shape, dtype=bool)
        for i in range(width):
            if pattern is None and (i == 0 or (c0 + i) % mask_block == 0):
                m0, m1 = c0 + i, min(((c0 + i) // mask_block + 1) * mask_block, c1)
                scores = w1[:, i : m1 - c0] ** 2 / np.diag(h1)[None, i : m1 - c0] ** 2
                count = pruned_count(sparsity, rows * m1) - pruned_count(sparsity, rows * m0)
                chosen = np.zeros(scores.size, dtype=bool)
                chosen[lowest(scores.reshape(-1), count)] = True
                mask1[:, i : m1 - c0] = chosen.reshape(scores.shape)
            if pattern is not None and i % pattern[1] == 0:
                n, m = pattern
                scores = w1[:, i : i + m] ** 2 / np.diag(h1)[None, i : i + m] ** 2
                mask1[:, i : i + m] |= _n_of_m(scores, n, m)
            col = w1[:, i]
            d = h1[i, i]
            q = col.copy()
            q[mask1[:, i]] = 0.0
            q1[:, i] = q
            err = (col - q) / d
            w1[:, i:] -= np.outer(err, h1[i, i:])
            err1[:, i] = err
        w[:, c0:c1] = q1
        w[:, c1:] -= err1 @ hinv[c0:c1, c1:]
    return w


def fixture(path):
    rng = np.random.default_rng(17)
    rows, cols, samples = 6, 16, 48
    mix = rng.normal(size=(cols // 2, cols))
    x = rng.normal(size=(samples, cols // 2)) @ mix + 0.1 * rng.normal(size=(samples, cols))
    x *= 0.3 + (np.arange(cols) % 5)[None, :]
    x[:, 5] = 0.0  # a dead input
    x = x.astype(np.float32)
    w = rng.normal(size=(rows, cols)).astype(np.float32)
    # The dense model's inputs on the same samples: nearby, and alive where x's column 5 is dead.
    x_dense = (x + 0.3 * rng.normal(size=x.shape) * x.std(axis=0, keepdims=True)).astype(np.float32)
    x_dense[:, 5] = rng.normal(size=samples).astype(np.float32)
    sparsity, block, damp, mask_block = 0.6, 8, 0.01, 4
    arrays = {
        "w": w,
        "x": x,
        "x_dense": x_dense,
        "settings": np.array([sparsity, block, damp, mask_block]),
    }
    for name, pattern in [("unstructured", None), ("2_4", (2, 4))]:
        arrays[f"magnitude_{name}"] = magnitude(w, sparsity, pattern)
        arrays[f"wanda_{name}"] = wanda(w, x, sparsity, pattern)
        arrays[f"sparsegpt_{name}"] = sparsegpt(w, x, sparsity, pattern, block, damp, mask_block)
        arrays[f"sparsegpt_dense_{name}"] = sparsegpt(w, x, sparsity, pattern, block, damp,
                                                      mask_block, x_dense)
    np.savez(path, **arrays)


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        here, "..", "core", "tests", "data", "oneshot_reference.npz"
    )
    fixture(out)
    print(out, os.path.getsize(out), "bytes")
