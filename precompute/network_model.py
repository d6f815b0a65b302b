"""The small network as stored weights: forward pass, softmax and input gradients.

Plain numpy over the weight and bias lists (scikit-learn's ``coefs_`` and
``intercepts_``), so that the bundle's weights are all a reader needs; shared by
the training and attacks (``tilting.precompute.network``) and the measurements
(``tilting.precompute.network_analysis``).
"""

from __future__ import annotations

import numpy as np

from tilting.precompute.errors import TiltingError


class NetworkError(TiltingError):
    """A network experiment was asked for in a way that cannot work."""


def logits(X, coefs, intercepts):
    """Output scores and each hidden layer's pre-activation."""
    activation = np.asarray(X, dtype=np.float64)
    pre = []
    for layer, (W, b) in enumerate(zip(coefs, intercepts)):
        z = activation @ W + b
        if layer == len(coefs) - 1:
            return z, pre
        pre.append(z)
        activation = np.maximum(z, 0.0)


def predict_proba(X, coefs, intercepts, temperature=1.0):
    """p(class | x), shape (n_samples, n_classes); equals ``MLPClassifier.predict_proba`` at temperature 1.

    At temperature T the probabilities are softmax(z / T) of the output scores z.
    """
    return softmax(logits(X, coefs, intercepts)[0] / temperature)


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)  # shift so exp cannot overflow
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _backprop(delta, pre, coefs):
    """Input gradient of Σ_c delta[:, c]·z_c (z the output scores), given the forward pass's pre-activations.

    Each ReLU passes the gradient where its pre-activation is positive (the
    subgradient 0 is used at exactly 0).
    """
    for layer in range(len(coefs) - 1, 0, -1):
        delta = (delta @ coefs[layer].T) * (pre[layer - 1] > 0)
    return delta @ coefs[0].T


def score_gradient(X, sources, targets, coefs, intercepts):
    """∇ₓ(z_target − z_source), the normal of the local boundary between two classes.

    Inside the linear region around x (no ReLU changes sign) the score
    difference s = z_target − z_source is affine, so this gradient is exactly
    the normal of the boundary s = 0 as the network sees it near x.

    Returns
    -------
    grad : ndarray of shape (n_samples, n_features)
    scores : ndarray of shape (n_samples, n_classes)
        z at X, from the same forward pass.
    """
    z, pre = logits(X, coefs, intercepts)
    rows = np.arange(len(z))
    delta = np.zeros_like(z)
    delta[rows, targets] += 1.0
    delta[rows, sources] -= 1.0
    return _backprop(delta, pre, coefs), z


def target_gradient(X, targets, coefs, intercepts, temperature=1.0):
    """The input gradient of log p_T(target | x), by backpropagation.

    With softmax outputs at temperature T, ∂ log p_t / ∂z = (e_t − p)/T.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    targets : ndarray of int, shape (n_samples,)
    coefs, intercepts : lists of ndarrays
    temperature : float

    Returns
    -------
    grad : ndarray of shape (n_samples, n_features)
    probabilities : ndarray of shape (n_samples, n_classes)
        p_T(class | x) at X, from the same forward pass.
    """
    z, pre = logits(X, coefs, intercepts)
    p = softmax(z / temperature)
    delta = -p
    delta[np.arange(len(delta)), targets] += 1.0
    return _backprop(delta / temperature, pre, coefs), p
