"""burstlab: the command line that starts services, stacks and experiments."""
