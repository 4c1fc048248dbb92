"""Datasets and the DataLoader: every epoch covers each sample exactly once, shuffling is
reproducible from a seed, drop_last drops only the short batch. Subsets, random splits and
concatenations of datasets index the right samples and batch through the DataLoader; a random
split is a disjoint cover of the dataset, with PyTorch's sizes for fractional lengths. The digits
and MNIST loaders give real data of the documented shapes and dtypes, and refuse corrupted
files."""

from __future__ import annotations

import gzip
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import backprop as bp
from backprop.data import (
    MNIST,
    ConcatDataset,
    DataLoader,
    Dataset,
    Digits,
    FashionMNIST,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
    read_idx,
)

MNIST_DIR = Path(
    os.environ.get(
        "BACKPROP_MNIST_DIR", Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
    )
)
needs_mnist = pytest.mark.skipif(
    not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists(),
    reason=f"the MNIST test files are not in {MNIST_DIR} (set BACKPROP_MNIST_DIR to a copy)",
)


def numbered(n: int) -> TensorDataset:
    """Sample i is (features [i, -i], label i)."""
    x = np.stack([np.arange(n), -np.arange(n)], axis=1).astype(np.float32)
    return TensorDataset(bp.tensor(x), bp.tensor(np.arange(n)))


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def labels_seen(loader: DataLoader) -> list[int]:
    return [int(label) for _, labels in loader for label in labels.numpy()]


# -- datasets and batching -------------------------------------------------------------------


def test_tensor_dataset_indexes_every_tensor_together():
    dataset = numbered(5)
    features, label = dataset[3]
    assert len(dataset) == 5
    np.testing.assert_array_equal(features.numpy(), [3.0, -3.0])
    assert label.item() == 3


