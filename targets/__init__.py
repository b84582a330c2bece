"""Chip descriptions, one TOML file per chip (data only; read by neurocomp.target)."""
