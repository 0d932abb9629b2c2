"""The `dcops` command: composes the consumers; none of them imports another."""
from __future__ import annotations

import importlib

import typer

from .model.cli import register as register_model

app = typer.Typer(
    help="dcops — source of truth and operations automation for the Kiên Giang provincial data centre.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
register_model(app)

# Each consumer package exposes `register(app)`; a package not yet present simply adds no verbs.
CONSUMERS = ("dcops.cloud.cli", "dcops.net.cli", "dcops.lab.cli", "dcops.monitor.cli",
             "dcops.drills.cli", "dcops.demo.cli", "dcops.compliance.cli", "dcops.docs.cli",
             "dcops.backup.cli")
for _mod in CONSUMERS:
    try:
        importlib.import_module(_mod).register(app)
    except ModuleNotFoundError as e:
        if e.name is None or not _mod.startswith(e.name):
            raise


def main() -> None:
    app()


if __name__ == "__main__":
    main()
