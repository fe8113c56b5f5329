"""cnnbuild's own plugins, registered through the same plugin manager as third-party ones."""
