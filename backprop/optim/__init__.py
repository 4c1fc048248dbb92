"""Optimizers and learning-rate schedulers with PyTorch's names and semantics."""

from backprop.optim import lr_scheduler
from backprop.optim.adadelta import Adadelta
from backprop.optim.adagrad import Adagrad
from backprop.optim.adam import Adam, AdamW
from backprop.optim.adamax import Adamax
from backprop.optim.lbfgs import LBFGS
from backprop.optim.nadam import NAdam
from backprop.optim.optimizer import Optimizer
from backprop.optim.radam import RAdam
from backprop.optim.rmsprop import RMSprop
from backprop.optim.sgd import SGD

__all__ = [
    "LBFGS",
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "NAdam",
    "Optimizer",
    "RAdam",
    "RMSprop",
    "lr_scheduler",
]
