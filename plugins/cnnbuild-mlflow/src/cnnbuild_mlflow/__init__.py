"""cnnbuild's MLflow tracking plugin: the ``MLflowTracking`` callback (see README.md)."""
