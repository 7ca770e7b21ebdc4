"""Analyses of finished artifacts: pure maths here, I/O in commands/analysis.py."""
