"""Keras 3.15 layers that cnnbuild corrects, as subclasses defined on first use (so importing a
builtin plugin never imports Keras) and registered as ``cnnbuild>NAME`` for saved models.

- ``RandomCrop``: Keras returns the uncropped image at inference, so a model whose next layer
  expects the cropped size fails in ``predict``; here inference crops the centre.
- ``AugMix``: Keras picks each chain step's operation with Python's ``random`` while the layer is
  traced, so tf.data and ``fit`` reuse the same nine picks for the whole run, whatever the seed;
  here every batch draws its picks from the layer's seed generator.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def fixed_layer_classes() -> dict[str, type]:
    """Name -> the corrected Keras layer class."""
    import keras

    return {"RandomCrop": _random_crop(keras), "AugMix": _aug_mix(keras)}


def _random_crop(keras: Any) -> type:
    @keras.saving.register_keras_serializable(package="cnnbuild", name="RandomCrop")
    class RandomCrop(keras.layers.RandomCrop):
        """A random crop while training; the centre crop at inference (a smaller input is resized)."""

        def transform_images(self, images: Any, transformation: Any, training: bool = True) -> Any:
            if training:
                return super().transform_images(images, transformation, training=True)
            shape = self.backend.shape(images)
            height, width = shape[-3], shape[-2]
            if height >= self.height and width >= self.width:
                top, left = (height - self.height) // 2, (width - self.width) // 2
                return self.backend.cast(images[..., top : top + self.height, left : left + self.width, :], self.compute_dtype)
            return super().transform_images(images, (0, 0), training=True)

    return RandomCrop


def _aug_mix(keras: Any) -> type:
    @keras.saving.register_keras_serializable(package="cnnbuild", name="AugMix")
    class AugMix(keras.layers.AugMix):
        """Keras's AugMix with each chain step's operation (or none) drawn per batch from the seed generator.

        Every batch draws Dirichlet chain weights, a Beta blend with the original image and one pick
        per chain step among the operations and "none"; the picked operation then draws its own
        parameters, as in Keras's AugMix. All draws come from the layer's seed generator.
        """

        def get_random_transformation(self, data: Any, training: bool = True, seed: Any = None) -> Any:
            if not training:
                return None
            backend = self.backend.name
            for name in self._augment_layers:
                getattr(self, name).backend.set_backend(backend)  # as Keras's AugMix does inside tf.data
            seed = seed or self._get_seed_generator(backend)
            weights = self._sample_from_dirichlet([self.num_chains], self.alpha, seed)
            skip = self.backend.random.beta(shape=(), alpha=self.alpha, beta=self.alpha, seed=seed)
            # index len(ops) means "no operation at this step", as Keras's choice among the ops and None
            picks = self.backend.random.randint((self.num_chains, self.chain_depth), 0, len(self._augment_layers) + 1, seed=seed)
            steps = None
            if backend != "tensorflow":  # a switch of pure functions only: every operation's parameters drawn here
                steps = [[[getattr(self, name).get_random_transformation(data, seed=seed) for name in self._augment_layers] for _ in range(self.chain_depth)] for _ in range(self.num_chains)]
            return {"chain_mixing_weights": weights, "weight_sample": skip, "picks": picks, "steps": steps}

        def _branch(self, name: str, transformation: Any) -> Any:
            layer = getattr(self, name)

            def apply(images: Any) -> Any:
                # with TensorFlow only the chosen branch runs, and only the chosen operation draws
                drawn = transformation if transformation is not None else layer.get_random_transformation(images, seed=self._get_seed_generator(self.backend.name))
                return self.backend.cast(layer.transform_images(images, drawn), self.compute_dtype)

            return apply

        def _chains_in_loops(self, images: Any, picks: Any, weights: Any) -> Any:
            """The weighted sum of the chains, as TensorFlow loops: one step is traced once, not once per chain and depth."""
            import tensorflow as tf

            branches = [self._branch(name, None) for name in self._augment_layers] + [lambda x: x]

            def step(depth: Any, chained: Any, chain: Any) -> tuple[Any, Any, Any]:
                chained = tf.ensure_shape(self.backend.core.switch(picks[chain, depth], branches, chained), images.shape)
                return depth + 1, chained, chain

            def chain_step(chain: Any, mixed: Any) -> tuple[Any, Any]:
                _, chained, _ = tf.while_loop(lambda depth, *_: depth < self.chain_depth, step, (tf.constant(0), images, chain))
                return chain + 1, mixed + chained * tf.gather(weights, chain)

            return tf.while_loop(lambda chain, _: chain < self.num_chains, chain_step, (tf.constant(0), tf.zeros_like(images)))[1]

        def transform_images(self, images: Any, transformation: Any, training: bool = True) -> Any:
            images = self.backend.cast(images, self.compute_dtype)
            if not training or transformation is None:
                return images
            weights = self.backend.cast(transformation["chain_mixing_weights"], self.compute_dtype)
            skip = self.backend.cast(transformation["weight_sample"], self.compute_dtype)
            if transformation["steps"] is None:
                mixed = self._chains_in_loops(images, transformation["picks"], weights)
            else:
                mixed = self.backend.numpy.zeros_like(images)
                for chain, steps in enumerate(transformation["steps"]):
                    chained = images
                    for depth, drawn in enumerate(steps):
                        branches = [self._branch(name, t) for name, t in zip(self._augment_layers, drawn, strict=True)] + [lambda x: x]
                        chained = self.backend.core.switch(transformation["picks"][chain, depth], branches, chained)
                    mixed = mixed + chained * weights[chain]
            images = skip * images + (1 - skip) * mixed
            return self.backend.numpy.clip(images, self.value_range[0], self.value_range[1])

    return AugMix
