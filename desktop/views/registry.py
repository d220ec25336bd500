"""The main window's tabs, in order. A feature adds its View class here."""
from __future__ import annotations


def tab_classes() -> list[type]:
    from desktop.views.curves import CurvesView

    tabs: list[type] = [CurvesView]
    from desktop.views.playground import PlaygroundView

    tabs.append(PlaygroundView)
    from desktop.views.landscape import LandscapeView

    tabs.append(LandscapeView)
    from desktop.views.compare import CompareView

    tabs.append(CompareView)
    from desktop.views.augment_preview import AugmentPreviewView
    from desktop.views.batchnorm_view import BatchNormView
    from desktop.views.data_view import DataView
    from desktop.views.decision_boundary import DecisionBoundaryView

    tabs += [DataView, DecisionBoundaryView, BatchNormView, AugmentPreviewView]
    from desktop.views.depth_profile import DepthProfileView
    from desktop.views.gradients import GradientNormsView
    from desktop.views.histograms import HistogramsView

    from desktop.views.metrics_view import MetricsView

    from desktop.views.diagnostics import DiagnosticsView

    from desktop.views.explorers import ActivationExplorerView, InitExplorerView

    tabs += [HistogramsView, DepthProfileView, GradientNormsView, DiagnosticsView, MetricsView,
             ActivationExplorerView, InitExplorerView]
    return tabs
