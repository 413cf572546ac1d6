"""Training speed: the classic tutorial pipeline against mnist_core's default training, in one run.

For each: held-out accuracy after every epoch (the tutorial: the test set; mnist_core: its validation split,
the test set only at the end), training images/s, and the training time (evaluation excluded) until that
accuracy first reaches 98.9%, the tutorial's accuracy after 5 epochs.
Both are evaluated every 12,800 training images.

    python bench/train_speed.py --data-dir ../shared/data/mnist [--device cuda] [--skip-tutorial] [--seed 1]
                                [--precision float32]
"""
import argparse
import gzip
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mnist_core.data import FILES, find_file, load_mnist, resolve_data_dir  # noqa: E402
from mnist_core.config import PRECISIONS, TrainConfig, device_name, pick_device, pick_precision  # noqa: E402
from mnist_core.engine import train  # noqa: E402

TARGET = 0.989


class TutorialCNN(nn.Module):
    """The tutorial's two-convolution network."""

    def __init__(self):
        super().__init__()
        self.cnn1 = nn.Conv2d(1, 16, kernel_size=5)
        self.cnn2 = nn.Conv2d(16, 32, kernel_size=5)
        self.pool = nn.MaxPool2d(2)
        self.relu = nn.ReLU()
        self.fc1 = nn.Linear(32 * 4 * 4, 10)

    def forward(self, x):
        x = self.pool(self.relu(self.cnn1(x)))
        x = self.pool(self.relu(self.cnn2(x)))
        return self.fc1(x.flatten(1))


def tutorial(data_dir: Path, device: torch.device, epochs: int = 5):
    """torchvision MNIST + Compose(Resize, ToTensor, Normalize(0.5, 0.5)), DataLoader(64, shuffle, drop_last), Adam."""
    from torchvision import datasets, transforms

    root = Path(tempfile.mkdtemp())
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split in FILES.values():  # torchvision reads the uncompressed files from root/MNIST/raw
        for stem in split:
            src = find_file(data_dir, stem)
            with (gzip.open(src) if src.suffix == ".gz" else open(src, "rb")) as f, open(raw / stem, "wb") as out:
                shutil.copyfileobj(f, out)
    tf = transforms.Compose([transforms.Resize((28, 28)), transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    train_ds = datasets.MNIST(root, train=True, transform=tf, download=False)
    test_ds = datasets.MNIST(root, train=False, transform=tf, download=False)
    train_loader = torch.utils.data.DataLoader(train_ds, batch_size=64, shuffle=True, drop_last=True)
    test_loader = torch.utils.data.DataLoader(test_ds, batch_size=64, shuffle=False)
    torch.manual_seed(0)
    model = TutorialCNN().to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def accuracy():
        model.eval()
        correct = 0
        with torch.no_grad():
            for x, y in test_loader:
                correct += (model(x.to(device)).argmax(1).cpu() == y).sum().item()
        model.train()
        return correct / len(test_ds)

    train_time, seen, reached, per_epoch, iteration = 0.0, 0, None, [], 0
    t0 = time.perf_counter()
    for epoch in range(epochs):
        for x, y in train_loader:  # the loader's PIL transforms are part of the training time
            x, y = x.to(device), y.to(device)
            loss = criterion(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            iteration += 1
            seen += len(y)
            if iteration % 200 == 0 or iteration % len(train_loader) == 0:
                train_time += time.perf_counter() - t0
                acc = accuracy()
                if iteration % 500 == 0:
                    print(f"Iteration: {iteration}, Loss: {loss.item():.4f}, Accuracy: {100 * acc:.2f}%", flush=True)
                if reached is None and acc >= TARGET:
                    reached = train_time
                t0 = time.perf_counter()
        per_epoch.append(acc)
        print(f"  tutorial epoch {epoch + 1}: test accuracy {100 * acc:.2f}%  ({train_time:.1f} s training)", flush=True)
    return per_epoch, seen / train_time, reached, train_time


def core(data_dir: Path, device: torch.device, config: TrainConfig, precision: str):
    train_set, test_set = load_mnist(data_dir, device)
    per_epoch, reached, last = [], None, None
    for ev in train(config, train_set, test_set, device=device, precision=precision):
        last = ev
        if ev.val_acc is not None:  # mnist_core evaluates its held-out validation split during the run
            if reached is None and ev.val_acc >= TARGET:
                reached = ev.train_time
            if ev.iteration % (ev.total_iterations // config.epochs) == 0:
                per_epoch.append(ev.val_acc)
                print(f"  mnist_core epoch {len(per_epoch)}: validation accuracy {100 * ev.val_acc:.2f}%  "
                      f"({ev.train_time:.1f} s training)", flush=True)
    print(f"  mnist_core at the end: test accuracy {100 * last.test_acc:.2f}%", flush=True)
    return per_epoch, last.images_per_sec, reached, last.train_time


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", help="folder with the four MNIST IDX files (default: $MNIST_DIR)")
    p.add_argument("--device", help="cuda or cpu (default: cuda when available)")
    p.add_argument("--skip-tutorial", action="store_true", help="measure mnist_core only")
    p.add_argument("--epochs", type=int, default=TrainConfig.epochs, help="mnist_core epochs")
    p.add_argument("--seed", type=int, default=TrainConfig.seed, help="mnist_core seed")
    p.add_argument("--precision", choices=PRECISIONS, help="mnist_core's training steps (default: as the engine "
                   "picks; the tutorial is always float32)")
    args = p.parse_args()
    device = pick_device(args.device)
    data_dir = resolve_data_dir(args.data_dir)
    precision = pick_precision(device, args.precision)
    print(f"device: {device_name(device)}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    rows = []
    if not args.skip_tutorial:
        print("tutorial pipeline:")
        rows.append(("tutorial (5 epochs)", *tutorial(data_dir, device)))
    config = TrainConfig(epochs=args.epochs, seed=args.seed, eval_every=12_800 // TrainConfig.batch_size)
    print(f"mnist_core in {precision}: {config}")
    rows.append((f"mnist_core ({args.epochs} epoch{'s' * (args.epochs > 1)}, {precision})",
                 *core(data_dir, device, config, precision)))

    print(f"\n| pipeline | test accuracy after each epoch | train images/s | time to {100 * TARGET:.1f}% | training time |")
    print("|---|---|---|---|---|")
    for name, per_epoch, speed, reached, total in rows:
        accs = ", ".join(f"{100 * a:.2f}" for a in per_epoch)
        hit = f"{reached:.1f} s" if reached is not None else f"not reached in {total:.0f} s"
        print(f"| {name} | {accs} | {speed:,.0f} | {hit} | {total:.1f} s |")
    if len(rows) == 2 and rows[0][3] and rows[1][3]:
        print(f"\nmnist_core reaches {100 * TARGET:.1f}% {rows[0][3] / rows[1][3]:.1f}x sooner ({device_name(device)}, "
          f"mnist_core in {precision})")


if __name__ == "__main__":
    main()
