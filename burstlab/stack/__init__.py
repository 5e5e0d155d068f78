"""The local stack: every burstlab service as a plain process on this machine, no Docker."""
