"""What a run measures: a local stack, an existing producer, a compose project."""
