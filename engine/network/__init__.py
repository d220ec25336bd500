"""The network view's data: every neuron's picture (its output over the input plane, its
weights as an image, or its mean output per class), its flags and its connections."""

from engine.network.hook import NetworkViewHook
from engine.network.maps import direct_unit_map, layer_outputs, network_pictures, unit_flags
from engine.network.snapshot import LayerPictures, NetworkSnapshot, from_record, summarize_network, to_record

__all__ = [
    "LayerPictures",
    "NetworkSnapshot",
    "NetworkViewHook",
    "direct_unit_map",
    "from_record",
    "layer_outputs",
    "network_pictures",
    "summarize_network",
    "to_record",
    "unit_flags",
]
