"""`import backprop.nn.functional as F`: everything in `backprop.functional` plus the functions
behind the layers (convolution, pooling, normalisation, embedding), with PyTorch's names and
arguments. All of them are compositions of differentiable Tensor ops, so they run on every
backend and can be differentiated to any order.

One module per topic: conv, pooling, padding, normalization, lookup (embedding), activation,
dropout_variants and resampling (pixel shuffle, interpolate); this module gathers their public
names. The constants imported as `X as X` are public but stay out of `__all__`."""

from __future__ import annotations

from backprop.functional import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cosine_embedding_loss,
    cross_entropy,
    dropout,
    elu,
    gaussian_nll_loss,
    gelu,
    hinge_embedding_loss,
    huber_loss,
    kl_div,
    l1_loss,
    leaky_relu,
    linear,
    log_softmax,
    margin_ranking_loss,
    mse_loss,
    multi_margin_loss,
    multilabel_soft_margin_loss,
    nll_loss,
    poisson_nll_loss,
    relu,
    sigmoid,
    silu,
    smooth_l1_loss,
    soft_margin_loss,
    softmax,
    softplus,
    tanh,
    triplet_margin_loss,
)
from backprop.nn.attention import scaled_dot_product_attention
from backprop.nn.functional._checks import IntPair as IntPair
from backprop.nn.functional.activation import SELU_ALPHA as SELU_ALPHA
from backprop.nn.functional.activation import SELU_SCALE as SELU_SCALE
from backprop.nn.functional.activation import (
    celu,
    glu,
    hardsigmoid,
    hardswish,
    hardtanh,
    logsigmoid,
    mish,
    prelu,
    relu6,
    selu,
    softmin,
    softsign,
    tanhshrink,
    threshold,
)
from backprop.nn.functional.bilinear import bilinear
from backprop.nn.functional.conv import (
    conv1d,
    conv2d,
    conv_transpose2d,
    fold,
    unfold,
)
from backprop.nn.functional.distance import (
    cosine_similarity,
    normalize,
    pairwise_distance,
)
from backprop.nn.functional.dropout_variants import (
    alpha_dropout,
    dropout1d,
    dropout2d,
)
from backprop.nn.functional.lookup import EMBEDDING_BAG_MODES as EMBEDDING_BAG_MODES
from backprop.nn.functional.lookup import embedding, embedding_bag, one_hot
from backprop.nn.functional.normalization import (
    batch_norm,
    group_norm,
    instance_norm,
    layer_norm,
    local_response_norm,
)
from backprop.nn.functional.padding import PAD_MODES as PAD_MODES
from backprop.nn.functional.padding import pad
from backprop.nn.functional.pooling import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
    max_unpool2d,
)
from backprop.nn.functional.resampling import INTERPOLATE_MODES as INTERPOLATE_MODES
from backprop.nn.functional.resampling import LINEAR_MODE_NDIM as LINEAR_MODE_NDIM
from backprop.nn.functional.resampling import (
    interpolate,
    pixel_shuffle,
    pixel_unshuffle,
)

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "alpha_dropout",
    "avg_pool1d",
    "avg_pool2d",
    "batch_norm",
    "bilinear",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "celu",
    "conv1d",
    "conv2d",
    "conv_transpose2d",
    "cosine_embedding_loss",
    "cosine_similarity",
    "cross_entropy",
    "dropout",
    "dropout1d",
    "dropout2d",
    "elu",
    "embedding",
    "embedding_bag",
    "fold",
    "gaussian_nll_loss",
    "gelu",
    "glu",
    "group_norm",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "hinge_embedding_loss",
    "huber_loss",
    "instance_norm",
    "interpolate",
    "kl_div",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "local_response_norm",
    "log_softmax",
    "logsigmoid",
    "margin_ranking_loss",
    "max_pool1d",
    "max_pool2d",
    "max_unpool2d",
    "mish",
    "mse_loss",
    "multi_margin_loss",
    "multilabel_soft_margin_loss",
    "nll_loss",
    "normalize",
    "one_hot",
    "pad",
    "pairwise_distance",
    "pixel_shuffle",
    "pixel_unshuffle",
    "poisson_nll_loss",
    "prelu",
    "relu",
    "relu6",
    "scaled_dot_product_attention",
    "selu",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "soft_margin_loss",
    "softmax",
    "softmin",
    "softplus",
    "softsign",
    "tanh",
    "tanhshrink",
    "threshold",
    "triplet_margin_loss",
    "unfold",
]
