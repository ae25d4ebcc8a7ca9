"""The benchmark scripts' folder on sys.path, so that tests import `bench_harness` as the scripts
do (a script's own folder comes first on its sys.path)."""

import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS))
