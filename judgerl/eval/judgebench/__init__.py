"""JudgeBench: loader in data_prep.sources.judgebench; scoring, report and the `judgebench` stage here."""
