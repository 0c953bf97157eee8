"""``ctct demo``: walk a device-flow login against a local emulator, step by step.

The walk itself is in ``ctct.cli.demo_flow``; this module stays light so that
``ctct --help`` does not import the emulator.
"""

from __future__ import annotations

import click


@click.command("demo")
@click.option(
    "--emulator-url",
    metavar="URL",
    help="Use a running `ctct emulator` (e.g. http://127.0.0.1:7717) instead of starting "
    "one; the walk advances its clock.",
)
def demo(emulator_url: str | None) -> None:
    """Log in with the device flow against a local Constant Contact emulator.

    Starts an emulator on a free loopback port and shows each HTTP exchange: the
    device code, polling, approval, the tokens (as fingerprints, never their values),
    verifying the access token against the JWKS, an API call, a refresh, and revoking.
    """
    from ctct.cli.demo_flow import run_demo

    run_demo(emulator_url)
