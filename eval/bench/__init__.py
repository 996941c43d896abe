"""`notes-qa bench`: timings with their natural baselines, written to BENCHMARKS.md, a JSON file and plots."""
