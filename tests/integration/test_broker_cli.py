"""``privacy-pipeline broker`` against the test broker that ``scripts/test.sh`` started.

The suite's broker was started from ``PRIVACY_PIPELINE_DATA_DIR`` by ``make test``; these tests
check that the commands recognise it, never restart it and never stop it.
"""

from __future__ import annotations

import re

from typer.testing import CliRunner

from pipeline import broker
from pipeline.cli import _register, app
from pipeline.settings import Settings

_register()  # every sub-command, as the console script sees them

runner = CliRunner()


def managed_state(settings: Settings) -> broker.BrokerState:
    state = broker.status(settings)
    assert state.running, (
        f"no broker of data dir {state.data_dir} runs at {state.address}: run the suite with "
        "`make test` (it starts one), or `privacy-pipeline broker start` with the same settings"
    )
    return state


def test_status_reports_the_running_broker(settings: Settings) -> None:
    state = managed_state(settings)
    done = runner.invoke(app, ["broker", "status"])
    assert done.exit_code == 0, done.output
    assert done.output.startswith(f"running: pid {state.pid} at {state.address}, answering")


def test_start_when_running_is_a_no_op_with_the_same_pid(settings: Settings) -> None:
    before = managed_state(settings)
    done = runner.invoke(app, ["broker", "start"])
    assert done.exit_code == 0, done.output
    match = re.search(r"broker already running: pid (\d+) at (\S+)", done.output)
    assert match, done.output
    assert int(match.group(1)) == before.pid
    assert match.group(2) == before.address
    assert broker.status(settings).pid == before.pid


def test_start_reports_the_same_pid_through_the_api(settings: Settings) -> None:
    before = managed_state(settings)
    again = broker.start(settings)
    assert not again.started
    assert again.pid == before.pid and again.answering
