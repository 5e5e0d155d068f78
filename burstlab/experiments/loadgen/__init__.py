"""The load generator: open-loop arrivals over raw HTTP, the phases of a run, and the S probe."""
