"""Neuron processes of neurocomp's own for Lava, written in Lava's fixed-point style.

Kept in a folder of their own: Lava's compiler finds a process's models by importing every
module next to the process's module, and this folder holds only `lif.py`.
"""
