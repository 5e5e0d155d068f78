"""What the producer talks to: the broker, the result store, the baseline and the event stream."""
