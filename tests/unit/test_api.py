"""The Python API mirrors the command line: every exported name is a function of the stage
it names, imported only when first used."""

from __future__ import annotations

import subprocess
import sys

import coding_pipeline


def test_every_exported_name_resolves_to_a_function():
    names = [n for n in coding_pipeline.__all__ if n != "__version__"]
    assert set(names) == set(coding_pipeline._API)
    for name in names:
        assert callable(getattr(coding_pipeline, name)), name


def test_importing_the_package_imports_no_stage():
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, coding_pipeline; "
         "print(sorted(m for m in sys.modules if m.startswith('coding_pipeline.')))"],
        capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"