def test_tensor_dataset_refuses_mismatched_lengths():
    with pytest.raises(ValueError, match=r"same first dimension, got \[3, 2\]"):
        TensorDataset(bp.zeros(3, 2), bp.zeros(2))


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("batch_size", [1, 4, 10, 12])
def test_an_epoch_covers_every_sample_exactly_once(shuffle, batch_size):
    loader = DataLoader(numbered(10), batch_size=batch_size, shuffle=shuffle)
    assert sorted(labels_seen(loader)) == list(range(10))
    sizes = [len(labels) for _, labels in loader]
    assert len(sizes) == len(loader) == -(-10 // batch_size)
    assert all(size == batch_size for size in sizes[:-1])


def test_features_and_labels_stay_paired_when_shuffled():
    for features, labels in DataLoader(numbered(10), batch_size=3, shuffle=True):
        np.testing.assert_array_equal(features.numpy()[:, 0], labels.numpy())


def test_without_shuffle_the_order_is_the_dataset_order():
    assert labels_seen(DataLoader(numbered(7), batch_size=3)) == list(range(7))


def test_drop_last_drops_only_the_short_final_batch():
    loader = DataLoader(numbered(10), batch_size=4, drop_last=True, shuffle=True)
    assert len(loader) == 2
    assert [len(labels) for _, labels in loader] == [4, 4]
    assert len(DataLoader(numbered(8), batch_size=4, drop_last=True)) == 2


def test_shuffle_is_reproducible_from_a_generator_seed_and_differs_per_epoch():
    def orders(seed: int) -> list[list[int]]:
        loader = DataLoader(
            numbered(20), batch_size=5, shuffle=True, generator=np.random.default_rng(seed)
        )
        return [labels_seen(loader) for _ in range(2)]

    first_epoch, second_epoch = orders(7)
    assert orders(7) == [first_epoch, second_epoch]
    assert first_epoch != second_epoch
    assert orders(8)[0] != first_epoch


def test_shuffle_without_a_generator_follows_manual_seed():
    loader = DataLoader(numbered(20), batch_size=5, shuffle=True)
    bp.manual_seed(3)
    first = labels_seen(loader)
    bp.manual_seed(3)
    assert labels_seen(loader) == first


class Squares(Dataset):
    """A dataset defined by indexing: sample i is (i as a float array, i squared)."""

    def __getitem__(self, index: int):
        return np.array([float(index)]), index * index

    def __len__(self) -> int:
        return 5


def test_a_custom_dataset_is_collated_field_by_field():
    features, targets = next(iter(DataLoader(Squares(), batch_size=3)))
    assert features.shape == (3, 1)
    np.testing.assert_array_equal(targets.numpy(), [0, 1, 4])


def test_a_collate_fn_receives_the_list_of_samples():
    loader = DataLoader(Squares(), batch_size=2, collate_fn=lambda samples: [s[1] for s in samples])
    assert list(loader) == [[0, 1], [4, 9], [16]]


def test_default_collate_stacks_tensors_and_batches_dicts():
    batch = default_collate([{"x": bp.ones(2), "y": 1}, {"x": bp.zeros(2), "y": 0}])
    assert batch["x"].shape == (2, 2)
    np.testing.assert_array_equal(batch["y"].numpy(), [1, 0])
    with pytest.raises(TypeError, match="default_collate: cannot batch samples of type str"):
        default_collate(["a", "b"])


def test_loader_refuses_bad_arguments():
    with pytest.raises(ValueError, match="DataLoader: batch_size must be a positive integer"):
        DataLoader(numbered(3), batch_size=0)
    with pytest.raises(TypeError, match="generator must be a numpy.random.Generator, got int"):
        DataLoader(numbered(3), shuffle=True, generator=0)


# -- subsets, random splits and concatenations ----------------------------------------------------


def test_a_subset_holds_the_samples_at_its_indices_in_their_order():
    subset = Subset(numbered(10), [7, 2, -1])
    assert len(subset) == 3 and subset.indices == [7, 2, -1]
    assert [subset[i][1].item() for i in range(3)] == [7, 2, 9]
    assert subset[-1][1].item() == 9


class BatchOnly(TensorDataset):
    """A TensorDataset that refuses to be read one sample at a time."""

    def __getitem__(self, index: int):
        raise AssertionError("read one sample at a time")


def test_a_subset_batches_through_the_loader_with_its_dataset_get_batch():
    subset = Subset(BatchOnly(*numbered(10).tensors), [7, 2, 5, 3, 8])
    features, labels = next(iter(DataLoader(subset, batch_size=4)))
    assert features.shape == (4, 2)
    np.testing.assert_array_equal(labels.numpy(), [7, 2, 5, 3])
    assert sorted(labels_seen(DataLoader(subset, batch_size=2, shuffle=True))) == [2, 3, 5, 7, 8]


def test_a_subset_of_a_plain_sequence_is_collated_sample_by_sample():
    samples = [(np.array([float(i)]), i) for i in range(6)]
    features, targets = next(iter(DataLoader(Subset(samples, [5, 0, 3]), batch_size=3)))
    np.testing.assert_array_equal(features.numpy(), [[5.0], [0.0], [3.0]])
    np.testing.assert_array_equal(targets.numpy(), [5, 0, 3])


def test_a_subset_refuses_indices_outside_the_dataset_or_not_integers():
    with pytest.raises(IndexError, match="Subset: index 10 is out of range for a dataset of 10"):
        Subset(numbered(10), [0, 10])
    with pytest.raises(IndexError, match="Subset: index -11 is out of range"):
        Subset(numbered(10), [-11])
    with pytest.raises(
        TypeError, match="Subset: indices must be a sequence of integers, got float"
    ):
        Subset(numbered(10), [0.5, 1.0])
    assert len(Subset(numbered(10), [])) == 0


@pytest.mark.parametrize(
    ("lengths", "sizes"),
    [([3, 7], [3, 7]), ([0, 10, 0], [0, 10, 0]), ([0.5, 0.5], [5, 5]), ([0.25, 0.75], [3, 7])],
)
def test_random_split_gives_subsets_of_the_given_lengths(lengths, sizes):
    parts = random_split(numbered(10), lengths)
    assert [len(part) for part in parts] == sizes
    assert all(isinstance(part, Subset) for part in parts)


@pytest.mark.parametrize("size", [7, 10, 11, 101])
@pytest.mark.parametrize(
    "fractions", [[0.3, 0.3, 0.4], [0.5, 0.5], [0.1, 0.2, 0.3, 0.4], [1 / 3, 1 / 3, 1 / 3]]
)
def test_random_split_hands_out_the_remainder_of_fractions_like_torch(torch, size, fractions):
    expected = [len(part) for part in torch.utils.data.random_split(range(size), fractions)]
    assert [len(part) for part in random_split(numbered(size), fractions)] == expected


def test_random_split_is_a_disjoint_cover_of_the_dataset():
    parts = random_split(numbered(50), [0.2, 0.3, 0.5], generator=np.random.default_rng(0))
    labels = [label for part in parts for label in labels_seen(DataLoader(part, batch_size=8))]
    assert sorted(labels) == list(range(50))
    assert labels != list(range(50))


def test_random_split_is_reproducible_from_a_seed():
    def split(generator=None):
        return [part.indices for part in random_split(numbered(30), [10, 20], generator)]

    assert split(np.random.default_rng(5)) == split(np.random.default_rng(5))
    assert split(np.random.default_rng(5)) != split(np.random.default_rng(6))
    bp.manual_seed(3)
    first = split()
    bp.manual_seed(3)
    assert split() == first


def test_random_split_warns_about_an_empty_fractional_split():
    with pytest.warns(UserWarning) as caught:
        parts = random_split(numbered(3), [0.9, 0.05, 0.05])
    assert [str(warning.message) for warning in caught] == [
        "random_split: the split at index 1 is empty (0.05 of 3 samples)",
        "random_split: the split at index 2 is empty (0.05 of 3 samples)",
    ]
    assert [len(part) for part in parts] == [3, 0, 0]


@pytest.mark.parametrize(
    ("lengths", "generator", "error", "message"),
    [
        (
            [3, 6],
            None,
            ValueError,
            r"random_split: lengths \[3, 6\] sum to 9, but the dataset has 10",
        ),
        ([12, -2], None, ValueError, "random_split: lengths must be integers >= 0"),
        ([4.0, 6.0], None, ValueError, "random_split: lengths must be integers >= 0"),
        ([1.5, -0.5], None, ValueError, "the fraction at index 0 is 1.5, not between 0 and 1"),
        (["half", "half"], None, TypeError, "random_split: lengths must be integers, or fractions"),
        ([5, 5], 0, TypeError, "random_split: generator must be a numpy.random.Generator, got int"),
    ],
)
def test_random_split_refuses_bad_lengths_and_generators(lengths, generator, error, message):
    with pytest.raises(error, match=message):
        random_split(numbered(10), lengths, generator)


def test_concat_dataset_indexes_its_datasets_one_after_another():
    first, second = numbered(3), Subset(numbered(10), [9, 8])
    combined = ConcatDataset([first, second, [(np.zeros(2, np.float32), 100)]])
    assert len(combined) == 6 and combined.cumulative_sizes == [3, 5, 6]
    assert [int(combined[i][1]) for i in range(6)] == [0, 1, 2, 9, 8, 100]
    assert int(combined[-3][1]) == 9
    with pytest.raises(IndexError, match="ConcatDataset: index 6 is out of range for 6 samples"):
        combined[6]
    with pytest.raises(IndexError, match="ConcatDataset: index -7 is out of range"):
        combined[-7]


def test_concat_dataset_batches_through_the_loader_and_adding_datasets_concatenates():
    combined = numbered(4) + numbered(3)
    assert isinstance(combined, ConcatDataset)
    loader = DataLoader(combined, batch_size=3, shuffle=True)
    assert sorted(labels_seen(loader)) == [0, 0, 1, 1, 2, 2, 3]
    for features, labels in loader:
        np.testing.assert_array_equal(features.numpy()[:, 0], labels.numpy())


def test_concat_dataset_refuses_no_datasets_or_non_datasets():
    with pytest.raises(ValueError, match="ConcatDataset: needs at least one dataset, got none"):
        ConcatDataset([])
    with pytest.raises(TypeError, match=r"ConcatDataset: datasets\[1\] must have __len__ and "):
        ConcatDataset([numbered(2), 5])


# -- scikit-learn digits -----------------------------------------------------------------------


def test_digits_are_real_images_split_80_20():
    pytest.importorskip("sklearn")
    train, test = Digits(train=True), Digits(train=False)
    assert (len(train), len(test)) == (1438, 359)
    images, labels = train.tensors
    assert images.shape == (1438, 1, 8, 8) and images.dtype == bp.float32
    assert labels.dtype == bp.int64 and set(labels.numpy()) == set(range(10))
    assert images.numpy().min() == 0.0 and images.numpy().max() == 1.0
    train_rows = {row.tobytes() for row in images.numpy()}
    assert not any(row.tobytes() in train_rows for row in test.tensors[0].numpy()[:50])


def test_digits_without_scikit_learn_say_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        Digits()


# -- IDX files and MNIST -----------------------------------------------------------------------


def write_idx(path: Path, array: np.ndarray, type_code: int = 0x08) -> None:
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    with gzip.open(path, "wb") as file:
        file.write(header + array.astype(array.dtype.newbyteorder(">")).tobytes())


@pytest.mark.parametrize(
    ("dtype", "code"),
    [("u1", 0x08), ("i1", 0x09), ("i2", 0x0B), ("i4", 0x0C), ("f4", 0x0D), ("f8", 0x0E)],
)
def test_read_idx_reads_every_type(tmp_path, dtype, code):
    values = np.arange(24).reshape(2, 3, 4)
    array = (values if dtype == "u1" else values - 5).astype(dtype)
    write_idx(tmp_path / "data.gz", array, code)
    result = read_idx(tmp_path / "data.gz")
    assert result.dtype == np.dtype(dtype) and result.dtype.isnative
    np.testing.assert_array_equal(result, array)


def test_read_idx_refuses_other_files(tmp_path):
    (tmp_path / "junk").write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(ValueError, match="is not an IDX file"):
        read_idx(tmp_path / "junk")
    write_idx(tmp_path / "short.gz", np.zeros((2, 3), np.uint8))
    with gzip.open(tmp_path / "short.gz", "rb") as file:
        content = file.read()
    (tmp_path / "short").write_bytes(content[:-1])
    with pytest.raises(ValueError, match=r"holds 5 bytes of data, but its header says \(2, 3\)"):
        read_idx(tmp_path / "short")


@needs_mnist
def test_mnist_test_split_has_the_published_shapes_and_labels():
    images, labels = MNIST(MNIST_DIR, train=False).tensors
    assert images.shape == (10000, 1, 28, 28) and images.dtype == bp.float32
    assert labels.shape == (10000,) and labels.dtype == bp.int64
    pixels, classes = images.numpy(), labels.numpy()
    assert pixels.min() == 0.0 and pixels.max() == 1.0
    assert classes.min() == 0 and classes.max() == 9
    assert np.bincount(classes).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@needs_mnist
def test_mnist_refuses_a_corrupted_file(tmp_path):
    shutil.copy(MNIST_DIR / "t10k-labels-idx1-ubyte.gz", tmp_path)
    images = bytearray((MNIST_DIR / "t10k-images-idx3-ubyte.gz").read_bytes())
    images[1000] ^= 0xFF
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(images)
    with pytest.raises(ValueError, match="has MD5 .*, but the published file has 9fb629c4"):
        MNIST(tmp_path, train=False)


@needs_mnist
def test_mnist_downloads_missing_or_corrupted_files_from_the_given_url_and_caches_them(tmp_path):
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(b"truncated")
    dataset = MNIST(tmp_path, train=False, download=True, base_url=MNIST_DIR.as_uri())
    assert len(dataset) == 10000
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        assert (tmp_path / name).read_bytes() == (MNIST_DIR / name).read_bytes()
    assert len(MNIST(tmp_path, train=False)) == 10000


def test_missing_files_name_the_directory_and_how_to_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="pass download=True to fetch it from http"):
        FashionMNIST(tmp_path, train=False)


def test_a_failed_download_names_the_url(tmp_path):
    with pytest.raises(ConnectionError, match="could not download file:.*t10k-images"):
        MNIST(tmp_path / "cache", train=False, download=True, base_url=(tmp_path / "none").as_uri())
    assert not any((tmp_path / "cache").iterdir())


def test_default_cache_directory_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("BACKPROP_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "mnist" / "t10k")):
        MNIST(train=False)


def test_a_sampler_chooses_the_indices_of_each_epoch():
    loader = DataLoader(numbered(10), batch_size=3, sampler=[9, 0, 4, 4, 7])
    assert len(loader) == 2
    assert labels_seen(loader) == [9, 0, 4, 4, 7]
    with pytest.raises(ValueError, match="sampler and shuffle=True exclude each other"):
        DataLoader(numbered(10), sampler=[0], shuffle=True)
