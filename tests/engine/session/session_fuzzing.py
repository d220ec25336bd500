"""What the session fuzzers share: the features' decoders and the check that a loaded
session's feature data decodes, or is refused naming what is wrong."""

from __future__ import annotations

from engine.batchnorm import snapshot as batchnorm_snapshot
from engine.boundary import snapshot as boundary_snapshot
from engine.commands import info as info_command
from engine.commands.common import CommandError
from engine.diagnostics import snapshot as diagnostics_snapshot
from engine.gradnoise import snapshot as gradnoise_snapshot
from engine.landscape import snapshot as landscape_snapshot
from engine.metrics import snapshot as metrics_snapshot
from engine.network import snapshot as network_snapshot
from engine.probes import snapshot as probes_snapshot
from engine.session import Session
from engine.updates import snapshot as updates_snapshot

DECODERS = {
    "probes": probes_snapshot.from_record,
    "metrics": metrics_snapshot.from_record,
    "diagnostics": diagnostics_snapshot.from_record,
    "batchnorm": batchnorm_snapshot.from_record,
    "decision_boundary": boundary_snapshot.from_record,
    "landscape": landscape_snapshot.from_record,
    "network": network_snapshot.from_record,
    "gradient_noise": gradnoise_snapshot.from_record,
    "updates": updates_snapshot.from_record,
}


def decode_all(session: Session) -> None:
    """Every feature's decoder and `describe`: results, or ValueError naming what is wrong."""
    for record in session.runs:
        for feature, from_record in DECODERS.items():
            try:
                from_record(record)
            except ValueError as e:
                assert str(e), feature
    try:
        info_command.describe(session)
    except CommandError as e:
        # describe turns any exception of a feature's section into a CommandError naming its
        # class: only a ValueError (a malformed member, named) is expected there.
        assert ": ValueError: " in str(e), str(e)
