"""The data: the spec's data source called and checked, then tf.data pipelines, augmentation, caching, the dataset report."""
