"""cnnbuild's own plugins, registered through the same plugin manager as third-party ones."""

#: every builtin plugin module, registered in this order before any installed plugin
BUILTIN_MODULES = (
    "cnnbuild.plugins.builtin.core_layers",
    "cnnbuild.plugins.builtin.convolution_layers",
    "cnnbuild.plugins.builtin.merge_layers",
    "cnnbuild.plugins.builtin.shape_layers",
    "cnnbuild.plugins.builtin.normalization_layers",
    "cnnbuild.plugins.builtin.activation_layers",
    "cnnbuild.plugins.builtin.attention_layers",
    "cnnbuild.plugins.builtin.keras_catalogue",
    "cnnbuild.plugins.builtin.backbones",
    "cnnbuild.plugins.builtin.preprocessing_layers",
    "cnnbuild.plugins.builtin.colour_augmentation",
    "cnnbuild.plugins.builtin.augmentation_policies",
    "cnnbuild.plugins.builtin.image_directory",
    "cnnbuild.plugins.builtin.csv_source",
    "cnnbuild.plugins.builtin.array_sources",
    "cnnbuild.plugins.builtin.synthetic_shapes",
    "cnnbuild.plugins.builtin.segmentation_sources",
    "cnnbuild.plugins.builtin.callbacks",
)
