"""Figures: one function per paper figure, each reading only the results dataset."""
