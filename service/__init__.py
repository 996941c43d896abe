"""Stage 3: retrieval + grounded generation, served over HTTP and the command line."""
