"""SEIFER-IaC: plan, render and run one DNN split across a chain of edge devices."""

__version__ = "0.1.0"
