"""Pulumi entry point: the program lives in dcops.cloud so `dcops plan` runs the very same code offline."""
from dcops.cloud.program import main

main()
