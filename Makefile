# The two set-up commands of the README: `make run` and `make test`.
.PHONY: setup run test lint bench install-desktop uninstall-desktop bundle

setup:
	@bash packaging/setup.sh

# Launch the app on its default experiment (under a virtual display when there is none).
run: setup
	@if [ -n "$$DISPLAY" ] || [ -n "$$WAYLAND_DISPLAY" ]; then .venv/bin/descent; \
	else echo "no display: running under xvfb-run"; xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/descent; fi

# The code's guards: lint and import order, formatting, types of the engine, import layers.
lint: setup
	.venv/bin/ruff check engine desktop tests
	.venv/bin/ruff format --check engine desktop tests
	.venv/bin/mypy
	.venv/bin/lint-imports

# The guards, then the whole test suite; pytest-xvfb starts a virtual display when there is none.
test: lint
	.venv/bin/python -m pytest -q

# Every benchmark script (one JSON line each); the GUI ones under a virtual display when there is none.
bench: setup
	@.venv/bin/python -c "import tensorboard, loss_landscapes" 2>/dev/null || \
		.venv/bin/pip install -q -c packaging/constraints.txt -e '.[bench]'; \
	if [ -n "$$DISPLAY" ]; then X=""; else X="xvfb-run -a"; fi; \
	for s in tests/benchmarks/bench_*.py; do echo "== $$s"; $$X .venv/bin/python $$s || echo "(failed: $$s)"; done; \
	echo "== tests/benchmarks/bench_playground.py --frames"; $$X .venv/bin/python tests/benchmarks/bench_playground.py --frames; \
	if .venv/bin/python -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then \
		echo "== tests/benchmarks/device_check.py"; .venv/bin/python tests/benchmarks/device_check.py; \
	else echo "== tests/benchmarks/device_check.py: no CUDA device here (python tests/benchmarks/device_check.py --device cpu checks the script itself)"; fi

# The desktop entry, icons, AppStream metainfo and the .descent MIME type, into the user's XDG
# folders (no root needed); Exec= points at the descent on PATH, else this checkout's .venv.
XDG_DATA_HOME ?= $(HOME)/.local/share
APP_ID := io.github.descent.Descent
DESCENT_BIN ?= $(shell command -v descent 2>/dev/null || echo $(CURDIR)/.venv/bin/descent)

install-desktop:
	@install -d $(XDG_DATA_HOME)/applications $(XDG_DATA_HOME)/metainfo $(XDG_DATA_HOME)/mime/packages \
		$(XDG_DATA_HOME)/icons/hicolor/scalable/apps
	@sed 's|^Exec=descent |Exec=$(DESCENT_BIN) |' resources/descent.desktop > $(XDG_DATA_HOME)/applications/$(APP_ID).desktop
	@install -m 644 resources/io.github.descent.Descent.metainfo.xml $(XDG_DATA_HOME)/metainfo/$(APP_ID).metainfo.xml
	@install -m 644 resources/descent-mime.xml $(XDG_DATA_HOME)/mime/packages/$(APP_ID).xml
	@install -m 644 resources/icons/descent.svg $(XDG_DATA_HOME)/icons/hicolor/scalable/apps/$(APP_ID).svg
	@for s in 48 128 256; do install -d $(XDG_DATA_HOME)/icons/hicolor/$${s}x$${s}/apps; \
		install -m 644 resources/icons/descent-$$s.png $(XDG_DATA_HOME)/icons/hicolor/$${s}x$${s}/apps/$(APP_ID).png; done
	@-command -v update-mime-database >/dev/null && update-mime-database $(XDG_DATA_HOME)/mime
	@-command -v update-desktop-database >/dev/null && update-desktop-database $(XDG_DATA_HOME)/applications
	@echo "installed $(APP_ID) (Exec=$(DESCENT_BIN)) into $(XDG_DATA_HOME)"

uninstall-desktop:
	@rm -f $(XDG_DATA_HOME)/applications/$(APP_ID).desktop $(XDG_DATA_HOME)/metainfo/$(APP_ID).metainfo.xml \
		$(XDG_DATA_HOME)/mime/packages/$(APP_ID).xml $(XDG_DATA_HOME)/icons/hicolor/scalable/apps/$(APP_ID).svg
	@for s in 48 128 256; do rm -f $(XDG_DATA_HOME)/icons/hicolor/$${s}x$${s}/apps/$(APP_ID).png; done
	@-command -v update-mime-database >/dev/null && update-mime-database $(XDG_DATA_HOME)/mime
	@-command -v update-desktop-database >/dev/null && update-desktop-database $(XDG_DATA_HOME)/applications
	@echo "removed $(APP_ID) from $(XDG_DATA_HOME)"

# A PyInstaller one-folder bundle in dist/bundle/descent (minutes, a few GB of disk; not part of
# make test), then its smoke test: --version, a screenshot of the default experiment (under
# Xvfb when there is no display) and a headless run, with the bundle's size and start time.
bundle: setup
	@free=$$(df -Pk . | awk 'NR==2 {print $$4}'); if [ "$$free" -lt 6000000 ]; then \
		echo "make bundle: needs about 6 GB free here, $$((free / 1024)) MB left" >&2; exit 1; fi
	@.venv/bin/python -c "import PyInstaller" 2>/dev/null || \
		.venv/bin/pip install -q -c packaging/constraints.txt -e '.[bundle]'
	.venv/bin/pyinstaller --noconfirm --log-level WARN --distpath dist/bundle --workpath build/pyinstaller \
		packaging/descent.spec
	@bash packaging/smoke_bundle.sh dist/bundle/descent
