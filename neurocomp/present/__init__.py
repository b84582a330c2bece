"""Presentation at the bottom of the package: HTML tables, plots and read-out metrics that every
stage may use (importing it imports no stage; `plots` imports matplotlib when used)."""
