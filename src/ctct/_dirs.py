"""Where ctct keeps its files: platformdirs' answer, without importing platformdirs when
the answer is plain (it costs more than the rest of ``ctct auth token``'s fast path)."""

from __future__ import annotations

import os
import sys


def user_dir(kind: str) -> str:
    """platformdirs' ``user_config_dir("ctct")`` / ``user_state_dir("ctct")``.

    On Linux with an absolute ``HOME`` and the XDG variable unset or absolute, every
    platformdirs version agrees on the answer, so it is computed here (importing
    platformdirs costs more than the rest of the fast path); anything else asks
    platformdirs itself.
    """
    variable, default = (
        ("XDG_CONFIG_HOME", ".config") if kind == "config" else ("XDG_STATE_HOME", ".local/state")
    )
    home = os.environ.get("HOME", "")
    xdg = os.environ.get(variable, "")
    simple = (
        sys.platform == "linux"
        and "ANDROID_DATA" not in os.environ
        and os.path.isabs(home)
        and (xdg == "" or os.path.isabs(xdg))
    )
    if simple:
        return os.path.join(xdg or os.path.join(home, default), "ctct")
    import platformdirs

    if kind == "config":
        return platformdirs.user_config_dir("ctct")
    return platformdirs.user_state_dir("ctct")
