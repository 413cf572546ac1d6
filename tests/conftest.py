import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MNIST_DIR = Path(os.environ.get("MNIST_DIR", ROOT.parent / "shared" / "data" / "mnist"))
HAVE_MNIST = (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists() or (MNIST_DIR / "t10k-images-idx3-ubyte").exists()
ARTIFACTS = ROOT / "test-artifacts"  # screenshots and other things worth looking at after a run

needs_mnist = pytest.mark.skipif(not HAVE_MNIST, reason=f"the MNIST files are not in {MNIST_DIR} (set MNIST_DIR)")


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST (train, test) on the CPU."""
    if not HAVE_MNIST:
        pytest.skip(f"the MNIST files are not in {MNIST_DIR} (set MNIST_DIR)")
    from mnist_core.data import load_mnist

    return load_mnist(MNIST_DIR)
