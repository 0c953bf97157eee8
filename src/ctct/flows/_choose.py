"""Which flow can a person complete from here? ``choose_flow`` answers from a snapshot
of the environment (``BrowserEnvironment``), so it is a pure function tests can feed.

The device flow works everywhere (the person approves on any device); the browser
flow needs a browser this process can open, which rules out SSH sessions, containers,
CI, and Linux without a graphical session.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

_CI_VARIABLES: Final = (
    "CI",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "BUILDKITE",
    "CIRCLECI",
    "TRAVIS",
    "JENKINS_URL",
    "TF_BUILD",
    "TEAMCITY_VERSION",
    "BITBUCKET_BUILD_NUMBER",
)
_SSH_VARIABLES: Final = ("SSH_CONNECTION", "SSH_TTY", "SSH_CLIENT")
_CONTAINER_HINTS: Final = ("docker", "kubepods", "containerd", "lxc", "podman", "libpod")
_FALSE: Final = frozenset({"", "0", "false", "no", "off"})


@dataclass(frozen=True)
class BrowserEnvironment:
    """What ``choose_flow`` looks at. ``current()`` reads this process's environment."""

    env: Mapping[str, str] = field(default_factory=dict)
    platform: str = "linux"
    dockerenv: bool = False
    """``/.dockerenv`` or ``/run/.containerenv`` exists."""
    cgroup: str = ""
    """The text of ``/proc/1/cgroup`` (empty where there is none)."""

    @classmethod
    def current(cls) -> BrowserEnvironment:
        try:
            cgroup = Path("/proc/1/cgroup").read_text(encoding="utf-8", errors="replace")
        except OSError:
            cgroup = ""
        return cls(
            env=dict(os.environ),
            platform=sys.platform,
            dockerenv=Path("/.dockerenv").exists() or Path("/run/.containerenv").exists(),
            cgroup=cgroup,
        )


@dataclass(frozen=True)
class FlowChoice:
    """The flow to use and why (for a CLI to say, e.g. with ``--verbose``)."""

    flow: Literal["device", "browser"]
    reason: str


def choose_flow(environment: BrowserEnvironment | None = None) -> FlowChoice:
    """``device`` when no browser can be opened from here, ``browser`` otherwise."""
    environ = environment if environment is not None else BrowserEnvironment.current()
    env = environ.env
    for name in _CI_VARIABLES:
        if env.get(name, "").strip().lower() not in _FALSE:
            return FlowChoice("device", f"running in CI ({name} is set)")
    for name in _SSH_VARIABLES:
        if env.get(name):
            return FlowChoice("device", f"an SSH session ({name} is set)")
    if environ.dockerenv or env.get("container") or env.get("KUBERNETES_SERVICE_HOST"):
        return FlowChoice("device", "running in a container")
    if any(hint in environ.cgroup for hint in _CONTAINER_HINTS):
        return FlowChoice("device", "running in a container (cgroup)")
    if environ.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")) and not (
        env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")
    ):
        return FlowChoice("device", "no graphical session (DISPLAY and WAYLAND_DISPLAY unset)")
    return FlowChoice("browser", "a browser can be opened here")
