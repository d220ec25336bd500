"""Packaging: the wheel (with resources/ as descent_resources) installed into a new virtual
environment runs headless; the desktop entry and the AppStream metainfo pass their validators;
make install-desktop / uninstall-desktop put and remove them in the XDG folders.

The wheel is installed by pip into a new venv with --no-deps (pip writes the `descent` command
as a user gets it); the third-party packages it declares are the ones this checkout's
environment already holds, made visible by a plain path entry (no site dir: the editable install
of the checkout is not activated there), and every declared requirement is checked to be met by
them. Installing 1.5 GB of the same wheels again would take minutes; packaging/smoke_wheel.sh
does that full install by hand.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "io.github.descent.Descent"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("build")
    out = tmp_path_factory.mktemp("dist")
    r = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        cwd=out,
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    shutil.rmtree(ROOT / "build", ignore_errors=True)  # setuptools' scratch folder in the checkout
    (wheel,) = out.glob("descent-*.whl")
    return wheel


def test_wheel_holds_the_resources(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n.split("/", 1)[1] for n in names if n.startswith("descent_resources/")}
    in_tree = {str(p.relative_to(ROOT / "resources")) for p in (ROOT / "resources").rglob("*") if p.is_file()}
    assert in_tree and in_tree <= shipped, in_tree - shipped
    assert "desktop/cli.py" in names and "engine/resources.py" in names
    assert not any(n.startswith("tests/") for n in names)


def test_wheel_in_a_new_venv_runs_headless(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    site_dir = Path(
        subprocess.check_output(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    deps = [p for p in site.getsitepackages() if "site-packages" in p]
    (site_dir / "descent_test_deps.pth").write_text("\n".join(deps) + "\n")  # plain paths, not site dirs
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DISPLAY")}
    env.update(OMP_NUM_THREADS="1", QT_QPA_PLATFORM="offscreen")
    pip = [sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "--no-compile"]
    r = subprocess.run([*pip, "--quiet", str(wheel)], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    # the command pip wrote, as a user types it
    descent = env_dir / "bin" / "descent"
    r = subprocess.run([str(descent), "--help"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert r.returncode == 0 and "usage: descent" in r.stdout and "export" in r.stdout, r.stderr[-2000:]
    r = subprocess.run([str(descent), "info", "missing.descent"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "missing.descent" in r.stderr
    # one interpreter for every step (torch is imported once): where things come from, the
    # declared dependencies, then descent --version, run, info and export as a user types them
    script = """
import contextlib, io, json, sys
from importlib.metadata import requires, version
from packaging.requirements import Requirement
import engine
from engine.resources import resource
from desktop.cli import main
out = {"engine": engine.__file__, "icon": str(resource("icons", "descent.svg")), "missing": []}
for req in map(Requirement, requires("descent") or []):
    if req.marker is None:
        try:
            ok = req.specifier.contains(version(req.name), prereleases=True)
        except Exception:
            ok = False
        if not ok:
            out["missing"].append(str(req))
codes, texts = [], []
for args in (["--version"],
             ["run", "--set", "train.epochs=2", "--set", "data.n_samples=160", "--set", "model.hidden=8",
              "--set", "probes.enabled=false", "--out", "run.descent", "--quiet"],
             ["info", "run.descent"],
             ["export", "run.descent", "--to", "out", "--format", "csv,png,svg"]):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        codes.append(main(args))
    texts.append(buf.getvalue())
out["codes"], out["texts"] = codes, texts
print(json.dumps(out))
"""
    r = subprocess.run([str(py), "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["engine"].startswith(str(site_dir)) and got["icon"].startswith(str(site_dir / "descent_resources"))
    assert not got["missing"], got["missing"]
    assert got["codes"] == [0, 0, 0, 0], got["texts"]
    assert got["texts"][0].strip() == "descent 0.1.0" and "run" in got["texts"][2]
    assert {"final_metrics.csv", "loss.png", "loss.svg"} <= {p.name for p in (tmp_path / "out").iterdir()}


def test_wheel_metadata_declares_pyprojects_requirements(wheel):
    import tomllib
    from email.parser import Parser

    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    with zipfile.ZipFile(wheel) as z:
        (meta_name,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        meta = Parser().parsestr(z.read(meta_name).decode())
        entry_points = z.read(meta_name.replace("METADATA", "entry_points.txt")).decode()

    def key(req: Requirement) -> tuple:
        return req.name.lower().replace("_", "-"), str(req.specifier), tuple(sorted(req.extras)), str(req.marker or "")

    want = {key(Requirement(d)) for d in project["dependencies"]}
    for extra, reqs in project["optional-dependencies"].items():
        for d in reqs:
            r = Requirement(d)
            marker = f'extra == "{extra}"' if r.marker is None else f'({r.marker}) and extra == "{extra}"'
            want.add(key(Requirement(f"{d.split(';')[0]}; {marker}")))
    got = {key(Requirement(r)) for r in meta.get_all("Requires-Dist") or []}
    assert got == want, (sorted(got - want), sorted(want - got))
    assert set(meta.get_all("Provides-Extra") or []) == set(project["optional-dependencies"])
    assert meta["Name"] == "descent" and meta["Version"] == project["version"]
    assert meta["Requires-Python"] == project["requires-python"]
    assert "descent = desktop.cli:main" in entry_points


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils not installed")
def test_desktop_entry_validates():
    r = subprocess.run(
        ["desktop-file-validate", str(ROOT / "resources" / "descent.desktop")], capture_output=True, text=True
    )
    assert r.returncode == 0 and "error" not in r.stdout.lower(), r.stdout
    text = (ROOT / "resources" / "descent.desktop").read_text()
    assert "Exec=descent %f" in text and f"Icon={APP_ID}" in text and "MimeType=application/x-descent-session;" in text


@pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="appstream not installed")
def test_metainfo_validates():
    r = subprocess.run(
        ["appstreamcli", "validate", "--no-net", str(ROOT / "resources" / f"{APP_ID}.metainfo.xml")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_icons_and_mime_type():
    from PIL import Image

    for size in (48, 128, 256):
        assert Image.open(ROOT / "resources" / "icons" / f"descent-{size}.png").size == (size, size)
    import xml.etree.ElementTree as ET

    mime = ET.parse(ROOT / "resources" / "descent-mime.xml").getroot()
    ns = "{http://www.freedesktop.org/standards/shared-mime-info}"
    (t,) = mime.findall(f"{ns}mime-type")
    assert t.get("type") == "application/x-descent-session" and t.find(f"{ns}glob").get("pattern") == "*.descent"
    ET.parse(ROOT / "resources" / "icons" / "descent.svg")


@pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")
def test_install_and_uninstall_desktop(tmp_path):
    data = tmp_path / "share"
    args = ["make", "-s", "-C", str(ROOT), f"XDG_DATA_HOME={data}", "DESCENT_BIN=/opt/descent/bin/descent"]
    r = subprocess.run([*args, "install-desktop"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    entry = data / "applications" / f"{APP_ID}.desktop"
    installed = [
        entry,
        data / "metainfo" / f"{APP_ID}.metainfo.xml",
        data / "mime" / "packages" / f"{APP_ID}.xml",
        data / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg",
        *(data / "icons" / "hicolor" / f"{s}x{s}" / "apps" / f"{APP_ID}.png" for s in (48, 128, 256)),
    ]
    assert all(p.is_file() for p in installed)
    assert "Exec=/opt/descent/bin/descent %f" in entry.read_text()
    r = subprocess.run([*args, "uninstall-desktop"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert not any(p.exists() for p in installed)
