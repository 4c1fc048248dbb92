"""MNIST and Fashion-MNIST from their standard IDX `.gz` files, downloaded on request.

Files are looked for in `root`; with `download=True` a missing (or corrupted) file is fetched
from `base_url` and kept there. Every file is checked against its published MD5 before use.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from backprop.creation import tensor
from backprop.data.dataset import TensorDataset
from backprop.data.idx import read_idx
from backprop.device import Device

DATA_DIR_VARIABLE = "BACKPROP_DATA_DIR"
"""Environment variable naming the default cache directory (else ~/.cache/backprop)."""


def default_data_dir() -> Path:
    """Where datasets are cached when no `root` is given."""
    return Path(os.environ.get(DATA_DIR_VARIABLE, Path.home() / ".cache" / "backprop"))


class MNIST(TensorDataset):
    """The MNIST handwritten digits: images of shape (1, 28, 28) as float32 in [0, 1] and
    int64 labels 0-9; 60,000 for `train=True`, 10,000 for `train=False`."""

    name = "mnist"
    base_url = "https://ossci-datasets.s3.amazonaws.com/mnist/"
    files = {
        "train": (
            ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
            ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ),
        "test": (
            ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
            ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
        ),
    }

    def __init__(
        self,
        root: str | Path | None = None,
        train: bool = True,
        download: bool = False,
        base_url: str | None = None,
        device: Device | str | None = None,
    ):
        self.root = Path(root) if root is not None else default_data_dir() / self.name
        url = base_url or self.base_url
        paths = [
            self._verified_file(filename, md5, download, url)
            for filename, md5 in self.files["train" if train else "test"]
        ]
        images, labels = (read_idx(path) for path in paths)
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(
                f"{type(self).__name__}: expected images (N, H, W) and N labels, got "
                f"{images.shape} and {labels.shape}"
            )
        pixels = (images.astype(np.float32) / 255.0)[:, None]
        super().__init__(
            tensor(pixels, device=device), tensor(labels.astype(np.int64), device=device)
        )

    def _verified_file(self, filename: str, md5: str, download: bool, base_url: str) -> Path:
        """The path of `filename` in `root`, downloaded first when asked and needed; raises
        when it is missing or its MD5 differs from the published one."""
        path = self.root / filename
        name = type(self).__name__
        if download and (not path.exists() or file_md5(path) != md5):
            self._download(base_url.rstrip("/") + "/" + filename, path)
        if not path.exists():
            raise FileNotFoundError(
                f"{name}: {path} not found; pass download=True to fetch it from {base_url}, "
                f"or put the file there"
            )
        actual = file_md5(path)
        if actual != md5:
            raise ValueError(
                f"{name}: {path} has MD5 {actual}, but the published file has {md5}; it is "
                "corrupted or incomplete: delete it (or pass download=True to replace it)"
            )
        return path

    def _download(self, url: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as out:
                while block := response.read(1 << 20):
                    out.write(block)
        except (urllib.error.URLError, OSError) as error:
            partial.unlink(missing_ok=True)
            raise ConnectionError(
                f"{type(self).__name__}: could not download {url} ({error}); pass base_url= "
                f"to use a mirror, or put the file in {path.parent}"
            ) from error
        partial.replace(path)


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: ten classes of clothing in MNIST's format and sizes."""

    name = "fashion-mnist"
    base_url = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
    files = {
        "train": (
            ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
            ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ),
        "test": (
            ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
            ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
        ),
    }


def file_md5(path: Path) -> str:
    """The hex MD5 digest of a file, read in blocks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
