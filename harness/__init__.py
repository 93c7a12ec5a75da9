"""Testing and differential-validation harness for bcc's Clang rewriter."""

__version__ = "0.1.0"
