"""Job-duration runs: where the sync and async lines cross as jobs grow."""
