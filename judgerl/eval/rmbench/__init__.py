"""RM-Bench: loader in data_prep.sources.rmbench; scoring, report and the `rmbench` stage here."""
