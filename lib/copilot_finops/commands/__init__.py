"""Sub-commands of the CLI. Each module defines `register(subparsers)` and keeps heavy imports lazy."""
