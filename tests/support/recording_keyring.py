"""A keyring backend for subprocess tests, chosen with ``PYTHON_KEYRING_BACKEND=
tests.support.recording_keyring.Keyring``: every lookup is appended to the file named by
``CTCT_TEST_KEYRING_LOG``, then it hangs (as keyrings do on headless servers) until the
process exits. A test that finds the log empty knows the keyring was never asked."""

from __future__ import annotations

import os
import threading

from keyring.backend import KeyringBackend


class Keyring(KeyringBackend):
    priority = 1

    def get_password(self, service: str, username: str) -> str | None:
        with open(os.environ["CTCT_TEST_KEYRING_LOG"], "a", encoding="utf-8") as log:
            log.write(f"{service}/{username}\n")
        threading.Event().wait()  # never answers
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        raise NotImplementedError

    def delete_password(self, service: str, username: str) -> None:
        raise NotImplementedError
