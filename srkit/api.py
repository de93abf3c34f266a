"""The one module a plugin imports srkit through: hooks, interfaces, config, recipe bases, helpers.

Everything a plugin (and its tests, with :mod:`srkit.testing`) may rely on is named here, and
only here; srkit's other modules are internal and move between releases. The surface is
versioned by :data:`API_VERSION`: a plugin declares the version it was written for as
``SRKIT_PLUGIN_API``; one older than :data:`OLDEST_PLUGIN_API <srkit.version.OLDEST_PLUGIN_API>`
or newer than this srkit's is refused when it loads. Importing this module loads
torch but none of the optional heavy libraries (torchvision, lpips, onnx, spandrel, matplotlib).
"""

from __future__ import annotations

from srkit.config import Derived, TrainConfig, by_scale, option
from srkit.data import LRCropDataset
from srkit.degradations.bicubic import check_hr_batch, gaussian_blur
from srkit.degradations.imresize import imresize
from srkit.degradations.lr import make_lr
from srkit.degradations.spec import build_degradation
from srkit.errors import SrkitError
from srkit.hookspecs import Register, hookimpl
from srkit.imageio import load_image, save_image
from srkit.interfaces import (
    Batch,
    Converted,
    Converter,
    ConverterInput,
    Degradation,
    Generator,
    GeneratorFacts,
    Recipe,
    SizeRequirements,
    StepContext,
    generator_facts,
)
from srkit.nn.losses import build_loss
from srkit.nn.models import build_discriminator, build_generator, count_parameters
from srkit.plugins import lookup
from srkit.run_folder import RunFolder
from srkit.training.batches import patch_size_hint
from srkit.training.pixel_recipe import PixelConfig, PixelRecipe, pixel_step
from srkit.training.schedules import make_scheduler
from srkit.version import PLUGIN_API_VERSION as API_VERSION
from srkit.weights.convert import (
    check_layout,
    convert_checkpoint,
    convert_state_dict,
    detect_layout,
    load_foreign_state_dict,
    strip_prefixes,
)
from srkit.weights.export import export_official, export_onnx
from srkit.weights.files import load_model, load_module, read_extras, save_weights, weights_info
from srkit.weights.model_files import describe_model_file, load_model_file, read_model_file
from srkit.weights.pretrained import hub_cache_path, load_features, read_pretrained_state
from srkit.weights.vgg19 import VGG19Features, vgg19_layer_index

__all__ = [
    "API_VERSION",
    # the contract: hooks and the interfaces registered objects implement
    "Register", "hookimpl", "Batch", "Degradation", "Generator", "Recipe", "StepContext", "SrkitError",
    # what a generator declares about itself: the input sides it accepts, the precisions it is safe in
    "GeneratorFacts", "SizeRequirements", "generator_facts",
    # recipes: typed options, the pixel-loss base, schedules, registered networks and losses
    "Derived", "TrainConfig", "by_scale", "option", "PixelConfig", "PixelRecipe", "pixel_step",
    "make_scheduler", "patch_size_hint", "build_loss", "build_discriminator", "build_generator",
    "count_parameters", "lookup",
    "RunFolder",
    # data and degradations
    "LRCropDataset", "build_degradation", "check_hr_batch", "gaussian_blur", "imresize", "make_lr",
    "load_image", "save_image",
    # weights: srkit files, foreign checkpoints, converters, export, pretrained downloads
    "load_model", "load_module", "read_extras", "save_weights", "weights_info",
    "Converted", "Converter", "ConverterInput", "check_layout", "convert_checkpoint", "convert_state_dict",
    "detect_layout", "load_foreign_state_dict", "strip_prefixes", "describe_model_file", "load_model_file",
    "read_model_file",
    "export_official", "export_onnx", "hub_cache_path", "load_features", "read_pretrained_state",
    # perceptual losses: frozen VGG19 features of named layers, ImageNet weights from a file or the cache
    "VGG19Features", "vgg19_layer_index",
]
