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
from backprop.nn.attention import MultiheadAttention
from backprop.nn.container import ModuleDict, ModuleList, Sequential
from backprop.nn.conv import Conv1d, Conv2d, ConvTranspose2d
from backprop.nn.dropout import Dropout
from backprop.nn.embedding import Embedding
from backprop.nn.flatten import Flatten
from backprop.nn.linear import Identity, Linear
from backprop.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from backprop.nn.module import Module
from backprop.nn.normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from backprop.nn.parameter import Parameter
from backprop.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from backprop.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

__all__ = [
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "BCELoss",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv1d",
    "Conv2d",
    "ConvTranspose2d",
    "CrossEntropyLoss",
    "Dropout",
    "ELU",
    "Embedding",
    "Flatten",
    "GELU",
    "GRU",
    "GRUCell",
    "GroupNorm",
    "HuberLoss",
    "Identity",
    "KLDivLoss",
    "L1Loss",
    "LSTM",
    "LSTMCell",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "ModuleDict",
    "ModuleList",
    "MultiheadAttention",
    "NLLLoss",
    "Parameter",
    "RNN",
    "RNNCell",
    "ReLU",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "SmoothL1Loss",
    "Softmax",
    "Softplus",
    "Tanh",
    "functional",
    "init",
    "utils",
]
