"""The RQ side of Sync Now!: the job a worker runs for each queued run (:mod:`.job`)."""
