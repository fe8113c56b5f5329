"""An example cnnbuild plugin package."""
