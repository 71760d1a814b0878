"""copilot-finops: GitHub Copilot usage telemetry turned into team-level FinOps."""

__version__ = "0.1.0"
