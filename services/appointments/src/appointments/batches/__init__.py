"""Transaction batches: review, submit, close, NIPR results."""
