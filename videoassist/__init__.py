"""videoassist: self-hosted one-tap video support."""

__version__ = "0.1.0"
