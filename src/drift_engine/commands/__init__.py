"""CLI command modules; `drift_engine.cli` wires them into one typer app."""
