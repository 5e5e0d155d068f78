"""What a run is made of and what it predicts: job records, the run plan and result, statistics
and queueing theory (percentiles, histograms, M/M/c and M/G/c)."""
