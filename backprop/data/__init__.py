"""Datasets and batching with PyTorch's names, plus real data that works offline: the digits
bundled with scikit-learn, and MNIST / Fashion-MNIST read from their IDX files."""

from backprop.data.collate import default_collate
from backprop.data.dataloader import DataLoader
from backprop.data.dataset import Dataset, TensorDataset
from backprop.data.digits import Digits
from backprop.data.idx import read_idx
from backprop.data.mnist import MNIST, FashionMNIST
from backprop.data.sampler import DistributedSampler

__all__ = [
    "MNIST",
    "DataLoader",
    "Dataset",
    "Digits",
    "DistributedSampler",
    "FashionMNIST",
    "TensorDataset",
    "default_collate",
    "read_idx",
]
