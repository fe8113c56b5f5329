"""The block-expressions benchmark compares two specs of one network: they must stay the same network."""

from __future__ import annotations


def test_the_two_specs_of_the_benchmark_are_the_same_217_layers():
    from block_expressions import expressions_spec, layers_of, plain_spec

    written, plain = layers_of(expressions_spec()), layers_of(plain_spec())
    assert written == plain
    assert len(plain) == 217 and sum(params for _, _, params in plain) == 957_626
    assert "when:" in expressions_spec() and "$" not in plain_spec().replace("$filters", "")
