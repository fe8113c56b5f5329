"""A validated spec in, Keras objects out: the model, the data pipeline and the training run."""
