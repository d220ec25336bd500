"""The resources folder is found from the engine (source tree or installed package)."""

from engine.resources import resource, resources_root


def test_resources_root_holds_the_format_document() -> None:
    doc = resource("session-format.md")
    assert doc.is_file()
    assert "format" in doc.read_text(encoding="utf-8").lower()
    assert resources_root().joinpath("descent.desktop").is_file()


def test_a_missing_resource_is_reported_missing() -> None:
    assert not resource("no-such-file.txt").is_file()
