"""Worker-settings runs: the same burst under each worker configuration."""
