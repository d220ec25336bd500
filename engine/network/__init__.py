"""The network view's data: every neuron's picture (its output over the input plane, its
weights as an image, or its mean output per class), its flags and its connections."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.lazy import lazy_exports

if TYPE_CHECKING:
    from engine.network.hook import NetworkViewHook
    from engine.network.maps import direct_unit_map, layer_outputs, network_pictures, unit_flags
    from engine.network.snapshot import LayerPictures, NetworkSnapshot, from_record, summarize_network, to_record

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "NetworkViewHook": "engine.network.hook",
        "direct_unit_map": "engine.network.maps",
        "layer_outputs": "engine.network.maps",
        "network_pictures": "engine.network.maps",
        "unit_flags": "engine.network.maps",
        "LayerPictures": "engine.network.snapshot",
        "NetworkSnapshot": "engine.network.snapshot",
        "from_record": "engine.network.snapshot",
        "summarize_network": "engine.network.snapshot",
        "to_record": "engine.network.snapshot",
    },
)

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
