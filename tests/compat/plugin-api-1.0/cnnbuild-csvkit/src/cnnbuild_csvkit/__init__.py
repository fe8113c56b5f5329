"""cnnbuild-csvkit: a cnnbuild plugin."""
