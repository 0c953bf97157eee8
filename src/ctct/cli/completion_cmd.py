"""``ctct completion SHELL``: the shell-completion script, click's, for bash, zsh or fish.

The script asks ``ctct`` itself for candidates (``_CTCT_COMPLETE=..._complete``), so
commands, subcommands, flags and choices complete as the installed version defines
them.
"""

from __future__ import annotations

import click

_SHELLS = ("bash", "zsh", "fish")


@click.command("completion")
@click.argument("shell", type=click.Choice(_SHELLS))
def completion(shell: str) -> None:
    """Print the completion script for SHELL (bash, zsh or fish).

    \b
    Load it in every new shell:
      eval "$(ctct completion bash)"    # in ~/.bashrc
      eval "$(ctct completion zsh)"     # in ~/.zshrc
      ctct completion fish | source     # in ~/.config/fish/config.fish
    """
    from click.shell_completion import get_completion_class

    root = click.get_current_context().find_root()
    completer = get_completion_class(shell)
    if completer is None:  # every choice is one of click's shells
        raise click.BadParameter(f"no completion for {shell}", param_hint="SHELL")
    script = completer(root.command, {}, root.info_name or "ctct", "_CTCT_COMPLETE").source()
    click.echo(script)
