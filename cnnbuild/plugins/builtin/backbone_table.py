"""What cnnbuild knows about each keras.applications backbone without TensorFlow (Keras 3.15):
its output size per input size, its parameter counts, its preprocessing and its imagenet file.

Measured by building every architecture with Keras at many input sizes (and checked again by
``tests/plugins/test_backbones.py``): with ``include_top=False`` and a static input size, the
parameter count does not depend on the input size, and the output's height and width follow
one formula per family of architectures. Inputs always reach the network with 3 channels
(grayscale is repeated), so one count per architecture suffices.
"""

from __future__ import annotations

from typing import NamedTuple


class Architecture(NamedTuple):
    family: str  # which formula gives the output's height and width (FAMILIES)
    min_size: int  # the smallest height and width the constructor accepts
    preprocessing: str  # tf: x/127.5 - 1; torch: ImageNet mean and std; caffe: BGR, mean subtracted; none: built into the network
    channels: int  # output channels
    params: int  # every weight (include_top=False, 3 input channels)
    non_trainable: int  # BatchNormalization's moving statistics (and EfficientNet's Normalization)
    weights_file: str  # the imagenet file Keras downloads into ~/.keras/models ({size}: chosen by input size)


def _halve_up(n: int, times: int) -> int:
    for _ in range(times):
        n = -(-n // 2)
    return n


def _halve_down(n: int, times: int) -> int:
    for _ in range(times):
        n //= 2
    return n


def _valid_3x3_stride_2(n: int) -> int:
    return (n - 3) // 2 + 1


def _inception(n: int) -> int:
    n = _valid_3x3_stride_2(n) - 2  # stem: 3x3/2 valid, 3x3 valid
    n = _valid_3x3_stride_2(n) - 2  # pool, 3x3 valid
    for _ in range(3):  # pool, two reductions
        n = _valid_3x3_stride_2(n)
    return n


#: Output height (or width) from input height (or width), per family.
FAMILIES = {
    "ceil32": lambda n: _halve_up(n, 5),  # ResNet, MobileNetV2/V3, EfficientNet: five 'same' stride-2 stages
    "floor32": lambda n: _halve_down(n, 5),  # VGG, ConvNeXt: 'valid' 2x2 stride-2 stages
    "mobilenet_v1": lambda n: _halve_down(_halve_up(n, 1), 4),
    "densenet": lambda n: _halve_down(_halve_up(n, 2), 3),
    "inception": _inception,
    "xception": lambda n: _halve_up(_valid_3x3_stride_2(n) - 2, 4),
    "nasnet": lambda n: _halve_up(_valid_3x3_stride_2(n), 4),
}

ARCHITECTURES: dict[str, Architecture] = {
    "ResNet50": Architecture("ceil32", 32, "caffe", 2048, 23_587_712, 53_120, "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "ResNet101": Architecture("ceil32", 32, "caffe", 2048, 42_658_176, 105_344, "resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "ResNet152": Architecture("ceil32", 32, "caffe", 2048, 58_370_944, 151_424, "resnet152_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "ResNet50V2": Architecture("ceil32", 32, "tf", 2048, 23_564_800, 45_440, "resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "ResNet101V2": Architecture("ceil32", 32, "tf", 2048, 42_626_560, 97_664, "resnet101v2_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "ResNet152V2": Architecture("ceil32", 32, "tf", 2048, 58_331_648, 143_744, "resnet152v2_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "MobileNet": Architecture("mobilenet_v1", 32, "tf", 1024, 3_228_864, 21_888, "mobilenet_1_0_{size}_tf_no_top.h5"),
    "MobileNetV2": Architecture("ceil32", 32, "tf", 1280, 2_257_984, 34_112, "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{size}_no_top.h5"),
    "MobileNetV3Small": Architecture("ceil32", 32, "none", 576, 939_120, 12_112, "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5"),
    "MobileNetV3Large": Architecture("ceil32", 32, "none", 960, 2_996_352, 24_400, "weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5"),
    "EfficientNetB0": Architecture("ceil32", 32, "none", 1280, 4_049_571, 42_023, "efficientnetb0_notop.h5"),
    "EfficientNetB1": Architecture("ceil32", 32, "none", 1280, 6_575_239, 62_055, "efficientnetb1_notop.h5"),
    "EfficientNetB2": Architecture("ceil32", 32, "none", 1408, 7_768_569, 67_575, "efficientnetb2_notop.h5"),
    "EfficientNetB3": Architecture("ceil32", 32, "none", 1536, 10_783_535, 87_303, "efficientnetb3_notop.h5"),
    "EfficientNetB4": Architecture("ceil32", 32, "none", 1792, 17_673_823, 125_207, "efficientnetb4_notop.h5"),
    "EfficientNetB5": Architecture("ceil32", 32, "none", 2048, 28_513_527, 172_743, "efficientnetb5_notop.h5"),
    "EfficientNetB6": Architecture("ceil32", 32, "none", 2304, 40_960_143, 224_439, "efficientnetb6_notop.h5"),
    "EfficientNetB7": Architecture("ceil32", 32, "none", 2560, 64_097_687, 310_727, "efficientnetb7_notop.h5"),
    "EfficientNetV2B0": Architecture("ceil32", 32, "none", 1280, 5_919_312, 60_608, "efficientnetv2-b0_notop.h5"),
    "EfficientNetV2B1": Architecture("ceil32", 32, "none", 1280, 6_931_124, 71_072, "efficientnetv2-b1_notop.h5"),
    "EfficientNetV2B2": Architecture("ceil32", 32, "none", 1408, 8_769_374, 82_288, "efficientnetv2-b2_notop.h5"),
    "EfficientNetV2B3": Architecture("ceil32", 32, "none", 1536, 12_930_622, 109_216, "efficientnetv2-b3_notop.h5"),
    "EfficientNetV2S": Architecture("ceil32", 32, "none", 1280, 20_331_360, 153_872, "efficientnetv2-s_notop.h5"),
    "EfficientNetV2M": Architecture("ceil32", 32, "none", 1280, 53_150_388, 292_032, "efficientnetv2-m_notop.h5"),
    "EfficientNetV2L": Architecture("ceil32", 32, "none", 1280, 117_746_848, 512_576, "efficientnetv2-l_notop.h5"),
    "ConvNeXtTiny": Architecture("floor32", 32, "none", 768, 27_820_128, 0, "convnext_tiny_notop.h5"),
    "ConvNeXtSmall": Architecture("floor32", 32, "none", 768, 49_454_688, 0, "convnext_small_notop.h5"),
    "ConvNeXtBase": Architecture("floor32", 32, "none", 1024, 87_566_464, 0, "convnext_base_notop.h5"),
    "ConvNeXtLarge": Architecture("floor32", 32, "none", 1536, 196_230_336, 0, "convnext_large_notop.h5"),
    "ConvNeXtXLarge": Architecture("floor32", 32, "none", 2048, 348_147_968, 0, "convnext_xlarge_notop.h5"),
    "DenseNet121": Architecture("densenet", 32, "torch", 1024, 7_037_504, 83_648, "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "DenseNet169": Architecture("densenet", 32, "torch", 1664, 12_642_880, 158_400, "densenet169_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "DenseNet201": Architecture("densenet", 32, "torch", 1920, 18_321_984, 229_056, "densenet201_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "InceptionV3": Architecture("inception", 75, "tf", 2048, 21_802_784, 34_432, "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "InceptionResNetV2": Architecture("inception", 75, "tf", 1536, 54_336_736, 60_544, "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "Xception": Architecture("xception", 71, "tf", 2048, 20_861_480, 54_528, "xception_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "NASNetMobile": Architecture("nasnet", 32, "tf", 1056, 4_269_716, 36_738, "nasnet_mobile_no_top.h5"),
    "NASNetLarge": Architecture("nasnet", 32, "tf", 4032, 84_916_818, 196_668, "nasnet_large_no_top.h5"),
    "VGG16": Architecture("floor32", 32, "caffe", 512, 14_714_688, 0, "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "VGG19": Architecture("floor32", 32, "caffe", 512, 20_024_384, 0, "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"),
}

#: Input sizes with an imagenet file of their own (square inputs only); others load the 224 file.
SIZED_WEIGHTS = {"MobileNet": (128, 160, 192, 224), "MobileNetV2": (96, 128, 160, 192, 224)}
#: The in-graph form of each ``preprocess_input`` mode, for images with values 0..255 (RGB).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_RGB = (123.68, 116.779, 103.939)


def output_size(architecture: str, height: int, width: int) -> tuple[int, int]:
    """The backbone's output height and width for an input of ``height`` x ``width``."""
    side = FAMILIES[ARCHITECTURES[architecture].family]
    return side(height), side(width)


def weights_file(architecture: str, height: int, width: int) -> str:
    """The name of the imagenet file Keras looks for in its cache for this input size."""
    name = ARCHITECTURES[architecture].weights_file
    sizes = SIZED_WEIGHTS.get(architecture, ())
    return name.format(size=height if height == width and height in sizes else 224)
