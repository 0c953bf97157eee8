"""``ctct demo``: the whole journey (login, status, API, refresh, logout) against a
local emulator, step by step.

The walk itself is in ``ctct.cli.demo_flow``; this module stays light so that
``ctct --help`` does not import the emulator.
"""

from __future__ import annotations

import click


@click.command("demo")
@click.option(
    "--emulator-url",
    metavar="URL",
    help="Use a running `ctct emulator` (e.g. http://127.0.0.1:7717, --auto-approve too) "
    "instead of starting one; its clock is left alone (the refresh is forced instead).",
)
def demo(emulator_url: str | None) -> None:
    """Walk the whole journey against a local Constant Contact emulator.

    Starts an emulator on a free loopback port, logs in with the device flow (the
    emulator approves for you), shows the status, calls the V3 API, lets the access
    token expire and shows the refresh, then logs out. Time is virtual (a day passes in
    no time); tokens appear only as fingerprints, never their values.
    """
    from ctct.cli.demo_flow import run_demo

    run_demo(emulator_url)
