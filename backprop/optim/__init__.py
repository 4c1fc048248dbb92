"""Optimizers and learning-rate schedulers with PyTorch's names and semantics."""

from backprop.optim import lr_scheduler
from backprop.optim.adagrad import Adagrad
from backprop.optim.adam import Adam, AdamW
from backprop.optim.optimizer import Optimizer
from backprop.optim.rmsprop import RMSprop
from backprop.optim.sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
