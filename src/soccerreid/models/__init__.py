"""Re-identification models built by name: ``create_model(cfg, num_classes)``.

Registered archs (``ModelConfig.arch``; ``variant`` picks the size, first one is the default):

- ``osnet_ain``: torchreid ``osnet_ain_x1_0`` / ``x0_75`` / ``x0_5`` / ``x0_25`` (512-d fc for every width);
- ``resnet50_ibn``: torchreid ``resnet50_ibn_a`` (2048-d), IBN-Net's ImageNet weights, ``last_stride`` 1 or 2;
- ``dinov2_lora``: timm ``vit_small``/``vit_base_patch14_dinov2`` (384/768-d) with peft LoRA;
  input sides must be multiples of 14 (:func:`validate_input_size`);
- ``clip_vit`` (full fine-tuning) and ``clip_vit_lora`` (peft LoRA): timm's OpenAI CLIP image
  tower, ``b16`` (ViT-B/16, 512-d) or ``l14`` (ViT-L/14, 768-d); sides multiples of 16 / 14.

Every model is a :class:`ReidModel`: the embedding (B, embed_dim) float32 in eval mode, a
:class:`ReidOutput` (logits, pre-neck features) in train mode. See docs/models.md.

The trained model leaves the train stage as a self-describing model file (:mod:`._file`):
:func:`save_model` writes it, :func:`load_network` rebuilds the network from it alone.

Examples::

    model = create_model(params.models["osnet_ain"], num_classes=500)
    save_model(model, "artifacts/models/osnet_ain/model.pt", cfg, input_size=(256, 128))
    network, info = load_network("artifacts/models/osnet_ain/model.pt")
"""

from soccerreid.models import _backbones  # noqa: F401  (registers the archs)
from soccerreid.models._factory import create_model
from soccerreid.models._file import (
    FORMAT_VERSION,
    MODEL_FORMAT,
    ModelInfo,
    check_matches,
    load_network,
    read_model_file,
    save_model,
    weights_sha256,
)
from soccerreid.models._registry import (
    Backbone,
    ModelSpec,
    check_model_config,
    get_spec,
    list_models,
    register_model,
    validate_input_size,
)
from soccerreid.models._reid import ReidModel, ReidOutput
from soccerreid.models._weights import LoadReport, load_pretrained, read_state_dict

__all__ = [
    "FORMAT_VERSION",
    "MODEL_FORMAT",
    "Backbone",
    "LoadReport",
    "ModelSpec",
    "ReidModel",
    "ReidOutput",
    "check_model_config",
    "create_model",
    "get_spec",
    "list_models",
    "ModelInfo",
    "check_matches",
    "load_network",
    "load_pretrained",
    "read_model_file",
    "read_state_dict",
    "register_model",
    "save_model",
    "validate_input_size",
    "weights_sha256",
]
