"""papseg_utils: helpers for the papseg tutorial."""

__version__ = "0.1.0"
