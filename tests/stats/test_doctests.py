"""The examples in coding_pipeline.stats' docstrings run and give what they show."""

import doctest
import importlib
import pkgutil

import pytest

import coding_pipeline.stats

MODULES = sorted(f"coding_pipeline.stats.{info.name}"
                 for info in pkgutil.iter_modules(coding_pipeline.stats.__path__))
WITH_EXAMPLES = {"coding_pipeline.stats.bias", "coding_pipeline.stats.generalizability",
                 "coding_pipeline.stats.icc", "coding_pipeline.stats.variance"}


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    found = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert found.failed == 0, f"{found.failed} of {found.attempted} examples in {name} failed"
    if name in WITH_EXAMPLES:
        assert found.attempted > 0, f"{name} lost its examples"

