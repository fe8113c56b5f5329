"""The TensorFlow image classification tutorial (flowers, "Data augmentation" model), as written there.

https://www.tensorflow.org/tutorials/images/classification: image_dataset_from_directory with
validation_split=0.2 and seed=123, cache(), shuffle(1000), prefetch(AUTOTUNE); RandomFlip,
RandomRotation and RandomZoom inside the model; Adam; float32 (no dtype policy, no thread
settings). The only additions: a global seed (so repeated runs are comparable with cnnbuild's
``seed``), the EpochClock callback that cnnbuild's runs also have, and a JSON result line.

    python benchmarks/tutorial_keras.py --data ../shared/data/flowers --epochs 4
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

from handwritten_clock import EpochClock, write_result  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data", required=True, help="folder of class sub-folders (flower_photos)")
parser.add_argument("--epochs", type=int, default=15)
parser.add_argument("--seed", type=int, default=123)
parser.add_argument("--result", help="write the JSON result here")
args = parser.parse_args()

keras.utils.set_random_seed(args.seed)
batch_size = 32
img_height = 180
img_width = 180

train_ds = tf.keras.utils.image_dataset_from_directory(
    args.data, validation_split=0.2, subset="training", seed=args.seed, image_size=(img_height, img_width), batch_size=batch_size
)
val_ds = tf.keras.utils.image_dataset_from_directory(
    args.data, validation_split=0.2, subset="validation", seed=args.seed, image_size=(img_height, img_width), batch_size=batch_size
)
class_names = train_ds.class_names
train_images = len(train_ds.file_paths)
num_classes = len(class_names)

AUTOTUNE = tf.data.AUTOTUNE
train_ds = train_ds.cache().shuffle(1000).prefetch(buffer_size=AUTOTUNE)
val_ds = val_ds.cache().prefetch(buffer_size=AUTOTUNE)

data_augmentation = keras.Sequential(
    [
        layers.RandomFlip("horizontal", input_shape=(img_height, img_width, 3)),
        layers.RandomRotation(0.1),
        layers.RandomZoom(0.1),
    ]
)

model = keras.Sequential(
    [
        data_augmentation,
        layers.Rescaling(1.0 / 255),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Dropout(0.2),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dense(num_classes, name="outputs"),
    ]
)
model.compile(optimizer="adam", loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])

clock = EpochClock()
started = time.perf_counter()
history = model.fit(train_ds, validation_data=val_ds, epochs=args.epochs, callbacks=[clock], verbose=2)
write_result(args.result, clock, history.history, train_images, time.perf_counter() - started, precision="float32")
