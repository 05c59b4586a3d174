"""The examples in the public docstrings run and print what they say."""

from __future__ import annotations

import doctest

import pytest

import sigcodegen
from sigcodegen import algebra, api, distributed, operations


@pytest.mark.parametrize("module", [sigcodegen, algebra, api, distributed, operations],
                         ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
