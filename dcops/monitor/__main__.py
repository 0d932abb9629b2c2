"""`python -m dcops.monitor VERB …`: the monitor's verbs without the rest of dcops (used by launchers)."""
import typer

from .cli import register

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
register(app)

if __name__ == "__main__":
    app()
