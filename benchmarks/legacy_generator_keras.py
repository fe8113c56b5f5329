"""The malaria tutorial's legacy input flow: ImageDataGenerator(rescale=1/255, validation_split=0.2).flow_from_directory.

ImageDataGenerator left Keras in version 3; it lives on in the ``tf_keras`` package
(``pip install tf_keras``, or ``pip install -e .[bench]``). Its batches feed the malaria model of
examples/malaria.yaml written by hand in Keras 3, without that spec's Rescaling layer because
the generator already rescales. Float32, Adam, binary cross-entropy, as the tutorial.

    python benchmarks/legacy_generator_keras.py --data ../shared/data/flowers --classes daisy roses --epochs 10
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from keras import layers  # noqa: E402
from tf_keras.preprocessing.image import ImageDataGenerator  # noqa: E402

from handwritten_clock import EpochClock, write_result  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data", required=True, help="folder of class sub-folders (cell_images)")
parser.add_argument("--classes", nargs=2, default=None, help="the two class folders to use")
parser.add_argument("--epochs", type=int, default=30)
parser.add_argument("--seed", type=int, default=42)
parser.add_argument("--result", help="write the JSON result here")
args = parser.parse_args()

keras.utils.set_random_seed(args.seed)
datagen = ImageDataGenerator(rescale=1 / 255, validation_split=0.2)
train_generator = datagen.flow_from_directory(
    args.data, target_size=(32, 32), batch_size=64, class_mode="binary", classes=args.classes, subset="training", seed=args.seed
)
validation_generator = datagen.flow_from_directory(
    args.data, target_size=(32, 32), batch_size=64, class_mode="binary", classes=args.classes, subset="validation", seed=args.seed
)


class Batches(keras.utils.PyDataset):
    """The generator's batches, as Keras 3's fit takes them (it no longer takes a Keras 2 Sequence)."""

    def __init__(self, iterator: object) -> None:
        super().__init__()
        self.iterator = iterator

    def __len__(self) -> int:
        return len(self.iterator)

    def __getitem__(self, index: int) -> object:
        return self.iterator[index]

    def on_epoch_end(self) -> None:
        self.iterator.on_epoch_end()  # reshuffles, as Keras 2 did between epochs


model = keras.Sequential(
    [
        keras.Input(shape=(32, 32, 3)),
        layers.Conv2D(16, 3, activation="relu"),
        layers.MaxPooling2D(2, strides=1),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2, strides=1),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2, strides=1),
        layers.Flatten(),
        layers.Dense(64, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(32, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(1, activation="sigmoid"),
    ]
)
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])

clock = EpochClock()
started = time.perf_counter()
history = model.fit(Batches(train_generator), validation_data=Batches(validation_generator), epochs=args.epochs, callbacks=[clock], verbose=2)
write_result(args.result, clock, history.history, train_generator.samples, time.perf_counter() - started, precision="float32")
