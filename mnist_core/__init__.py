"""MNIST digit recognition: data, CNN, one training engine, checkpoints and a predictor for real drawings."""
from .checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from .data import MnistDataError, load_mnist
from .config import TrainConfig, pick_device
from .engine import Event  # the engine's train(): mnist_core.engine.train
from .evaluation import evaluate, examine
from .model import DigitCNN, ModelConfig
from .numbers import Number, read_number
from .reader import Prediction, load_model, open_image, predict
from .preprocess import ImageError

__all__ = [
    "Checkpoint", "CheckpointError", "DigitCNN", "Event", "ImageError", "MnistDataError", "ModelConfig", "Number",
    "Prediction", "read_number", "TrainConfig", "evaluate", "examine", "load_checkpoint", "load_mnist", "load_model", "open_image",
    "pick_device", "predict", "save_checkpoint",
]
