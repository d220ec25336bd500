"""The main window's views, in groups and in order. A feature adds its View class here."""

from __future__ import annotations


def tab_groups() -> list[tuple[str, list[type]]]:
    """(group name, view classes) in display order. A group of one view has no inner tab bar."""
    from desktop.views.augment_preview import AugmentPreviewView
    from desktop.views.batchnorm_view import BatchNormView
    from desktop.views.compare import CompareView
    from desktop.views.curves import CurvesView
    from desktop.views.data_view import DataView
    from desktop.views.decision_boundary import DecisionBoundaryView
    from desktop.views.depth_profile import DepthProfileView
    from desktop.views.diagnostics import DiagnosticsView
    from desktop.views.explorers import ActivationExplorerView, InitExplorerView
    from desktop.views.gradient_noise import GradientNoiseView
    from desktop.views.gradients import GradientNormsView
    from desktop.views.histograms import HistogramsView
    from desktop.views.landscape import LandscapeView
    from desktop.views.lr_find_view import LrFindView
    from desktop.views.metrics_view import MetricsView
    from desktop.views.network_view import NetworkView
    from desktop.views.playground import PlaygroundView
    from desktop.views.search import SearchView

    return [
        ("Training", [NetworkView, CurvesView, DiagnosticsView, MetricsView]),
        (
            "Inside the network",
            [HistogramsView, DepthProfileView, GradientNormsView, GradientNoiseView, BatchNormView],
        ),
        ("Landscape", [LandscapeView]),
        ("Playground", [PlaygroundView]),
        ("Data", [DataView, DecisionBoundaryView, AugmentPreviewView]),
        ("Explorers", [ActivationExplorerView, InitExplorerView]),
        ("Compare", [CompareView]),
        ("Tuning", [LrFindView, SearchView]),
    ]


def tab_classes() -> list[type]:
    """Every view class, in display order."""
    return [cls for _, classes in tab_groups() for cls in classes]
