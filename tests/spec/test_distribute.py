"""The ``distribute`` section: defaults, what it accepts, and where its errors point."""

from __future__ import annotations

import pytest

from cnnbuild.spec import SpecError, spec_from_text

BASE = """\
data: {type: digits}
model:
  layers:
    - Flatten
    - {type: Dense, units: auto}
"""


def test_default_is_one_device_and_is_written_to_the_canonical_spec() -> None:
    spec = spec_from_text(BASE)
    assert (spec.distribute.mode, spec.distribute.devices, spec.distribute.coordinator, spec.distribute.num_processes) == ("single", "auto", None, None)
    canonical = spec.canonical()
    assert list(canonical)[-1] == "distribute"
    assert canonical["distribute"] == {"mode": "single", "devices": "auto", "coordinator": None, "num_processes": None}


def test_machines_section_round_trips() -> None:
    spec = spec_from_text(BASE + "distribute: {mode: machines, devices: 2, coordinator: 'trainer-0.trainer:5555', num_processes: 4}\n")
    assert spec.distribute.model_dump() == {"mode": "machines", "devices": 2, "coordinator": "trainer-0.trainer:5555", "num_processes": 4}


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("distribute:\n  mode: devices\n  coordinator: host:1\n", "<string>:7:3: distribute: coordinator applies only to mode: machines (mode is devices)"),
        ("distribute:\n  num_processes: 2\n", "<string>:7:3: distribute: num_processes applies only to mode: machines (mode is single)"),
        ("distribute:\n  mode: machines\n  coordinator: nohost\n", "<string>:8:16: distribute.coordinator: expected HOST:PORT with a port from 1 to 65535"),
        ("distribute:\n  mode: machines\n  coordinator: host:70000\n", "<string>:8:16: distribute.coordinator: expected HOST:PORT"),
        ("distribute:\n  devices: 0\n", "<string>:7:12: distribute.devices: expected 'auto' or a positive number of devices, got 0"),
        ("distribute:\n  devices: true\n", "<string>:7:12: distribute.devices: expected 'auto' or a positive number of devices, got True"),
        ("distribute:\n  mode: cluster\n", "<string>:7:9: distribute.mode: must be one of 'single', 'devices' or 'machines', got 'cluster'"),
        ("distribute:\n  workers: 2\n", "<string>:7:3: distribute.workers:"),
    ],
)
def test_errors_name_the_line_and_the_fix(section: str, expected: str) -> None:
    with pytest.raises(SpecError) as caught:
        spec_from_text(BASE + section)
    assert str(caught.value).startswith(expected), str(caught.value)
