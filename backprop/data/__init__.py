"""Datasets (with their subsets, random splits and concatenations) and batching with PyTorch's
names, plus real data that works offline: the digits bundled with scikit-learn, and MNIST /
Fashion-MNIST read from their IDX files."""

from backprop.data.collate import default_collate
from backprop.data.dataloader import DataLoader
from backprop.data.dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from backprop.data.digits import Digits
from backprop.data.idx import read_idx
from backprop.data.mnist import MNIST, FashionMNIST
from backprop.data.sampler import DistributedSampler

__all__ = [
    "MNIST",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "Digits",
    "DistributedSampler",
    "FashionMNIST",
    "Subset",
    "TensorDataset",
    "default_collate",
    "random_split",
    "read_idx",
]
