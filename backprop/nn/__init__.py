"""Layers, containers and losses with PyTorch's names, written once against the Tensor API so
they run unchanged on every backend."""

from backprop.nn import functional, init, utils
from backprop.nn.activation import (
    ELU,
    GELU,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from backprop.nn.container import ModuleDict, ModuleList, Sequential
from backprop.nn.conv import Conv2d
from backprop.nn.dropout import Dropout
from backprop.nn.embedding import Embedding
from backprop.nn.flatten import Flatten
from backprop.nn.linear import Identity, Linear
from backprop.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
)
from backprop.nn.module import Module
from backprop.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from backprop.nn.parameter import Parameter
from backprop.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d

__all__ = [
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "BCELoss",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "CrossEntropyLoss",
    "Dropout",
    "ELU",
    "Embedding",
    "Flatten",
    "GELU",
    "Identity",
    "L1Loss",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "ModuleDict",
    "ModuleList",
    "NLLLoss",
    "Parameter",
    "ReLU",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
    "functional",
    "init",
    "utils",
]
