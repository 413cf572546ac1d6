"""IDX loading from small files the test writes, and clear errors for broken ones."""
import gzip
import struct

import numpy as np
import pytest

from mnist_core.data import FILES, MEAN, STD, MnistDataError, load_mnist, read_idx


def idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(folder, n_train=12, n_test=5, gz=True):
    rng = np.random.default_rng(0)
    data = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = rng.integers(0, 256, (n, 28, 28), np.uint8), rng.integers(0, 10, n, np.uint8)
        data[split] = (images, labels)
        for stem, array in zip(FILES[split], (images, labels)):
            raw = idx_bytes(array)
            if gz:
                with gzip.open(folder / f"{stem}.gz", "wb") as f:
                    f.write(raw)
            else:
                (folder / stem).write_bytes(raw)
    return data


@pytest.mark.parametrize("gz", [True, False])
def test_loads_small_idx_files(tmp_path, gz):
    data = write_mnist(tmp_path, gz=gz)
    train, test = load_mnist(tmp_path)
    assert train.images.shape == (12, 1, 28, 28) and test.images.shape == (5, 1, 28, 28)
    expected = (data["train"][0].astype(np.float32) / 255 - MEAN) / STD
    np.testing.assert_allclose(train.images[:, 0].numpy(), expected, rtol=1e-5, atol=1e-5)
    assert train.labels.tolist() == data["train"][1].tolist()


def test_data_dir_from_environment(tmp_path, monkeypatch):
    write_mnist(tmp_path)
    monkeypatch.setenv("MNIST_DIR", str(tmp_path))
    train, _ = load_mnist()
    assert len(train) == 12


def test_truncated_file_names_the_file(tmp_path):
    write_mnist(tmp_path, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(MnistDataError, match="train-images-idx3-ubyte: truncated"):
        load_mnist(tmp_path)


def test_truncated_gzip_names_the_file(tmp_path):
    write_mnist(tmp_path)
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(MnistDataError, match="t10k-labels-idx1-ubyte.gz"):
        load_mnist(tmp_path)


def test_malformed_and_missing_files(tmp_path):
    (tmp_path / "junk").write_bytes(b"PK\x03\x04 this is a zip, not IDX")
    with pytest.raises(MnistDataError, match="junk: not an MNIST IDX file"):
        read_idx(tmp_path / "junk")
    with pytest.raises(MnistDataError, match="train-images-idx3-ubyte.gz: file not found"):
        load_mnist(tmp_path)


def test_labels_must_match_images(tmp_path):
    write_mnist(tmp_path, gz=False)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(3, np.uint8)))
    with pytest.raises(MnistDataError, match="3 labels for 5 images"):
        load_mnist(tmp_path)


@pytest.mark.parametrize("shape", [(2**22, 2**21, 2**21), (2**32 - 1, 2**32 - 1, 2**32 - 1)])
def test_absurd_header_sizes_are_a_file_error(tmp_path, shape):
    # 2^22 * 2^21 * 2^21 = 2^64: a product in 64 bits wraps to 0, and a file of just the header looked complete
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(struct.pack(">HBB3I", 0, 0x08, 3, *shape))
    with pytest.raises(MnistDataError, match=rf"train-images-idx3-ubyte: truncated: 16 bytes, header \({shape[0]}, "):
        read_idx(path)
